// AVX2 kernel (no VNNI). Compiled with -mavx2 -mbmi2 -mf16c; used when the
// CPU has AVX2 but not AVX-512 VNNI, or when QMM_KERNEL=avx2.
//
// Exactness: vpmaddubsw would saturate its int16 pair sums, so bytes are
// sign-extended to int16 and multiplied with vpmaddwd, whose int32 pair sums
// of int8 products cannot overflow; the int32 adds wrap like the device.
// Packed B is stored signed (bXor 0), so no row-sum correction is needed.
#include <immintrin.h>

#include <cstring>

#include "kernel.h"

namespace qmm::emu::kern {

namespace {

inline int32_t load32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// A's 4 bytes of group g as four int16, repeated over the register.
inline __m256i aPattern(const int8_t* p) {
  return _mm256_broadcastq_epi64(_mm_cvtepi8_epi16(_mm_cvtsi32_si128(load32(p))));
}

// acc lanes (per 4-column chunk q): [c0 t01, c0 t23, c1 t01, c1 t23, ...] -> 16 column sums.
inline void reduceStore(const __m256i acc[4], int32_t* c, bool accumulate) {
  __m256i lo = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[0], acc[1]), 0xD8);
  __m256i hi = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[2], acc[3]), 0xD8);
  if (accumulate) {
    lo = _mm256_add_epi32(lo, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c)));
    hi = _mm256_add_epi32(hi, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + 8)));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), lo);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 8), hi);
}

template <int MR>
inline void micro(const int8_t* a, int64_t lda, const int8_t* bp, int64_t groups, int32_t* c, int64_t ldc,
                  bool accumulate) {
  __m256i acc[MR][4];
  for (int i = 0; i < MR; ++i)
    for (int q = 0; q < 4; ++q) acc[i][q] = _mm256_setzero_si256();
  for (int64_t g = 0; g < groups; ++g) {
    __m256i av[MR];
    for (int i = 0; i < MR; ++i) av[i] = aPattern(a + i * lda + 4 * g);
    const int8_t* bg = bp + g * kGroupBytes;
    for (int q = 0; q < 4; ++q) {
      const __m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bg + 16 * q)));
      for (int i = 0; i < MR; ++i) acc[i][q] = _mm256_add_epi32(acc[i][q], _mm256_madd_epi16(b, av[i]));
    }
  }
  for (int i = 0; i < MR; ++i) reduceStore(acc[i], c + i * ldc, accumulate);
}

void gemmAvx2(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t bStride, int64_t panels,
              int64_t kc, int32_t* c, int64_t ldc, bool accumulate) {
  const int64_t groups = kc / 4;
  for (int64_t p = 0; p < panels; ++p) {
    const int8_t* bp = b + p * bStride;
    int64_t i = 0;
    for (; i + 2 <= rows; i += 2) micro<2>(a + i * lda, lda, bp, groups, c + i * ldc + p * 16, ldc, accumulate);
    if (i < rows) micro<1>(a + i * lda, lda, bp, groups, c + i * ldc + p * 16, ldc, accumulate);
  }
}

// Rows are k: interleave 4 rows of 16 bytes into [16 columns][4 k].
void packRowsNAvx2(const int8_t* src, int64_t ld, int64_t kRows, int64_t nCols, int64_t kc, int8_t* dst,
                   uint8_t bXor) {
  const __m128i x = _mm_set1_epi8(static_cast<char>(bXor));
  for (int64_t g = 0; g < kc / 4; ++g) {
    const int64_t k0 = 4 * g;
    __m128i r[4];
    for (int t = 0; t < 4; ++t) {
      if (k0 + t >= kRows) {
        r[t] = _mm_setzero_si128();
      } else if (nCols >= 16) {
        r[t] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + (k0 + t) * ld));
      } else {
        alignas(16) int8_t tmp[16] = {};
        for (int64_t j = 0; j < nCols; ++j) tmp[j] = src[(k0 + t) * ld + j];
        r[t] = _mm_load_si128(reinterpret_cast<const __m128i*>(tmp));
      }
    }
    const __m128i t0 = _mm_unpacklo_epi8(r[0], r[1]), t1 = _mm_unpackhi_epi8(r[0], r[1]);
    const __m128i t2 = _mm_unpacklo_epi8(r[2], r[3]), t3 = _mm_unpackhi_epi8(r[2], r[3]);
    int8_t* d = dst + g * kGroupBytes;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_xor_si128(_mm_unpacklo_epi16(t0, t2), x));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 16), _mm_xor_si128(_mm_unpackhi_epi16(t0, t2), x));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 32), _mm_xor_si128(_mm_unpacklo_epi16(t1, t3), x));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 48), _mm_xor_si128(_mm_unpackhi_epi16(t1, t3), x));
  }
}

