#include "gemm.h"

#include "kernels/dispatch.h"

namespace qmm::emu {

std::string gemmKernelName() {
  std::string s = kern::active().name;
  const std::string note = kern::activeNote();
  if (!note.empty()) s += " (" + note + ")";
  return s;
}

}  // namespace qmm::emu
