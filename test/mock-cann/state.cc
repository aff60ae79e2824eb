// state.cc - init/finalize, devices, recent error message, faults,
// violations and the mock control API (all in libascendcl.so).
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "acl_private.h"
#include "mock_cann_control.h"

namespace mockcann {
namespace {

constexpr const char* kDefaultSoc = "Ascend910B1";  // an Atlas A2

struct State {
  bool initialized = false;
  int deviceCount = 1;
  std::vector<long long> devRefs;
  long long violations = 0;
  std::string lastViolation;
  long long totalCalls = 0;
  std::map<std::string, long long> calls;                    // invocations per name
  std::map<std::string, std::vector<long long>> faults;      // absolute invocation numbers
  bool verbose = false;
  bool abortOnViolation = false;
  std::string socName = kDefaultSoc;
};

State& st() {
  static State* s = new State;  // never destroyed: usable from atexit handlers
  return *s;
}

thread_local int t_device = -1;
thread_local std::map<int, int> t_setCount;
thread_local std::string t_err;
thread_local std::string t_errReturned;
thread_local std::string t_violationReturned;

void arm_fault(const std::string& name, long long nth) {
  State& s = st();
  if (nth <= 0) {
    s.faults.erase(name);
    return;
  }
  s.faults[name].push_back(s.calls[name] + nth);
}

void parse_fault_env() {
  const char* e = getenv("MOCK_CANN_FAULT");
  if (!e || !*e) return;
  std::string spec(e);
  size_t pos = 0;
  while (pos <= spec.size()) {
    size_t comma = spec.find(',', pos);
    std::string item = spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t colon = item.rfind(':');
    if (colon != std::string::npos && colon > 0) {
      long long nth = atoll(item.c_str() + colon + 1);
      arm_fault(item.substr(0, colon), nth);
    } else if (!item.empty()) {
      fprintf(stderr, "mock-cann: ignoring malformed MOCK_CANN_FAULT item '%s'\n", item.c_str());
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
}

bool env_flag(const char* name) {
  const char* e = getenv(name);
  return e && *e && strcmp(e, "0") != 0;
}

}  // namespace

std::recursive_mutex& mu() {
  static std::recursive_mutex* m = new std::recursive_mutex;
  return *m;
}

bool fault_fires(const std::string& name) {
  Guard g(mu());
  State& s = st();
  long long n = ++s.calls[name];
  auto it = s.faults.find(name);
  if (it == s.faults.end()) return false;
  for (size_t i = 0; i < it->second.size(); ++i) {
    if (it->second[i] == n) {
      it->second.erase(it->second.begin() + static_cast<long>(i));
      if (it->second.empty()) s.faults.erase(it);
      return true;
    }
  }
  return false;
}

bool enter(const char* name) {
  Guard g(mu());
  st().totalCalls++;
  if (!fault_fires(name)) return false;
  set_error(std::string("mock fault injected in ") + name);
  return true;
}

SocFamily soc_family() {
  // The chip families aclnn distinguishes (opbase platform.cpp's short SoC
  // versions), recognised from the long name aclrtGetSocName returns.
  Guard g(mu());
  const std::string& n = st().socName;
  auto starts = [&](const char* p) { return n.rfind(p, 0) == 0; };
  if (starts("Ascend910B") && n.size() > 10 && n[10] >= '1' && n[10] <= '9') return kSoc910B;
  if (starts("Ascend910_93")) return kSoc910_93;
  if (starts("Ascend950") || starts("Ascend910_95")) return kSoc950;
  return kSocOther;
}

bool is_initialized() { return st().initialized; }

int current_device() {
  Guard g(mu());
  State& s = st();
  if (t_device < 0 || t_device >= static_cast<int>(s.devRefs.size())) return -1;
  if (s.devRefs[t_device] <= 0) return -1;  // fully reset by someone else
  return t_device;
}

int device_count() { return st().deviceCount; }

long long device_refs_total() {
  long long t = 0;
  for (long long r : st().devRefs) t += r;
  return t;
}

void set_error(const std::string& msg) {
  t_err = msg;
  if (st().verbose) fprintf(stderr, "mock-cann: error: %s\n", msg.c_str());
}

void violation(const std::string& msg) {
  Guard g(mu());
  State& s = st();
  s.violations++;
  s.lastViolation = msg;
  t_err = "mock-cann violation: " + msg;
  if (s.verbose || s.abortOnViolation) fprintf(stderr, "mock-cann: VIOLATION: %s\n", msg.c_str());
  if (s.abortOnViolation) abort();
}

}  // namespace mockcann

using namespace mockcann;

MOCK_API aclError aclInit(const char* configPath) {
  Guard g(mu());
  if (enter("aclInit")) return kAclFault;
  State& s = st();
  if (s.initialized) {
    set_error("aclInit: repeated initialization (ACL_ERROR_REPEAT_INITIALIZE); call aclInit once per process");
    return kAclRepeatInit;
  }
  if (configPath && *configPath) {
    FILE* f = fopen(configPath, "r");
    if (!f) {
      set_error(strf("aclInit: cannot open config file '%s'", configPath));
      return kAclInvalidParam;
    }
    fclose(f);
  }
  s.verbose = env_flag("MOCK_CANN_VERBOSE");
  s.abortOnViolation = env_flag("MOCK_CANN_ABORT_ON_VIOLATION");
  int count = 1;
  if (const char* e = getenv("MOCK_CANN_DEVICE_COUNT")) {
    count = atoi(e);
    if (count < 0) count = 0;
    if (count > 64) count = 64;
  }
  // The device set can only grow (refcounts of earlier sessions stay visible).
  s.deviceCount = count;
  const char* soc = getenv("MOCK_CANN_SOC");
  s.socName = soc && *soc ? soc : kDefaultSoc;
  if (s.devRefs.size() < static_cast<size_t>(count)) s.devRefs.resize(count, 0);
  region_init();
  parse_fault_env();
  s.initialized = true;
  return kOk;
}

MOCK_API aclError aclFinalize(void) {
  ACL_ENTRY("aclFinalize");
  st().initialized = false;
  return kOk;
}

MOCK_API aclError aclrtSetDevice(int32_t deviceId) {
  ACL_ENTRY("aclrtSetDevice");
  State& s = st();
  if (deviceId < 0 || deviceId >= s.deviceCount) {
    set_error(strf("aclrtSetDevice: invalid device id %d (device count %d)", deviceId, s.deviceCount));
    return kRtInvalidDevice;
  }
  s.devRefs[deviceId]++;
  t_setCount[deviceId]++;
  t_device = deviceId;
  return kOk;
}

MOCK_API aclError aclrtResetDevice(int32_t deviceId) {
  ACL_ENTRY("aclrtResetDevice");
  State& s = st();
  if (deviceId < 0 || deviceId >= s.deviceCount) {
    set_error(strf("aclrtResetDevice: invalid device id %d (device count %d)", deviceId, s.deviceCount));
    return kRtInvalidDevice;
  }
  if (s.devRefs[deviceId] <= 0) {
    violation(strf("aclrtResetDevice(%d) without a matching aclrtSetDevice", deviceId));
    return kRtInvalidDevice;
  }
  s.devRefs[deviceId]--;
  auto it = t_setCount.find(deviceId);
  if (it != t_setCount.end() && it->second > 0) {
    if (--it->second == 0 && t_device == deviceId) t_device = -1;
  }
  if (s.devRefs[deviceId] == 0) {
    long long a = device_live_allocs(deviceId), st_ = device_live_streams(deviceId);
    if (a || st_)
      violation(strf("aclrtResetDevice(%d) released the device while %lld allocation(s) and "
                     "%lld stream(s) are still alive on it",
                     deviceId, a, st_));
  }
  return kOk;
}

MOCK_API aclError aclrtGetDeviceCount(uint32_t* count) {
  ACL_ENTRY("aclrtGetDeviceCount");
  if (!count) {
    set_error("aclrtGetDeviceCount: count is nullptr");
    return kAclInvalidParam;
  }
  *count = static_cast<uint32_t>(st().deviceCount);
  return kOk;
}

MOCK_API const char* aclrtGetSocName(void) {
  Guard g(mu());
  if (enter("aclrtGetSocName") || !is_initialized()) return nullptr;
  return st().socName.c_str();
}

MOCK_API const char* aclGetRecentErrMsg(void) {
  {
    Guard g(mu());
    st().totalCalls++;
  }
  if (t_err.empty()) return nullptr;
  t_errReturned.swap(t_err);
  t_err.clear();
  return t_errReturned.c_str();
}

// ---------------- control API ----------------

MOCK_API void mock_cann_get_stats(MockCannStats* out) {
  if (!out) return;
  Guard g(mu());
  State& s = st();
  MockCannStats r;
  memset(&r, 0, sizeof r);
  mem_stats(&r.liveDeviceAllocs, &r.liveDeviceBytes, &r.liveHostAllocs);
  registry_stats(&r.liveTensors, &r.liveIntArrays, &r.liveExecutors);
  r.liveStreams = live_streams();
  r.deviceRefs = device_refs_total();
  r.violations = s.violations;
  r.initialized = s.initialized ? 1 : 0;
  r.totalCalls = s.totalCalls;
  *out = r;
}

MOCK_API void mock_cann_set_fault(const char* name, long long nth) {
  if (!name) return;
  Guard g(mu());
  arm_fault(name, nth);
}

MOCK_API void mock_cann_clear_faults(void) {
  Guard g(mu());
  st().faults.clear();
}

MOCK_API const char* mock_cann_last_violation(void) {
  Guard g(mu());
  t_violationReturned = st().lastViolation;
  return t_violationReturned.c_str();
}

MOCK_API void mock_cann_reset_violations(void) {
  Guard g(mu());
  st().violations = 0;
  st().lastViolation.clear();
}
