// memory.cc - the reserved device address region, device allocations with
// host backing, host allocations, handles, aclrtMalloc/Free/Memcpy/Memset.
#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <unordered_map>

#include "acl_private.h"

namespace mockcann {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kGuard = 64 * 1024;  // unmapped gap after every allocation
constexpr uint64_t kHandleStride = 64;

struct Alloc {
  uint64_t id = 0;
  uintptr_t start = 0;
  uint64_t size = 0;
  int device = -1;
  uint8_t* data = nullptr;
  std::map<uint64_t, int> pendingReads, pendingWrites;  // per stream id
};

struct Mem {
  uintptr_t base = 0, end = 0;          // whole reserved region
  uintptr_t handleEnd = 0;              // [base, handleEnd) issues handles
  uintptr_t next = 0;                   // bump pointer for allocations
  uint64_t nextHandle = 1;
  std::vector<uint8_t> handleKinds{0};  // kind per handle id
  uint64_t nextAllocId = 1;
  std::map<uintptr_t, Alloc*> byStart;
  std::unordered_map<uint64_t, Alloc*> byId;
  long long liveBytes = 0;
  uint64_t capacity = 64ull << 30;  // per process, MOCK_CANN_DEVICE_MEMORY_MB
  std::set<void*> host;
};

Mem& mem() {
  static Mem* m = new Mem;
  return *m;
}

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

Alloc* find_containing(uintptr_t p) {
  Mem& m = mem();
  auto it = m.byStart.upper_bound(p);
  if (it == m.byStart.begin()) return nullptr;
  --it;
  Alloc* a = it->second;
  if (p >= a->start && p < a->start + a->size) return a;
  return nullptr;
}

}  // namespace

void region_init() {
  Mem& m = mem();
  if (m.base) return;
  void* p = MAP_FAILED;
  uint64_t size = 1ull << 40;  // 1 TiB of address space, nothing committed
  for (; size >= (1ull << 30); size >>= 1) {
    p = mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) break;
  }
  if (p == MAP_FAILED) {
    fprintf(stderr, "mock-cann: cannot reserve a device address region\n");
    abort();
  }
  m.base = reinterpret_cast<uintptr_t>(p);
  m.end = m.base + size;
  uint64_t handleWindow = size / 16 < (1ull << 30) ? size / 16 : (1ull << 30);
  m.handleEnd = m.base + handleWindow;
  m.next = m.handleEnd + kGuard;
  if (const char* e = getenv("MOCK_CANN_DEVICE_MEMORY_MB")) {
    long long mb = atoll(e);
    if (mb > 0) m.capacity = static_cast<uint64_t>(mb) << 20;
  }
}

bool in_device_region(const void* p) {
  Mem& m = mem();
  uintptr_t u = reinterpret_cast<uintptr_t>(p);
  return m.base && u >= m.base && u < m.end;
}

void* new_handle(int kind) {
  Mem& m = mem();
  uint64_t id = m.nextHandle++;
  uintptr_t h = m.base + id * kHandleStride;
  if (h >= m.handleEnd) {
    fprintf(stderr, "mock-cann: handle space exhausted\n");
    abort();
  }
  m.handleKinds.push_back(static_cast<uint8_t>(kind));
  return reinterpret_cast<void*>(h);
}

int handle_kind_of(const void* h) {
  Mem& m = mem();
  uintptr_t u = reinterpret_cast<uintptr_t>(h);
  if (!m.base || u < m.base || u >= m.handleEnd || (u - m.base) % kHandleStride) return -1;
  uint64_t id = (u - m.base) / kHandleStride;
  if (id == 0 || id >= m.nextHandle) return -1;
  return m.handleKinds[id];
}

std::string handle_kind(const void* h) {
  Guard g(mu());
  switch (handle_kind_of(h)) {
    case kHStream: return "stream";
    case kHTensor: return "aclTensor";
    case kHIntArray: return "aclIntArray";
    case kHExecutor: return "aclOpExecutor";
    default: return "";
  }
}

