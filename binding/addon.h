// Per-environment instance data (worker_threads safe: each Node environment
// gets its own constructors; backends are process-wide), and the base of the
// addon's JS classes.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "errors.h"

namespace qmm {

struct InstanceData {
  Napi::FunctionReference deviceBufferCtor;
  Napi::FunctionReference backendCtor;
  Napi::FunctionReference cancelTokenCtor;
  // An object never handed to JS: the class constructors accept only it, so
  // no JS code can make an instance without the native state behind it.
  Napi::ObjectReference constructKey;
};

InstanceData& instanceData(Napi::Env env);

// A JS Error carrying code/status/call/deviceMessage/tried from a QmmException.
Napi::Error toJsError(Napi::Env env, const QmmException& e);

// Runs f where JS called in: a C++ exception becomes a JS error with an
// ERR_QMM_* code (see caughtAsQmm) instead of terminating the process.
template <typename F>
Napi::Value guarded(Napi::Env env, F&& f) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw toJsError(env, caughtAsQmm());
  }
}

// A JS class whose instances only the addon makes (better-sqlite3's
// pattern) and whose methods check the class of `this` before unwrapping.
// T provides `static constexpr const char* kClassName` and
// `static constexpr napi_type_tag kTypeTag` (unique per class).
template <typename T>
class NativeClass : public Napi::ObjectWrap<T> {
 public:
  using Method = Napi::Value (T::*)(const Napi::CallbackInfo&);

  // The instance behind `v`, or nullptr when v is not one made by the addon.
  static T* unwrap(const Napi::Value& v) {
    if (!v.IsObject()) return nullptr;
    bool tagged = false;
    if (napi_check_object_type_tag(v.Env(), v, &T::kTypeTag, &tagged) != napi_ok || !tagged) return nullptr;
    void* self = nullptr;
    if (napi_unwrap(v.Env(), v, &self) != napi_ok) return nullptr;
    return static_cast<T*>(self);
  }

  // The instance `info` was called on; TypeError for any other `this`.
  static T& self(const Napi::CallbackInfo& info) {
    T* t = unwrap(info.This());
    if (t == nullptr)
      throw Napi::TypeError::New(info.Env(), std::string("Illegal invocation: `this` is not a ") + T::kClassName +
                                                 " made by the addon");
    return *t;
  }

  // Prototype members, called only with a checked `this`.
  template <Method M>
  static Napi::PropertyDescriptor method(Napi::Env env, const char* name, void* data = nullptr) {
    return Napi::PropertyDescriptor::Value(name, Napi::Function::New<&call<M>>(env, name, data),
                                           napi_default_method);
  }
  template <Method M>
  static Napi::PropertyDescriptor getter(const char* name) {
    return Napi::PropertyDescriptor::Accessor<&call<M>>(name, napi_configurable);
  }

  // The class with `members` on its prototype.
  static Napi::Function define(Napi::Env env, const std::vector<Napi::PropertyDescriptor>& members) {
    Napi::Function ctor = Napi::ObjectWrap<T>::DefineClass(env, T::kClassName, {});
    ctor.Get("prototype").template As<Napi::Object>().DefineProperties(members);
    return ctor;
  }

  // A new instance: the only way to pass the constructor's check.
  static T& construct(Napi::Env env, Napi::FunctionReference& ctor, Napi::Object* object) {
    *object = ctor.New({instanceData(env).constructKey.Value()});
    return *unwrap(*object);
  }

 protected:
  explicit NativeClass(const Napi::CallbackInfo& info) : Napi::ObjectWrap<T>(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].StrictEquals(instanceData(env).constructKey.Value()))
      throw Napi::TypeError::New(env, std::string(T::kClassName) + " cannot be constructed from JavaScript");
    if (napi_type_tag_object(env, info.This(), &T::kTypeTag) != napi_ok)
      throw Napi::Error::New(env, std::string("could not tag a new ") + T::kClassName);
  }

 private:
  template <Method M>
  static Napi::Value call(const Napi::CallbackInfo& info) {
    T& t = self(info);
    return guarded(info.Env(), [&] { return (t.*M)(info); });
  }
};

}  // namespace qmm
