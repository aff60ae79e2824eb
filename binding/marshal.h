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

// Reads the named fields of one op's argument object, for the backend
// `owner` that will run the op.
class ArgReader {
 public:
  ArgReader(const Napi::Value& args, const Backend& owner, KeepAlive& keep);

  // {data, dtype, format, shape, strides, offset, storageShape}
  ArgReader& tensor(const char* key, TensorArg& out);
  ArgReader& optional(const char* key, std::optional<TensorArg>& out);
  ArgReader& int32(const char* key, int& out);
  // `cancel`: a CancelToken made by the addon, or absent
  ArgReader& cancel(std::shared_ptr<CancelToken>& out);

 private:
  Napi::Object args_;
  const Backend& owner_;
  KeepAlive& keep_;
};

// The memory of a DeviceBuffer, checked to be live and to belong to `owner`.
std::shared_ptr<const DeviceAllocation> ownedMemory(const DeviceBuffer& d, const Backend& owner,
                                                    const std::string& what);

}  // namespace qmm
