#include "device_runtime.h"

#include <string>

#include "../errors.h"

namespace qmm {

namespace {

constexpr int kMaxThreadDevices = 256;
// Trivially destructible on purpose: DeviceBuffers may be freed during
// environment teardown, after other thread_locals are gone.
thread_local int tCurrentDevice = -1;
thread_local bool tHeld[kMaxThreadDevices];

void makeCurrent(const CannApi& api, int device) {
  if (tCurrentDevice == device) return;
  if (device < 0 || device >= kMaxThreadDevices)
    throw QmmException(ErrorCode::Device, "npu:" + std::to_string(device) + " is out of range");
  checkAcl(api, api.aclrtSetDevice(device), "aclrtSetDevice", "npu:" + std::to_string(device));
  // aclrtSetDevice is refcounted: keep one reference per thread and device.
  if (tHeld[device])
    api.aclrtResetDevice(device);
  else
    tHeld[device] = true;
  tCurrentDevice = device;
}

}  // namespace

void throwDeviceError(const CannApi& api, const char* call, long long status, const std::string& context) {
  const char* recent = api.aclGetRecentErrMsg ? api.aclGetRecentErrMsg() : nullptr;
  const std::string deviceMessage = recent ? recent : "";
  std::string msg = std::string(call) + " failed with status " + std::to_string(status);
  if (!context.empty()) msg += " (" + context + ")";
  if (!deviceMessage.empty()) msg += ": " + deviceMessage;
  throw QmmException(ErrorCode::Device, msg, status, call, deviceMessage);
}

DevMem::DevMem(const CannApi& api, size_t bytes) : api_(&api) {
  checkAcl(api, api.aclrtMalloc(&ptr_, bytes, acl::ACL_MEM_MALLOC_HUGE_FIRST), "aclrtMalloc",
           std::to_string(bytes) + " bytes");
}

DevMem& DevMem::operator=(DevMem&& o) noexcept {
  if (this != &o) {
    reset();
    api_ = o.api_;
    ptr_ = o.release();
  }
  return *this;
}

void DevMem::reset() {
  if (ptr_ != nullptr) api_->aclrtFree(ptr_);  // nothing to report a failed free to
  ptr_ = nullptr;
}

DeviceRuntime::DeviceRuntime(const CannApi& api, int deviceCount) : api_(api) {
  for (int i = 0; i < deviceCount; ++i) slots_.push_back(std::make_unique<Slot>());
}

DeviceRuntime::Lock::Lock(DeviceRuntime& rt, int device) : rt_(rt), device_(device) {
  if (device < 0 || device >= rt.deviceCount())
    throw QmmException(ErrorCode::Device, "npu:" + std::to_string(device) + " does not exist: CANN sees " +
                                              std::to_string(rt.deviceCount()) + " device(s)");
  lock_ = std::unique_lock<std::mutex>(rt.slots_[device]->mutex);
  makeCurrent(rt.api_, device);
}

acl::aclrtStream DeviceRuntime::Lock::stream() {
  acl::aclrtStream& s = rt_.slots_[device_]->stream;
  if (s == nullptr) checkAcl(rt_.api_, rt_.api_.aclrtCreateStream(&s), "aclrtCreateStream");
  return s;
}

void DeviceRuntime::Lock::synchronize() {
  acl::aclrtStream& s = rt_.slots_[device_]->stream;
  const acl::aclError st = rt_.api_.aclrtSynchronizeStream(s);
  if (st == acl::ACL_SUCCESS) return;
  const char* recent = rt_.api_.aclGetRecentErrMsg();
  const std::string deviceMessage = recent ? recent : "";
  rt_.api_.aclrtDestroyStream(s);
  s = nullptr;
  throw QmmException(ErrorCode::Device,
                     "aclrtSynchronizeStream failed with status " + std::to_string(st) +
                         (deviceMessage.empty() ? "" : ": " + deviceMessage),
                     st, "aclrtSynchronizeStream", deviceMessage);
}

}  // namespace qmm
