// Process-wide CANN setup (aclInit once per process), device memory, info
// and the mock control hooks.
#include "cann_backend.h"

#include <dlfcn.h>

#include <algorithm>
#include <mutex>

#include "../errors.h"
#include "cann_backend_impl.h"

namespace qmm {

namespace {

std::mutex gCreateMutex;
bool gAclInitialized = false;
// Never destroyed: device memory owned by JS may be freed during environment
// teardown, and CANN has no safe order of destruction at process exit.
std::shared_ptr<Backend>* gBackend = nullptr;

std::string recentMessage(const CannApi& api) {
  const char* m = api.aclGetRecentErrMsg();
  return m ? m : "";
}

[[noreturn]] void backendError(const CannApi& api, const char* call, long long status) {
  const std::string dm = recentMessage(api);
  throw QmmException(ErrorCode::Backend,
                     std::string(call) + " failed with status " + std::to_string(status) + " (CANN at " + api.root +
                         ")" + (dm.empty() ? "" : ": " + dm),
                     status, call, dm);
}

template <typename F>
F mockSymbol(const char* name) {
  const CannApi* api = loadedCann();
  if (api == nullptr) return nullptr;
  return reinterpret_cast<F>(::dlsym(api->ascendclHandle, name));
}

}  // namespace

std::shared_ptr<Backend> createCannBackend() {
  std::lock_guard<std::mutex> lock(gCreateMutex);
  if (gBackend != nullptr) return *gBackend;
  const CannApi& api = loadCann();
  if (!gAclInitialized) {
    const acl::aclError st = api.aclInit(nullptr);
    // REPEAT_INITIALIZE: another component of this process initialized ACL.
    if (st != acl::ACL_SUCCESS && st != acl::ACL_ERROR_REPEAT_INITIALIZE) backendError(api, "aclInit", st);
    gAclInitialized = true;
  }
  uint32_t count = 0;
  const acl::aclError st = api.aclrtGetDeviceCount(&count);
  if (st != acl::ACL_SUCCESS) backendError(api, "aclrtGetDeviceCount", st);
  if (count == 0)
    throw QmmException(ErrorCode::Backend, "CANN loaded from " + api.root + " but sees no device (no NPU visible)");
  const char* soc = api.aclrtGetSocName != nullptr ? api.aclrtGetSocName() : nullptr;
  gBackend = new std::shared_ptr<Backend>(std::make_shared<CannBackend>(api, static_cast<int>(count), soc ? soc : ""));
  return *gBackend;
}

int opDevice(std::initializer_list<const TensorArg*> tensors) {
  int device = -1;
  for (const TensorArg* t : tensors) {
    if (t == nullptr || t->mem.kind != Memory::Kind::Device) continue;
    if (device >= 0 && device != t->mem.device)
      throw QmmException(ErrorCode::Device, "the op's tensors are on different devices (npu:" + std::to_string(device) +
                                                " and npu:" + std::to_string(t->mem.device) + ")");
    device = t->mem.device;
  }
  return device < 0 ? 0 : device;
}

BackendInfo CannBackend::info() const {
  std::string libs;
  for (const std::string& l : api_.libraries) libs += (libs.empty() ? "" : ", ") + l;
  BackendInfo bi;
  bi.name = "cann";
  bi.detail = "CANN " + (api_.version.empty() ? std::string("(version unknown)") : api_.version) + " at " + api_.root +
              " [" + libs + "]; entry points: " + api_.entryPoints() +
              (socName_.empty() ? std::string() : "; SoC " + socName_);
  bi.deviceCount = rt_.deviceCount();
  return bi;
}

void* CannBackend::deviceAlloc(int device, size_t bytes) {
  DeviceRuntime::Lock lock(rt_, device);
  return DevMem(api_, std::max<size_t>(bytes, 1)).release();  // aclrtMalloc rejects 0 bytes
}

void CannBackend::deviceFree(int device, void* ptr) {
  if (ptr == nullptr) return;
  DeviceRuntime::Lock lock(rt_, device);
  checkAcl(api_, api_.aclrtFree(ptr), "aclrtFree");
}

void CannBackend::copy(int device, void* dst, const void* src, size_t bytes, acl::aclrtMemcpyKind kind) {
  if (bytes == 0) return;
  DeviceRuntime::Lock lock(rt_, device);
  checkAcl(api_, api_.aclrtMemcpy(dst, bytes, src, bytes, kind), "aclrtMemcpy");
}

void CannBackend::copyToDevice(int device, void* dst, const void* src, size_t bytes) {
  copy(device, dst, src, bytes, acl::ACL_MEMCPY_HOST_TO_DEVICE);
}
void CannBackend::copyToHost(int device, void* dst, const void* src, size_t bytes) {
  copy(device, dst, src, bytes, acl::ACL_MEMCPY_DEVICE_TO_HOST);
}
void CannBackend::copyDeviceToDevice(int device, void* dst, const void* src, size_t bytes) {
  copy(device, dst, src, bytes, acl::ACL_MEMCPY_DEVICE_TO_DEVICE);
}

bool cannMockStats(MockCannStats* out) {
  auto fn = mockSymbol<void (*)(MockCannStats*)>("mock_cann_get_stats");
  if (fn == nullptr || out == nullptr) return false;
  fn(out);
  return true;
}

bool cannMockSetFault(const std::string& name, long long nth) {
  auto fn = mockSymbol<void (*)(const char*, long long)>("mock_cann_set_fault");
  if (fn == nullptr) return false;
  fn(name.c_str(), nth);
  return true;
}

bool cannMockClearFaults() {
  auto fn = mockSymbol<void (*)()>("mock_cann_clear_faults");
  if (fn == nullptr) return false;
  fn();
  return true;
}

std::string cannMockLastViolation() {
  auto fn = mockSymbol<const char* (*)()>("mock_cann_last_violation");
  const char* s = fn ? fn() : nullptr;
  return s ? s : "";
}

}  // namespace qmm
