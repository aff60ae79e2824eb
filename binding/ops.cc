#include "ops.h"

#include <memory>
#include <string>
#include <vector>

#include "device_buffer.h"
#include "marshal.h"

namespace qmm {

namespace {

[[noreturn]] void typeError(Napi::Env env, const std::string& msg) { throw Napi::TypeError::New(env, msg); }

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
  } catch (...) {
    op->error = std::make_unique<QmmException>(caughtAsQmm());
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
  call.run();
  return env.Undefined();
}

Napi::Value runAsync(Napi::Env env, std::unique_ptr<OpCall> call) {
  auto op = std::make_unique<AsyncOp>();
  op->call = std::move(call);
  napi_value promise, name;
  if (napi_create_promise(env, &op->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "qmm-op", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, nullptr, name, executeOp, completeOp, op.get(), &op->work) != napi_ok)
    throw QmmException(ErrorCode::Internal, "could not start the operation");
  if (napi_queue_async_work(env, op->work) != napi_ok) {
    napi_delete_async_work(env, op->work);
    throw QmmException(ErrorCode::Internal, "could not queue the operation");
  }
  op.release();  // owned by completeOp from here
  return Napi::Value(env, promise);
}

// Each op's arguments, read in the order of its names in kOps (backend.h has
// what they mean).
void readArgs(ArgReader& in, QuantMatmulArgs& a) {
  in.tensor("x1", a.x1).tensor("x2", a.x2).tensor("scale", a.scale).optional("offset", a.offset);
  in.optional("pertokenScale", a.pertokenScale).optional("bias", a.bias).tensor("out", a.out);
}
void readArgs(ArgReader& in, TransQuantParamArgs& a) {
  in.tensor("scale", a.scale).optional("offset", a.offset).int32("roundMode", a.roundMode).tensor("out", a.out);
}
void readArgs(ArgReader& in, FormatCastArgs& a) { in.tensor("src", a.src).tensor("dst", a.dst); }
void readArgs(ArgReader& in, QuantizeArgs& a) {
  in.tensor("x", a.x).tensor("scale", a.scale).optional("offset", a.offset).tensor("out", a.out);
}
void readArgs(ArgReader& in, DynamicQuantArgs& a) {
  in.tensor("x", a.x).tensor("out", a.out).tensor("scaleOut", a.scaleOut);
}

using ArgNames = std::vector<const char*>;
using ReadCall = std::unique_ptr<OpCall> (*)(const Napi::CallbackInfo&, const ArgNames&, const std::shared_ptr<Backend>&);

// Reads an op's arguments and binds the Backend method that runs it.
template <typename Args, void (Backend::*Run)(const Args&)>
std::unique_ptr<OpCall> readCall(const Napi::CallbackInfo& info, const ArgNames& names,
                                 const std::shared_ptr<Backend>& backend) {
  auto call = std::make_unique<OpCall>();
  auto args = std::make_shared<Args>();
  ArgReader in(info, names, *backend, call->keep);
  readArgs(in, *args);
  in.cancel(call->cancel);
  args->cancel = call->cancel.get();
  call->run = [backend, args] { (backend.get()->*Run)(*args); };
  return call;
}

// Every op: `name` returns a Promise (worker thread), `syncName` blocks;
// `args` are its argument slots in readArgs' order (exported as constants.opArgs).
struct OpEntry {
  const char* name;
  const char* syncName;
  ReadCall read;
  ArgNames args;
};

const OpEntry kOps[] = {
    {"quantMatmul", "quantMatmulSync", &readCall<QuantMatmulArgs, &Backend::quantMatmul>,
     {"x1", "x2", "scale", "offset", "pertokenScale", "bias", "out"}},
    {"transQuantParam", "transQuantParamSync", &readCall<TransQuantParamArgs, &Backend::transQuantParam>,
     {"scale", "offset", "roundMode", "out"}},
    {"formatCast", "formatCastSync", &readCall<FormatCastArgs, &Backend::formatCast>, {"src", "dst"}},
    {"quantize", "quantizeSync", &readCall<QuantizeArgs, &Backend::quantize>, {"x", "scale", "offset", "out"}},
    {"dynamicQuant", "dynamicQuantSync", &readCall<DynamicQuantArgs, &Backend::dynamicQuant>,
     {"x", "out", "scaleOut"}},
};

template <bool Async>
Napi::Value opMethod(const Napi::CallbackInfo& info) {
  BackendHandle& self = BackendHandle::self(info);
  const auto* op = static_cast<const OpEntry*>(info.Data());
  return guarded(info.Env(), [&] {
    std::unique_ptr<OpCall> call = op->read(info, op->args, self.backend());
    return Async ? runAsync(info.Env(), std::move(call)) : runSync(info.Env(), *call);
  });
}

std::shared_ptr<const DeviceAllocation> deviceArg(const Napi::CallbackInfo& info, size_t i, const char* what,
                                                  const Backend& owner) {
  DeviceBuffer* d = i < info.Length() ? DeviceBuffer::unwrap(info[i]) : nullptr;
  if (d == nullptr) typeError(info.Env(), std::string(what) + " must be a DeviceBuffer");
  return ownedMemory(*d, owner, what);
}

size_t sizeArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsNumber()) typeError(info.Env(), std::string(what) + " must be a number");
  const double d = info[i].As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d)))
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be a non-negative safe integer");
  return static_cast<size_t>(d);
}

