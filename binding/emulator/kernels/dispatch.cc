// Run-time kernel choice: CPU features (cpuid + xgetbv on x86-64, getauxval on
// aarch64) decide once which kernel table the process uses; QMM_KERNEL forces
// one, falling back (with a note) when this CPU or this build lacks it.
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "kernel.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define QMM_X86 1
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#define QMM_ARM64 1
#endif

namespace qmm::emu::kern {

#if defined(QMM_X86)
namespace {

uint64_t xgetbv0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

struct X86Features {
  bool avx2 = false, vnni512 = false;
  X86Features() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return;
    const uint64_t xcr0 = xgetbv0();
    const bool ymmOs = (xcr0 & 0x6) == 0x6;             // SSE + AVX state
    const bool zmmOs = ymmOs && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM_Hi256 + Hi16_ZMM
    if (__get_cpuid_max(0, nullptr) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    const bool avx2Bit = (b >> 5) & 1, bmi2 = (b >> 8) & 1;
    const bool f = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
    avx2 = ymmOs && avx2Bit && bmi2 && f16c;
    vnni512 = zmmOs && avx2 && f && bw && vl && vnni;
  }
};

const X86Features& x86() {
  static const X86Features f;
  return f;
}

}  // namespace

bool cpuHasAvx2() { return x86().avx2; }
bool cpuHasVnni512() { return x86().vnni512; }
bool cpuHasNeonDot() { return false; }
const Kernel* neonKernel() { return nullptr; }
#elif defined(QMM_ARM64)
bool cpuHasAvx2() { return false; }
bool cpuHasVnni512() { return false; }
bool cpuHasNeonDot() { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
const Kernel* avx2Kernel() { return nullptr; }
const Kernel* vnni512Kernel() { return nullptr; }
#else
bool cpuHasAvx2() { return false; }
bool cpuHasVnni512() { return false; }
bool cpuHasNeonDot() { return false; }
const Kernel* avx2Kernel() { return nullptr; }
const Kernel* vnni512Kernel() { return nullptr; }
const Kernel* neonKernel() { return nullptr; }
#endif

namespace {

const Kernel* usable(const char* name) {
  if (std::strcmp(name, "scalar") == 0) return scalarKernel();
  if (std::strcmp(name, "avx2") == 0) return cpuHasAvx2() ? avx2Kernel() : nullptr;
  if (std::strcmp(name, "vnni512") == 0) return cpuHasVnni512() ? vnni512Kernel() : nullptr;
  if (std::strcmp(name, "neon") == 0) return cpuHasNeonDot() ? neonKernel() : nullptr;
  return nullptr;
}

const Kernel* best() {
  for (const char* n : {"vnni512", "neon", "avx2"})
    if (const Kernel* k = usable(n)) return k;
  return scalarKernel();
}

struct State {
  std::mutex m;
  const Kernel* kernel = nullptr;
  std::string note;
};

State& state() {
  static State* s = [] {
    auto* st = new State;
    const char* env = std::getenv("QMM_KERNEL");
    if (env != nullptr && *env != '\0' && std::strcmp(env, "auto") != 0) {
      st->kernel = usable(env);
      if (st->kernel == nullptr) {
        st->kernel = best();
        st->note = std::string("QMM_KERNEL=") + env + " is not available on this CPU/build; using " + st->kernel->name;
      }
    } else {
      st->kernel = best();
    }
    return st;
  }();
  return *s;
}

}  // namespace

const Kernel& active() {
  State& s = state();
  std::lock_guard<std::mutex> g(s.m);
  return *s.kernel;
}

const char* activeNote() {
  State& s = state();
  std::lock_guard<std::mutex> g(s.m);
  return s.note.c_str();
}

bool select(const char* name) {
  const Kernel* k = std::strcmp(name, "auto") == 0 ? best() : usable(name);
  if (k == nullptr) return false;
  State& s = state();
  std::lock_guard<std::mutex> g(s.m);
  s.kernel = k;
  s.note.clear();
  return true;
}

}  // namespace qmm::emu::kern
