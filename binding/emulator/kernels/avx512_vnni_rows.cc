// AVX-512 VNNI GEMM straight from a weight stored as rows of k (an ND (n, k)
// weight passed as w.t()): Kernel::gemmRowsK of the vnni512 table, for decode
// shapes, where packing the weight would cost more than the product itself.
// Compiled with the flags of avx512_vnni.cc.
//
// C[i][j] is the dot product of A row i and B row j, both read along k 64
// bytes at a time: vpdpbusd multiplies B ^ 0x80 (= B + 128, unsigned) by A
// (signed) into 16 int32 lanes, summed once at the end. The +128 adds
// 128·rowsum(A), which the epilogue subtracts as for packed panels (corrMul
// 128); every sum wraps modulo 2^32, so the result is exact. A tile of R rows
// × C columns keeps R·C accumulators and loads R + C vectors per 64 bytes.
#include <immintrin.h>

#include <algorithm>

#include "kernel.h"

namespace qmm::emu::kern {

namespace {

constexpr int64_t kPrefetchBytes = 1024;  // ahead in each B row (measured: 0..4096 within noise; kept for DRAM-bound shapes)

// Rows at least this long pull the next column group into L2 ahead of use:
// what decode streams from DRAM (a model's weights do not fit in L3). Measured
// on Zen 4: S1's 11264-byte rows 15-20% faster, S6's 4096-byte rows from DRAM
// 15-20% faster and from L3 10-15% slower; 512-byte rows (S2, in L2) 10%
// slower, so short rows go without.
constexpr int64_t kLongRow = 2048;

inline __mmask64 firstBytes(int64_t n) { return n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1; }

// Sums the 16 lanes of each of `cnt` (<= 4) accumulators and writes (or adds)
// them to c[0..cnt): a transpose-and-add tree, 4 sums at a time.
inline void store4(const int32_t* v, int cnt, int32_t* c, bool accumulate) {
  const __m512i z = _mm512_setzero_si512();
  const __m512i a0 = _mm512_load_si512(v), a1 = cnt > 1 ? _mm512_load_si512(v + 16) : z;
  const __m512i a2 = cnt > 2 ? _mm512_load_si512(v + 32) : z, a3 = cnt > 3 ? _mm512_load_si512(v + 48) : z;
  // per 128-bit lane: [a0 a1 a0 a1] then [a0 a1 a2 a3] partial sums
  const __m512i s01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
  const __m512i s23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
  const __m512i t = _mm512_add_epi32(_mm512_unpacklo_epi64(s01, s23), _mm512_unpackhi_epi64(s01, s23));
  const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(t), _mm512_extracti64x4_epi64(t, 1));
  __m128i q = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  const __mmask8 m = static_cast<__mmask8>((1u << cnt) - 1u);
  if (accumulate) q = _mm_add_epi32(q, _mm_maskz_loadu_epi32(m, c));
  _mm_mask_storeu_epi32(c, m, q);
}

// Dot products over k in [k0, k1): whole 64-byte steps, or (Tail) one step
// of fewer bytes under a byte mask (masked-out A bytes are zero, so the 0x80
// of masked-out B bytes contributes nothing). The tail is a function of its
// own: with both loops in one body GCC spills the accumulators.
template <int R, int C, bool Tail>
void tile(const int8_t* a, int64_t lda, const int8_t* b, int64_t ldb, int64_t k0, int64_t k1, int32_t* c,
          int64_t ldc, bool accumulate, const int8_t* next, int nextRows) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const __mmask64 m = Tail ? firstBytes(k1 - k0) : ~__mmask64{0};
  __m512i acc[R * C];
#pragma GCC unroll 64
  for (int i = 0; i < R * C; ++i) acc[i] = _mm512_setzero_si512();
  for (int64_t kk = k0; kk < k1; kk += 64) {
    __m512i bv[C];
#pragma GCC unroll 8
    for (int j = 0; j < C; ++j) {
      const int8_t* bj = b + j * ldb + kk;
      if (!Tail) _mm_prefetch(reinterpret_cast<const char*>(bj + kPrefetchBytes), _MM_HINT_T0);
      if (j < nextRows) _mm_prefetch(reinterpret_cast<const char*>(next + j * ldb + kk), _MM_HINT_T1);
      bv[j] = _mm512_xor_si512(Tail ? _mm512_maskz_loadu_epi8(m, bj) : _mm512_loadu_si512(bj), flip);
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const int8_t* ai = a + i * lda + kk;
      const __m512i av = Tail ? _mm512_maskz_loadu_epi8(m, ai) : _mm512_loadu_si512(ai);
#pragma GCC unroll 8
      for (int j = 0; j < C; ++j) acc[i * C + j] = _mm512_dpbusd_epi32(acc[i * C + j], bv[j], av);
    }
  }
  // through memory: reducing straight from registers makes GCC spill inside the loop
  alignas(64) int32_t sums[R * C * 16];
#pragma GCC unroll 64
  for (int i = 0; i < R * C; ++i) _mm512_store_si512(sums + 16 * i, acc[i]);
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; j += 4) store4(sums + (i * C + j) * 16, C - j < 4 ? C - j : 4, c + i * ldc + j, accumulate);
}

