// One op operand on the device: its memory (a temporary device copy when the
// TensorArg is host memory) and its aclTensor descriptor, both released on
// destruction. Construct inside a DeviceRuntime::Lock.
#pragma once

#include <optional>

#include "../tensor.h"
#include "device_runtime.h"

namespace qmm {

class DeviceOperand {
 public:
  // upload: copy host memory to the device (inputs); outputs skip it.
  DeviceOperand(const CannApi& api, const TensorArg& t, int device, bool upload);
  DeviceOperand(const DeviceOperand&) = delete;
  DeviceOperand& operator=(const DeviceOperand&) = delete;
  ~DeviceOperand();

  acl::aclTensor* get() const { return desc_; }
  // For outputs, after the stream is synchronized: copies a staged result
  // back to the host memory it stands for (no-op for device memory).
  void downloadIfStaged();

 private:
  const CannApi& api_;
  const TensorArg& t_;
  DevMem staged_;
  acl::aclTensor* desc_ = nullptr;
};

inline acl::aclTensor* handleOf(const std::optional<DeviceOperand>& o) { return o ? o->get() : nullptr; }

// Bytes of a tensor's whole storage.
size_t storageBytes(const TensorArg& t);

}  // namespace qmm
