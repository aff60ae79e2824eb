// registry.cc - live tensors, int arrays and executors (libascendcl.so),
// keyed by the fake handles from new_handle().
#include <unordered_map>

#include "acl_private.h"

namespace mockcann {
namespace {

struct ExecEntry {
  void* payload;
  void (*deleter)(void*);
};

struct Registry {
  std::unordered_map<const void*, TensorDesc> tensors;
  std::unordered_map<const void*, std::vector<int64_t>> arrays;
  std::unordered_map<const void*, ExecEntry> executors;
};

Registry& reg() {
  static Registry* r = new Registry;
  return *r;
}

template <class M>
int lookup_state(const M& m, const void* h, int kind) {
  if (m.count(h)) return kLive;
  return handle_kind_of(h) == kind ? kGone : kUnknown;
}

}  // namespace

void* tensor_add(const TensorDesc& d) {
  Guard g(mu());
  void* h = new_handle(kHTensor);
  reg().tensors[h] = d;
  return h;
}

int tensor_get(const void* h, TensorDesc* out) {
  Guard g(mu());
  auto it = reg().tensors.find(h);
  if (it == reg().tensors.end()) return lookup_state(reg().tensors, h, kHTensor);
  if (out) *out = it->second;
  return kLive;
}

int tensor_remove(const void* h) {
  Guard g(mu());
  int s = lookup_state(reg().tensors, h, kHTensor);
  if (s == kLive) reg().tensors.erase(h);
  return s;
}

void* intarray_add(const std::vector<int64_t>& v) {
  Guard g(mu());
  void* h = new_handle(kHIntArray);
  reg().arrays[h] = v;
  return h;
}

int intarray_get(const void* h, std::vector<int64_t>* out) {
  Guard g(mu());
  auto it = reg().arrays.find(h);
  if (it == reg().arrays.end()) return lookup_state(reg().arrays, h, kHIntArray);
  if (out) *out = it->second;
  return kLive;
}

int intarray_remove(const void* h) {
  Guard g(mu());
  int s = lookup_state(reg().arrays, h, kHIntArray);
  if (s == kLive) reg().arrays.erase(h);
  return s;
}

void* executor_add(void* payload, void (*deleter)(void*)) {
  Guard g(mu());
  void* h = new_handle(kHExecutor);
  reg().executors[h] = ExecEntry{payload, deleter};
  return h;
}

int executor_take(const void* h, void** payload, void (**deleter)(void*)) {
  Guard g(mu());
  auto it = reg().executors.find(h);
  if (it == reg().executors.end()) return lookup_state(reg().executors, h, kHExecutor);
  *payload = it->second.payload;
  *deleter = it->second.deleter;
  reg().executors.erase(it);
  return kLive;
}

void registry_stats(long long* tensors, long long* intarrays, long long* executors) {
  *tensors = static_cast<long long>(reg().tensors.size());
  *intarrays = static_cast<long long>(reg().arrays.size());
  *executors = static_cast<long long>(reg().executors.size());
}

}  // namespace mockcann