using TileFn = void (*)(const int8_t*, int64_t, const int8_t*, int64_t, int64_t, int64_t, int32_t*, int64_t, bool,
                        const int8_t*, int);

constexpr int kMaxR = 6;
// Columns per tile for a strip of R rows: R·C accumulators + C B vectors + 1 A vector within 32 registers.
constexpr int kColsFor[kMaxR + 1] = {0, 8, 6, 6, 5, 4, 4};

template <int R, bool Tail>
constexpr TileFn tileOf(int cols) {
  switch (cols) {
    case 1: return &tile<R, 1, Tail>;
    case 2: return &tile<R, 2, Tail>;
    case 3: return &tile<R, 3, Tail>;
    case 4: return &tile<R, 4, Tail>;
    case 5: return &tile<R, 5, Tail>;
    case 6: return &tile<R, 6, Tail>;
    case 7: return &tile<R, 7, Tail>;
    default: return &tile<R, 8, Tail>;
  }
}

template <bool Tail>
TileFn tileFor(int rows, int cols) {
  switch (rows) {
    case 1: return tileOf<1, Tail>(cols);
    case 2: return tileOf<2, Tail>(cols);
    case 3: return tileOf<3, Tail>(cols);
    case 4: return tileOf<4, Tail>(cols);
    case 5: return tileOf<5, Tail>(cols);
    default: return tileOf<6, Tail>(cols);
  }
}

}  // namespace

// Column groups outer, row strips inner: a group's B rows (C × kc bytes) stay
// in L1/L2 while every strip of A passes over them, and the first strip pulls
// the next group's rows into L2 at the same k, a whole group ahead, when rows
// are long (kLongRow): such a weight streams from DRAM, and the hardware
// prefetchers stop at every 4 KiB page boundary of every row.
void gemmRowsKVnni(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t ldb, int64_t cols,
                   int64_t kc, int32_t* c, int64_t ldc, bool accumulate) {
  if (rows <= 0 || cols <= 0) return;
  if (kc <= 0) {  // an empty sum
    if (!accumulate)
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) c[i * ldc + j] = 0;
    return;
  }
  const int64_t nStrips = (rows + kMaxR - 1) / kMaxR;
  const int widest = static_cast<int>((rows + nStrips - 1) / nStrips);
  const int64_t group = kColsFor[widest], kFull = kc / 64 * 64;
  for (int64_t j0 = 0; j0 < cols; j0 += group) {
    const int nc = static_cast<int>(cols - j0 < group ? cols - j0 : group);
    int64_t r0 = 0;
    for (int64_t s = 0; s < nStrips; ++s) {
      const int nr = static_cast<int>((rows - r0) / (nStrips - s));
      const int8_t* as = a + r0 * lda;
      const int8_t* bs = b + j0 * ldb;
      int32_t* cs = c + r0 * ldc + j0;
      const int nextRows = s == 0 && kc >= kLongRow
                               ? static_cast<int>(std::min<int64_t>(group, std::max<int64_t>(0, cols - j0 - group)))
                               : 0;
      const int8_t* next = nextRows > 0 ? bs + group * ldb : nullptr;
      if (kFull > 0) tileFor<false>(nr, nc)(as, lda, bs, ldb, 0, kFull, cs, ldc, accumulate, next, nextRows);
      if (kc > kFull) tileFor<true>(nr, nc)(as, lda, bs, ldb, kFull, kc, cs, ldc, accumulate || kFull > 0, nullptr, 0);
      r0 += nr;
    }
  }
}

}  // namespace qmm::emu::kern
