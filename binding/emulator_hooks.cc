#include "emulator_hooks.h"

#include <string>

#include "emulator/kernel_info.h"
#include "emulator/weight_packs.h"

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

#ifdef QMM_TEST_HOOKS
// Counters of the packs owned by NZ weights (emulator/weight_packs.h), for the tests.
Napi::Object makePackCounters(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("made", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(emu::ownedPacksMade()));
  }));
  o.Set("liveBytes", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(emu::ownedPackBytes()));
  }));
  return o;
}
#endif  // QMM_TEST_HOOKS

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
#ifdef QMM_TEST_HOOKS  // bench probes and pack counters, in the test build only
  o.Set("packs", makePackCounters(env));
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
