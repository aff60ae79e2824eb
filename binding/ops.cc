#include "ops.h"

#include <functional>
#include <string>

#include "addon.h"
#include "device_buffer.h"
#include "marshal.h"

namespace qmm {

namespace {

[[noreturn]] void typeError(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

Napi::Object argsObject(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) typeError(info.Env(), "expected an arguments object");
  return info[0].As<Napi::Object>();
}

std::shared_ptr<CancelToken> readCancel(const Napi::Object& args, KeepAlive& keep) {
  Napi::Value v = args.Get("cancel");
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  Napi::Env env = args.Env();
  bool is = false;
  if (!v.IsObject() ||
      napi_instanceof(env, v, instanceData(env).cancelTokenCtor.Value(), &is) != napi_ok || !is)
    typeError(env, "cancel must be a CancelToken");
  keep.hold(v.As<Napi::Object>());
  return Napi::ObjectWrap<CancelTokenWrap>::Unwrap(v.As<Napi::Object>())->token();
}

// One op call: arguments read on the JS thread, `run` executed either
// inline (sync) or on a worker thread (async), then the JS side resolved.
struct OpCall {
  KeepAlive keep;
  std::shared_ptr<CancelToken> cancel;
  std::function<void()> run;
};

class OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, std::unique_ptr<OpCall> call)
      : Napi::AsyncWorker(env, "qmm-op"), call_(std::move(call)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    try {
      if (call_->cancel && call_->cancel->cancelled.load())
        throw QmmException(ErrorCode::Aborted, "the operation was aborted");
      call_->run();
    } catch (const QmmException& e) {
      error_ = std::make_unique<QmmException>(e);
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      error_ = std::make_unique<QmmException>(ErrorCode::Shape, "out of host memory for this operation");
      SetError("out of memory");
    } catch (const std::exception& e) {
      error_ = std::make_unique<QmmException>(ErrorCode::Internal, e.what());
      SetError(e.what());
    }
  }
  // While a worker_thread is being terminated, N-API calls fail and
  // node-addon-api turns that into a C++ exception; nothing can be reported
  // then, and letting it escape would abort the process.
  void OnOK() override {
    try {
      call_.reset();
      deferred_.Resolve(Env().Undefined());
    } catch (...) {
    }
  }
  void OnError(const Napi::Error&) override {
    try {
      call_.reset();
      deferred_.Reject(toJsError(Env(), *error_).Value());
    } catch (...) {
    }
  }

 private:
  std::unique_ptr<OpCall> call_;
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<QmmException> error_;
};

Napi::Value runSync(Napi::Env env, OpCall& call) {
  try {
    call.run();
  } catch (const QmmException& e) {
    throw toJsError(env, e);
  } catch (const std::bad_alloc&) {
    throw toJsError(env, QmmException(ErrorCode::Shape, "out of host memory for this operation"));
  }
  return env.Undefined();
}

Napi::Value runAsync(Napi::Env env, std::unique_ptr<OpCall> call) {
  auto* w = new OpWorker(env, std::move(call));
  Napi::Promise p = w->promise();
  w->Queue();
  return p;
}

// Marshals the arguments of each op (QmmException while reading is turned
// into a JS error by the caller).
std::unique_ptr<OpCall> quantMatmulCall(const Napi::CallbackInfo& info, const std::shared_ptr<Backend>& backend) {
  Napi::Object o = argsObject(info);
  auto call = std::make_unique<OpCall>();
  auto args = std::make_shared<QuantMatmulArgs>();
  args->x1 = readTensor(o, "x1", call->keep);
  args->x2 = readTensor(o, "x2", call->keep);
  args->scale = readTensor(o, "scale", call->keep);
  args->offset = readOptionalTensor(o, "offset", call->keep);
  args->pertokenScale = readOptionalTensor(o, "pertokenScale", call->keep);
  args->bias = readOptionalTensor(o, "bias", call->keep);
  args->out = readTensor(o, "out", call->keep);
  call->cancel = readCancel(o, call->keep);
  args->cancel = call->cancel.get();
  call->run = [backend, args] { backend->quantMatmul(*args); };
  return call;
}

std::unique_ptr<OpCall> transQuantParamCall(const Napi::CallbackInfo& info, const std::shared_ptr<Backend>& backend) {
  Napi::Object o = argsObject(info);
  auto call = std::make_unique<OpCall>();
  auto args = std::make_shared<TransQuantParamArgs>();
  args->scale = readTensor(o, "scale", call->keep);
  args->offset = readOptionalTensor(o, "offset", call->keep);
  Napi::Value rm = o.Get("roundMode");
  if (!rm.IsNumber()) typeError(info.Env(), "roundMode must be a number");
  args->roundMode = rm.As<Napi::Number>().Int32Value();
  args->out = readTensor(o, "out", call->keep);
  call->cancel = readCancel(o, call->keep);
  args->cancel = call->cancel.get();
  call->run = [backend, args] { backend->transQuantParam(*args); };
  return call;
}