bool resolve(const void* p, uint64_t bytes, DevSpan* out, std::string* why) {
  Guard g(mu());
  uintptr_t u = reinterpret_cast<uintptr_t>(p);
  if (!p) {
    if (why) *why = "null pointer";
    return false;
  }
  if (!in_device_region(p)) {
    if (why) *why = strf("%p is not a device address (host memory?)", p);
    return false;
  }
  std::string hk = handle_kind(p);
  if (!hk.empty()) {
    if (why) *why = strf("%p is an %s handle, not device memory", p, hk.c_str());
    return false;
  }
  Alloc* a = find_containing(u);
  if (!a && bytes == 0) {
    // one-past-the-end pointer of an allocation, for zero-length ranges
    Alloc* b = find_containing(u - 1);
    if (b && u == b->start + b->size) a = b;
  }
  if (!a) {
    if (why) *why = strf("%p is not inside any live device allocation (freed, or out of bounds)", p);
    return false;
  }
  uint64_t off = u - a->start;
  if (bytes > a->size - off) {
    if (why)
      *why = strf("range [%p, +%llu) overruns its allocation of %llu bytes (pointer is at offset %llu)",
                  p, static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(a->size),
                  static_cast<unsigned long long>(off));
    return false;
  }
  if (out) {
    out->allocId = a->id;
    out->offset = off;
    out->allocSize = a->size;
    out->device = a->device;
  }
  return true;
}

uint8_t* alloc_data(uint64_t allocId) {
  Guard g(mu());
  auto it = mem().byId.find(allocId);
  return it == mem().byId.end() ? nullptr : it->second->data;
}

bool alloc_exists(uint64_t allocId) { return mem().byId.count(allocId) != 0; }

void mem_stats(long long* allocs, long long* bytes, long long* hostAllocs) {
  Mem& m = mem();
  *allocs = static_cast<long long>(m.byId.size());
  *bytes = m.liveBytes;
  *hostAllocs = static_cast<long long>(m.host.size());
}

long long device_live_allocs(int device) {
  long long n = 0;
  for (auto& kv : mem().byId)
    if (kv.second->device == device) n++;
  return n;
}

void pending_add(uint64_t allocId, uint64_t streamId, bool write, int delta) {
  auto it = mem().byId.find(allocId);
  if (it == mem().byId.end()) return;
  auto& mp = write ? it->second->pendingWrites : it->second->pendingReads;
  int& v = mp[streamId];
  v += delta;
  if (v <= 0) mp.erase(streamId);
}

void pending_count(uint64_t allocId, uint64_t except, int* reads, int* writes) {
  *reads = *writes = 0;
  auto it = mem().byId.find(allocId);
  if (it == mem().byId.end()) return;
  for (auto& kv : it->second->pendingReads)
    if (kv.first != except) *reads += kv.second;
  for (auto& kv : it->second->pendingWrites)
    if (kv.first != except) *writes += kv.second;
}

}  // namespace mockcann

using namespace mockcann;

namespace {

// Device-side check for one memcpy/memset operand. Returns 0 or an error code.
int check_dev(const char* fn, const char* what, const void* p, uint64_t bytes, DevSpan* span) {
  std::string why;
  if (!resolve(p, bytes, span, &why)) {
    violation(strf("%s: %s: %s", fn, what, why.c_str()));
    return kRtBadPointer;
  }
  if (span->device != current_device()) {
    violation(strf("%s: %s belongs to device %d but the calling thread's device is %d", fn, what,
                   span->device, current_device()));
    return kRtBadPointer;
  }
  return 0;
}

#ifndef MOCK_CANN_NO_MEMCPY
int check_host(const char* fn, const char* what, const void* p) {
  if (!p) {
    set_error(strf("%s: %s is nullptr", fn, what));
    return kAclInvalidParam;
  }
  if (in_device_region(p)) {
    std::string hk = handle_kind(p);
    violation(strf("%s: %s %p is %s, but this copy kind needs host memory there", fn, what, p,
                   hk.empty() ? "a device address" : ("an " + hk + " handle").c_str()));
    return kRtBadPointer;
  }
  return 0;
}

int check_not_pending_write(const char* fn, const DevSpan& s) {
  int r, w;
  pending_count(s.allocId, 0, &r, &w);
  if (w) {
    violation(strf("%s: source device memory has %d un-synchronized stream write(s); results are "
                   "only valid after aclrtSynchronizeStream",
                   fn, w));
    return kRtStreamHazard;
  }
  return 0;
}

#endif

int check_not_pending_any(const char* fn, const DevSpan& s) {
  int r, w;
  pending_count(s.allocId, 0, &r, &w);
  if (r || w) {
    violation(strf("%s: destination device memory is still used by queued stream work (%d read(s), "
                   "%d write(s)); synchronize the stream first",
                   fn, r, w));
    return kRtStreamHazard;
  }
  return 0;
}

}  // namespace

