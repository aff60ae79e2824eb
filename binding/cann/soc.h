// The chip family behind aclrtGetSocName()'s long SoC name, as aclnn's
// platform info groups them (hicann/opbase src/nnopbase/composite_op/utils/platform.cpp:
// short versions Ascend910B, Ascend910_93, Ascend950; kernel directories by
// long name in op_kernel_lib.cpp: Ascend910B1..B4 -> ascend910b/,
// Ascend910_93xx -> ascend910_93/). Some aclnn ops run on a few families only.
#pragma once

#include <string>

namespace qmm {

enum class SocFamily {
  Unknown,     // the runtime did not say (no aclrtGetSocName, or it returned nullptr)
  Atlas910B,   // Atlas A2: Ascend910B1, Ascend910B2C, Ascend910B4-1, ...
  Atlas910_93, // Atlas A3: Ascend910_9391, Ascend910_9372, ...
  Ascend950,   // Ascend950PR_..., Ascend950DT_... (Ascend910_95 before its rename)
  Other,       // Ascend310P3, the first Ascend910 ("Ascend910B" without a digit), ...
};

inline SocFamily socFamilyOf(const std::string& socName) {
  if (socName.empty()) return SocFamily::Unknown;
  auto startsWith = [&](const char* p) { return socName.rfind(p, 0) == 0; };
  // "Ascend910B" alone (like Ascend910ProB) is a first-generation Ascend 910.
  const size_t n910B = sizeof("Ascend910B") - 1;
  if (startsWith("Ascend910B") && socName.size() > n910B && socName[n910B] >= '1' && socName[n910B] <= '9')
    return SocFamily::Atlas910B;
  if (startsWith("Ascend910_93")) return SocFamily::Atlas910_93;
  if (startsWith("Ascend950") || startsWith("Ascend910_95")) return SocFamily::Ascend950;
  return SocFamily::Other;
}

}  // namespace qmm