// 8 rows x 8 dwords -> out[g] = dword g of each row.
inline void transpose8(const __m256i r[8], __m256i o[8]) {
  const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
  const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
  const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
  const __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
  const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
  o[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
  o[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
  o[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
  o[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
  o[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
  o[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
  o[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
  o[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

// Rows are n (16 of them), k in chunks of 32: two 8 x 8 dword transposes per chunk.
void packRowsKAvx2(const int8_t* src, int64_t ld, int64_t chunk, int64_t nRows, int64_t kCols, int64_t kc,
                   int8_t* dst, uint8_t bXor) {
  const __m256i x = _mm256_set1_epi8(static_cast<char>(bXor));
  for (int64_t k0 = 0; k0 < kc; k0 += 32) {
    const int8_t* s = src + (k0 / 32) * chunk;
    const int64_t valid = kCols - k0 < 32 ? (kCols - k0 < 0 ? 0 : kCols - k0) : 32;
    const int64_t groups = (kc - k0) / 4 < 8 ? (kc - k0) / 4 : 8;
    for (int h = 0; h < 2; ++h) {
      __m256i r[8], o[8];
      for (int q = 0; q < 8; ++q) {
        const int64_t row = 8 * h + q;
        if (row >= nRows || valid == 0) {
          r[q] = _mm256_setzero_si256();
        } else if (valid == 32) {
          r[q] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + row * ld));
        } else {
          alignas(32) int8_t tmp[32] = {};
          std::memcpy(tmp, s + row * ld, static_cast<size_t>(valid));
          r[q] = _mm256_load_si256(reinterpret_cast<const __m256i*>(tmp));
        }
      }
      transpose8(r, o);
      int8_t* d = dst + (k0 / 4) * kGroupBytes + 32 * h;
      for (int64_t gq = 0; gq < groups; ++gq)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + gq * kGroupBytes), _mm256_xor_si256(o[gq], x));
    }
  }
}

inline __m128i f16Fix(__m128i h, __m128i nan16, bool saturate) {
  const __m128i sign = _mm_and_si128(h, _mm_set1_epi16(static_cast<short>(0x8000)));
  h = _mm_blendv_epi8(h, _mm_or_si128(sign, _mm_set1_epi16(0x7e00)), nan16);
  if (saturate) {
    const __m128i inf = _mm_cmpeq_epi16(_mm_and_si128(h, _mm_set1_epi16(0x7fff)), _mm_set1_epi16(0x7c00));
    h = _mm_blendv_epi8(h, _mm_or_si128(sign, _mm_set1_epi16(0x7bff)), inf);
  }
  return h;
}

// 8 int32 NaN masks (all ones / zero) -> 8 int16 masks.
inline __m128i narrowMask(__m256 m) {
  const __m256i mi = _mm256_castps_si256(m);
  return _mm_packs_epi32(_mm256_castsi256_si128(mi), _mm256_extracti128_si256(mi, 1));
}

void epilogueAvx2(const EpiRow& e, const int32_t* acc, int64_t n0, int64_t n1, void* outRow) {
  const __m256i corr = _mm256_set1_epi32(e.corr);
  const __m256 pt = _mm256_set1_ps(e.pertoken);
  int64_t j = n0;
  for (; j + 8 <= n1; j += 8) {
    __m256i v = _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + (j - n0))), corr);
    if (e.biasI) v = _mm256_add_epi32(v, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(e.biasI + j)));
    switch (e.kind) {
      case EpiKind::Int32Out:
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(static_cast<int32_t*>(outRow) + j), v);
        break;
      case EpiKind::FixpipeF16: {
        const __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_loadu_ps(e.scale + j));
        __m128i h = _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        h = f16Fix(h, narrowMask(_mm256_cmp_ps(f, f, _CMP_UNORD_Q)), true);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(outRow) + j), h);
        break;
      }
      case EpiKind::FixpipeInt8: {
        const __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_loadu_ps(e.scale + j));
        const __m256 ordered = _mm256_cmp_ps(f, f, _CMP_ORD_Q);
        const __m256 cl = _mm256_min_ps(_mm256_max_ps(f, _mm256_set1_ps(-256.0f)), _mm256_set1_ps(255.0f));
        __m256i t = _mm256_and_si256(_mm256_cvtps_epi32(cl), _mm256_castps_si256(ordered));
        t = _mm256_add_epi32(t, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(e.offset + j)));
        t = _mm256_min_epi32(_mm256_max_epi32(t, _mm256_set1_epi32(-128)), _mm256_set1_epi32(127));
        alignas(32) int32_t tmp[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), t);
        for (int q = 0; q < 8; ++q) static_cast<int8_t*>(outRow)[j + q] = static_cast<int8_t>(tmp[q]);
        break;
      }
      case EpiKind::VectorBf16:
      case EpiKind::VectorF16: {
        __m256 r = _mm256_mul_ps(_mm256_cvtepi32_ps(v), _mm256_loadu_ps(e.scale + j));
        if (e.hasPertoken) r = _mm256_mul_ps(r, pt);
        if (e.biasF) r = _mm256_add_ps(r, _mm256_loadu_ps(e.biasF + j));
        const __m256 nan = _mm256_cmp_ps(r, r, _CMP_UNORD_Q);
        __m128i h;
        if (e.kind == EpiKind::VectorBf16) {
          const __m256i u = _mm256_castps_si256(r);
          const __m256i rounded = _mm256_srli_epi32(
              _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)),
                               _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1))),
              16);
          const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
          const __m256i sel = _mm256_blendv_epi8(rounded, quiet, _mm256_castps_si256(nan));
          // values are < 2^16: unsigned pack keeps them
          h = _mm_packus_epi32(_mm256_castsi256_si128(sel), _mm256_extracti128_si256(sel, 1));
        } else {
          h = _mm256_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
          h = f16Fix(h, narrowMask(nan), false);
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(static_cast<uint16_t*>(outRow) + j), h);
        break;
      }
    }
  }
  if (j < n1) epilogueScalar(e, acc + (j - n0), j, n1, outRow);
}

const Kernel kAvx2{"avx2", 0, 0, gemmAvx2, packRowsNAvx2, packRowsKAvx2, epilogueAvx2, nullptr, nullptr, 0};

}  // namespace

const Kernel* avx2Kernel() { return &kAvx2; }

}  // namespace qmm::emu::kern
