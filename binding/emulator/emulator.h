// The emulator backend's operations (bit-faithful CPU versions of the aclnn ops).
#pragma once

#include <memory>

#include "../backend.h"

namespace qmm::emu {

void quantMatmul(const QuantMatmulArgs& a);
void transQuantParam(const TransQuantParamArgs& a);
void formatCast(const FormatCastArgs& a);
// npu_quantize (div_mode=False, axis=-1) and npu_dynamic_quant (int8), quantize.cc.
void quantize(const QuantizeArgs& a);
void dynamicQuant(const DynamicQuantArgs& a);

}  // namespace qmm::emu

namespace qmm {
std::shared_ptr<Backend> createEmulatorBackend();

// npu:0 .. npu:7 on the emulator: emulated device memory is host memory, so
// the index only keeps code written for a multi-device host running.
constexpr int kEmulatedDeviceCount = 8;
}
