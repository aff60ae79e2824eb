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

std::string recentDeviceMessage(const CannApi& api) {
  const char* recent = api.aclGetRecentErrMsg ? api.aclGetRecentErrMsg() : nullptr;
  return recent ? recent : "";
}

QmmException deviceError(const char* call, long long status, const std::string& context,
                         const std::string& deviceMessage) {
  std::string msg = std::string(call) + " failed with status " + std::to_string(status);
  if (!context.empty()) msg += " (" + context + ")";
  if (!deviceMessage.empty()) msg += ": " + deviceMessage;
  return QmmException(ErrorCode::Device, msg, status, call, deviceMessage);
}

void throwDeviceError(const CannApi& api, const char* call, long long status, const std::string& context) {
  throw deviceError(call, status, context, recentDeviceMessage(api));
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
  const acl::aclError st = rt_.api_.aclrtSynchronizeStream(rt_.slots_[device_]->stream);
  if (st == acl::ACL_SUCCESS) return;
  const std::string deviceMessage = recentDeviceMessage(rt_.api_);
  abandonStream();
  throw deviceError("aclrtSynchronizeStream", st, {}, deviceMessage);
}

void DeviceRuntime::Lock::launchFailed(const char* call, long long status) {
  const std::string deviceMessage = recentDeviceMessage(rt_.api_);  // before the calls below replace it
  std::string context;
  const acl::aclError st = rt_.api_.aclrtSynchronizeStream(rt_.slots_[device_]->stream);
  if (st != acl::ACL_SUCCESS) {
    const std::string syncMessage = recentDeviceMessage(rt_.api_);
    abandonStream();
    context = "aclrtSynchronizeStream then failed with status " + std::to_string(st) +
              (syncMessage.empty() ? "" : " (" + syncMessage + ")") + "; the stream was destroyed";
  }
  throw deviceError(call, status, context, deviceMessage);
}

void DeviceRuntime::Lock::abandonStream() {
  acl::aclrtStream& s = rt_.slots_[device_]->stream;
  if (s == nullptr) return;
  // Nothing to report a failed destroy to: the stream is given up either way.
  if (rt_.api_.aclrtDestroyStreamForce != nullptr)
    rt_.api_.aclrtDestroyStreamForce(s);
  else
    rt_.api_.aclrtDestroyStream(s);
  s = nullptr;
}

}  // namespace qmm
