// The CANN Backend (private to binding/cann). Ops: cann_ops.cc and
// cann_quantize.cc; process-wide setup, memory and info: cann_backend.cc.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>

#include "../backend.h"
#include "../errors.h"
#include "device_runtime.h"
#include "soc.h"

namespace qmm {

class CannBackend final : public Backend {
 public:
  // socName: aclrtGetSocName() ("" when the runtime does not say).
  CannBackend(const CannApi& api, int deviceCount, std::string socName)
      : api_(api), rt_(api, deviceCount), socName_(std::move(socName)), soc_(socFamilyOf(socName_)) {}

  BackendInfo info() const override;
  void quantMatmul(const QuantMatmulArgs& a) override;
  void transQuantParam(const TransQuantParamArgs& a) override;
  void formatCast(const FormatCastArgs& a) override;

  void quantize(const QuantizeArgs& a) override;
  void dynamicQuant(const DynamicQuantArgs& a) override;

  bool hasDeviceMemory() const override { return true; }
  void* deviceAlloc(int device, size_t bytes) override;
  void deviceFree(int device, void* ptr) override;
  void copyToDevice(int device, void* dst, const void* src, size_t bytes) override;
  void copyToHost(int device, void* dst, const void* src, size_t bytes) override;
  void copyDeviceToDevice(int device, void* dst, const void* src, size_t bytes) override;

 private:
  // GetWorkspaceSize, workspace, run, aclrtSynchronizeStream (docs/semantics.md §6.3).
  template <typename GetWorkspace, typename Run>
  void twoPhase(DeviceRuntime::Lock& lock, const char* getName, GetWorkspace&& getWorkspace, const char* runName,
                Run run);
  // Whether aclnnNpuFormatCast can do this cast; *additionalDtype is its argument.
  bool formatCastOnDevice(const FormatCastArgs& a, int* additionalDtype) const;
  void formatCastOnHost(const FormatCastArgs& a, int device);
  void copy(int device, void* dst, const void* src, size_t bytes, acl::aclrtMemcpyKind kind);

  const CannApi& api_;
  DeviceRuntime rt_;
  const std::string socName_;
  const SocFamily soc_;
};

template <typename GetWorkspace, typename Run>
void CannBackend::twoPhase(DeviceRuntime::Lock& lock, const char* getName, GetWorkspace&& getWorkspace,
                           const char* runName, Run run) {
  acl::aclrtStream stream = lock.stream();  // before an executor exists
  uint64_t wsSize = 0;
  acl::aclOpExecutor* executor = nullptr;
  checkAcl(api_, getWorkspace(&wsSize, &executor), getName);
  DevMem workspace;
  if (wsSize > 0) {
    try {
      workspace = DevMem(api_, wsSize);
    } catch (...) {
      // A launch releases its (non-repeatable) executor, even when it fails
      // (hicann/opbase CommonOpExecutorRun); one that is never launched must be
      // destroyed, which aclDestroyAclOpExecutor does for any executor (acl_op_api.cpp).
      if (api_.aclDestroyAclOpExecutor != nullptr) api_.aclDestroyAclOpExecutor(executor);
      throw;
    }
  }
  const long long status = run(workspace.get(), wsSize, executor, stream);
  // Waits for what the failed launch queued before `workspace` and the
  // caller's operands are freed.
  if (status != 0) lock.launchFailed(runName, status);
  lock.synchronize();
}

inline void checkCancel(const CancelToken* c) {
  if (c != nullptr && c->cancelled.load()) throw QmmException(ErrorCode::Aborted, "the operation was aborted");
}

[[noreturn]] inline void unsupported(const std::string& msg) { throw QmmException(ErrorCode::Unsupported, msg); }

// The device an op runs on: that of its device-memory tensors (which must
// agree), or npu:0 when every tensor is host memory.
int opDevice(std::initializer_list<const TensorArg*> tensors);

}  // namespace qmm
