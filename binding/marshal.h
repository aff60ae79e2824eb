// Reading op arguments from JS objects into the backends' argument structs,
// with strict type checks (TypeError for wrong JS types), the bounds checks
// of tensor.h and the owner check of device memory.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "device_buffer.h"
#include "errors.h"

namespace qmm {

// Keeps the JS objects and device memory an op reads and writes alive until
// the op is done.
struct KeepAlive {
  std::vector<Napi::ObjectReference> refs;
  std::vector<std::shared_ptr<const DeviceAllocation>> deviceMemory;
  void hold(const Napi::Object& o) { refs.push_back(Napi::Persistent(o)); }
};

// The bytes a TypedArray views (null and 0 when its buffer is detached).
struct HostBytes {
  uint8_t* ptr = nullptr;
  size_t bytes = 0;
};
HostBytes hostBytes(const Napi::Value& typedArray);

// Reads one op's arguments as lib/ops/encode.ts writes them: `meta`, a
// Float64Array with every slot of the op in order (its names are the op's
// entry in constants.opArgs), `data`, an Array with each slot's TypedArray or
// DeviceBuffer (undefined for number slots and absent tensors), and `cancel`.
// A tensor slot is [present (0 or 1), dtype, format, offset, rank, shape...,
// strides count, strides..., storage count, storageShape...]; a number slot is
// its value. One typed array instead of an object per tensor: each property
// read by name costs V8 a string conversion, and a small op made ~60 of them.
class ArgReader {
 public:
  ArgReader(const Napi::CallbackInfo& info, const std::vector<const char*>& names, const Backend& owner,
            KeepAlive& keep);

  ArgReader& tensor(const char* key, TensorArg& out);
  ArgReader& optional(const char* key, std::optional<TensorArg>& out);
  ArgReader& int32(const char* key, int& out);
  // `cancel`: a CancelToken made by the addon, or undefined
  ArgReader& cancel(std::shared_ptr<CancelToken>& out);

 private:
  size_t beginSlot(const char* key);  // the data index of the next slot, which must be `key`
  double next(const char* key, const char* field);
  int64_t nextInt(const char* key, const char* field);
  std::vector<int64_t> nextDims(const char* key, const char* field);
  void readTensor(const char* key, size_t slot, TensorArg& t);

  Napi::Env env_;
  const std::vector<const char*>& names_;
  const double* meta_ = nullptr;
  size_t metaLen_ = 0, pos_ = 0, slot_ = 0;
  Napi::Array data_;
  Napi::Value cancel_;
  const Backend& owner_;
  KeepAlive& keep_;
};

// The memory of a DeviceBuffer, checked to be live and to belong to `owner`.
std::shared_ptr<const DeviceAllocation> ownedMemory(const DeviceBuffer& d, const Backend& owner,
                                                    const std::string& what);

}  // namespace qmm
