// The JS-facing backend handle: one Promise and one sync method per op (both
// from the op table in ops.cc), device memory, and the cancel token.
#pragma once

#include <napi.h>

#include <memory>

#include "addon.h"
#include "backend.h"

namespace qmm {

// Each op's argument slots in the order the native side reads them (the
// addon's constants.opArgs; lib/ops/encode.ts writes them in this order).
Napi::Object opArgNames(Napi::Env env);

class BackendHandle : public NativeClass<BackendHandle> {
 public:
  static constexpr const char* kClassName = "BackendHandle";
  static constexpr napi_type_tag kTypeTag = {0x2f8b6e1d94c35a07ULL, 0xc41e7a0b5d9f2368ULL};

  static Napi::Function Init(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<Backend> backend);
  explicit BackendHandle(const Napi::CallbackInfo& info);

  const std::shared_ptr<Backend>& backend() const { return backend_; }

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Alloc(const Napi::CallbackInfo& info);
  Napi::Value Upload(const Napi::CallbackInfo& info);
  Napi::Value Download(const Napi::CallbackInfo& info);
  Napi::Value CopyDevice(const Napi::CallbackInfo& info);

  std::shared_ptr<Backend> backend_;
};

// createCancelToken(); token.cancel(): handed to ops as args.cancel.
class CancelTokenWrap : public NativeClass<CancelTokenWrap> {
 public:
  static constexpr const char* kClassName = "CancelToken";
  static constexpr napi_type_tag kTypeTag = {0x83a0d5c27e6b1f49ULL, 0x1b7d4e9a60c2f385ULL};

  static Napi::Function Init(Napi::Env env);
  static Napi::Value Create(const Napi::CallbackInfo& info);
  explicit CancelTokenWrap(const Napi::CallbackInfo& info);
  std::shared_ptr<CancelToken> token() const { return token_; }

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Cancelled(const Napi::CallbackInfo& info);
  std::shared_ptr<CancelToken> token_ = std::make_shared<CancelToken>();
};

}  // namespace qmm