std::unique_ptr<OpCall> formatCastCall(const Napi::CallbackInfo& info, const std::shared_ptr<Backend>& backend) {
  Napi::Object o = argsObject(info);
  auto call = std::make_unique<OpCall>();
  auto args = std::make_shared<FormatCastArgs>();
  args->src = readTensor(o, "src", call->keep);
  args->dst = readTensor(o, "dst", call->keep);
  call->cancel = readCancel(o, call->keep);
  args->cancel = call->cancel.get();
  call->run = [backend, args] { backend->formatCast(*args); };
  return call;
}

std::unique_ptr<OpCall> quantizeCall(const Napi::CallbackInfo& info, const std::shared_ptr<Backend>& backend) {
  Napi::Object o = argsObject(info);
  auto call = std::make_unique<OpCall>();
  auto args = std::make_shared<QuantizeArgs>();
  args->x = readTensor(o, "x", call->keep);
  args->scale = readTensor(o, "scale", call->keep);
  args->offset = readOptionalTensor(o, "offset", call->keep);
  args->out = readTensor(o, "out", call->keep);
  call->cancel = readCancel(o, call->keep);
  args->cancel = call->cancel.get();
  call->run = [backend, args] { backend->quantize(*args); };
  return call;
}

std::unique_ptr<OpCall> dynamicQuantCall(const Napi::CallbackInfo& info, const std::shared_ptr<Backend>& backend) {
  Napi::Object o = argsObject(info);
  auto call = std::make_unique<OpCall>();
  auto args = std::make_shared<DynamicQuantArgs>();
  args->x = readTensor(o, "x", call->keep);
  args->out = readTensor(o, "out", call->keep);
  args->scaleOut = readTensor(o, "scaleOut", call->keep);
  call->cancel = readCancel(o, call->keep);
  args->cancel = call->cancel.get();
  call->run = [backend, args] { backend->dynamicQuant(*args); };
  return call;
}

template <typename F>
Napi::Value guarded(Napi::Env env, F&& f) {
  try {
    return f();
  } catch (const QmmException& e) {
    throw toJsError(env, e);
  }
}

DeviceBuffer* deviceArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  DeviceBuffer* d = i < info.Length() ? DeviceBuffer::Unwrap(info[i]) : nullptr;
  if (d == nullptr) typeError(info.Env(), std::string(what) + " must be a DeviceBuffer");
  if (d->ptr() == nullptr) throw QmmException(ErrorCode::Device, std::string(what) + ": device memory already freed");
  return d;
}

size_t sizeArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) typeError(info.Env(), std::string(what) + " must be a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d)))
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be a non-negative safe integer");
  return static_cast<size_t>(d);
}

Napi::TypedArray hostArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsTypedArray()) typeError(info.Env(), std::string(what) + " must be a TypedArray");
  return info[i].As<Napi::TypedArray>();
}

void checkRange(size_t offset, size_t count, size_t size, const char* what) {
  if (offset > size || count > size - offset)
    throw QmmException(ErrorCode::Shape, std::string(what) + ": range of " + std::to_string(count) +
                                             " bytes at " + std::to_string(offset) + " exceeds " +
                                             std::to_string(size) + " bytes");
}

}  // namespace

Napi::Function BackendHandle::Init(Napi::Env env) {
  return DefineClass(env, "BackendHandle",
                     {InstanceMethod("info", &BackendHandle::Info),
                      InstanceMethod("quantMatmul", &BackendHandle::QuantMatmul),
                      InstanceMethod("quantMatmulSync", &BackendHandle::QuantMatmulSync),
                      InstanceMethod("transQuantParam", &BackendHandle::TransQuantParam),
                      InstanceMethod("transQuantParamSync", &BackendHandle::TransQuantParamSync),
                      InstanceMethod("formatCast", &BackendHandle::FormatCast),
                      InstanceMethod("formatCastSync", &BackendHandle::FormatCastSync),
                      InstanceMethod("quantize", &BackendHandle::Quantize),
                      InstanceMethod("quantizeSync", &BackendHandle::QuantizeSync),
                      InstanceMethod("dynamicQuant", &BackendHandle::DynamicQuant),
                      InstanceMethod("dynamicQuantSync", &BackendHandle::DynamicQuantSync),
                      InstanceMethod("alloc", &BackendHandle::Alloc),
                      InstanceMethod("upload", &BackendHandle::Upload),
                      InstanceMethod("download", &BackendHandle::Download),
                      InstanceMethod("copyDevice", &BackendHandle::CopyDevice)});
}

Napi::Object BackendHandle::NewInstance(Napi::Env env, std::shared_ptr<Backend> backend) {
  Napi::Object o = instanceData(env).backendCtor.New({});
  Napi::ObjectWrap<BackendHandle>::Unwrap(o)->backend_ = std::move(backend);
  return o;
}

BackendHandle::BackendHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BackendHandle>(info) {}

Napi::Value BackendHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    const BackendInfo bi = backend_->info();
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", bi.name);
    o.Set("detail", bi.detail);
    o.Set("deviceCount", bi.deviceCount);
    o.Set("hasDeviceMemory", backend_->hasDeviceMemory());
    return o;
  });
}

