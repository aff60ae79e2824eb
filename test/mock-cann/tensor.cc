// tensor.cc - aclCreateTensor/aclDestroyTensor/aclCreateIntArray/
// aclDestroyIntArray/aclDestroyAclOpExecutor (libnnopbase.so). Descriptors live in libascendcl's
// registry; the handles returned here are not dereferenceable.
#include <string>

#include "internal.h"

using namespace mockcann;

namespace {

bool mul_ok(int64_t a, int64_t b, int64_t* r) { return !__builtin_mul_overflow(a, b, r); }

aclTensor* create_fail(const std::string& msg, bool isViolation) {
  if (isViolation)
    violation("aclCreateTensor: " + msg);
  else
    set_error("aclCreateTensor: " + msg);
  return nullptr;
}

}  // namespace

MOCK_API aclTensor* aclCreateTensor(const int64_t* viewDims, uint64_t viewDimsNum,
                                    aclDataType dataType, const int64_t* stride, int64_t offset,
                                    aclFormat format, const int64_t* storageDims,
                                    uint64_t storageDimsNum, void* tensorData) {
  Guard g(mu());
  if (enter("aclCreateTensor")) return nullptr;
  if (!is_initialized()) {
    set_error("aclCreateTensor: aclInit has not been called");
    return nullptr;
  }
  int bits = dtype_bits(dataType);
  if (bits == 0) return create_fail(strf("invalid dataType %d", static_cast<int>(dataType)), false);
  if (!format_valid(format)) return create_fail(strf("invalid format %d", static_cast<int>(format)), false);
  if (viewDimsNum > 8) return create_fail(strf("viewDimsNum %llu exceeds 8", (unsigned long long)viewDimsNum), false);
  if (viewDimsNum > 0 && (!viewDims || !stride))
    return create_fail("viewDims/stride is nullptr while viewDimsNum > 0", false);
  if (storageDimsNum < 1 || storageDimsNum > 8)
    return create_fail(strf("storageDimsNum %llu must be in [1, 8]", (unsigned long long)storageDimsNum), false);
  if (!storageDims) return create_fail("storageDims is nullptr", false);
  if (offset < 0) return create_fail(strf("negative offset %lld", (long long)offset), false);

  TensorDesc d;
  d.dtype = dataType;
  d.format = format;
  d.offset = offset;
  d.view.assign(viewDims, viewDims + viewDimsNum);
  d.strides.assign(stride, stride + viewDimsNum);
  d.storage.assign(storageDims, storageDims + storageDimsNum);
  int64_t viewElems = 1, storageElems = 1;
  for (uint64_t i = 0; i < viewDimsNum; ++i) {
    if (d.view[i] < 0) return create_fail(strf("negative view dim %lld at %llu", (long long)d.view[i], (unsigned long long)i), false);
    if (d.strides[i] < 0)
      return create_fail(strf("negative stride %lld at %llu", (long long)d.strides[i], (unsigned long long)i), false);
    if (!mul_ok(viewElems, d.view[i], &viewElems)) return create_fail("view element count overflows int64", false);
  }
  for (uint64_t i = 0; i < storageDimsNum; ++i) {
    if (d.storage[i] < 0)
      return create_fail(strf("negative storage dim %lld at %llu", (long long)d.storage[i], (unsigned long long)i), false);
    if (!mul_ok(storageElems, d.storage[i], &storageElems))
      return create_fail("storage element count overflows int64", false);
  }
  if (viewElems > 0) {
    int64_t reach = offset;
    for (uint64_t i = 0; i < viewDimsNum; ++i) {
      int64_t t;
      if (!mul_ok(d.view[i] - 1, d.strides[i], &t) || __builtin_add_overflow(reach, t, &reach))
        return create_fail("view extent overflows int64", false);
    }
    if (reach >= storageElems)
      return create_fail(strf("view %s strides %s offset %lld reaches element %lld, outside the storage "
                              "%s (%lld elements)",
                              shape_str(d.view).c_str(), shape_str(d.strides).c_str(), (long long)offset,
                              (long long)reach, shape_str(d.storage).c_str(), (long long)storageElems),
                         true);
  }
  __int128 bytes128 = (static_cast<__int128>(storageElems) * bits + 7) / 8;
  if (bytes128 > static_cast<__int128>(INT64_MAX)) return create_fail("storage byte size overflows", false);
  uint64_t bytes = static_cast<uint64_t>(bytes128);
  if (!tensorData) {
    if (viewElems != 0)
      return create_fail(strf("tensorData is nullptr for a tensor with %lld elements", (long long)viewElems), true);
  } else {
    DevSpan sp;
    std::string why;
    if (!resolve(tensorData, bytes, &sp, &why))
      return create_fail(strf("tensorData (storage %s of %s = %llu bytes): %s", shape_str(d.storage).c_str(),
                              dtype_name(dataType), (unsigned long long)bytes, why.c_str()),
                         true);
    d.data = tensorData;
    d.allocId = sp.allocId;
    d.byteOffset = sp.offset;
  }
  return static_cast<aclTensor*>(tensor_add(d));
}