MOCK_API aclError aclrtMalloc(void** devPtr, size_t size, aclrtMemMallocPolicy policy) {
  ACL_ENTRY("aclrtMalloc");
  ACL_NEED_DEVICE("aclrtMalloc");
  if (!devPtr) {
    set_error("aclrtMalloc: devPtr is nullptr");
    return kAclInvalidParam;
  }
  if (size == 0) {
    set_error("aclrtMalloc: size must be greater than 0");
    return kAclInvalidParam;
  }
  if ((static_cast<int>(policy) & 0xFF) > 3 || static_cast<int>(policy) < 0) {
    set_error(strf("aclrtMalloc: invalid memory policy %d", static_cast<int>(policy)));
    return kAclInvalidParam;
  }
  Mem& m = mem();
  if (size > m.capacity || static_cast<uint64_t>(m.liveBytes) + size > m.capacity) {
    set_error(strf("aclrtMalloc: out of device memory (%zu bytes requested, %lld live, capacity %llu)",
                   size, m.liveBytes, static_cast<unsigned long long>(m.capacity)));
    return kRtMemAlloc;
  }
  uint64_t span = round_up(size, kPage) + kGuard;
  if (m.next + span > m.end) {
    set_error("aclrtMalloc: mock device address space exhausted");
    return kRtMemAlloc;
  }
  uint8_t* data = static_cast<uint8_t*>(malloc(size));
  if (!data) {
    set_error(strf("aclrtMalloc: host backing allocation of %zu bytes failed", size));
    return kRtMemAlloc;
  }
  memset(data, 0xA5, size);  // device memory is uninitialized: make that visible
  Alloc* a = new Alloc;
  a->id = m.nextAllocId++;
  a->start = m.next;
  a->size = size;
  a->device = current_device();
  a->data = data;
  m.next += span;
  m.byStart[a->start] = a;
  m.byId[a->id] = a;
  m.liveBytes += static_cast<long long>(size);
  *devPtr = reinterpret_cast<void*>(a->start);
  return kOk;
}

MOCK_API aclError aclrtFree(void* devPtr) {
  ACL_ENTRY("aclrtFree");
  ACL_NEED_DEVICE("aclrtFree");
  if (!devPtr) {
    set_error("aclrtFree: devPtr is nullptr");
    return kAclInvalidParam;
  }
  Mem& m = mem();
  auto it = m.byStart.find(reinterpret_cast<uintptr_t>(devPtr));
  if (it == m.byStart.end()) {
    std::string why;
    if (!in_device_region(devPtr))
      why = "not a device pointer (host memory? use aclrtFreeHost for aclrtMallocHost memory)";
    else if (find_containing(reinterpret_cast<uintptr_t>(devPtr)))
      why = "points inside an allocation, not at its start";
    else
      why = "unknown or already freed";
    violation(strf("aclrtFree(%p): %s", devPtr, why.c_str()));
    return kRtBadPointer;
  }
  Alloc* a = it->second;
  if (a->device != current_device()) {
    violation(strf("aclrtFree(%p): allocation belongs to device %d, calling thread is on device %d",
                   devPtr, a->device, current_device()));
    return kRtBadPointer;
  }
  if (!a->pendingReads.empty() || !a->pendingWrites.empty()) {
    violation(strf("aclrtFree(%p): memory is still used by queued stream work; synchronize the stream "
                   "before freeing",
                   devPtr));
    return kRtStreamHazard;
  }
  m.byStart.erase(it);
  m.byId.erase(a->id);
  m.liveBytes -= static_cast<long long>(a->size);
  free(a->data);
  delete a;
  return kOk;
}

MOCK_API aclError aclrtMallocHost(void** hostPtr, size_t size) {
  ACL_ENTRY("aclrtMallocHost");
  if (!hostPtr || size == 0) {
    set_error("aclrtMallocHost: hostPtr is nullptr or size is 0");
    return kAclInvalidParam;
  }
  void* p = malloc(size);
  if (!p) {
    set_error("aclrtMallocHost: out of host memory");
    return kRtMemAlloc;
  }
  memset(p, 0x5A, size);
  mem().host.insert(p);
  *hostPtr = p;
  return kOk;
}

MOCK_API aclError aclrtFreeHost(void* hostPtr) {
  ACL_ENTRY("aclrtFreeHost");
  if (!hostPtr) {
    set_error("aclrtFreeHost: hostPtr is nullptr");
    return kAclInvalidParam;
  }
  auto it = mem().host.find(hostPtr);
  if (it == mem().host.end()) {
    violation(strf("aclrtFreeHost(%p): not a live aclrtMallocHost allocation%s", hostPtr,
                   in_device_region(hostPtr) ? " (this is a device address; use aclrtFree)" : ""));
    return kRtBadPointer;
  }
  mem().host.erase(it);
  free(hostPtr);
  return kOk;
}