Napi::Value BackendHandle::QuantMatmul(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return runAsync(info.Env(), quantMatmulCall(info, backend_)); });
}
Napi::Value BackendHandle::QuantMatmulSync(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return runSync(info.Env(), *quantMatmulCall(info, backend_)); });
}
Napi::Value BackendHandle::TransQuantParam(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return runAsync(info.Env(), transQuantParamCall(info, backend_)); });
}
Napi::Value BackendHandle::TransQuantParamSync(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return runSync(info.Env(), *transQuantParamCall(info, backend_)); });
}
Napi::Value BackendHandle::FormatCast(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return runAsync(info.Env(), formatCastCall(info, backend_)); });
}
Napi::Value BackendHandle::FormatCastSync(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return runSync(info.Env(), *formatCastCall(info, backend_)); });
}

Napi::Value BackendHandle::Quantize(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return runAsync(info.Env(), quantizeCall(info, backend_)); });
}
Napi::Value BackendHandle::QuantizeSync(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return runSync(info.Env(), *quantizeCall(info, backend_)); });
}
Napi::Value BackendHandle::DynamicQuant(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return runAsync(info.Env(), dynamicQuantCall(info, backend_)); });
}
Napi::Value BackendHandle::DynamicQuantSync(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&] { return runSync(info.Env(), *dynamicQuantCall(info, backend_)); });
}

// alloc(device, bytes) -> DeviceBuffer
Napi::Value BackendHandle::Alloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (!backend_->hasDeviceMemory())
      throw QmmException(ErrorCode::Backend, "this backend keeps npu tensors in host memory");
    const size_t device = sizeArg(info, 0, "device");
    const size_t bytes = sizeArg(info, 1, "bytes");
    void* p = backend_->deviceAlloc(static_cast<int>(device), bytes);
    return DeviceBuffer::NewInstance(env, backend_, static_cast<int>(device), p, bytes);
  });
}

// upload(dst: DeviceBuffer, dstByteOffset, src: TypedArray)
Napi::Value BackendHandle::Upload(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    DeviceBuffer* d = deviceArg(info, 0, "dst");
    const size_t off = sizeArg(info, 1, "dstByteOffset");
    Napi::TypedArray src = hostArg(info, 2, "src");
    checkRange(off, src.ByteLength(), d->bytes(), "upload");
    const auto* p = static_cast<const uint8_t*>(src.ArrayBuffer().Data()) + src.ByteOffset();
    backend_->copyToDevice(d->device(), static_cast<uint8_t*>(d->ptr()) + off, p, src.ByteLength());
    return env.Undefined();
  });
}

// download(src: DeviceBuffer, srcByteOffset, dst: TypedArray)
Napi::Value BackendHandle::Download(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    DeviceBuffer* d = deviceArg(info, 0, "src");
    const size_t off = sizeArg(info, 1, "srcByteOffset");
    Napi::TypedArray dst = hostArg(info, 2, "dst");
    checkRange(off, dst.ByteLength(), d->bytes(), "download");
    auto* p = static_cast<uint8_t*>(dst.ArrayBuffer().Data()) + dst.ByteOffset();
    backend_->copyToHost(d->device(), p, static_cast<const uint8_t*>(d->ptr()) + off, dst.ByteLength());
    return env.Undefined();
  });
}

// copyDevice(dst, dstByteOffset, src, srcByteOffset, bytes)
Napi::Value BackendHandle::CopyDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    DeviceBuffer* dst = deviceArg(info, 0, "dst");
    const size_t dOff = sizeArg(info, 1, "dstByteOffset");
    DeviceBuffer* src = deviceArg(info, 2, "src");
    const size_t sOff = sizeArg(info, 3, "srcByteOffset");
    const size_t bytes = sizeArg(info, 4, "bytes");
    checkRange(dOff, bytes, dst->bytes(), "copyDevice dst");
    checkRange(sOff, bytes, src->bytes(), "copyDevice src");
    if (dst->device() != src->device())
      throw QmmException(ErrorCode::Device, "copyDevice between different devices is not supported");
    backend_->copyDeviceToDevice(dst->device(), static_cast<uint8_t*>(dst->ptr()) + dOff,
                                 static_cast<const uint8_t*>(src->ptr()) + sOff, bytes);
    return env.Undefined();
  });
}

Napi::Function CancelTokenWrap::Init(Napi::Env env) {
  return DefineClass(env, "CancelToken",
                     {InstanceMethod("cancel", &CancelTokenWrap::Cancel),
                      InstanceAccessor("cancelled", &CancelTokenWrap::Cancelled, nullptr)});
}

CancelTokenWrap::CancelTokenWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CancelTokenWrap>(info) {}

Napi::Value CancelTokenWrap::Cancel(const Napi::CallbackInfo& info) {
  token_->cancelled.store(true);
  return info.Env().Undefined();
}

Napi::Value CancelTokenWrap::Cancelled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), token_->cancelled.load());
}

}  // namespace qmm
