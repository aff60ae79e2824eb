// Devices, streams and device memory of the CANN backend.
//
// Thread model: CANN's current device is per thread, so every thread that
// calls into acl/aclnn (the JS main thread of each environment, libuv
// workers) first runs aclrtSetDevice for the device it uses. Each thread
// keeps exactly one reference per device it has touched, for its whole life
// (never reset: the backend lives until process exit). Each device has one
// stream, created on first use; one mutex per device serializes every op,
// copy, allocation and free on it, so the stream is idle whenever the mutex
// is free and no memory is freed while queued work still uses it.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "loader.h"

namespace qmm {

// Throws QmmException(ErrorCode::Device) naming the call and its status, with
// aclGetRecentErrMsg() as the device message.
[[noreturn]] void throwDeviceError(const CannApi& api, const char* call, long long status,
                                   const std::string& context = {});
inline void checkAcl(const CannApi& api, long long status, const char* call, const std::string& context = {}) {
  if (status != 0) throwDeviceError(api, call, status, context);
}

// An aclrtMalloc block, freed on destruction. Create and destroy it while the
// device is current on the thread (inside a DeviceRuntime::Lock).
class DevMem {
 public:
  DevMem() = default;
  DevMem(const CannApi& api, size_t bytes);
  DevMem(DevMem&& o) noexcept : api_(o.api_), ptr_(o.ptr_) { o.ptr_ = nullptr; }
  DevMem& operator=(DevMem&& o) noexcept;
  DevMem(const DevMem&) = delete;
  DevMem& operator=(const DevMem&) = delete;
  ~DevMem() { reset(); }
  void* get() const { return ptr_; }
  void* release() {
    void* p = ptr_;
    ptr_ = nullptr;
    return p;
  }
  void reset();

 private:
  const CannApi* api_ = nullptr;
  void* ptr_ = nullptr;
};

class DeviceRuntime {
 public:
  DeviceRuntime(const CannApi& api, int deviceCount);
  const CannApi& api() const { return api_; }
  int deviceCount() const { return static_cast<int>(slots_.size()); }

  // Exclusive use of one device from the calling thread.
  class Lock {
   public:
    Lock(DeviceRuntime& rt, int device);
    int device() const { return device_; }
    acl::aclrtStream stream();  // the device's stream, created on first use
    // aclrtSynchronizeStream; on failure the stream is destroyed (which
    // drains or drops its queued work) so the next op starts on a new one.
    void synchronize();

   private:
    DeviceRuntime& rt_;
    int device_;
    std::unique_lock<std::mutex> lock_;
  };

 private:
  struct Slot {
    std::mutex mutex;
    acl::aclrtStream stream = nullptr;
  };
  const CannApi& api_;
  std::vector<std::unique_ptr<Slot>> slots_;
};

}  // namespace qmm
