#include "gemm.h"

#include <mutex>
#include <string>

#include "kernels/kernel.h"

namespace qmm::emu {

const char* gemmKernelName() {
  static std::mutex m;
  static std::string s;
  std::lock_guard<std::mutex> g(m);
  s = kern::active().name;
  const std::string note = kern::activeNote();
  if (!note.empty()) s += " (" + note + ")";
  return s.c_str();
}

}  // namespace qmm::emu
