#include "emulator_hooks.h"

#include <string>

#include "emulator/pack_cache_api.h"
#include "marshal.h"

namespace qmm {

namespace {

std::string stringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsString()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>();
}

double numberArg(const Napi::CallbackInfo& info, size_t i, const char* what, double lo, double hi) {
  if (i >= info.Length() || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= lo && v <= hi))
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

Napi::Object makePackCache(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("clear", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    emu::packCacheClear();
    return info.Env().Undefined();
  }));
  // release(view): drops the packings made from the buffer range of `view`
  o.Set("release", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "release(view) takes a TypedArray");
    const HostBytes view = hostBytes(info[0]);
    if (view.ptr == nullptr) return Napi::Number::New(info.Env(), 0);
    return Napi::Number::New(info.Env(), static_cast<double>(emu::packCacheRelease(view.ptr, view.bytes)));
  }));
  o.Set("bytes", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(emu::packCacheBytes()));
  }));
  o.Set("entries", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(emu::packCacheEntries()));
  }));
  o.Set("hits", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(emu::packCacheHits()));
  }));
  o.Set("misses", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(emu::packCacheMisses()));
  }));
  o.Set("setMode", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), emu::packCacheSetMode(stringArg(info, 0, "mode")));
  }));
  o.Set("mode", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), emu::packCacheMode());
  }));
  o.Set("setLimit", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    emu::packCacheSetLimit(static_cast<size_t>(numberArg(info, 0, "bytes", 0, 9007199254740991.0)));
    return info.Env().Undefined();
  }));
  o.Set("limit", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(emu::packCacheLimit()));
  }));
  return o;
}

}  // namespace

Napi::Object makeEmulatorHooks(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kernelName", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), emu::kernelName());
  }));
  o.Set("kernelNote", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), emu::kernelNote());
  }));
  o.Set("kernelsAvailable", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), emu::kernelsAvailable());
  }));
  o.Set("selectKernel", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), emu::kernelSelect(stringArg(info, 0, "kernel")));
  }));
  o.Set("packCache", makePackCache(env));
#ifdef QMM_TEST_HOOKS  // bench probes, in the test build only
  o.Set("probeKernelPeakGops", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), emu::probeKernelPeakGops(numberArg(info, 0, "seconds", 0.01, 10)));
  }));
  o.Set("probeDramReadGBps", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    const double bytes = numberArg(info, 0, "bytes", 1 << 20, 4294967296.0);
    const double repeats = numberArg(info, 1, "repeats", 1, 100);
    return Napi::Number::New(info.Env(), emu::probeDramReadGBps(static_cast<size_t>(bytes), static_cast<int>(repeats)));
  }));
#endif
  return o;
}

}  // namespace qmm