HostBytes hostArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsTypedArray()) typeError(info.Env(), std::string(what) + " must be a TypedArray");
  return hostBytes(info[i]);
}

void checkRange(size_t offset, size_t count, size_t size, const char* what) {
  if (offset > size || count > size - offset)
    throw QmmException(ErrorCode::Shape, std::string(what) + ": range of " + std::to_string(count) +
                                             " bytes at " + std::to_string(offset) + " exceeds " +
                                             std::to_string(size) + " bytes");
}

}  // namespace

Napi::Object opArgNames(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  for (const OpEntry& op : kOps) {
    Napi::Array names = Napi::Array::New(env, op.args.size());
    for (size_t i = 0; i < op.args.size(); ++i) names.Set(static_cast<uint32_t>(i), op.args[i]);
    names.Freeze();
    o.Set(op.name, names);
  }
  o.Freeze();
  return o;
}

Napi::Function BackendHandle::Init(Napi::Env env) {
  std::vector<Napi::PropertyDescriptor> members = {
      method<&BackendHandle::Info>(env, "info"), method<&BackendHandle::Alloc>(env, "alloc"),
      method<&BackendHandle::Upload>(env, "upload"), method<&BackendHandle::Download>(env, "download"),
      method<&BackendHandle::CopyDevice>(env, "copyDevice")};
  for (const OpEntry& op : kOps) {
    void* row = const_cast<OpEntry*>(&op);
    members.push_back(Napi::PropertyDescriptor::Value(op.name, Napi::Function::New<&opMethod<true>>(env, op.name, row),
                                                      napi_default_method));
    members.push_back(Napi::PropertyDescriptor::Value(
        op.syncName, Napi::Function::New<&opMethod<false>>(env, op.syncName, row), napi_default_method));
  }
  return define(env, members);
}

Napi::Object BackendHandle::NewInstance(Napi::Env env, std::shared_ptr<Backend> backend) {
  Napi::Object o;
  construct(env, instanceData(env).backendCtor, &o).backend_ = std::move(backend);
  return o;
}

BackendHandle::BackendHandle(const Napi::CallbackInfo& info) : NativeClass<BackendHandle>(info) {}

Napi::Value BackendHandle::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const BackendInfo bi = backend_->info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", bi.name);
  o.Set("detail", bi.detail);
  o.Set("deviceCount", bi.deviceCount);
  o.Set("hasDeviceMemory", backend_->hasDeviceMemory());
  return o;
}

