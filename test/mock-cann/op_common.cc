// op_common.cc - see op_common.h.
#include "op_common.h"

using namespace mockcann;

namespace mockop {

int fail(int code, const char* fn, const std::string& msg) {
  set_error(std::string(fn) + ": " + msg);
  return code;
}

int64_t numel(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

bool is_contiguous(const TensorDesc& d) {
  int64_t expect = 1;
  for (size_t i = d.view.size(); i-- > 0;) {
    if (d.view[i] != 1 && d.strides[i] != expect) return false;
    expect *= d.view[i];
  }
  return true;
}

int get_arg(const char* fn, const char* name, const aclTensor* t, bool required, bool emptyIsAbsent,
            Arg* out) {
  out->present = false;
  if (!t) {
    if (required) return fail(kNnNullptr, fn, strf("%s is nullptr", name));
    return 0;
  }
  int s = tensor_get(t, &out->d);
  if (s != kLive) {
    std::string hk = handle_kind(t);
    violation(strf("%s: %s (%p) is %s", fn, name, static_cast<const void*>(t),
                   s == kGone ? "an aclTensor that was already destroyed"
                              : (hk.empty() ? "not an aclTensor" : ("an " + hk + ", not an aclTensor").c_str())));
    return kNnParamInvalid;
  }
  if (out->d.allocId && !alloc_data(out->d.allocId)) {
    violation(strf("%s: %s refers to device memory that has been freed", fn, name));
    return kNnParamInvalid;
  }
  if (emptyIsAbsent && numel(out->d.view) == 0) return 0;
  out->present = true;
  return 0;
}

namespace {
void delete_payload(void* p) { delete static_cast<Payload*>(p); }
}  // namespace

int make_executor(std::unique_ptr<Payload> p, uint64_t* ws, aclOpExecutor** executor) {
  p->device = current_device();
  *ws = p->workspace;
  *executor = static_cast<aclOpExecutor*>(executor_add(p.release(), delete_payload));
  return kOk;
}

uint8_t* base_ptr(const TensorDesc& d) {
  if (!d.allocId) return nullptr;
  uint8_t* b = alloc_data(d.allocId);
  return b ? b + d.byteOffset : nullptr;
}

float load_float(const TensorDesc& d, const uint8_t* base, int64_t elem) {
  switch (d.dtype) {
    case ACL_FLOAT: return load<float>(base, elem);
    case ACL_FLOAT16: return mocknum::f16_to_f32(load<uint16_t>(base, elem));
    case ACL_BF16: return mocknum::bf16_to_f32(load<uint16_t>(base, elem));
    default: return 0.0f;
  }
}

int run_op(const char* op, void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,
           const void* stream) {
  Guard g(mu());
  void* raw = nullptr;
  void (*deleter)(void*) = nullptr;
  // "<op>@partial": this launch queues part of the op, then fails (as a
  // composite aclnn op can after launching some of its kernels).
  const bool failAfterQueueing = fault_fires(std::string(op) + "@partial");
  if (enter(op)) {
    // A failed launch still consumes the executor (no leak the caller cannot fix).
    if (executor && executor_take(executor, &raw, &deleter) == kLive) deleter(raw);
    return kNnFault;
  }
  if (!is_initialized()) return fail(kAclInvalidParam, op, "aclInit has not been called");
  if (current_device() < 0)
    return fail(kRtNoDevice, op, "the calling thread has no current device (aclrtSetDevice)");
  if (!executor) return fail(kNnNullptr, op, "executor is nullptr");
  int s = executor_take(executor, &raw, &deleter);
  if (s != kLive) {
    violation(strf("%s: executor %p %s", op, static_cast<void*>(executor),
                   s == kGone ? "was already used (executors are single-use; call GetWorkspaceSize again)"
                              : "is not an executor returned by a GetWorkspaceSize call"));
    return kNnParamInvalid;
  }
  std::shared_ptr<Payload> p(static_cast<Payload*>(raw), deleter == nullptr ? delete_payload : deleter);
  if (p->op != op) {
    violation(strf("%s: executor was created by %sGetWorkspaceSize", op, p->op.c_str()));
    return kNnParamInvalid;
  }
  if (p->device != current_device()) {
    violation(strf("%s: executor was created on device %d but the calling thread is on device %d", op,
                   p->device, current_device()));
    return kNnParamInvalid;
  }
  std::string why;
  if (int rc = stream_check(stream, &why)) {
    set_error(std::string(op) + ": " + why);
    return rc;
  }
  if (workspaceSize < p->workspace) {
    violation(strf("%s: workspaceSize %llu is smaller than the %llu bytes GetWorkspaceSize returned", op,
                   static_cast<unsigned long long>(workspaceSize),
                   static_cast<unsigned long long>(p->workspace)));
    return kNnParamInvalid;
  }
  DevSpan wsSpan;
  bool haveWs = false;
  if (workspaceSize > 0) {
    if (!resolve(workspace, workspaceSize, &wsSpan, &why)) {
      violation(strf("%s: workspace (%llu bytes): %s", op, static_cast<unsigned long long>(workspaceSize),
                     why.c_str()));
      return kNnParamInvalid;
    }
    if (wsSpan.device != current_device()) {
      violation(strf("%s: workspace is on device %d, not the current device %d", op, wsSpan.device,
                     current_device()));
      return kNnParamInvalid;
    }
    haveWs = true;
  }
  Work w;
  w.name = op;
  for (const TensorDesc& d : p->reads)
    if (d.allocId) w.reads.push_back(d.allocId);
  for (const TensorDesc& d : p->writes)
    if (d.allocId) w.writes.push_back(d.allocId);
  for (const std::vector<uint64_t>* v : {&w.reads, &w.writes})
    for (uint64_t id : *v)
      if (!alloc_data(id)) {
        violation(strf("%s: a tensor's device memory was freed after GetWorkspaceSize", op));
        return kNnParamInvalid;
      }
  if (haveWs) w.writes.push_back(wsSpan.allocId);
  uint64_t wsId = wsSpan.allocId, wsOff = wsSpan.offset, wsLen = workspaceSize;
  auto scribble = [haveWs, wsId, wsOff, wsLen]() {
    if (haveWs) {
      uint8_t* b = alloc_data(wsId);
      if (b) memset(b + wsOff, 0xEE, wsLen);  // the kernel scribbles its workspace
    }
  };
  if (failAfterQueueing) {
    // The queued part uses every buffer of the op but computes nothing.
    w.fn = scribble;
    if (int rc = enqueue(stream, std::move(w))) return rc;
    set_error(strf("mock fault injected in %s@partial: the launch failed after queueing part of the op", op));
    return kNnFault;
  }
  w.fn = [p, scribble]() {
    scribble();
    p->compute();
  };
  return enqueue(stream, std::move(w));
}

}  // namespace mockop
