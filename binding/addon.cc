// Module init: per-environment class constructors and the entry points
// lib/native.ts expects (abiVersion, constants, openBackend,
// createCancelToken, the emulator hooks and the cannMock test hooks).
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

// The version of the interface between lib/native.ts and this addon; bump it
// with every change either side must know about (lib/native.ts checks it).
constexpr int kAbiVersion = 4;

InstanceData& instanceData(Napi::Env env) { return *env.GetInstanceData<InstanceData>(); }

Napi::Error toJsError(Napi::Env env, const QmmException& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, errorCodeName(e.code())));
  if (e.status() != 0) err.Set("status", Napi::Number::New(env, static_cast<double>(e.status())));
  if (!e.call().empty()) err.Set("call", Napi::String::New(env, e.call()));
  if (!e.deviceMessage().empty()) err.Set("deviceMessage", Napi::String::New(env, e.deviceMessage()));
  if (!e.tried().empty()) {
    Napi::Array tried = Napi::Array::New(env, e.tried().size());
    for (uint32_t i = 0; i < e.tried().size(); ++i) tried.Set(i, Napi::String::New(env, e.tried()[i]));
    err.Set("tried", tried);
  }
  return err;
}

namespace {

// The codes tensor descriptors carry and the emulator's device count, so the
// TypeScript side never keeps its own copy.
Napi::Object makeConstants(Napi::Env env) {
  Napi::Object dtypes = Napi::Object::New(env);
  for (DType d : kDTypes) dtypes.Set(dtypeName(d), static_cast<int32_t>(d));
  Napi::Object formats = Napi::Object::New(env);
  for (Format f : kFormats) formats.Set(formatName(f), static_cast<int32_t>(f));
  dtypes.Freeze();
  formats.Freeze();
  Napi::Object c = Napi::Object::New(env);
  c.Set("dtypes", dtypes);
  c.Set("formats", formats);
  c.Set("maxRank", kMaxRank);
  c.Set("emulatedDeviceCount", kEmulatedDeviceCount);
  c.Set("opArgs", opArgNames(env));
  c.Freeze();
  return c;
}

Napi::Value OpenBackend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "backend name must be a string");
  const std::string name = info[0].As<Napi::String>();
  if (name != "cpu" && name != "cann") throw Napi::TypeError::New(env, "backend name must be 'cpu' or 'cann', got '" + name + "'");
  return guarded(env, [&] {
    return BackendHandle::NewInstance(env, name == "cpu" ? createEmulatorBackend() : createCannBackend());
  });
}

#ifdef QMM_TEST_HOOKS  // the `cannMock` export: controls of the mock CANN runtime, tests only
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

Napi::Object makeCannMockHooks(Napi::Env env) {
  Napi::Object mock = Napi::Object::New(env);
  mock.Set("stats", Napi::Function::New(env, MockStats));
  mock.Set("setFault", Napi::Function::New(env, MockSetFault));
  mock.Set("clearFaults", Napi::Function::New(env, MockClearFaults));
  mock.Set("lastViolation", Napi::Function::New(env, MockLastViolation));
  return mock;
}
#endif  // QMM_TEST_HOOKS

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new InstanceData();
  env.SetInstanceData<InstanceData>(data);  // deleted by Node at environment teardown
  data->constructKey = Napi::Persistent(Napi::Object::New(env));
  Napi::Function deviceBuffer = DeviceBuffer::Init(env);
  Napi::Function backend = BackendHandle::Init(env);
  Napi::Function cancel = CancelTokenWrap::Init(env);
  data->deviceBufferCtor = Napi::Persistent(deviceBuffer);
  data->backendCtor = Napi::Persistent(backend);
  data->cancelTokenCtor = Napi::Persistent(cancel);

  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  exports.Set("constants", makeConstants(env));
  exports.Set("openBackend", Napi::Function::New(env, OpenBackend));
  exports.Set("createCancelToken", Napi::Function::New(env, CancelTokenWrap::Create));
  // the classes, for instanceof; their constructors refuse calls from JS
  exports.Set("BackendHandle", backend);
  exports.Set("CancelToken", cancel);
  exports.Set("DeviceBuffer", deviceBuffer);
  exports.Set("emulator", makeEmulatorHooks(env));
#ifdef QMM_TEST_HOOKS
  exports.Set("cannMock", makeCannMockHooks(env));
#endif
  registerUtilOps(env, exports);
  return exports;
}

}  // namespace
}  // namespace qmm

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return qmm::Init(env, exports); }

NODE_API_MODULE(ascend_quant_matmul, InitModule)
