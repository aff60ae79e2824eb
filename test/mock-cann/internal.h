// internal.h - state shared by the three mock libraries. The state itself
// lives in libascendcl.so; libnnopbase/libopapi reach it through the
// functions below (exported with default visibility, C++ linkage, mock-only).
#ifndef MOCK_CANN_INTERNAL_H
#define MOCK_CANN_INTERNAL_H

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "mock_acl.h"

#define MOCK_INTERNAL __attribute__((visibility("default")))

namespace mockcann {

// ---- status codes used by the mock (documented in README.md) ----
enum : int {
  kOk = 0,
  kAclInvalidParam = 100000,  // ACL_ERROR_INVALID_PARAM; also "aclInit not called"
  kAclRepeatInit = 100002,    // ACL_ERROR_REPEAT_INITIALIZE
  kRtBadPointer = 107000,     // bad/unknown pointer, range or handle (violation)
  kRtInvalidDevice = 107001,  // bad device id / unbalanced aclrtResetDevice
  kRtNoDevice = 107002,       // calling thread has no current device
  kRtStreamHazard = 107003,   // un-synchronized stream work / wrong-device stream
  kRtMemAlloc = 207001,       // out of (mock) device memory
  kAclFault = 507899,         // injected fault in an acl* function
  kNnNullptr = 161001,        // ACLNN_ERR_PARAM_NULLPTR
  kNnParamInvalid = 161002,   // ACLNN_ERR_PARAM_INVALID
  kNnRuntime = 361001,        // ACLNN_ERR_RUNTIME_ERROR (launch hazards)
  kNnFault = 561103,          // injected fault in an aclnn* function
};

MOCK_INTERNAL std::recursive_mutex& mu();
using Guard = std::lock_guard<std::recursive_mutex>;

// Count the call (totalCalls and per-name invocation) and report whether an
// armed fault fires for it; if so the recent error message is already set.
MOCK_INTERNAL bool enter(const char* name);
// Counts an invocation of `name` (a call or a pseudo-name such as
// "aclnnQuantMatmulV5@partial") and reports whether an armed fault fires;
// unlike enter() it sets no message and does not count totalCalls.
MOCK_INTERNAL bool fault_fires(const std::string& name);
MOCK_INTERNAL bool is_initialized();
MOCK_INTERNAL int current_device();  // -1 if the calling thread has none
MOCK_INTERNAL void set_error(const std::string& msg);
MOCK_INTERNAL void violation(const std::string& msg);
// The chip family of the SoC aclrtGetSocName reports (MOCK_CANN_SOC).
enum SocFamily { kSoc910B, kSoc910_93, kSoc950, kSocOther };
MOCK_INTERNAL SocFamily soc_family();

// ---- device memory ----
struct DevSpan {
  uint64_t allocId = 0;
  uint64_t offset = 0;     // byte offset of the pointer inside the allocation
  uint64_t allocSize = 0;  // bytes of the allocation
  int device = -1;
};
MOCK_INTERNAL bool in_device_region(const void* p);
// Resolve [p, p+bytes) to one live device allocation. On failure *why says why.
MOCK_INTERNAL bool resolve(const void* p, uint64_t bytes, DevSpan* out, std::string* why);
MOCK_INTERNAL uint8_t* alloc_data(uint64_t allocId);  // host backing, nullptr if freed

// ---- handles (tensors, int arrays, streams and executors are fake,
//      non-dereferenceable addresses inside the reserved region) ----
struct TensorDesc {
  int32_t dtype = 0;
  int32_t format = 0;
  std::vector<int64_t> view, strides, storage;
  int64_t offset = 0;          // elements
  const void* data = nullptr;  // tensorData as given
  uint64_t allocId = 0;        // 0 when data == nullptr
  uint64_t byteOffset = 0;     // data - allocation start
};
enum LookupResult { kLive = 0, kUnknown = 1, kGone = 2 };
MOCK_INTERNAL void* tensor_add(const TensorDesc& d);
MOCK_INTERNAL int tensor_get(const void* h, TensorDesc* out);
MOCK_INTERNAL int tensor_remove(const void* h);
MOCK_INTERNAL void* intarray_add(const std::vector<int64_t>& v);
MOCK_INTERNAL int intarray_get(const void* h, std::vector<int64_t>* out);
MOCK_INTERNAL int intarray_remove(const void* h);
// Executors: the payload is owned by the registry until taken.
MOCK_INTERNAL void* executor_add(void* payload, void (*deleter)(void*));
MOCK_INTERNAL int executor_take(const void* h, void** payload, void (**deleter)(void*));
MOCK_INTERNAL std::string handle_kind(const void* h);  // "stream", "tensor", ... or ""

// ---- streams ----
struct Work {
  std::string name;
  std::vector<uint64_t> reads, writes;  // allocation ids
  std::function<void()> fn;
};
// Checks that s is a live stream of the calling thread's device. Returns 0 or
// an acl error code (violation already recorded).
MOCK_INTERNAL int stream_check(const void* s, std::string* why);
// Hazard-checks and queues w on s. Returns 0 or kNnRuntime (violation recorded).
MOCK_INTERNAL int enqueue(const void* s, Work w);

// ---- small helpers (header-only, hidden in each library) ----
inline std::string strf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline std::string strf(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}
inline std::string shape_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}
// Bits per element for the §6.2 dtypes, 0 for an invalid value.
inline int dtype_bits(int dt) {
  switch (dt) {
    case ACL_FLOAT: case ACL_INT32: case ACL_UINT32: case ACL_COMPLEX32: return 32;
    case ACL_FLOAT16: case ACL_INT16: case ACL_UINT16: case ACL_BF16: return 16;
    case ACL_INT8: case ACL_UINT8: case ACL_BOOL: case ACL_STRING: case ACL_HIFLOAT8:
    case ACL_FLOAT8_E5M2: case ACL_FLOAT8_E4M3FN: case ACL_FLOAT8_E8M0: return 8;
    case ACL_INT64: case ACL_UINT64: case ACL_DOUBLE: case ACL_COMPLEX64: return 64;
    case ACL_COMPLEX128: return 128;
    case ACL_FLOAT6_E3M2: case ACL_FLOAT6_E2M3: return 6;
    case ACL_INT4: case ACL_FLOAT4_E2M1: case ACL_FLOAT4_E1M2: return 4;
    case ACL_UINT1: return 1;
    default: return 0;
  }
}
inline const char* dtype_name(int dt) {
  switch (dt) {
    case ACL_FLOAT: return "FLOAT"; case ACL_FLOAT16: return "FLOAT16";
    case ACL_INT8: return "INT8"; case ACL_INT32: return "INT32"; case ACL_UINT8: return "UINT8";
    case ACL_INT16: return "INT16"; case ACL_UINT16: return "UINT16";
    case ACL_UINT32: return "UINT32"; case ACL_INT64: return "INT64";
    case ACL_UINT64: return "UINT64"; case ACL_DOUBLE: return "DOUBLE";
    case ACL_BOOL: return "BOOL"; case ACL_STRING: return "STRING";
    case ACL_COMPLEX64: return "COMPLEX64"; case ACL_COMPLEX128: return "COMPLEX128";
    case ACL_BF16: return "BFLOAT16"; case ACL_INT4: return "INT4"; case ACL_UINT1: return "UINT1";
    case ACL_COMPLEX32: return "COMPLEX32"; case ACL_HIFLOAT8: return "HIFLOAT8";
    case ACL_FLOAT8_E5M2: return "FLOAT8_E5M2"; case ACL_FLOAT8_E4M3FN: return "FLOAT8_E4M3FN";
    case ACL_FLOAT8_E8M0: return "FLOAT8_E8M0"; case ACL_FLOAT6_E3M2: return "FLOAT6_E3M2";
    case ACL_FLOAT6_E2M3: return "FLOAT6_E2M3"; case ACL_FLOAT4_E2M1: return "FLOAT4_E2M1";
    case ACL_FLOAT4_E1M2: return "FLOAT4_E1M2";
    default: return "UNKNOWN_DTYPE";
  }
}
inline bool format_valid(int f) {
  switch (f) {
    case ACL_FORMAT_NCHW: case ACL_FORMAT_NHWC: case ACL_FORMAT_ND: case ACL_FORMAT_NC1HWC0:
    case ACL_FORMAT_FRACTAL_Z: case ACL_FORMAT_NC1HWC0_C04: case ACL_FORMAT_HWCN:
    case ACL_FORMAT_NDHWC: case ACL_FORMAT_FRACTAL_NZ: case ACL_FORMAT_NCDHW:
    case ACL_FORMAT_NDC1HWC0: case ACL_FRACTAL_Z_3D: case ACL_FORMAT_NC: case ACL_FORMAT_NCL:
    case ACL_FORMAT_FRACTAL_NZ_C0_16: case ACL_FORMAT_FRACTAL_NZ_C0_32:
    case ACL_FORMAT_FRACTAL_NZ_C0_2: case ACL_FORMAT_FRACTAL_NZ_C0_4:
    case ACL_FORMAT_FRACTAL_NZ_C0_8: return true;
    default: return false;
  }
}
// "Base" (plain, ND-like) formats as torch_npu hands them over.
inline bool format_is_base(int f) {
  return f == ACL_FORMAT_ND || f == ACL_FORMAT_NCHW || f == ACL_FORMAT_NHWC ||
         f == ACL_FORMAT_HWCN || f == ACL_FORMAT_NDHWC || f == ACL_FORMAT_NCDHW ||
         f == ACL_FORMAT_NC || f == ACL_FORMAT_NCL;
}

}  // namespace mockcann

#endif  // MOCK_CANN_INTERNAL_H
