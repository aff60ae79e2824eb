// AVX-512 VNNI kernel (vpdpbusd). Compiled with -mavx512f -mavx512bw
// -mavx512vl -mavx512vnni; only reached when cpuid says all of them are there.
//
// vpdpbusd multiplies unsigned bytes by signed bytes and adds groups of four
// products to int32 lanes without saturation. Packed B holds B+128 (bXor 0x80)
// as the unsigned operand, A stays signed (it is the broadcast operand), and
// the epilogue subtracts 128*rowsum(A): exact modulo 2^32, as required.
#include <immintrin.h>

#include <cstring>
#include <ctime>

#include "kernel.h"

namespace qmm::emu::kern {

// avx512_vnni_rows.cc
void gemmRowsKVnni(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t ldb, int64_t cols,
                   int64_t kc, int32_t* c, int64_t ldc, bool accumulate);

namespace {

inline int32_t load32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

constexpr int64_t kPrefetchGroups = 48;  // 3 KiB ahead in each panel (measured on Zen 4: 48 > 24, 96)
constexpr int kStreamRows4 = 2;          // rows up to which 4 panels stream side by side (more loads in flight)

// MR rows x NP panels (16 columns each), U interleaved k-group phases (more
// independent accumulator chains when MR*NP is small). groups % U == 0 (kc is
// a multiple of 16). Flat accumulator arrays and fully unrolled loops keep
// GCC from spilling them (a 3-D array of __m512i was kept on the stack).
template <int MR, int NP, int U>
inline void micro(const int8_t* a, int64_t lda, const int8_t* b0, int64_t bStride, int64_t groups, int32_t* c,
                  int64_t ldc, bool accumulate) {
  __m512i acc[NP * U * MR];
#pragma GCC unroll 128
  for (int i = 0; i < NP * U * MR; ++i) acc[i] = _mm512_setzero_si512();
  if (accumulate) {
#pragma GCC unroll 64
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int p = 0; p < NP; ++p) acc[p * U * MR + i] = _mm512_loadu_si512(c + i * ldc + p * 16);
  }
  for (int64_t g = 0; g < groups; g += U) {
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) {
      __m512i x[NP];
#pragma GCC unroll 8
      for (int p = 0; p < NP; ++p) {
        if ((NP <= 2 && MR <= 8) || MR <= kStreamRows4)  // decode (bandwidth-bound): pull the panel streams ahead of use
          _mm_prefetch(reinterpret_cast<const char*>(b0 + p * bStride + (g + u + kPrefetchGroups) * kGroupBytes), _MM_HINT_T0);
        x[p] = _mm512_loadu_si512(b0 + p * bStride + (g + u) * kGroupBytes);
      }
      const int8_t* ag = a + 4 * (g + u);
#pragma GCC unroll 64
      for (int i = 0; i < MR; ++i) {
        const __m512i av = _mm512_set1_epi32(load32(ag + i * lda));
#pragma GCC unroll 8
        for (int p = 0; p < NP; ++p) acc[p * U * MR + u * MR + i] = _mm512_dpbusd_epi32(acc[p * U * MR + u * MR + i], x[p], av);
      }
    }
  }
#pragma GCC unroll 64
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int p = 0; p < NP; ++p) {
      __m512i s = acc[p * U * MR + i];
#pragma GCC unroll 8
      for (int u = 1; u < U; ++u) s = _mm512_add_epi32(s, acc[p * U * MR + u * MR + i]);
      _mm512_storeu_si512(c + i * ldc + p * 16, s);
    }
}

template <int NP>
using MicroFn = void (*)(const int8_t*, int64_t, const int8_t*, int64_t, int64_t, int32_t*, int64_t, bool);

template <int NP, int MR>
constexpr MicroFn<NP> pick() {
  constexpr int chains = MR * NP;
  constexpr int U = chains >= 6 ? 1 : (chains >= 3 ? 2 : 4);
  return &micro<MR, NP, U>;
}

