#include "operand.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "numerics.h"

namespace qmm::emu {

int64_t batchCount(const TensorArg& t) {
  int64_t c = 1;
  for (int i = 0; i + 2 < t.rank(); ++i) c *= t.shape[i];
  return c;
}

int64_t batchOffset(const TensorArg& t, int64_t b) {
  if (t.format == Format::FractalNZ) {
    // storage (..., c1, r1, 16, c0): batches are the leading storage dims
    const size_t nd = t.storageShape.size();
    int64_t per = 1;
    for (size_t i = nd - 4; i < nd; ++i) per *= t.storageShape[i];
    return b * per;
  }
  int64_t off = t.offset;
  for (int i = t.rank() - 3; i >= 0; --i) {
    const int64_t idx = b % t.shape[i];
    b /= t.shape[i];
    off += idx * t.strides[i];
  }
  return off;
}

int64_t nzC0ForMatmul(DType d) { return d == DType::Int32 ? 8 : 32; }

namespace {

// Physical ND element (r, c) of an NZ batch starting at `base` (docs/semantics.md §5.1):
// NZ[c1][r1][r0][c0] = A[r1*16 + r0][c1*C0 + c0].
template <typename T>
inline T nzAt(const T* data, int64_t base, int64_t rows1, int64_t c0, int64_t r, int64_t c) {
  return data[base + ((c / c0) * rows1 + r / 16) * 16 * c0 + (r % 16) * c0 + c % c0];
}

// Logical element (r, c) of x2's view, ND or NZ.
struct X2Reader {
  const TensorArg& t;
  bool transposed;
  int64_t base;
  int64_t rows1 = 0, c0 = 0;

  X2Reader(const TensorArg& tt, bool tr, int64_t b) : t(tt), transposed(tr), base(batchOffset(tt, b)) {
    if (t.format == Format::FractalNZ) {
      const size_t nd = t.storageShape.size();
      rows1 = t.storageShape[nd - 3];
      c0 = t.storageShape[nd - 1];
    }
  }

  template <typename T>
  T at(int64_t r, int64_t c) const {
    const T* data = t.hostData<T>();
    if (t.format == Format::FractalNZ) {
      // a transposed NZ view (r, c) reads physical (c, r)
      return transposed ? nzAt(data, base, rows1, c0, c, r) : nzAt(data, base, rows1, c0, r, c);
    }
    const int nd = t.rank();
    return data[base + r * t.strides[nd - 2] + c * t.strides[nd - 1]];
  }

  // Logical int8 (or unpacked int4) element (kk, j) of the (k, n) matrix.
  int8_t value(bool int4, int64_t kk, int64_t j) const {
    if (!int4) return at<int8_t>(kk, j);
    // transposed: view (k/8, n) of (n, k/8), packed along k; else view (k, n/8), packed along n (docs/semantics.md §1.3)
    const int32_t w = transposed ? at<int32_t>(kk / 8, j) : at<int32_t>(kk, j / 8);
    return static_cast<int8_t>(num::int4At(w, static_cast<int>(transposed ? kk % 8 : j % 8)));
  }
};

}  // namespace

void packARows(const TensorArg& x1, bool int4, int64_t b, int64_t m, int64_t k, int64_t lda, int64_t r0, int64_t r1,
               int8_t* dst, int32_t* rowSum) {
  (void)m;
  const int64_t base = batchOffset(x1, b);
  const int nd = x1.rank();
  const int64_t sr = x1.strides[nd - 2], sc = x1.strides[nd - 1];
  if (int4) {
    const int32_t* data = x1.hostData<int32_t>();
    for (int64_t i = r0; i < r1; ++i) {
      int8_t* d = dst + i * lda;
      for (int64_t kk = 0; kk < k; kk += 8) {
        const uint32_t w = static_cast<uint32_t>(data[base + i * sr + (kk / 8) * sc]);
        for (int t = 0; t < 8; ++t) {
          const int32_t v = (w >> (4 * t)) & 0xF;
          d[kk + t] = static_cast<int8_t>(v >= 8 ? v - 16 : v);
        }
      }
    }
  } else {
    const int8_t* data = x1.hostData<int8_t>();
    if (sc == 1) {
      for (int64_t i = r0; i < r1; ++i) std::memcpy(dst + i * lda, data + base + i * sr, static_cast<size_t>(k));
    } else {
      constexpr int64_t kB = 64;  // blocked transpose keeps both sides in cache
      for (int64_t k0 = 0; k0 < k; k0 += kB)
        for (int64_t i0 = r0; i0 < r1; i0 += kB)
          for (int64_t kk = k0; kk < k && kk < k0 + kB; ++kk)
            for (int64_t i = i0; i < r1 && i < i0 + kB; ++i) dst[i * lda + kk] = data[base + i * sr + kk * sc];
    }
  }
  for (int64_t i = r0; i < r1; ++i) {
    int8_t* d = dst + i * lda;
    if (lda > k) std::memset(d + k, 0, static_cast<size_t>(lda - k));
    rowSum[i] = rowSumOf(d, k);
  }
}

int32_t rowSumOf(const int8_t* row, int64_t k) {
  uint32_t s = 0;
  int64_t kk = 0;
#if defined(__SSE2__)
  // psadbw sums 8 unsigned bytes at a time: sum(x) = sum(x ^ 0x80) - 128 per byte, modulo 2^32
  const __m128i flip = _mm_set1_epi8(static_cast<char>(0x80)), zero = _mm_setzero_si128();
  __m128i acc = zero;
  for (; kk + 16 <= k; kk += 16)
    acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + kk)), flip), zero));
  s = static_cast<uint32_t>(_mm_cvtsi128_si64(acc) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc))) -
      static_cast<uint32_t>(kk) * 128u;
