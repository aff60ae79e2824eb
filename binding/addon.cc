// Module init: per-environment class constructors and the entry points
// lib/native.ts expects (openBackend, CancelToken, cannMock hooks).
#include "addon.h"

#include <napi.h>

#include <string>

#include "cann/cann_backend.h"
#include "device_buffer.h"
#include "emulator/emulator.h"
#include "emulator_hooks.h"
#include "marshal.h"
#include "ops.h"
#include "util_ops.h"

namespace qmm {

InstanceData& instanceData(Napi::Env env) { return *env.GetInstanceData<InstanceData>(); }

namespace {

Napi::Value OpenBackend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "backend name must be a string");
  const std::string name = info[0].As<Napi::String>();
  try {
    if (name == "cpu") return BackendHandle::NewInstance(env, createEmulatorBackend());
    if (name == "cann") return BackendHandle::NewInstance(env, createCannBackend());
  } catch (const QmmException& e) {
    throw toJsError(env, e);
  }
  throw Napi::TypeError::New(env, "backend name must be 'cpu' or 'cann', got '" + name + "'");
}

Napi::Value MockStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MockCannStats s{};
  if (!cannMockStats(&s)) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("liveDeviceAllocs", static_cast<double>(s.liveDeviceAllocs));
  o.Set("liveDeviceBytes", static_cast<double>(s.liveDeviceBytes));
  o.Set("liveHostAllocs", static_cast<double>(s.liveHostAllocs));
  o.Set("liveTensors", static_cast<double>(s.liveTensors));
  o.Set("liveIntArrays", static_cast<double>(s.liveIntArrays));
  o.Set("liveExecutors", static_cast<double>(s.liveExecutors));
  o.Set("liveStreams", static_cast<double>(s.liveStreams));
  o.Set("deviceRefs", static_cast<double>(s.deviceRefs));
  o.Set("violations", static_cast<double>(s.violations));
  o.Set("initialized", static_cast<double>(s.initialized));
  o.Set("totalCalls", static_cast<double>(s.totalCalls));
  return o;
}

Napi::Value MockSetFault(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "setFault(name: string, nth: number)");
  return Napi::Boolean::New(env, cannMockSetFault(info[0].As<Napi::String>(), info[1].As<Napi::Number>().Int64Value()));
}

Napi::Value MockClearFaults(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), cannMockClearFaults());
}

Napi::Value MockLastViolation(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), cannMockLastViolation());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new InstanceData();
  env.SetInstanceData<InstanceData>(data);  // deleted by Node at environment teardown
  Napi::Function deviceBuffer = DeviceBuffer::Init(env);
  Napi::Function backend = BackendHandle::Init(env);
  Napi::Function cancel = CancelTokenWrap::Init(env);
  data->deviceBufferCtor = Napi::Persistent(deviceBuffer);
  data->backendCtor = Napi::Persistent(backend);
  data->cancelTokenCtor = Napi::Persistent(cancel);

  exports.Set("openBackend", Napi::Function::New(env, OpenBackend));
  exports.Set("CancelToken", cancel);
  exports.Set("DeviceBuffer", deviceBuffer);
  Napi::Object mock = Napi::Object::New(env);
  mock.Set("stats", Napi::Function::New(env, MockStats));
  mock.Set("setFault", Napi::Function::New(env, MockSetFault));
  mock.Set("clearFaults", Napi::Function::New(env, MockClearFaults));
  mock.Set("lastViolation", Napi::Function::New(env, MockLastViolation));
  exports.Set("cannMock", mock);
  exports.Set("emulator", makeEmulatorHooks(env));
  registerUtilOps(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  return exports;
}

}  // namespace
}  // namespace qmm

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return qmm::Init(env, exports); }

NODE_API_MODULE(ascend_quant_matmul, InitModule)
