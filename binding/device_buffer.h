// A block of device memory owned by a JS object (CANN backend only). It is
// freed by free() or, failing that, when the JS object is collected.
#pragma once

#include <napi.h>

#include <memory>

#include "backend.h"

namespace qmm {

class DeviceBuffer : public Napi::ObjectWrap<DeviceBuffer> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<Backend> backend, int device, void* ptr,
                                  size_t bytes);
  static DeviceBuffer* Unwrap(const Napi::Value& v);  // nullptr when v is not a DeviceBuffer

  explicit DeviceBuffer(const Napi::CallbackInfo& info);
  ~DeviceBuffer() override;

  void* ptr() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  int device() const { return device_; }
  Backend* backend() const { return backend_.get(); }

 private:
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value ByteLength(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  void release();

  std::shared_ptr<Backend> backend_;
  int device_ = -1;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace qmm
