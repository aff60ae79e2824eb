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

#include "../errors.h"
#include "loader.h"

namespace qmm {

// aclGetRecentErrMsg(), or "" (reading it clears it).
std::string recentDeviceMessage(const CannApi& api);
// QmmException(ErrorCode::Device) naming the call, its status and the device message.
QmmException deviceError(const char* call, long long status, const std::string& context,
                         const std::string& deviceMessage);
// Throws deviceError(...) with aclGetRecentErrMsg() as the device message.
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
    // aclrtSynchronizeStream; on failure the stream is abandoned (see below)
    // and a QmmException naming aclrtSynchronizeStream is thrown.
    void synchronize();
    // For a launch that returned `status`: the launch may have queued part of
    // the op, which still uses its workspace and operands. Waits for that work
    // (abandoning the stream if it cannot be synchronized), so the caller may
    // free them, and throws a QmmException naming `call`.
    [[noreturn]] void launchFailed(const char* call, long long status);

   private:
    // Destroys the stream after a failed synchronization, whose queued work
    // never finishes: aclrtDestroyStreamForce (does not wait for it) where the
    // runtime has it, else aclrtDestroyStream. The next op gets a new stream.
    void abandonStream();

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
