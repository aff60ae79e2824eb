#include "marshal.h"

#include <cmath>

#include "ops.h"
#include "pack_owner.h"

namespace qmm {

namespace {

[[noreturn]] void typeError(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}

// The name an error message gives a value: `key` + `field` (+ "[index]").
// Built only when a message needs it: reading a descriptor is the per-call hot path.
struct What {
  const char* key;
  const char* field = "";
  int64_t index = -1;
  std::string str() const {
    std::string s = std::string(key) + field;
    if (index >= 0) s += "[" + std::to_string(index) + "]";
    return s;
  }
};

int64_t readInt(Napi::Env env, const Napi::Value& v, const What& what) {
  if (!v.IsNumber()) typeError(env, what.str() + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
    typeError(env, what.str() + " must be a safe integer");
  return static_cast<int64_t>(d);
}

std::vector<int64_t> readIntArray(Napi::Env env, const Napi::Value& v, const What& what) {
  if (!v.IsArray()) typeError(env, what.str() + " must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  const uint32_t len = a.Length();
  if (len > static_cast<uint32_t>(kMaxRank)) typeError(env, what.str() + " has more than 8 entries");
  std::vector<int64_t> out(len);
  for (uint32_t i = 0; i < len; ++i) out[i] = readInt(env, a.Get(i), What{what.key, what.field, i});
  return out;
}

// Where the data of a tensor lives: a TypedArray, or a DeviceBuffer of `owner`.
void readMemory(const Napi::Value& data, const char* name, const Backend& owner, KeepAlive& keep,
                Memory& mem) {
  if (data.IsTypedArray()) {
    const HostBytes h = hostBytes(data);
    mem = Memory{Memory::Kind::Host, h.ptr, h.bytes, -1};
    keep.hold(data.As<Napi::Object>());
    return;
  }
  DeviceBuffer* d = DeviceBuffer::unwrap(data);
  if (d == nullptr) typeError(data.Env(), std::string(name) + ".data must be a TypedArray or a DeviceBuffer");
  std::shared_ptr<const DeviceAllocation> m = ownedMemory(*d, owner, std::string(name));
  mem = Memory{Memory::Kind::Device, m->ptr, m->bytes, m->device};
  keep.deviceMemory.push_back(std::move(m));
}

}  // namespace

std::shared_ptr<const DeviceAllocation> ownedMemory(const DeviceBuffer& d, const Backend& owner,
                                                    const std::string& what) {
  const std::shared_ptr<const DeviceAllocation>& m = d.allocation();
  if (!m) throw QmmException(ErrorCode::Device, what + ": its device memory was already freed");
  if (m->backend.get() != &owner)
    throw QmmException(ErrorCode::Device, what + ": its device memory belongs to the " + m->backend->info().name +
                                              " backend, but this call runs on the " + owner.info().name + " backend");
  return m;
}

HostBytes hostBytes(const Napi::Value& typedArray) {
  // napi_get_typedarray_info rather than TypedArray::ArrayBuffer(): it also
  // reads views of a SharedArrayBuffer, and gives null for a detached one
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer;
  if (napi_get_typedarray_info(typedArray.Env(), typedArray, &type, &length, &data, &buffer, &offset) != napi_ok)
    typeError(typedArray.Env(), "expected a TypedArray");
  if (data == nullptr) return {};
  return {static_cast<uint8_t*>(data), typedArray.As<Napi::TypedArray>().ByteLength()};
}

ArgReader::ArgReader(const Napi::Value& args, const Backend& owner, KeepAlive& keep) : owner_(owner), keep_(keep) {
  if (!args.IsObject()) typeError(args.Env(), "expected an arguments object");
  args_ = args.As<Napi::Object>();
}

ArgReader& ArgReader::tensor(const char* key, TensorArg& t) {
  Napi::Env env = args_.Env();
  Napi::Value v = args_.Get(key);
  if (!v.IsObject()) typeError(env, std::string(key) + " must be a tensor descriptor object");
  Napi::Object o = v.As<Napi::Object>();
  const int64_t dt = readInt(env, o.Get("dtype"), What{key, ".dtype"});
  if (!isKnownDType(static_cast<int32_t>(dt)) || dt != static_cast<int32_t>(dt))
    typeError(env, std::string(key) + ".dtype is not a known dtype code");
  t.dtype = static_cast<DType>(dt);
  const int64_t fmt = readInt(env, o.Get("format"), What{key, ".format"});
  if (fmt != static_cast<int64_t>(Format::ND) && fmt != static_cast<int64_t>(Format::FractalNZ))
    typeError(env, std::string(key) + ".format must be 2 (ND) or 29 (FRACTAL_NZ)");
  t.format = static_cast<Format>(fmt);
  t.shape = readIntArray(env, o.Get("shape"), What{key, ".shape"});
  t.strides = readIntArray(env, o.Get("strides"), What{key, ".strides"});
  t.offset = readInt(env, o.Get("offset"), What{key, ".offset"});
  t.storageShape = readIntArray(env, o.Get("storageShape"), What{key, ".storageShape"});
  readMemory(o.Get("data"), key, owner_, keep_, t.mem);
  // an NZ weight's emulator packs are owned by its buffer (emulator/weight_packs.h)
  if (t.format == Format::FractalNZ && t.mem.kind == Memory::Kind::Host && t.mem.ptr != nullptr)
    t.packs = weightPacksOf(o.Get("data"));
  checkTensorBounds(t, key);
  return *this;
}

ArgReader& ArgReader::optional(const char* key, std::optional<TensorArg>& out) {
  Napi::Value v = args_.Get(key);
  if (v.IsUndefined() || v.IsNull()) {
    out.reset();
    return *this;
  }
  return tensor(key, out.emplace());
}

ArgReader& ArgReader::int32(const char* key, int& out) {
  const int64_t v = readInt(args_.Env(), args_.Get(key), What{key});
  if (v != static_cast<int32_t>(v)) throw Napi::RangeError::New(args_.Env(), std::string(key) + " must fit in int32");
  out = static_cast<int>(v);
  return *this;
}

ArgReader& ArgReader::cancel(std::shared_ptr<CancelToken>& out) {
  Napi::Value v = args_.Get("cancel");
  if (v.IsUndefined() || v.IsNull()) return *this;
  CancelTokenWrap* w = CancelTokenWrap::unwrap(v);
  if (w == nullptr) typeError(args_.Env(), "cancel must be a CancelToken");
  keep_.hold(v.As<Napi::Object>());
  out = w->token();
  return *this;
}

}  // namespace qmm