constexpr int kMaxMR4 = 6;   // 24 accumulators + 4 B registers
constexpr int kMaxMR2 = 12;  // 24 accumulators + 2 B registers
constexpr int kMaxMR1 = 24;  // 24 accumulators + 1 B register

const MicroFn<4> kMicro4[kMaxMR4 + 1] = {nullptr,      pick<4, 1>(), pick<4, 2>(), pick<4, 3>(),
                                         pick<4, 4>(), pick<4, 5>(), pick<4, 6>()};
const MicroFn<2> kMicro2[kMaxMR2 + 1] = {nullptr,          pick<2, 1>(),  pick<2, 2>(),  pick<2, 3>(),  pick<2, 4>(),
                                         pick<2, 5>(),     pick<2, 6>(),  pick<2, 7>(),  pick<2, 8>(),  pick<2, 9>(),
                                         pick<2, 10>(),    pick<2, 11>(), pick<2, 12>()};
const MicroFn<1> kMicro1[kMaxMR1 + 1] = {
    nullptr,       pick<1, 1>(),  pick<1, 2>(),  pick<1, 3>(),  pick<1, 4>(),  pick<1, 5>(),  pick<1, 6>(),
    pick<1, 7>(),  pick<1, 8>(),  pick<1, 9>(),  pick<1, 10>(), pick<1, 11>(), pick<1, 12>(), pick<1, 13>(),
    pick<1, 14>(), pick<1, 15>(), pick<1, 16>(), pick<1, 17>(), pick<1, 18>(), pick<1, 19>(), pick<1, 20>(),
    pick<1, 21>(), pick<1, 22>(), pick<1, 23>(), pick<1, 24>()};

// Splits `rows` into strips of at most `maxMR`, as even as possible.
template <typename F>
inline void strips(int64_t rows, int maxMR, F&& f) {
  const int64_t n = (rows + maxMR - 1) / maxMR;
  int64_t r0 = 0;
  for (int64_t s = 0; s < n; ++s) {
    const int64_t len = (rows - r0) / (n - s);
    f(r0, static_cast<int>(len));
    r0 += len;
  }
}

void gemmVnni(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t bStride, int64_t panels,
              int64_t kc, int32_t* c, int64_t ldc, bool accumulate) {
  const int64_t groups = kc / 4;
  int64_t p = 0;
  // many rows (prefill): 6 rows x 64 columns (4 B vectors, 6 broadcasts per
  // 24 vpdpbusd) measured ~8% faster than 12 x 32; 1 or 2 rows (decode):
  // 4 panels as 4 prefetched streams; 3 to 16 rows: 12 x 32 keeps a
  // 1024-deep panel pair in L1 across the row strips.
  if (rows > 16 || rows <= kStreamRows4)
    for (; p + 4 <= panels; p += 4)
      strips(rows, kMaxMR4, [&](int64_t r0, int mr) {
        kMicro4[mr](a + r0 * lda, lda, b + p * bStride, bStride, groups, c + r0 * ldc + p * 16, ldc, accumulate);
      });
  for (; p + 2 <= panels; p += 2)
    strips(rows, kMaxMR2, [&](int64_t r0, int mr) {
      kMicro2[mr](a + r0 * lda, lda, b + p * bStride, bStride, groups, c + r0 * ldc + p * 16, ldc, accumulate);
    });
  if (p < panels)
    strips(rows, kMaxMR1, [&](int64_t r0, int mr) {
      kMicro1[mr](a + r0 * lda, lda, b + p * bStride, bStride, groups, c + r0 * ldc + p * 16, ldc, accumulate);
    });
}

// ---------------------------------------------------------------- int4 panels

