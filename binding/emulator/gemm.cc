#include "gemm.h"

namespace qmm::emu {

namespace {

inline int32_t dot(const int8_t* a, const int8_t* b, int64_t k) {
  uint32_t acc = 0;  // unsigned: wraps without undefined behaviour
  for (int64_t i = 0; i < k; ++i) acc += static_cast<uint32_t>(static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]));
  return static_cast<int32_t>(acc);
}

}  // namespace

void gemmTile(const GemmTile& t) {
  for (int64_t i = 0; i < t.rows; ++i) {
    const int8_t* a = t.a + i * t.k;
    int32_t* c = t.c + i * t.ldc;
    for (int64_t j = 0; j < t.cols; ++j) c[j] = dot(a, t.b + j * t.k, t.k);
  }
}

const char* gemmKernelName() { return "portable"; }

}  // namespace qmm::emu
