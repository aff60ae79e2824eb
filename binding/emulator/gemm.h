// The int8 x int8 -> int32 GEMM is implemented by the kernels in kernels/
// (run-time ISA dispatch, kernels/kernel.h) and driven by quant_matmul.cc.
#pragma once

#include <string>

namespace qmm::emu {

// Name of the kernel in use (for backendInfo / qmm info), with the reason
// when QMM_KERNEL asked for one this CPU or build lacks.
std::string gemmKernelName();

}  // namespace qmm::emu
