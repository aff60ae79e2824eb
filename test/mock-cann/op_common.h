// op_common.h - plumbing shared by the aclnn entry points (compiled into
// each libopapi*.so): argument fetch, executors, the run phase, element I/O.
#ifndef MOCK_CANN_OP_COMMON_H
#define MOCK_CANN_OP_COMMON_H

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "internal.h"
#include "numerics.h"

namespace mockop {

using mockcann::TensorDesc;

// Entry of a GetWorkspaceSize-style function: bookkeeping, fault, init, device.
#define NN_ENTRY(name)                                                                    \
  ::mockcann::Guard guard_(::mockcann::mu());                                             \
  if (::mockcann::enter(name)) return ::mockcann::kNnFault;                               \
  if (!::mockcann::is_initialized()) {                                                    \
    ::mockcann::set_error(std::string(name) + ": aclInit has not been called");           \
    return ::mockcann::kAclInvalidParam;                                                  \
  }                                                                                       \
  if (::mockcann::current_device() < 0) {                                                 \
    ::mockcann::set_error(std::string(name) +                                             \
                          ": the calling thread has no current device (aclrtSetDevice)"); \
    return ::mockcann::kRtNoDevice;                                                       \
  }

// Set the recent error message "<fn>: <msg>" and return code.
int fail(int code, const char* fn, const std::string& msg);

struct Arg {
  bool present = false;
  TensorDesc d;
};
// Look up a tensor argument. nullptr gives present=false (and 161001 when
// required). A dangling/unknown handle is a violation (161002). When
// emptyIsAbsent, a 0-element tensor counts as absent (aclnn optional inputs).
int get_arg(const char* fn, const char* name, const aclTensor* t, bool required, bool emptyIsAbsent,
            Arg* out);

int64_t numel(const std::vector<int64_t>& dims);
bool is_contiguous(const TensorDesc& d);
inline int itemsize(int dtype) { return mockcann::dtype_bits(dtype) / 8; }

// What an executor carries from GetWorkspaceSize to the run.
struct Payload {
  std::string op;  // run entry point name, e.g. "aclnnQuantMatmulV5"
  int device = -1;
  uint64_t workspace = 0;
  std::vector<TensorDesc> reads, writes;
  std::function<void()> compute;  // executes at stream synchronization
};
// Registers the executor, stores it in *executor and the size in *ws.
int make_executor(std::unique_ptr<Payload> p, uint64_t* ws, aclOpExecutor** executor);
// The second phase shared by all ops.
int run_op(const char* op, void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,
           const void* stream);

// Element access at execution time (device bytes are in host backing).
uint8_t* base_ptr(const TensorDesc& d);
template <class T>
inline T load(const uint8_t* base, int64_t elem) {
  T v;
  memcpy(&v, base + elem * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return v;
}
template <class T>
inline void store(uint8_t* base, int64_t elem, T v) {
  memcpy(base + elem * static_cast<int64_t>(sizeof(T)), &v, sizeof(T));
}
// Element offset (in elements, from the storage base) of a 1-D view index.
inline int64_t at1(const TensorDesc& d, int64_t i) {
  return d.offset + (d.view.empty() ? 0 : i * d.strides[0]);
}
// Reads element i of a 1-D float-like tensor (FLOAT, FLOAT16, BF16) as float.
float load_float(const TensorDesc& d, const uint8_t* base, int64_t elem);

}  // namespace mockop

#endif