MOCK_API aclnnStatus aclDestroyTensor(const aclTensor* tensor) {
  Guard g(mu());
  if (enter("aclDestroyTensor")) return kNnFault;
  if (!is_initialized()) {
    set_error("aclDestroyTensor: aclInit has not been called");
    return kAclInvalidParam;
  }
  if (!tensor) return kOk;
  int s = tensor_remove(tensor);
  if (s == kLive) return kOk;
  if (s == kGone)
    violation(strf("aclDestroyTensor(%p): tensor was already destroyed (double destroy)", (const void*)tensor));
  else
    violation(strf("aclDestroyTensor(%p): not an aclTensor created by aclCreateTensor%s", (const void*)tensor,
                   handle_kind(tensor).empty() ? "" : (" (it is an " + handle_kind(tensor) + ")").c_str()));
  return kNnParamInvalid;
}

MOCK_API aclIntArray* aclCreateIntArray(const int64_t* value, uint64_t size) {
  Guard g(mu());
  if (enter("aclCreateIntArray")) return nullptr;
  if (!is_initialized()) {
    set_error("aclCreateIntArray: aclInit has not been called");
    return nullptr;
  }
  if (size > 0 && !value) {
    set_error("aclCreateIntArray: value is nullptr while size > 0");
    return nullptr;
  }
  std::vector<int64_t> v;
  if (size) v.assign(value, value + size);
  return static_cast<aclIntArray*>(intarray_add(v));
}

MOCK_API aclnnStatus aclDestroyIntArray(const aclIntArray* array) {
  Guard g(mu());
  if (enter("aclDestroyIntArray")) return kNnFault;
  if (!is_initialized()) {
    set_error("aclDestroyIntArray: aclInit has not been called");
    return kAclInvalidParam;
  }
  if (!array) return kOk;
  int s = intarray_remove(array);
  if (s == kLive) return kOk;
  violation(strf("aclDestroyIntArray(%p): %s", (const void*)array,
                 s == kGone ? "already destroyed (double destroy)" : "not an aclIntArray"));
  return kNnParamInvalid;
}

// Releases an executor that was never launched (a launch consumes it). The
// real one also destroys executors made repeatable; the mock has none of those.
MOCK_API aclnnStatus aclDestroyAclOpExecutor(aclOpExecutor* executor) {
  Guard g(mu());
  if (enter("aclDestroyAclOpExecutor")) return kNnFault;
  if (!is_initialized()) {
    set_error("aclDestroyAclOpExecutor: aclInit has not been called");
    return kAclInvalidParam;
  }
  if (!executor) {
    set_error("aclDestroyAclOpExecutor: executor is nullptr");
    return kNnFault;  // ACLNN_ERR_INNER_NULLPTR, the same number
  }
  void* payload = nullptr;
  void (*deleter)(void*) = nullptr;
  int s = executor_take(executor, &payload, &deleter);
  if (s == kLive) {
    deleter(payload);
    return kOk;
  }
  violation(strf("aclDestroyAclOpExecutor(%p): %s", static_cast<void*>(executor),
                 s == kGone ? "the executor was already launched or destroyed" : "not an aclOpExecutor"));
  return kNnParamInvalid;
}
