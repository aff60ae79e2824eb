/* mock_cann_control.h - test-only control API exported (C linkage) by the
 * mock libascendcl.so. Tests normally reach it with dlsym() on the handle of
 * the libascendcl.so the addon loaded. Never present in a real CANN. */
#ifndef MOCK_CANN_CONTROL_H
#define MOCK_CANN_CONTROL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  long long liveDeviceAllocs, liveDeviceBytes, liveHostAllocs, liveTensors, liveIntArrays,
      liveExecutors, liveStreams, deviceRefs, violations, initialized;
  long long totalCalls;
} MockCannStats;

void mock_cann_get_stats(MockCannStats* out);
/* Fail the nth (1-based) future invocation of the named entry point; nth=0
 * clears the faults armed for that name. Several faults may be armed. */
void mock_cann_set_fault(const char* name, long long nth);
void mock_cann_clear_faults(void);
/* Text of the most recent violation, or "" (pointer valid until the next
 * call of this function on the same thread). */
const char* mock_cann_last_violation(void);
void mock_cann_reset_violations(void);

#ifdef __cplusplus
}
#endif

#endif /* MOCK_CANN_CONTROL_H */