// Like micro, on int4 panels: each 64-byte vector holds two k-groups, the even
// one in the low nibbles and the odd one in the high nibbles, as B+8 (0..15,
// unsigned). S accumulator sets (2 when MR*NP is small: more chains).
template <int MR, int NP, int S>
inline void micro4(const int8_t* a, int64_t lda, const int8_t* b0, int64_t bStride, int64_t groups, int32_t* c,
                   int64_t ldc, bool accumulate) {
  __m512i c0[S * MR], c1[S * MR];
  const int8_t* b1 = b0 + bStride;
  const __m512i lowNibbles = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 64
  for (int i = 0; i < S * MR; ++i) {
    c0[i] = _mm512_setzero_si512();
    c1[i] = _mm512_setzero_si512();
  }
  if (accumulate) {
#pragma GCC unroll 64
    for (int i = 0; i < MR; ++i) {
      c0[i] = _mm512_loadu_si512(c + i * ldc);
      if (NP == 2) c1[i] = _mm512_loadu_si512(c + i * ldc + 16);
    }
  }
  for (int64_t g = 0; g < groups; g += 2) {
    const int8_t* bp0 = b0 + (g / 2) * kGroupBytes;
    const int8_t* bp1 = b1 + (g / 2) * kGroupBytes;
    if (NP <= 2 && MR <= 8) {
      _mm_prefetch(reinterpret_cast<const char*>(bp0 + kPrefetchGroups * kGroupBytes), _MM_HINT_T0);
      if (NP == 2) _mm_prefetch(reinterpret_cast<const char*>(bp1 + kPrefetchGroups * kGroupBytes), _MM_HINT_T0);
    }
    const __m512i v0 = _mm512_loadu_si512(bp0);
    const __m512i v1 = NP == 2 ? _mm512_loadu_si512(bp1) : v0;
    const __m512i e0 = _mm512_and_si512(v0, lowNibbles), o0 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), lowNibbles);
    const __m512i e1 = _mm512_and_si512(v1, lowNibbles), o1 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), lowNibbles);
    const int8_t* ag = a + 4 * g;
#pragma GCC unroll 64
    for (int i = 0; i < MR; ++i) {
      const __m512i ae = _mm512_set1_epi32(load32(ag + i * lda));
      const __m512i ao = _mm512_set1_epi32(load32(ag + i * lda + 4));
      c0[i] = _mm512_dpbusd_epi32(c0[i], e0, ae);
      if (NP == 2) c1[i] = _mm512_dpbusd_epi32(c1[i], e1, ae);
      c0[(S - 1) * MR + i] = _mm512_dpbusd_epi32(c0[(S - 1) * MR + i], o0, ao);
      if (NP == 2) c1[(S - 1) * MR + i] = _mm512_dpbusd_epi32(c1[(S - 1) * MR + i], o1, ao);
    }
  }
#pragma GCC unroll 64
  for (int i = 0; i < MR; ++i) {
    __m512i s0 = c0[i], s1 = c1[i];
    if (S == 2) {
      s0 = _mm512_add_epi32(s0, c0[MR + i]);
      s1 = _mm512_add_epi32(s1, c1[MR + i]);
    }
    _mm512_storeu_si512(c + i * ldc, s0);
    if (NP == 2) _mm512_storeu_si512(c + i * ldc + 16, s1);
  }
}

template <int NP, int MR>
constexpr MicroFn<NP> pick4() {
  return &micro4<MR, NP, (MR * NP >= 6 ? 1 : 2)>;
}

constexpr int kMaxMR2i4 = 10;  // 20 accumulators + 6 B registers
constexpr int kMaxMR1i4 = 20;

const MicroFn<2> kMicro2i4[kMaxMR2i4 + 1] = {nullptr,       pick4<2, 1>(), pick4<2, 2>(), pick4<2, 3>(),
                                             pick4<2, 4>(), pick4<2, 5>(), pick4<2, 6>(), pick4<2, 7>(),
                                             pick4<2, 8>(), pick4<2, 9>(), pick4<2, 10>()};
