// The emulator backend's operations (bit-faithful CPU versions of the aclnn ops).
#pragma once

#include <memory>

#include "../backend.h"

namespace qmm::emu {

void quantMatmul(const QuantMatmulArgs& a);
void transQuantParam(const TransQuantParamArgs& a);
void formatCast(const FormatCastArgs& a);

}  // namespace qmm::emu

namespace qmm {
std::shared_ptr<Backend> createEmulatorBackend();
}
