// acl_private.h - functions private to libascendcl.so (hidden visibility).
#ifndef MOCK_CANN_ACL_PRIVATE_H
#define MOCK_CANN_ACL_PRIVATE_H

#include <cstdint>
#include <string>

#include "internal.h"

#define ACL_ENTRY(name)                                                              \
  ::mockcann::Guard guard_(::mockcann::mu());                                        \
  if (::mockcann::enter(name)) return ::mockcann::kAclFault;                         \
  if (!::mockcann::is_initialized()) {                                               \
    ::mockcann::set_error(std::string(name) + ": aclInit has not been called (or " \
                          "aclFinalize already was)");                               \
    return ::mockcann::kAclInvalidParam;                                             \
  }

#define ACL_NEED_DEVICE(name)                                                         \
  if (::mockcann::current_device() < 0) {                                             \
    ::mockcann::set_error(std::string(name) +                                         \
                          ": the calling thread has no current device (call "         \
                          "aclrtSetDevice on this thread first)");                    \
    return ::mockcann::kRtNoDevice;                                                   \
  }

namespace mockcann {

// memory.cc
void region_init();
void* new_handle(int kind);             // kinds below
int handle_kind_of(const void* h);      // kind, or -1 if not a handle ever issued
enum HandleKind { kHStream = 1, kHTensor, kHIntArray, kHExecutor };
void mem_stats(long long* allocs, long long* bytes, long long* hostAllocs);
long long device_live_allocs(int device);
void pending_add(uint64_t allocId, uint64_t streamId, bool write, int delta);
// Counts pending reads/writes on allocId, excluding those of stream `except` (0 = none).
void pending_count(uint64_t allocId, uint64_t except, int* reads, int* writes);
bool alloc_exists(uint64_t allocId);

// registry.cc
void registry_stats(long long* tensors, long long* intarrays, long long* executors);

// stream.cc
long long live_streams();
long long device_live_streams(int device);

// state.cc
int device_count();
long long device_refs_total();

}  // namespace mockcann

#endif