#ifndef MOCK_CANN_NO_MEMCPY
MOCK_API aclError aclrtMemcpy(void* dst, size_t destMax, const void* src, size_t count,
                              aclrtMemcpyKind kind) {
  ACL_ENTRY("aclrtMemcpy");
  ACL_NEED_DEVICE("aclrtMemcpy");
  const char* fn = "aclrtMemcpy";
  if (!dst || !src) {
    set_error("aclrtMemcpy: dst or src is nullptr");
    return kAclInvalidParam;
  }
  if (count > destMax) {
    set_error(strf("aclrtMemcpy: count %zu is larger than destMax %zu", count, destMax));
    return kAclInvalidParam;
  }
  int k = static_cast<int>(kind);
  if (k == ACL_MEMCPY_DEFAULT) {
    bool sd = in_device_region(src), dd = in_device_region(dst);
    k = sd ? (dd ? ACL_MEMCPY_DEVICE_TO_DEVICE : ACL_MEMCPY_DEVICE_TO_HOST)
           : (dd ? ACL_MEMCPY_HOST_TO_DEVICE : ACL_MEMCPY_HOST_TO_HOST);
  } else if (k == ACL_MEMCPY_INNER_DEVICE_TO_DEVICE) {
    k = ACL_MEMCPY_DEVICE_TO_DEVICE;
  }
  DevSpan ds, ss;
  int rc = 0;
  switch (k) {
    case ACL_MEMCPY_HOST_TO_HOST:
      if ((rc = check_host(fn, "dst", dst)) || (rc = check_host(fn, "src", src))) return rc;
      memmove(dst, src, count);
      return kOk;
    case ACL_MEMCPY_HOST_TO_DEVICE:
      if ((rc = check_host(fn, "src (HOST_TO_DEVICE)", src))) return rc;
      if ((rc = check_dev(fn, "dst (HOST_TO_DEVICE, destMax range)", dst, destMax, &ds))) return rc;
      if ((rc = check_not_pending_any(fn, ds))) return rc;
      memcpy(alloc_data(ds.allocId) + ds.offset, src, count);
      return kOk;
    case ACL_MEMCPY_DEVICE_TO_HOST:
      if ((rc = check_host(fn, "dst (DEVICE_TO_HOST)", dst))) return rc;
      if ((rc = check_dev(fn, "src (DEVICE_TO_HOST)", src, count, &ss))) return rc;
      if ((rc = check_not_pending_write(fn, ss))) return rc;
      memcpy(dst, alloc_data(ss.allocId) + ss.offset, count);
      return kOk;
    case ACL_MEMCPY_DEVICE_TO_DEVICE:
      if ((rc = check_dev(fn, "dst (DEVICE_TO_DEVICE, destMax range)", dst, destMax, &ds))) return rc;
      if ((rc = check_dev(fn, "src (DEVICE_TO_DEVICE)", src, count, &ss))) return rc;
      if ((rc = check_not_pending_write(fn, ss)) || (rc = check_not_pending_any(fn, ds))) return rc;
      memmove(alloc_data(ds.allocId) + ds.offset, alloc_data(ss.allocId) + ss.offset, count);
      return kOk;
    default:
      set_error(strf("aclrtMemcpy: memcpy kind %d is not supported by the mock", static_cast<int>(kind)));
      return kAclInvalidParam;
  }
}
#endif

MOCK_API aclError aclrtMemset(void* devPtr, size_t maxCount, int32_t value, size_t count) {
  ACL_ENTRY("aclrtMemset");
  ACL_NEED_DEVICE("aclrtMemset");
  if (!devPtr) {
    set_error("aclrtMemset: devPtr is nullptr");
    return kAclInvalidParam;
  }
  if (count > maxCount) {
    set_error(strf("aclrtMemset: count %zu is larger than maxCount %zu", count, maxCount));
    return kAclInvalidParam;
  }
  DevSpan ds;
  int rc;
  if ((rc = check_dev("aclrtMemset", "devPtr (maxCount range)", devPtr, maxCount, &ds))) return rc;
  if ((rc = check_not_pending_any("aclrtMemset", ds))) return rc;
  memset(alloc_data(ds.allocId) + ds.offset, value & 0xFF, count);
  return kOk;
}
