// The emulator's kernel choice and the machine probes, as plain C++ for the
// N-API layer to expose to JavaScript (binding/emulator_hooks.cc). Nothing
// here depends on N-API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace qmm::emu {

// Kernel in use ("amx_int8", "vnni512", "avx2", "i8mm", "neon", "scalar"), the note explaining a
// QMM_KERNEL fallback ("" if none), and a switch (false when unavailable;
// packs already made for the previous kernel are replaced at their next use).
std::string kernelName();
std::string kernelNote();
bool kernelSelect(const std::string& name);
// Comma-separated kernels this CPU and build can run, best first.
std::string kernelsAvailable();

// Machine probes for the benchmark: sustained int8 dot-product throughput of
// the active kernel on all compute threads (GOPS, multiply and add counted
// separately; 0 when the kernel has no probe), and DRAM read bandwidth with
// all compute threads streaming a buffer of `bytes` (GB/s).
double probeKernelPeakGops(double seconds);
double probeDramReadGBps(size_t bytes, int repeats);

}  // namespace qmm::emu
