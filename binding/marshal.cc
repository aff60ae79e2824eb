#include "marshal.h"

#include <cmath>
#include <cstring>

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

int64_t toInt(Napi::Env env, double d, const What& what) {
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9007199254740991.0)
    typeError(env, what.str() + " must be a safe integer");
  return static_cast<int64_t>(d);
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

ArgReader::ArgReader(const Napi::CallbackInfo& info, const std::vector<const char*>& names, const Backend& owner,
                     KeepAlive& keep)
    : env_(info.Env()), names_(names), owner_(owner), keep_(keep) {
  napi_typedarray_type type;
  size_t length = 0, offset = 0;
  void* data = nullptr;
  napi_value buffer;
  if (info.Length() < 2 || !info[0].IsTypedArray() ||
      napi_get_typedarray_info(env_, info[0], &type, &length, &data, &buffer, &offset) != napi_ok ||
      type != napi_float64_array || (data == nullptr && length > 0))
    typeError(env_, "expected (meta: Float64Array, data: Array[, cancel]) as lib/ops/encode.ts writes them");
  if (!info[1].IsArray()) typeError(env_, "data must be an array");
  meta_ = static_cast<const double*>(data);
  metaLen_ = length;
  data_ = info[1].As<Napi::Array>();
  cancel_ = info[2];
}

size_t ArgReader::beginSlot(const char* key) {
  // readArgs (ops.cc) and the op's names must agree: a mismatch is a bug here, not bad input
  if (slot_ >= names_.size() || std::strcmp(names_[slot_], key) != 0)
    throw QmmException(ErrorCode::Internal, std::string("argument '") + key + "' read out of its order");
  return slot_++;
}

double ArgReader::next(const char* key, const char* field) {
  if (pos_ >= metaLen_) typeError(env_, std::string(key) + field + ": the argument data ends early");
  return meta_[pos_++];
}

int64_t ArgReader::nextInt(const char* key, const char* field) { return toInt(env_, next(key, field), What{key, field}); }

std::vector<int64_t> ArgReader::nextDims(const char* key, const char* field) {
  const int64_t len = nextInt(key, field);
  if (len < 0 || len > kMaxRank) typeError(env_, std::string(key) + field + " must have 0 to 8 entries");
  std::vector<int64_t> out(static_cast<size_t>(len));
  for (int64_t i = 0; i < len; ++i) out[static_cast<size_t>(i)] = toInt(env_, next(key, field), What{key, field, i});
  return out;
}

void ArgReader::readTensor(const char* key, size_t slot, TensorArg& t) {
  const int64_t dt = nextInt(key, ".dtype");
  if (!isKnownDType(static_cast<int32_t>(dt)) || dt != static_cast<int32_t>(dt))
    typeError(env_, std::string(key) + ".dtype is not a known dtype code");
  t.dtype = static_cast<DType>(dt);
  const int64_t fmt = nextInt(key, ".format");
  if (fmt != static_cast<int64_t>(Format::ND) && fmt != static_cast<int64_t>(Format::FractalNZ))
    typeError(env_, std::string(key) + ".format must be 2 (ND) or 29 (FRACTAL_NZ)");
  t.format = static_cast<Format>(fmt);
  t.offset = nextInt(key, ".offset");
  t.shape = nextDims(key, ".shape");
  t.strides = nextDims(key, ".strides");
  t.storageShape = nextDims(key, ".storageShape");
  const Napi::Value data = data_.Get(static_cast<uint32_t>(slot));
  readMemory(data, key, owner_, keep_, t.mem);
  // an NZ weight's emulator packs are owned by its buffer (emulator/weight_packs.h)
  if (t.format == Format::FractalNZ && t.mem.kind == Memory::Kind::Host && t.mem.ptr != nullptr)
    t.packs = weightPacksOf(data);
  checkTensorBounds(t, key);
}

ArgReader& ArgReader::tensor(const char* key, TensorArg& t) {
  const size_t slot = beginSlot(key);
  if (nextInt(key, "") != 1) typeError(env_, std::string(key) + " must be a tensor");
  readTensor(key, slot, t);
  return *this;
}

ArgReader& ArgReader::optional(const char* key, std::optional<TensorArg>& out) {
  const size_t slot = beginSlot(key);
  const int64_t present = nextInt(key, "");
  if (present != 0 && present != 1) typeError(env_, std::string(key) + ": presence must be 0 or 1");
  if (present == 0) {
    out.reset();
    return *this;
  }
  readTensor(key, slot, out.emplace());
  return *this;
}

ArgReader& ArgReader::int32(const char* key, int& out) {
  beginSlot(key);
  const int64_t v = nextInt(key, "");
  if (v != static_cast<int32_t>(v)) throw Napi::RangeError::New(env_, std::string(key) + " must fit in int32");
  out = static_cast<int>(v);
  return *this;
}

ArgReader& ArgReader::cancel(std::shared_ptr<CancelToken>& out) {
  if (slot_ != names_.size())
    throw QmmException(ErrorCode::Internal, "an op's arguments were not all read");
  if (cancel_.IsUndefined() || cancel_.IsNull()) return *this;
  CancelTokenWrap* w = CancelTokenWrap::unwrap(cancel_);
  if (w == nullptr) typeError(env_, "cancel must be a CancelToken");
  keep_.hold(cancel_.As<Napi::Object>());
  out = w->token();
  return *this;
}

}  // namespace qmm
