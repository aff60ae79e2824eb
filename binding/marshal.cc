#include "marshal.h"

#include <cmath>

#include "device_buffer.h"

namespace qmm {

namespace {

[[noreturn]] void typeError(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}

int64_t readInt(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) typeError(env, what + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
    typeError(env, what + " must be a safe integer");
  return static_cast<int64_t>(d);
}

std::vector<int64_t> readIntArray(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsArray()) typeError(env, what + " must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > static_cast<uint32_t>(kMaxRank)) typeError(env, what + " has more than 8 entries");
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = readInt(env, a.Get(i), what + "[" + std::to_string(i) + "]");
  return out;
}

}  // namespace

TensorArg readTensor(const Napi::Object& args, const char* key, KeepAlive& keep) {
  Napi::Env env = args.Env();
  const std::string name(key);
  Napi::Value v = args.Get(key);
  if (!v.IsObject()) typeError(env, name + " must be a tensor descriptor object");
  Napi::Object o = v.As<Napi::Object>();
  TensorArg t;
  const int64_t dt = readInt(env, o.Get("dtype"), name + ".dtype");
  if (!isKnownDType(static_cast<int32_t>(dt))) typeError(env, name + ".dtype is not a known dtype code");
  t.dtype = static_cast<DType>(dt);
  const int64_t fmt = readInt(env, o.Get("format"), name + ".format");
  if (fmt != static_cast<int64_t>(Format::ND) && fmt != static_cast<int64_t>(Format::FractalNZ))
    typeError(env, name + ".format must be 2 (ND) or 29 (FRACTAL_NZ)");
  t.format = static_cast<Format>(fmt);
  t.shape = readIntArray(env, o.Get("shape"), name + ".shape");
  t.strides = readIntArray(env, o.Get("strides"), name + ".strides");
  t.offset = readInt(env, o.Get("offset"), name + ".offset");
  t.storageShape = readIntArray(env, o.Get("storageShape"), name + ".storageShape");

  Napi::Value data = o.Get("data");
  if (data.IsTypedArray()) {
    Napi::TypedArray ta = data.As<Napi::TypedArray>();
    // napi_get_typedarray_info also reads views over a SharedArrayBuffer, which
    // napi_get_arraybuffer_info (ta.ArrayBuffer().Data()) refuses; a detached view gives nullptr.
    void* elements = nullptr;
    if (napi_get_typedarray_info(env, ta, nullptr, nullptr, &elements, nullptr, nullptr) != napi_ok)
      typeError(env, name + ".data: its memory cannot be read");
    t.mem.kind = Memory::Kind::Host;
    t.mem.ptr = static_cast<uint8_t*>(elements);
    t.mem.bytes = elements == nullptr ? 0 : ta.ByteLength();
    keep.hold(ta);
  } else if (DeviceBuffer* d = DeviceBuffer::Unwrap(data)) {
    t.mem.kind = Memory::Kind::Device;
    t.mem.ptr = d->ptr();
    t.mem.bytes = d->bytes();
    t.mem.device = d->device();
    if (d->ptr() == nullptr) throw QmmException(ErrorCode::Device, name + ": its device memory was already freed");
    keep.hold(data.As<Napi::Object>());
  } else {
    typeError(env, name + ".data must be a TypedArray or a DeviceBuffer");
  }
  checkTensorBounds(t, key);
  return t;
}

std::optional<TensorArg> readOptionalTensor(const Napi::Object& args, const char* key, KeepAlive& keep) {
  Napi::Value v = args.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  return readTensor(args, key, keep);
}

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

}  // namespace qmm
