// Portable kernel: plain C++ on the packed layouts of kernel.h. It is the
// reference the vector kernels are compared against, and the fallback.
#include <cstring>

#include "kernel.h"

namespace qmm::emu::kern {

namespace {

void gemmScalar(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t bStride, int64_t panels,
                int64_t kc, int32_t* c, int64_t ldc, bool accumulate) {
  const int64_t groups = kc / 4;
  for (int64_t p = 0; p < panels; ++p) {
    const int8_t* bp = b + p * bStride;
    for (int64_t i = 0; i < rows; ++i) {
      const int8_t* ai = a + i * lda;
      uint32_t acc[kPanel];
      int32_t* ci = c + i * ldc + p * kPanel;
      for (int j = 0; j < kPanel; ++j) acc[j] = accumulate ? static_cast<uint32_t>(ci[j]) : 0u;
      for (int64_t g = 0; g < groups; ++g) {
        const int8_t* bg = bp + g * kGroupBytes;
        const int32_t a0 = ai[4 * g], a1 = ai[4 * g + 1], a2 = ai[4 * g + 2], a3 = ai[4 * g + 3];
        for (int j = 0; j < kPanel; ++j) {
          const int32_t s = a0 * bg[4 * j] + a1 * bg[4 * j + 1] + a2 * bg[4 * j + 2] + a3 * bg[4 * j + 3];
          acc[j] += static_cast<uint32_t>(s);  // unsigned: wraps without undefined behaviour
        }
      }
      for (int j = 0; j < kPanel; ++j) ci[j] = static_cast<int32_t>(acc[j]);
    }
  }
}

}  // namespace

void packRowsNPortable(const int8_t* src, int64_t ld, int64_t kRows, int64_t nCols, int64_t kc, int8_t* dst,
                     uint8_t bXor) {
  for (int64_t g = 0; g < kc / 4; ++g)
    for (int64_t c = 0; c < kPanel; ++c)
      for (int64_t t = 0; t < 4; ++t) {
        const int64_t kk = 4 * g + t;
        const int8_t v = (kk < kRows && c < nCols) ? src[kk * ld + c] : 0;
        dst[g * kGroupBytes + c * 4 + t] = static_cast<int8_t>(static_cast<uint8_t>(v) ^ bXor);
      }
}

void packRowsKPortable(const int8_t* src, int64_t ld, int64_t chunk, int64_t nRows, int64_t kCols, int64_t kc,
                     int8_t* dst, uint8_t bXor) {
  for (int64_t g = 0; g < kc / 4; ++g)
    for (int64_t c = 0; c < kPanel; ++c)
      for (int64_t t = 0; t < 4; ++t) {
        const int64_t kk = 4 * g + t;
        const int8_t v = (kk < kCols && c < nRows) ? src[(kk / 32) * chunk + c * ld + kk % 32] : 0;
        dst[g * kGroupBytes + c * 4 + t] = static_cast<int8_t>(static_cast<uint8_t>(v) ^ bXor);
      }
}

namespace {

const Kernel kScalar{"scalar", 0, 0, gemmScalar, packRowsNPortable, packRowsKPortable, epilogueScalar, nullptr, nullptr, 0};

}  // namespace

const Kernel* scalarKernel() { return &kScalar; }

}  // namespace qmm::emu::kern