const MicroFn<1> kMicro1i4[kMaxMR1i4 + 1] = {
    nullptr,        pick4<1, 1>(),  pick4<1, 2>(),  pick4<1, 3>(),  pick4<1, 4>(),  pick4<1, 5>(),  pick4<1, 6>(),
    pick4<1, 7>(),  pick4<1, 8>(),  pick4<1, 9>(),  pick4<1, 10>(), pick4<1, 11>(), pick4<1, 12>(), pick4<1, 13>(),
    pick4<1, 14>(), pick4<1, 15>(), pick4<1, 16>(), pick4<1, 17>(), pick4<1, 18>(), pick4<1, 19>(), pick4<1, 20>()};

void gemm4Vnni(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t bStride, int64_t panels,
               int64_t kc, int32_t* c, int64_t ldc, bool accumulate) {
  const int64_t groups = kc / 4;
  int64_t p = 0;
  for (; p + 2 <= panels; p += 2)
    strips(rows, kMaxMR2i4, [&](int64_t r0, int mr) {
      kMicro2i4[mr](a + r0 * lda, lda, b + p * bStride, bStride, groups, c + r0 * ldc + p * 16, ldc, accumulate);
    });
  if (p < panels)
    strips(rows, kMaxMR1i4, [&](int64_t r0, int mr) {
      kMicro1i4[mr](a + r0 * lda, lda, b + p * bStride, bStride, groups, c + r0 * ldc + p * 16, ldc, accumulate);
    });
}

// ---------------------------------------------------------------- packing

inline __mmask16 colMask(int64_t nCols) {
  return nCols >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << nCols) - 1u);
}

// Rows are k: interleave 4 rows of 16 bytes into [16 columns][4 k].
void packRowsNVnni(const int8_t* src, int64_t ld, int64_t kRows, int64_t nCols, int64_t kc, int8_t* dst,
                   uint8_t bXor) {
  const __mmask16 cm = colMask(nCols);
  const __m128i x = _mm_set1_epi8(static_cast<char>(bXor));
  const __m128i z = _mm_setzero_si128();
  for (int64_t g = 0; g < kc / 4; ++g) {
    const int64_t k0 = 4 * g;
    if (k0 + 36 < kRows) {  // the rows 8 groups ahead
      for (int t = 0; t < 4; ++t) _mm_prefetch(reinterpret_cast<const char*>(src + (k0 + 32 + t) * ld), _MM_HINT_T0);
    }
    __m128i r[4];
    for (int t = 0; t < 4; ++t)
      r[t] = k0 + t < kRows ? _mm_maskz_loadu_epi8(cm, src + (k0 + t) * ld) : z;
    const __m128i t0 = _mm_unpacklo_epi8(r[0], r[1]), t1 = _mm_unpackhi_epi8(r[0], r[1]);
    const __m128i t2 = _mm_unpacklo_epi8(r[2], r[3]), t3 = _mm_unpackhi_epi8(r[2], r[3]);
    int8_t* d = dst + g * kGroupBytes;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d), _mm_xor_si128(_mm_unpacklo_epi16(t0, t2), x));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 16), _mm_xor_si128(_mm_unpackhi_epi16(t0, t2), x));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 32), _mm_xor_si128(_mm_unpacklo_epi16(t1, t3), x));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 48), _mm_xor_si128(_mm_unpackhi_epi16(t1, t3), x));
  }
}

