// int8 x int8 -> int32 GEMM on packed panels: C[i][j] = sum_k A[i][k] * B[j][k],
// accumulating with two's-complement wrap (SPEC §8 decision).
#pragma once

#include <cstdint>

namespace qmm::emu {

struct GemmTile {
  const int8_t* a;  // rows m0.., row-major, leading dim k
  const int8_t* b;  // cols n0.., row-major (n, k)
  int64_t rows, cols, k;
  int32_t* c;       // rows x cols, leading dim ldc
  int64_t ldc;
};

void gemmTile(const GemmTile& t);

// Name of the kernel in use (for backendInfo / qmm info).
const char* gemmKernelName();

}  // namespace qmm::emu
