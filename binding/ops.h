// The JS-facing backend handle: argument marshaling, sync entry points and
// Promise entry points that run on a worker thread (AsyncWorker).
#pragma once

#include <napi.h>

#include <memory>

#include "backend.h"

namespace qmm {

class BackendHandle : public Napi::ObjectWrap<BackendHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<Backend> backend);
  explicit BackendHandle(const Napi::CallbackInfo& info);

 private:
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value QuantMatmul(const Napi::CallbackInfo& info);
  Napi::Value QuantMatmulSync(const Napi::CallbackInfo& info);
  Napi::Value TransQuantParam(const Napi::CallbackInfo& info);
  Napi::Value TransQuantParamSync(const Napi::CallbackInfo& info);
  Napi::Value FormatCast(const Napi::CallbackInfo& info);
  Napi::Value FormatCastSync(const Napi::CallbackInfo& info);
  Napi::Value Quantize(const Napi::CallbackInfo& info);
  Napi::Value QuantizeSync(const Napi::CallbackInfo& info);
  Napi::Value DynamicQuant(const Napi::CallbackInfo& info);
  Napi::Value DynamicQuantSync(const Napi::CallbackInfo& info);
  Napi::Value Alloc(const Napi::CallbackInfo& info);
  Napi::Value Upload(const Napi::CallbackInfo& info);
  Napi::Value Download(const Napi::CallbackInfo& info);
  Napi::Value CopyDevice(const Napi::CallbackInfo& info);

  std::shared_ptr<Backend> backend_;
};

// new CancelToken(); token.cancel(): handed to ops as args.cancel.
class CancelTokenWrap : public Napi::ObjectWrap<CancelTokenWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit CancelTokenWrap(const Napi::CallbackInfo& info);
  std::shared_ptr<CancelToken> token() const { return token_; }

 private:
  Napi::Value Cancel(const Napi::CallbackInfo& info);
  Napi::Value Cancelled(const Napi::CallbackInfo& info);
  std::shared_ptr<CancelToken> token_ = std::make_shared<CancelToken>();
};

}  // namespace qmm
