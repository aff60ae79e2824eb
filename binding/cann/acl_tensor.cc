#include "acl_tensor.h"

#include <string>

#include "../errors.h"

namespace qmm {

size_t storageBytes(const TensorArg& t) { return static_cast<size_t>(t.storageNumel()) * itemSize(t.dtype); }

DeviceOperand::DeviceOperand(const CannApi& api, const TensorArg& t, int device, bool upload) : api_(api), t_(t) {
  const size_t bytes = storageBytes(t);
  void* data = t.mem.ptr;
  if (t.mem.kind == Memory::Kind::Device) {
    if (t.mem.device != device)
      throw QmmException(ErrorCode::Device, "a tensor on npu:" + std::to_string(t.mem.device) +
                                                " was given to an op running on npu:" + std::to_string(device));
  } else if (bytes == 0) {
    data = nullptr;
  } else {
    staged_ = DevMem(api, bytes);
    data = staged_.get();
    if (upload)
      checkAcl(api, api.aclrtMemcpy(data, bytes, t.mem.ptr, bytes, acl::ACL_MEMCPY_HOST_TO_DEVICE), "aclrtMemcpy",
               "staging a host input");
  }
  // The view goes over unchanged (docs/semantics.md §1.2, §6.3): aclnn infers transposition
  // from the strides, so the callers pass transpose flags = false.
  desc_ = api.aclCreateTensor(t.shape.data(), t.shape.size(), static_cast<acl::aclDataType>(t.dtype),
                              t.strides.data(), t.offset, static_cast<acl::aclFormat>(t.format),
                              t.storageShape.data(), t.storageShape.size(), data);
  if (desc_ == nullptr) {
    const char* recent = api.aclGetRecentErrMsg();
    const std::string deviceMessage = recent ? recent : "";
    throw QmmException(ErrorCode::Device,
                       "aclCreateTensor returned nullptr for a " + std::string(dtypeName(t.dtype)) + " " +
                           formatName(t.format) + " tensor of shape " + shapeToString(t.shape) +
                           (deviceMessage.empty() ? "" : ": " + deviceMessage),
                       -1, "aclCreateTensor", deviceMessage);
  }
}

DeviceOperand::~DeviceOperand() {
  if (desc_ != nullptr) api_.aclDestroyTensor(desc_);
}

void DeviceOperand::downloadIfStaged() {
  if (staged_.get() == nullptr) return;
  const size_t bytes = storageBytes(t_);
  checkAcl(api_, api_.aclrtMemcpy(t_.mem.ptr, bytes, staged_.get(), bytes, acl::ACL_MEMCPY_DEVICE_TO_HOST),
           "aclrtMemcpy", "copying a result to the host");
}

}  // namespace qmm
