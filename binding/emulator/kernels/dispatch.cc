// Run-time kernel choice: CPU features (cpuid + xgetbv on x86-64, getauxval on
// aarch64) decide once which kernel table the process uses; QMM_KERNEL forces
// one, falling back (with a note) when this CPU or this build lacks it.
#include "dispatch.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#define QMM_X86 1
#endif
#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
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
  bool amxCpu = false;  // AMX-TILE + AMX-INT8 with palette 1 as the kernel assumes, tile state in XCR0
  X86Features() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return;
    const uint64_t xcr0 = xgetbv0();
    const bool ymmOs = (xcr0 & 0x6) == 0x6;             // SSE + AVX state
    const bool zmmOs = ymmOs && (xcr0 & 0xe0) == 0xe0;  // opmask + ZMM_Hi256 + Hi16_ZMM
    const bool tileOs = (xcr0 & 0x60000) == 0x60000;    // XTILECFG (17) + XTILEDATA (18)
    const unsigned maxLeaf = __get_cpuid_max(0, nullptr);
    if (maxLeaf < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    const bool avx2Bit = (b >> 5) & 1, bmi2 = (b >> 8) & 1;
    const bool f = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
    const bool amxTile = (d >> 24) & 1, amxInt8 = (d >> 25) & 1;
    avx2 = ymmOs && avx2Bit && bmi2 && f16c;
    vnni512 = zmmOs && avx2 && f && bw && vl && vnni;
    if (!(amxTile && amxInt8 && tileOs) || maxLeaf < 0x1e) return;
    // palette 1: 8 tiles of 16 rows x 64 bytes; TMUL: k up to 16 dwords, n up to 64 bytes
    __cpuid_count(0x1d, 1, a, b, c, d);
    const bool palette = (b >> 16) >= 8 && (b & 0xffff) >= 64 && (c & 0xffff) >= 16;
    __cpuid_count(0x1e, 0, a, b, c, d);
    const bool tmul = (b & 0xff) >= 16 && ((b >> 8) & 0xffff) >= 64;
    amxCpu = palette && tmul;
  }
};

const X86Features& x86() {
  static const X86Features f;
  return f;
}

// Linux hands out the 8 KiB tile data state only on request (since 5.16):
// once per process, for all its threads.
struct AmxPermission {
  bool granted = false;
  std::string reason;
  AmxPermission() {
    if (!x86().amxCpu) {
      reason = "CPU lacks amx_int8";
      return;
    }
#if defined(__linux__)
    constexpr long kArchGetXcompPerm = 0x1022, kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) {
      reason = "the OS refused AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM failed)";
      return;
    }
    unsigned long perm = 0;
    if (syscall(SYS_arch_prctl, kArchGetXcompPerm, &perm) != 0 || ((perm >> kXfeatureXtiledata) & 1) == 0) {
      reason = "the OS did not grant AMX tile data (ARCH_GET_XCOMP_PERM)";
      return;
    }
    granted = true;
#else
    reason = "AMX needs Linux's ARCH_REQ_XCOMP_PERM";
#endif
  }
};

const AmxPermission& amxPermission() {
  static const AmxPermission p;
  return p;
}

}  // namespace

bool cpuHasAvx2() { return x86().avx2; }
bool cpuHasVnni512() { return x86().vnni512; }
bool cpuHasAmxInt8() { return x86().vnni512 && amxPermission().granted; }
std::string amxUnavailableReason() {
  if (!x86().amxCpu) return "CPU lacks amx_int8";
  if (!x86().vnni512) return "CPU lacks avx512_vnni (the AMX kernel's packers and epilogue)";
  return amxPermission().reason;
}
bool cpuHasNeonDot() { return false; }
bool cpuHasI8mm() { return false; }
const Kernel* neonKernel() { return nullptr; }
const Kernel* i8mmKernel() { return nullptr; }
#elif defined(QMM_ARM64)
bool cpuHasAvx2() { return false; }
bool cpuHasVnni512() { return false; }
bool cpuHasAmxInt8() { return false; }
std::string amxUnavailableReason() { return "CPU lacks amx_int8"; }
bool cpuHasNeonDot() { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
bool cpuHasI8mm() { return cpuHasNeonDot() && (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0; }
const Kernel* avx2Kernel() { return nullptr; }
const Kernel* vnni512Kernel() { return nullptr; }
const Kernel* amxKernel() { return nullptr; }
#else
bool cpuHasAvx2() { return false; }
bool cpuHasVnni512() { return false; }
bool cpuHasAmxInt8() { return false; }
std::string amxUnavailableReason() { return "CPU lacks amx_int8"; }
bool cpuHasNeonDot() { return false; }
bool cpuHasI8mm() { return false; }
const Kernel* avx2Kernel() { return nullptr; }
const Kernel* vnni512Kernel() { return nullptr; }
const Kernel* amxKernel() { return nullptr; }
const Kernel* neonKernel() { return nullptr; }
const Kernel* i8mmKernel() { return nullptr; }
#endif

namespace {

// Best first.
constexpr const char* kPreference[] = {"amx_int8", "vnni512", "i8mm", "neon", "avx2", "scalar"};

const char* canonical(const char* name) { return std::strcmp(name, "amx") == 0 ? "amx_int8" : name; }

const Kernel* usable(const char* requested) {
  const char* name = canonical(requested);
  if (std::strcmp(name, "scalar") == 0) return scalarKernel();
  if (std::strcmp(name, "avx2") == 0) return cpuHasAvx2() ? avx2Kernel() : nullptr;
  if (std::strcmp(name, "vnni512") == 0) return cpuHasVnni512() ? vnni512Kernel() : nullptr;
  if (std::strcmp(name, "amx_int8") == 0) return amxKernel() != nullptr && cpuHasAmxInt8() ? amxKernel() : nullptr;
  if (std::strcmp(name, "neon") == 0) return cpuHasNeonDot() ? neonKernel() : nullptr;
  if (std::strcmp(name, "i8mm") == 0) return cpuHasI8mm() ? i8mmKernel() : nullptr;
  return nullptr;
}

const Kernel* best() {
  for (const char* n : kPreference)
    if (const Kernel* k = usable(n)) return k;
  return scalarKernel();
}

// A CPU with AMX whose tiles the OS withholds: say so rather than silently run VNNI.
std::string amxPassedOver(const Kernel& chosen) {
  if (amxKernel() == nullptr || cpuHasAmxInt8() || std::strcmp(chosen.name, "amx_int8") == 0) return "";
  const std::string why = amxUnavailableReason();
  if (why.empty() || why.rfind("CPU lacks", 0) == 0) return "";
  return std::string("amx_int8 not used: ") + why;
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
        std::string why;
        if (std::strcmp(canonical(env), "amx_int8") == 0) why = " (" + amxUnavailableReason() + ")";
        st->note = std::string("QMM_KERNEL=") + env + " is not available on this CPU/build" + why + "; using " +
                   st->kernel->name;
      }
    } else {
      st->kernel = best();
      st->note = amxPassedOver(*st->kernel);
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

std::string activeNote() {
  State& s = state();
  std::lock_guard<std::mutex> g(s.m);
  return s.note;
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

std::string availableKernels() {
  std::string s;
  for (const char* n : kPreference) {
    if (usable(n) == nullptr) continue;
    if (!s.empty()) s += ",";
    s += n;
  }
  return s;
}

}  // namespace qmm::emu::kern
