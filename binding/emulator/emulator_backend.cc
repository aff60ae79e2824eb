#include <memory>
#include <string>

#include "../errors.h"
#include "emulator.h"
#include "gemm.h"
#include "thread_pool.h"

namespace qmm {

namespace {

class EmulatorBackend final : public Backend {
 public:
  BackendInfo info() const override {
    BackendInfo i;
    i.name = "cpu";
    i.detail = std::string("kernel=") + emu::gemmKernelName() + " threads=" + std::to_string(computeThreads());
    i.deviceCount = kEmulatedDeviceCount;
    return i;
  }
  void quantMatmul(const QuantMatmulArgs& a) override { emu::quantMatmul(a); }
  void transQuantParam(const TransQuantParamArgs& a) override { emu::transQuantParam(a); }
  void formatCast(const FormatCastArgs& a) override { emu::formatCast(a); }
  void quantize(const QuantizeArgs& a) override { emu::quantize(a); }
  void dynamicQuant(const DynamicQuantArgs& a) override { emu::dynamicQuant(a); }
};

}  // namespace

std::shared_ptr<Backend> createEmulatorBackend() {
  static std::shared_ptr<Backend> instance = std::make_shared<EmulatorBackend>();
  return instance;
}

}  // namespace qmm