// alloc(device, bytes) -> DeviceBuffer
Napi::Value BackendHandle::Alloc(const Napi::CallbackInfo& info) {
  if (!backend_->hasDeviceMemory())
    throw QmmException(ErrorCode::Backend, "this backend keeps npu tensors in host memory");
  const size_t device = sizeArg(info, 0, "device");
  const size_t bytes = sizeArg(info, 1, "bytes");
  if (device > 65535) throw Napi::RangeError::New(info.Env(), "device must be at most 65535");
  void* p = backend_->deviceAlloc(static_cast<int>(device), bytes);
  return DeviceBuffer::NewInstance(info.Env(), backend_, static_cast<int>(device), p, bytes);
}

// upload(dst: DeviceBuffer, dstByteOffset, src: TypedArray)
Napi::Value BackendHandle::Upload(const Napi::CallbackInfo& info) {
  const auto d = deviceArg(info, 0, "dst", *backend_);
  const size_t off = sizeArg(info, 1, "dstByteOffset");
  const HostBytes src = hostArg(info, 2, "src");
  checkRange(off, src.bytes, d->bytes, "upload");
  backend_->copyToDevice(d->device, static_cast<uint8_t*>(d->ptr) + off, src.ptr, src.bytes);
  return info.Env().Undefined();
}

// download(src: DeviceBuffer, srcByteOffset, dst: TypedArray)
Napi::Value BackendHandle::Download(const Napi::CallbackInfo& info) {
  const auto s = deviceArg(info, 0, "src", *backend_);
  const size_t off = sizeArg(info, 1, "srcByteOffset");
  const HostBytes dst = hostArg(info, 2, "dst");
  checkRange(off, dst.bytes, s->bytes, "download");
  backend_->copyToHost(s->device, dst.ptr, static_cast<const uint8_t*>(s->ptr) + off, dst.bytes);
  return info.Env().Undefined();
}

// copyDevice(dst, dstByteOffset, src, srcByteOffset, bytes)
Napi::Value BackendHandle::CopyDevice(const Napi::CallbackInfo& info) {
  const auto dst = deviceArg(info, 0, "dst", *backend_);
  const size_t dOff = sizeArg(info, 1, "dstByteOffset");
  const auto src = deviceArg(info, 2, "src", *backend_);
  const size_t sOff = sizeArg(info, 3, "srcByteOffset");
  const size_t bytes = sizeArg(info, 4, "bytes");
  checkRange(dOff, bytes, dst->bytes, "copyDevice dst");
  checkRange(sOff, bytes, src->bytes, "copyDevice src");
  if (dst->device != src->device)
    throw QmmException(ErrorCode::Device, "copyDevice between different devices is not supported");
  backend_->copyDeviceToDevice(dst->device, static_cast<uint8_t*>(dst->ptr) + dOff,
                               static_cast<const uint8_t*>(src->ptr) + sOff, bytes);
  return info.Env().Undefined();
}

Napi::Function CancelTokenWrap::Init(Napi::Env env) {
  return define(env, {method<&CancelTokenWrap::Cancel>(env, "cancel"), getter<&CancelTokenWrap::Cancelled>("cancelled")});
}

Napi::Value CancelTokenWrap::Create(const Napi::CallbackInfo& info) {
  Napi::Object o;
  construct(info.Env(), instanceData(info.Env()).cancelTokenCtor, &o);
  return o;
}

CancelTokenWrap::CancelTokenWrap(const Napi::CallbackInfo& info) : NativeClass<CancelTokenWrap>(info) {}

Napi::Value CancelTokenWrap::Cancel(const Napi::CallbackInfo& info) {
  token_->cancelled.store(true);
  return info.Env().Undefined();
}

Napi::Value CancelTokenWrap::Cancelled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), token_->cancelled.load());
}

}  // namespace qmm