#endif
  for (; kk < k; ++kk) s += static_cast<uint32_t>(static_cast<int32_t>(row[kk]));
  return static_cast<int32_t>(s);
}

bool x1ReadInPlace(const TensorArg& x1, bool int4, int64_t k) {
  return !int4 && k % kern::kKAlign == 0 && x1.strides[x1.rank() - 1] == 1;
}

BSource describeB(const TensorArg& x2, bool int4, bool x2Transposed, int64_t batch, int64_t k, int64_t n) {
  BSource s;
  s.k = k;
  s.n = n;
  s.t = &x2;
  s.int4 = int4;
  s.transposed = x2Transposed;
  s.batch = batch;
  const int64_t base = batchOffset(x2, batch);
  if (int4) {
    s.words = x2.hostData<int32_t>() + base;
    s.kind = x2Transposed ? BSource::Kind::Int4K : BSource::Kind::Int4N;
    if (x2.format == Format::FractalNZ) {
      const size_t nd = x2.storageShape.size();
      if (x2.storageShape[nd - 1] != 8) {
        s.kind = BSource::Kind::Generic;
        return s;
      }
      s.nz = true;
      s.ld = 8;
      s.blk = x2.storageShape[nd - 3] * 16 * 8;
    } else {
      // transposed: view (k/8, n) with strides (sr, sc): word (j, kw) at j*sc + kw*sr
      const int nd = x2.rank();
      const int64_t sr = x2.strides[nd - 2], sc = x2.strides[nd - 1];
      s.ld = x2Transposed ? sc : sr;
      s.wordStride = x2Transposed ? sr : sc;
    }
    return s;
  }
  const int8_t* data = x2.hostData<int8_t>() + base;
  if (x2.format == Format::FractalNZ) {
    const size_t nd = x2.storageShape.size();
    const int64_t rows1 = x2.storageShape[nd - 3], c0 = x2.storageShape[nd - 1];
    if (c0 != 32) return s;
    s.base = data;
    if (x2Transposed) {  // physical (n, k): storage (ceil(k/32), ceil(n/16), 16, 32)
      s.kind = BSource::Kind::NzK;
      s.blk = rows1 * 16 * 32;
    } else {  // physical (k, n): storage (ceil(n/32), ceil(k/16), 16, 32)
      s.kind = BSource::Kind::NzN;
      s.blk = rows1 * 16 * 32;
    }
    return s;
  }
  const int nd = x2.rank();
  const int64_t sr = x2.strides[nd - 2], sc = x2.strides[nd - 1];
  s.base = data;
  if (sc == 1) {
    s.kind = BSource::Kind::RowsN;
    s.ld = sr;
  } else if (sr == 1) {
    s.kind = BSource::Kind::RowsK;
    s.ld = sc;
  }
  return s;
}

