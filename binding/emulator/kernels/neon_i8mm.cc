// aarch64 kernel with the int8 matrix-multiply extension (SMMLA, Armv8.6-A
// FEAT_I8MM, optional from Armv8.2-A). Compiled with
// -march=armv8.2-a+dotprod+i8mm; only used when getauxval(AT_HWCAP2) has
// HWCAP2_I8MM (Graviton 3/4, Neoverse V1/N2, newer Kunpeng).
//
// SMMLA multiplies a 2x8 matrix of signed bytes (two rows of A, 8 k) by an
// 8x2 one (two columns of B, 8 k each) and adds the 2x2 int32 result to an
// accumulator, wrapping (docs/semantics.md §8): exact with bXor 0 and no
// correction. The packed panels of kernel.h hold 4 k per column per group;
// zipping the 32-bit lanes of two consecutive groups gives [col c: 8 k,
// col c+1: 8 k], the B operand, so the panels need no layout of their own.
// An accumulator holds [r0c0, r0c1, r1c0, r1c1] for a row pair and a column
// pair.
#include <arm_neon.h>

#include "kernel.h"

namespace qmm::emu::kern {

namespace {

// Rows 2*RP (the last one possibly absent: `rows` = 2*RP - 1) x one panel.
template <int RP>
inline void micro(const int8_t* a, int64_t lda, int rows, const int8_t* bp, int64_t groups, int32_t* c, int64_t ldc,
                  bool accumulate) {
  const int8_t* ar[2 * RP];
  for (int r = 0; r < 2 * RP; ++r) ar[r] = a + (r < rows ? r : rows - 1) * lda;  // an absent row repeats the last
  int32x4_t acc[RP][8];
  for (int i = 0; i < RP; ++i) {
    const int32_t* c0 = c + (2 * i) * ldc;
    const int32_t* c1 = c + (2 * i + 1) * ldc;
    const bool has1 = 2 * i + 1 < rows;
    for (int j = 0; j < 8; ++j) {
      if (!accumulate) {
        acc[i][j] = vdupq_n_s32(0);
      } else {
        const int32x2_t top = vld1_s32(c0 + 2 * j);
        acc[i][j] = vcombine_s32(top, has1 ? vld1_s32(c1 + 2 * j) : vdup_n_s32(0));
      }
    }
  }
  for (int64_t g = 0; g < groups; g += 4) {  // 16 k: two SMMLA depths
    int8x16_t aLo[RP], aHi[RP];
    for (int i = 0; i < RP; ++i) {
      const int64x2_t r0 = vreinterpretq_s64_s8(vld1q_s8(ar[2 * i] + 4 * g));
      const int64x2_t r1 = vreinterpretq_s64_s8(vld1q_s8(ar[2 * i + 1] + 4 * g));
      aLo[i] = vreinterpretq_s8_s64(vzip1q_s64(r0, r1));  // k 0..7 of both rows
      aHi[i] = vreinterpretq_s8_s64(vzip2q_s64(r0, r1));  // k 8..15
    }
    const int8_t* bg = bp + g * kGroupBytes;
#define QMM_I8MM_HALF(H, AOP)                                                                      \
  for (int q = 0; q < 4; ++q) {                                                                    \
    const int32x4_t x = vreinterpretq_s32_s8(vld1q_s8(bg + (2 * (H)) * kGroupBytes + 16 * q));     \
    const int32x4_t y = vreinterpretq_s32_s8(vld1q_s8(bg + (2 * (H) + 1) * kGroupBytes + 16 * q)); \
    const int8x16_t b0 = vreinterpretq_s8_s32(vzip1q_s32(x, y));                                   \
    const int8x16_t b1 = vreinterpretq_s8_s32(vzip2q_s32(x, y));                                   \
    for (int i = 0; i < RP; ++i) {                                                                 \
      acc[i][2 * q] = vmmlaq_s32(acc[i][2 * q], AOP[i], b0);                                       \
      acc[i][2 * q + 1] = vmmlaq_s32(acc[i][2 * q + 1], AOP[i], b1);                               \
    }                                                                                              \
  }
    QMM_I8MM_HALF(0, aLo)
    QMM_I8MM_HALF(1, aHi)
#undef QMM_I8MM_HALF
  }
  for (int i = 0; i < RP; ++i) {
    int32_t* c0 = c + (2 * i) * ldc;
    int32_t* c1 = c + (2 * i + 1) * ldc;
    const bool has1 = 2 * i + 1 < rows;
    for (int j = 0; j < 8; ++j) {
      vst1_s32(c0 + 2 * j, vget_low_s32(acc[i][j]));
      if (has1) vst1_s32(c1 + 2 * j, vget_high_s32(acc[i][j]));
    }
  }
}

void gemmI8mm(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t bStride, int64_t panels,
              int64_t kc, int32_t* c, int64_t ldc, bool accumulate) {
  const int64_t groups = kc / 4;
  for (int64_t p = 0; p < panels; ++p) {
    const int8_t* bp = b + p * bStride;
    int64_t i = 0;
    for (; i + 4 <= rows; i += 4) micro<2>(a + i * lda, lda, 4, bp, groups, c + i * ldc + p * 16, ldc, accumulate);
    const int left = static_cast<int>(rows - i);
    if (left > 2) micro<2>(a + i * lda, lda, left, bp, groups, c + i * ldc + p * 16, ldc, accumulate);
    else if (left > 0) micro<1>(a + i * lda, lda, left, bp, groups, c + i * ldc + p * 16, ldc, accumulate);
  }
}

const Kernel kI8mm{"i8mm", 0, 0, gemmI8mm, packRowsNPortable, packRowsKPortable, epilogueScalar, nullptr, nullptr, 0};

}  // namespace

const Kernel* i8mmKernel() { return &kI8mm; }

}  // namespace qmm::emu::kern
