// The CANN device backend: finds libascendcl/libnnopbase/libopapi at run time
// (dlopen, never linked) and drives the aclnn entry points (docs/semantics.md §6, §2.3).
#pragma once

#include <memory>
#include <string>

#include "../backend.h"

namespace qmm {

// Loads CANN and returns the process-wide backend (aclInit runs once per
// process). Throws QmmException(ErrorCode::Backend) with the paths tried when
// a library or symbol is missing, or when no device is visible.
std::shared_ptr<Backend> createCannBackend();

// Test hooks: the mock CANN runtime (test/mock-cann) exports a control API
// from its libascendcl.so. These return false when CANN is not loaded or the
// loaded runtime is not the mock.
struct MockCannStats {
  long long liveDeviceAllocs, liveDeviceBytes, liveHostAllocs, liveTensors, liveIntArrays,
      liveExecutors, liveStreams, deviceRefs, violations, initialized, totalCalls;
};
bool cannMockStats(MockCannStats* out);
bool cannMockSetFault(const std::string& name, long long nth);
bool cannMockClearFaults();
std::string cannMockLastViolation();

}  // namespace qmm
