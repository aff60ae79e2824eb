// Placeholder until the CANN backend lands: reports that it is not built.
#include "cann_backend.h"

#include "../errors.h"

namespace qmm {

std::shared_ptr<Backend> createCannBackend() {
  throw QmmException(ErrorCode::Backend, "the CANN backend is not built into this binary");
}

bool cannMockStats(MockCannStats*) { return false; }
bool cannMockSetFault(const std::string&, long long) { return false; }
bool cannMockClearFaults() { return false; }
std::string cannMockLastViolation() { return {}; }

}  // namespace qmm
