#include "device_buffer.h"

#include "addon.h"

namespace qmm {

Napi::Function DeviceBuffer::Init(Napi::Env env) {
  return DefineClass(env, "DeviceBuffer",
                     {InstanceMethod("free", &DeviceBuffer::Free),
                      InstanceAccessor("byteLength", &DeviceBuffer::ByteLength, nullptr),
                      InstanceAccessor("device", &DeviceBuffer::Device, nullptr)});
}

Napi::Object DeviceBuffer::NewInstance(Napi::Env env, std::shared_ptr<Backend> backend, int device, void* ptr,
                                       size_t bytes) {
  Napi::Object o = instanceData(env).deviceBufferCtor.New({});
  DeviceBuffer* d = Napi::ObjectWrap<DeviceBuffer>::Unwrap(o);
  d->backend_ = std::move(backend);
  d->device_ = device;
  d->ptr_ = ptr;
  d->bytes_ = bytes;
  return o;
}

DeviceBuffer* DeviceBuffer::Unwrap(const Napi::Value& v) {
  if (!v.IsObject()) return nullptr;
  Napi::Object o = v.As<Napi::Object>();
  Napi::Env env = v.Env();
  bool is = false;
  if (napi_instanceof(env, o, instanceData(env).deviceBufferCtor.Value(), &is) != napi_ok || !is) return nullptr;
  return Napi::ObjectWrap<DeviceBuffer>::Unwrap(o);
}

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeviceBuffer>(info) {}

DeviceBuffer::~DeviceBuffer() { release(); }

void DeviceBuffer::release() {
  if (ptr_ != nullptr && backend_) {
    try {
      backend_->deviceFree(device_, ptr_);
    } catch (...) {
      // a failed free at collection time has nowhere to be reported
    }
  }
  ptr_ = nullptr;
  bytes_ = 0;
}

Napi::Value DeviceBuffer::Free(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

Napi::Value DeviceBuffer::ByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(bytes_));
}

Napi::Value DeviceBuffer::Device(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }

}  // namespace qmm