namespace {

// Two int4 nibbles (a byte) -> two sign-extended int8 (LSB nibble first).
struct Int4Table {
  uint16_t t[256];
  Int4Table() {
    for (int b = 0; b < 256; ++b) {
      const int lo = (b & 15) >= 8 ? (b & 15) - 16 : (b & 15);
      const int hi = (b >> 4) >= 8 ? (b >> 4) - 16 : (b >> 4);
      t[b] = static_cast<uint16_t>(static_cast<uint8_t>(lo) | (static_cast<uint8_t>(hi) << 8));
    }
  }
};
const Int4Table kInt4;

inline void unpackWord(int32_t w, int8_t* out) {
  const auto u = static_cast<uint32_t>(w);
  for (int q = 0; q < 4; ++q) {
    const uint16_t v = kInt4.t[(u >> (8 * q)) & 0xFF];
    std::memcpy(out + 2 * q, &v, 2);
  }
}

inline int64_t wordCol(const BSource& s, int64_t w) { return s.nz ? (w / 8) * s.blk + w % 8 : w * s.wordStride; }

// int4 panels: unpack the panel's words into an int8 block, then the kernel's packer interleaves it.
void packInt4Panel(const BSource& s, const kern::Kernel& kn, int64_t j0, int64_t nCols, int64_t k0, int64_t kValid,
                   int64_t kc, int8_t* dst) {
  thread_local std::vector<int8_t> tmp;
  if (s.kind == BSource::Kind::Int4N) {  // rows are k, 16 columns = 2 words per row
    tmp.assign(static_cast<size_t>(kc * kern::kPanel), 0);
    const int64_t nWords = (nCols + 7) / 8;
    for (int64_t r = 0; r < kValid; ++r)
      for (int64_t q = 0; q < nWords; ++q)
        unpackWord(s.words[(k0 + r) * s.ld + wordCol(s, j0 / 8 + q)], tmp.data() + r * kern::kPanel + 8 * q);
    kn.packRowsN(tmp.data(), kern::kPanel, kValid, nCols, kc, dst, kn.bXor);
  } else {  // rows are n, k packed 8 per word
    tmp.assign(static_cast<size_t>(kern::kPanel * kc), 0);
    const int64_t w0 = k0 / 8, w1 = (k0 + kValid + 7) / 8;
    for (int64_t c = 0; c < nCols; ++c) {
      const int32_t* row = s.words + (j0 + c) * s.ld;
      for (int64_t w = w0; w < w1; ++w) unpackWord(row[wordCol(s, w)], tmp.data() + c * kc + (w - w0) * 8);
    }
    kn.packRowsK(tmp.data(), kc, 32, nCols, kValid, kc, dst, kn.bXor);
  }
}

}  // namespace

void packBPanel(const BSource& s, const kern::Kernel& kn, int64_t p, int64_t k0, int64_t kc, int8_t* dst) {
  const int64_t j0 = p * kern::kPanel;
  const int64_t nCols = s.n - j0 < kern::kPanel ? s.n - j0 : kern::kPanel;
  const int64_t kRows = s.k - k0;  // may exceed kc; packers read only kc rows
  const int64_t kValid = kRows < kc ? kRows : kc;
  switch (s.kind) {
    case BSource::Kind::RowsN:
      kn.packRowsN(s.base + k0 * s.ld + j0, s.ld, kValid, nCols, kc, dst, kn.bXor);
      return;
    case BSource::Kind::RowsK:
      kn.packRowsK(s.base + j0 * s.ld + k0, s.ld, 32, nCols, kValid, kc, dst, kn.bXor);
      return;
    case BSource::Kind::NzN:
      kn.packRowsN(s.base + (j0 / 32) * s.blk + k0 * 32 + (j0 % 32), 32, kValid, nCols, kc, dst, kn.bXor);
      return;
    case BSource::Kind::NzK:
      kn.packRowsK(s.base + (k0 / 32) * s.blk + (j0 / 16) * 512, 32, s.blk, nCols, kValid, kc, dst, kn.bXor);
      return;
    case BSource::Kind::Int4N:
    case BSource::Kind::Int4K:
      packInt4Panel(s, kn, j0, nCols, k0, kValid, kc, dst);
      return;
    case BSource::Kind::Generic:
      break;
  }
  const X2Reader rd(*s.t, s.transposed, s.batch);
  const uint8_t x = kn.bXor;
  for (int64_t g = 0; g < kc / 4; ++g)
    for (int64_t c = 0; c < kern::kPanel; ++c)
      for (int64_t t = 0; t < 4; ++t) {
        const int64_t kk = k0 + 4 * g + t;
        const int8_t v = (kk < s.k && c < nCols) ? rd.value(s.int4, kk, j0 + c) : 0;
        dst[g * kern::kGroupBytes + c * 4 + t] = static_cast<int8_t>(static_cast<uint8_t>(v) ^ x);
      }
}

void int8PanelToInt4(const int8_t* src, int64_t kc, int8_t* dst) {
  for (int64_t q = 0; q < kc / 8; ++q)
    for (int64_t i = 0; i < kern::kGroupBytes; ++i) {
      const int lo = (src[(2 * q) * kern::kGroupBytes + i] + 8) & 0x0F;
      const int hi = (src[(2 * q + 1) * kern::kGroupBytes + i] + 8) & 0x0F;
      dst[q * kern::kGroupBytes + i] = static_cast<int8_t>(lo | (hi << 4));
    }
}

}  // namespace qmm::emu