// Rows are n (16 of them), k in chunks of 32: a 16 x 8 dword transpose per chunk.
void packRowsKVnni(const int8_t* src, int64_t ld, int64_t chunk, int64_t nRows, int64_t kCols, int64_t kc,
                   int8_t* dst, uint8_t bXor) {
  const __m512i x = _mm512_set1_epi8(static_cast<char>(bXor));
  const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
  const __m512i hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
  const __m256i z = _mm256_setzero_si256();
  for (int64_t k0 = 0; k0 < kc; k0 += 32) {
    const int8_t* s = src + (k0 / 32) * chunk;
    const int64_t valid = kCols - k0;  // bytes of each row inside k
    const __mmask32 km = valid >= 32 ? 0xFFFFFFFFu : (valid <= 0 ? 0u : static_cast<__mmask32>((1ull << valid) - 1));
    __m512i r[8];
    for (int q = 0; q < 8; ++q) {
      const __m256i r0 = q < nRows ? _mm256_maskz_loadu_epi8(km, s + q * ld) : z;
      const __m256i r1 = q + 8 < nRows ? _mm256_maskz_loadu_epi8(km, s + (q + 8) * ld) : z;
      r[q] = _mm512_inserti64x4(_mm512_castsi256_si512(r0), r1, 1);
    }
    const __m512i t0 = _mm512_unpacklo_epi32(r[0], r[1]), t1 = _mm512_unpackhi_epi32(r[0], r[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(r[2], r[3]), t3 = _mm512_unpackhi_epi32(r[2], r[3]);
    const __m512i t4 = _mm512_unpacklo_epi32(r[4], r[5]), t5 = _mm512_unpackhi_epi32(r[4], r[5]);
    const __m512i t6 = _mm512_unpacklo_epi32(r[6], r[7]), t7 = _mm512_unpackhi_epi32(r[6], r[7]);
    const __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
    const __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
    const __m512i u4 = _mm512_unpacklo_epi64(t4, t6), u5 = _mm512_unpackhi_epi64(t4, t6);
    const __m512i u6 = _mm512_unpacklo_epi64(t5, t7), u7 = _mm512_unpackhi_epi64(t5, t7);
    const __m512i o[8] = {_mm512_permutex2var_epi64(u0, lo, u4), _mm512_permutex2var_epi64(u1, lo, u5),
                          _mm512_permutex2var_epi64(u2, lo, u6), _mm512_permutex2var_epi64(u3, lo, u7),
                          _mm512_permutex2var_epi64(u0, hi, u4), _mm512_permutex2var_epi64(u1, hi, u5),
                          _mm512_permutex2var_epi64(u2, hi, u6), _mm512_permutex2var_epi64(u3, hi, u7)};
    int8_t* d = dst + (k0 / 4) * kGroupBytes;
    const int64_t groups = (kc - k0) / 4 < 8 ? (kc - k0) / 4 : 8;
    for (int64_t gq = 0; gq < groups; ++gq) _mm512_storeu_si512(d + gq * kGroupBytes, _mm512_xor_si512(o[gq], x));
  }
}

// ---------------------------------------------------------------- epilogue

inline __m256i f16Fix(__m256i h, __mmask16 nan, bool saturate) {
  const __m256i sign = _mm256_and_si256(h, _mm256_set1_epi16(static_cast<short>(0x8000)));
  h = _mm256_mask_blend_epi16(nan, h, _mm256_or_si256(sign, _mm256_set1_epi16(0x7e00)));
  if (saturate) {
    const __mmask16 inf =
        _mm256_cmpeq_epi16_mask(_mm256_and_si256(h, _mm256_set1_epi16(0x7fff)), _mm256_set1_epi16(0x7c00));
    h = _mm256_mask_blend_epi16(inf, h, _mm256_or_si256(sign, _mm256_set1_epi16(0x7bff)));
  }
  return h;
}

void epilogueVnni(const EpiRow& e, const int32_t* acc, int64_t n0, int64_t n1, void* outRow) {
  const __m512i corr = _mm512_set1_epi32(e.corr);
  const __m512 pt = _mm512_set1_ps(e.pertoken);
  for (int64_t j = n0; j < n1; j += 16) {
    const int64_t left = n1 - j;
    const __mmask16 m = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
    __m512i v = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(m, acc + (j - n0)), corr);
    if (e.biasI) v = _mm512_add_epi32(v, _mm512_maskz_loadu_epi32(m, e.biasI + j));
    switch (e.kind) {
      case EpiKind::Int32Out:
        _mm512_mask_storeu_epi32(static_cast<int32_t*>(outRow) + j, m, v);
        break;
      case EpiKind::FixpipeF16: {
        const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_maskz_loadu_ps(m, e.scale + j));
        __m256i h = _mm512_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        h = f16Fix(h, _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q), true);
        _mm256_mask_storeu_epi16(static_cast<uint16_t*>(outRow) + j, m, h);
        break;
      }
      case EpiKind::FixpipeInt8: {
        const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_maskz_loadu_ps(m, e.scale + j));
        const __mmask16 nan = _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q);
        const __m512 cl = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps(-256.0f)), _mm512_set1_ps(255.0f));
        __m512i t = _mm512_cvt_roundps_epi32(cl, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        t = _mm512_maskz_mov_epi32(static_cast<__mmask16>(~nan), t);
        t = _mm512_add_epi32(t, _mm512_maskz_loadu_epi32(m, e.offset + j));
        t = _mm512_min_epi32(_mm512_max_epi32(t, _mm512_set1_epi32(-128)), _mm512_set1_epi32(127));
        _mm_mask_storeu_epi8(static_cast<int8_t*>(outRow) + j, m, _mm512_cvtepi32_epi8(t));
        break;
      }
      case EpiKind::VectorBf16:
      case EpiKind::VectorF16: {
        __m512 r = _mm512_mul_ps(_mm512_cvtepi32_ps(v), _mm512_maskz_loadu_ps(m, e.scale + j));
        if (e.hasPertoken) r = _mm512_mul_ps(r, pt);
        if (e.biasF) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, e.biasF + j));
        const __mmask16 nan = _mm512_cmp_ps_mask(r, r, _CMP_UNORD_Q);
        __m256i h;
        if (e.kind == EpiKind::VectorBf16) {
          const __m512i u = _mm512_castps_si512(r);
          const __m512i rounded = _mm512_srli_epi32(
              _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)),
                               _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1))),
              16);
          const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
          h = _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, quiet));
        } else {
          h = _mm512_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
          h = f16Fix(h, nan, false);
        }
        _mm256_mask_storeu_epi16(static_cast<uint16_t*>(outRow) + j, m, h);
        break;
      }
    }
  }
}

