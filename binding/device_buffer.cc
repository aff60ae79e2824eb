#include "device_buffer.h"

namespace qmm {

DeviceAllocation::~DeviceAllocation() {
  try {
    backend->deviceFree(device, ptr);
  } catch (...) {
    // a failed free at collection time has nowhere to be reported
  }
}

Napi::Function DeviceBuffer::Init(Napi::Env env) {
  return define(env, {method<&DeviceBuffer::Free>(env, "free"), getter<&DeviceBuffer::ByteLength>("byteLength"),
                      getter<&DeviceBuffer::Device>("device")});
}

Napi::Object DeviceBuffer::NewInstance(Napi::Env env, std::shared_ptr<Backend> backend, int device, void* ptr,
                                       size_t bytes) {
  // owned from here, so a failure to make the JS object still frees it
  auto memory = std::make_shared<const DeviceAllocation>(std::move(backend), device, ptr, bytes);
  Napi::Object o;
  DeviceBuffer& d = construct(env, instanceData(env).deviceBufferCtor, &o);
  d.memory_ = std::move(memory);
  d.device_ = device;
  return o;
}

DeviceBuffer::DeviceBuffer(const Napi::CallbackInfo& info) : NativeClass<DeviceBuffer>(info) {}

Napi::Value DeviceBuffer::Free(const Napi::CallbackInfo& info) {
  memory_.reset();
  return info.Env().Undefined();
}

Napi::Value DeviceBuffer::ByteLength(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), memory_ ? static_cast<double>(memory_->bytes) : 0.0);
}

Napi::Value DeviceBuffer::Device(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), device_); }

}  // namespace qmm
