// stream.cc - streams: queued work runs only at aclrtSynchronizeStream or
// aclrtDestroyStream; aclrtDestroyStreamForce drops it (libascendcl.so).
#include <deque>
#include <unordered_map>

#include "acl_private.h"

namespace mockcann {
namespace {

struct Stream {
  uint64_t id = 0;
  int device = -1;
  std::deque<Work> queue;
  bool failed = false;  // an aclrtSynchronizeStream failed: the queued work never finishes
};

struct Streams {
  std::unordered_map<const void*, Stream> live;
  uint64_t nextId = 1;
};

Streams& ss() {
  static Streams* s = new Streams;
  return *s;
}

void drain(Stream& s) {
  while (!s.queue.empty()) {
    Work w = std::move(s.queue.front());
    s.queue.pop_front();
    if (w.fn) w.fn();
    for (uint64_t a : w.reads) pending_add(a, s.id, false, -1);
    for (uint64_t a : w.writes) pending_add(a, s.id, true, -1);
  }
}

// Forgets the queued work without running it.
void drop(Stream& s) {
  for (const Work& w : s.queue) {
    for (uint64_t a : w.reads) pending_add(a, s.id, false, -1);
    for (uint64_t a : w.writes) pending_add(a, s.id, true, -1);
  }
  s.queue.clear();
}

}  // namespace

long long live_streams() { return static_cast<long long>(ss().live.size()); }

long long device_live_streams(int device) {
  long long n = 0;
  for (auto& kv : ss().live)
    if (kv.second.device == device) n++;
  return n;
}

int stream_check(const void* s, std::string* why) {
  Guard g(mu());
  if (!s) {
    *why = "stream is nullptr (the mock has no default stream; create one with aclrtCreateStream)";
    violation(*why);
    return kRtBadPointer;
  }
  auto it = ss().live.find(s);
  if (it == ss().live.end()) {
    int k = handle_kind_of(s);
    *why = k == kHStream ? strf("stream %p was already destroyed", s)
                         : strf("%p is not a stream handle", s);
    violation(*why);
    return kRtBadPointer;
  }
  if (it->second.device != current_device()) {
    *why = strf("stream %p belongs to device %d, but the calling thread's current device is %d", s,
                it->second.device, current_device());
    violation(*why);
    return kRtStreamHazard;
  }
  return 0;
}

int enqueue(const void* s, Work w) {
  Guard g(mu());
  auto it = ss().live.find(s);
  if (it == ss().live.end()) {
    violation(strf("%s: launch on unknown stream %p", w.name.c_str(), s));
    return kNnRuntime;
  }
  Stream& st = it->second;
  for (uint64_t a : w.reads) {
    if (!alloc_exists(a)) {
      violation(strf("%s: an input tensor's device memory was freed before launch", w.name.c_str()));
      return kNnRuntime;
    }
    int r, wr;
    pending_count(a, st.id, &r, &wr);
    if (wr) {
      violation(strf("%s: reads device memory that another stream has un-synchronized writes to",
                     w.name.c_str()));
      return kNnRuntime;
    }
  }
  for (uint64_t a : w.writes) {
    if (!alloc_exists(a)) {
      violation(strf("%s: an output/workspace device memory was freed before launch", w.name.c_str()));
      return kNnRuntime;
    }
    int r, wr;
    pending_count(a, st.id, &r, &wr);
    if (r || wr) {
      violation(strf("%s: writes device memory that another stream still uses (un-synchronized)",
                     w.name.c_str()));
      return kNnRuntime;
    }
  }
  for (uint64_t a : w.reads) pending_add(a, st.id, false, +1);
  for (uint64_t a : w.writes) pending_add(a, st.id, true, +1);
  st.queue.push_back(std::move(w));
  return 0;
}

}  // namespace mockcann

using namespace mockcann;

MOCK_API aclError aclrtCreateStream(aclrtStream* stream) {
  ACL_ENTRY("aclrtCreateStream");
  ACL_NEED_DEVICE("aclrtCreateStream");
  if (!stream) {
    set_error("aclrtCreateStream: stream is nullptr");
    return kAclInvalidParam;
  }
  void* h = new_handle(kHStream);
  Stream s;
  s.id = ss().nextId++;
  s.device = current_device();
  ss().live.emplace(h, std::move(s));
  *stream = h;
  return kOk;
}

MOCK_API aclError aclrtSynchronizeStream(aclrtStream stream) {
  Guard g(mu());
  if (enter("aclrtSynchronizeStream")) {
    // As a device fault would: the stream stays in an error state and the
    // work queued on it never completes.
    auto it = ss().live.find(stream);
    if (it != ss().live.end()) it->second.failed = true;
    return kAclFault;
  }
  if (!is_initialized()) {
    set_error("aclrtSynchronizeStream: aclInit has not been called (or aclFinalize already was)");
    return kAclInvalidParam;
  }
  ACL_NEED_DEVICE("aclrtSynchronizeStream");
  std::string why;
  if (int rc = stream_check(stream, &why)) return rc;
  Stream& s = ss().live[stream];
  if (s.failed) {
    set_error("aclrtSynchronizeStream: the stream is in an error state since an earlier synchronization failed; "
              "destroy it with aclrtDestroyStreamForce");
    return kAclFault;
  }
  drain(s);
  return kOk;
}

MOCK_API aclError aclrtDestroyStream(aclrtStream stream) {
  ACL_ENTRY("aclrtDestroyStream");
  ACL_NEED_DEVICE("aclrtDestroyStream");
  std::string why;
  if (int rc = stream_check(stream, &why)) return rc;
  Stream& s = ss().live[stream];
  if (s.failed) {
    // aclrtDestroyStream waits for the queued work, which a failed stream never finishes.
    violation(strf("aclrtDestroyStream(%p): its synchronization failed, so its queued work never finishes; "
                   "destroy it with aclrtDestroyStreamForce",
                   stream));
    drop(s);
    ss().live.erase(stream);
    return kRtStreamHazard;
  }
  drain(s);
  ss().live.erase(stream);
  return kOk;
}

MOCK_API aclError aclrtDestroyStreamForce(aclrtStream stream) {
  ACL_ENTRY("aclrtDestroyStreamForce");
  ACL_NEED_DEVICE("aclrtDestroyStreamForce");
  std::string why;
  if (int rc = stream_check(stream, &why)) return rc;
  drop(ss().live[stream]);  // does not wait for the queued work
  ss().live.erase(stream);
  return kOk;
}
