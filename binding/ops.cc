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

// An op in flight on a libuv worker thread. Raw N-API rather than
// Napi::AsyncWorker: its completion must never throw, because while a
// worker_thread is being terminated every N-API call fails and a C++
// exception escaping the completion callback would abort the process.
struct AsyncOp {
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  std::unique_ptr<OpCall> call;
  std::unique_ptr<QmmException> error;
};

void executeOp(napi_env /*env*/, void* data) {
  auto* op = static_cast<AsyncOp*>(data);
  try {
    if (op->call->cancel && op->call->cancel->cancelled.load())
      throw QmmException(ErrorCode::Aborted, "the operation was aborted");
    op->call->run();
  } catch (const QmmException& e) {
    op->error = std::make_unique<QmmException>(e);
  } catch (const std::bad_alloc&) {
    op->error = std::make_unique<QmmException>(ErrorCode::Shape, "out of host memory for this operation");
  } catch (const std::exception& e) {
    op->error = std::make_unique<QmmException>(ErrorCode::Internal, e.what());
  }
}

void setString(napi_env env, napi_value obj, const char* key, const std::string& value) {
  napi_value v;
  if (napi_create_string_utf8(env, value.c_str(), value.size(), &v) == napi_ok) napi_set_named_property(env, obj, key, v);
}

// The JS error for a QmmException, built with status-returning calls only (nullptr on failure).
napi_value rawError(napi_env env, const QmmException& e) {
  napi_value msg, err;
  if (napi_create_string_utf8(env, e.what(), NAPI_AUTO_LENGTH, &msg) != napi_ok) return nullptr;
  if (napi_create_error(env, nullptr, msg, &err) != napi_ok) return nullptr;
  setString(env, err, "code", errorCodeName(e.code()));
  if (e.status() != 0) {
    napi_value st;
    if (napi_create_double(env, static_cast<double>(e.status()), &st) == napi_ok) napi_set_named_property(env, err, "status", st);
  }
  if (!e.call().empty()) setString(env, err, "call", e.call());
  if (!e.deviceMessage().empty()) setString(env, err, "deviceMessage", e.deviceMessage());
  return err;
}

void completeOp(napi_env env, napi_status status, void* data) {
  std::unique_ptr<AsyncOp> op(static_cast<AsyncOp*>(data));
  napi_delete_async_work(env, op->work);
  op->call.reset();  // drops the references that kept the inputs alive
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (status == napi_ok && !op->error) {
    napi_value undefined;
    if (napi_get_undefined(env, &undefined) == napi_ok) napi_resolve_deferred(env, op->deferred, undefined);
  } else {
    const QmmException e = op->error ? *op->error : QmmException(ErrorCode::Aborted, "the operation was cancelled");
    if (napi_value err = rawError(env, e)) napi_reject_deferred(env, op->deferred, err);
  }
  napi_close_handle_scope(env, scope);
}

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
  auto op = std::make_unique<AsyncOp>();
  op->call = std::move(call);
  napi_value promise, name;
  if (napi_create_promise(env, &op->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "qmm-op", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, nullptr, name, executeOp, completeOp, op.get(), &op->work) != napi_ok)
    throw Napi::Error::New(env, "could not start the operation");
  if (napi_queue_async_work(env, op->work) != napi_ok) {
    napi_delete_async_work(env, op->work);
    throw Napi::Error::New(env, "could not queue the operation");
  }
  op.release();  // owned by completeOp from here
  return Napi::Value(env, promise);
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