// ---------------------------------------------------------------- probe

double nowSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Sustained vpdpbusd throughput on this thread: 10 independent chains, kept
// in registers (an asm barrier per step would add a register copy).
double probeVnni(double seconds) {
  __m512i c[10];
#pragma GCC unroll 16
  for (int i = 0; i < 10; ++i) c[i] = _mm512_set1_epi32(i);
  const __m512i b = _mm512_set1_epi8(3);
  __m512i a = _mm512_set1_epi8(-5);
  __asm__ volatile("" : "+v"(a));  // not a constant the compiler could fold
  const double t0 = nowSeconds();
  int64_t iters = 0;
  double el = 0;
  do {
    for (int r = 0; r < 65536; ++r) {
#pragma GCC unroll 16
      for (int i = 0; i < 10; ++i) c[i] = _mm512_dpbusd_epi32(c[i], b, a);
    }
    iters += 65536;
    el = nowSeconds() - t0;
  } while (el < seconds);
  __m512i s = c[0];
#pragma GCC unroll 16
  for (int i = 1; i < 10; ++i) s = _mm512_add_epi32(s, c[i]);
  volatile int sink = _mm512_reduce_add_epi32(s);
  (void)sink;
  return static_cast<double>(iters) * 10 * 64 * 2 / el / 1e9;
}

const Kernel kVnni{"vnni512", 0x80, 128, gemmVnni, packRowsNVnni, packRowsKVnni, epilogueVnni, probeVnni, gemm4Vnni, 8,
                   gemmRowsKVnni, 128};

}  // namespace

const Kernel* vnni512Kernel() { return &kVnni; }

}  // namespace qmm::emu::kern
