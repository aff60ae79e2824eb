// A block of device memory owned by a JS object (CANN backend only). Only
// the addon makes one (BackendHandle.alloc); it remembers which backend owns
// the memory, so no other backend is ever handed the pointer.
#pragma once

#include <napi.h>

#include <memory>

#include "addon.h"
#include "backend.h"

namespace qmm {

// The memory itself: freed when the JS object has let go of it (free() or
// collection) and so has every op in flight that reads or writes it.
struct DeviceAllocation {
  DeviceAllocation(std::shared_ptr<Backend> owner, int dev, void* p, size_t n)
      : backend(std::move(owner)), device(dev), ptr(p), bytes(n) {}
  DeviceAllocation(const DeviceAllocation&) = delete;
  DeviceAllocation& operator=(const DeviceAllocation&) = delete;
  ~DeviceAllocation();

  const std::shared_ptr<Backend> backend;
  const int device;
  void* const ptr;
  const size_t bytes;
};

class DeviceBuffer : public NativeClass<DeviceBuffer> {
 public:
  static constexpr const char* kClassName = "DeviceBuffer";
  static constexpr napi_type_tag kTypeTag = {0x5d1c0a8e2b7f4c31ULL, 0x9e6a3d2f18b04c77ULL};

  static Napi::Function Init(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<Backend> backend, int device, void* ptr,
                                  size_t bytes);

  explicit DeviceBuffer(const Napi::CallbackInfo& info);

  // nullptr once free() was called.
  const std::shared_ptr<const DeviceAllocation>& allocation() const { return memory_; }

 private:
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value ByteLength(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);

  std::shared_ptr<const DeviceAllocation> memory_;
  int device_ = -1;
};

}  // namespace qmm
