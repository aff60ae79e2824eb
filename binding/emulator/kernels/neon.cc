// aarch64 NEON kernel with the dot-product extension (SDOT, Armv8.2-A
// FEAT_DotProd). Compiled with -march=armv8.2-a+dotprod; only used when
// getauxval(AT_HWCAP) has HWCAP_ASIMDDP.
//
// SDOT multiplies signed bytes by signed bytes and adds groups of four into
// int32 lanes, wrapping: exact without any correction (bXor 0). One packed
// group of 64 bytes is four vectors of 4 columns x 4 k; a row of A supplies
// four k-groups per 16-byte load, selected by lane.
#include <arm_neon.h>

#include "kernel.h"

namespace qmm::emu::kern {

namespace {

template <int MR>
inline void micro(const int8_t* a, int64_t lda, const int8_t* bp, int64_t groups, int32_t* c, int64_t ldc,
                  bool accumulate) {
  int32x4_t acc[MR][4];
  for (int i = 0; i < MR; ++i)
    for (int q = 0; q < 4; ++q) acc[i][q] = accumulate ? vld1q_s32(c + i * ldc + 4 * q) : vdupq_n_s32(0);
  for (int64_t g = 0; g < groups; g += 4) {
    int8x16_t av[MR];
    for (int i = 0; i < MR; ++i) av[i] = vld1q_s8(a + i * lda + 4 * g);
    const int8_t* bg = bp + g * kGroupBytes;
#define QMM_NEON_STEP(L)                                                                   \
  {                                                                                        \
    const int8x16_t b0 = vld1q_s8(bg + (L)*kGroupBytes), b1 = vld1q_s8(bg + (L)*kGroupBytes + 16); \
    const int8x16_t b2 = vld1q_s8(bg + (L)*kGroupBytes + 32), b3 = vld1q_s8(bg + (L)*kGroupBytes + 48); \
    for (int i = 0; i < MR; ++i) {                                                         \
      acc[i][0] = vdotq_laneq_s32(acc[i][0], b0, av[i], L);                                \
      acc[i][1] = vdotq_laneq_s32(acc[i][1], b1, av[i], L);                                \
      acc[i][2] = vdotq_laneq_s32(acc[i][2], b2, av[i], L);                                \
      acc[i][3] = vdotq_laneq_s32(acc[i][3], b3, av[i], L);                                \
    }                                                                                      \
  }
    QMM_NEON_STEP(0)
    QMM_NEON_STEP(1)
    QMM_NEON_STEP(2)
    QMM_NEON_STEP(3)
#undef QMM_NEON_STEP
  }
  for (int i = 0; i < MR; ++i)
    for (int q = 0; q < 4; ++q) vst1q_s32(c + i * ldc + 4 * q, acc[i][q]);
}

void gemmNeon(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t bStride, int64_t panels,
              int64_t kc, int32_t* c, int64_t ldc, bool accumulate) {
  const int64_t groups = kc / 4;
  for (int64_t p = 0; p < panels; ++p) {
    const int8_t* bp = b + p * bStride;
    int64_t i = 0;
    for (; i + 4 <= rows; i += 4) micro<4>(a + i * lda, lda, bp, groups, c + i * ldc + p * 16, ldc, accumulate);
    switch (rows - i) {
      case 3: micro<3>(a + i * lda, lda, bp, groups, c + i * ldc + p * 16, ldc, accumulate); break;
      case 2: micro<2>(a + i * lda, lda, bp, groups, c + i * ldc + p * 16, ldc, accumulate); break;
      case 1: micro<1>(a + i * lda, lda, bp, groups, c + i * ldc + p * 16, ldc, accumulate); break;
      default: break;
    }
  }
}

const Kernel kNeon{"neon", 0, 0, gemmNeon, packRowsNPortable, packRowsKPortable, epilogueScalar, nullptr, nullptr, 0};

}  // namespace

const Kernel* neonKernel() { return &kNeon; }

}  // namespace qmm::emu::kern
