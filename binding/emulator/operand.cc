#include "operand.h"

#include <cstring>

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

// Logical view element (r, c) of matrix batch starting at `base`, for ND views.
template <typename T>
inline T ndAt(const TensorArg& t, const T* data, int64_t base, int64_t r, int64_t c) {
  const int nd = t.rank();
  return data[base + r * t.strides[nd - 2] + c * t.strides[nd - 1]];
}

// Physical ND element (r, c) of an NZ batch starting at `base` (SPEC §5.1):
// NZ[c1][r1][r0][c0] = A[r1*16 + r0][c1*C0 + c0].
template <typename T>
inline T nzAt(const T* data, int64_t base, int64_t rows1, int64_t c0, int64_t r, int64_t c) {
  return data[base + ((c / c0) * rows1 + r / 16) * 16 * c0 + (r % 16) * c0 + c % c0];
}

// Logical element (r, c) of x2's view, ND or NZ, as int32.
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
  int32_t at(int64_t r, int64_t c) const {
    const T* data = t.hostData<T>();
    if (t.format == Format::FractalNZ) {
      // a transposed NZ view (r, c) reads physical (c, r)
      return transposed ? nzAt(data, base, rows1, c0, c, r) : nzAt(data, base, rows1, c0, r, c);
    }
    return ndAt(t, data, base, r, c);
  }
};

}  // namespace

void packA(const TensorArg& x1, bool int4, int64_t b, int64_t m, int64_t k, int8_t* dst) {
  const int64_t base = batchOffset(x1, b);
  const int nd = x1.rank();
  const int64_t sr = x1.strides[nd - 2], sc = x1.strides[nd - 1];
  if (int4) {
    const int32_t* data = x1.hostData<int32_t>();
    for (int64_t i = 0; i < m; ++i)
      for (int64_t kk = 0; kk < k; ++kk)
        dst[i * k + kk] = static_cast<int8_t>(num::int4At(data[base + i * sr + (kk / 8) * sc], kk % 8));
    return;
  }
  const int8_t* data = x1.hostData<int8_t>();
  if (sc == 1) {
    for (int64_t i = 0; i < m; ++i) std::memcpy(dst + i * k, data + base + i * sr, static_cast<size_t>(k));
    return;
  }
  for (int64_t i = 0; i < m; ++i)
    for (int64_t kk = 0; kk < k; ++kk) dst[i * k + kk] = data[base + i * sr + kk * sc];
}

void packB(const TensorArg& x2, bool int4, bool x2Transposed, int64_t b, int64_t k, int64_t n, int8_t* dst) {
  const X2Reader rd(x2, x2Transposed, b);
  if (int4) {
    // transposed: view (k/8, n) of (n, k/8), packed along k; else view (k, n/8), packed along n (SPEC §1.3)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t kk = 0; kk < k; ++kk) {
        const int32_t w = x2Transposed ? rd.at<int32_t>(kk / 8, j) : rd.at<int32_t>(kk, j / 8);
        dst[j * k + kk] = static_cast<int8_t>(num::int4At(w, x2Transposed ? kk % 8 : j % 8));
      }
    return;
  }
  if (x2.format == Format::ND) {
    const int nd = x2.rank();
    const int64_t sr = x2.strides[nd - 2], sc = x2.strides[nd - 1];
    const int8_t* data = x2.hostData<int8_t>() + rd.base;
    if (sr == 1) {  // weight stored (n, k) with k contiguous: one row per output column
      for (int64_t j = 0; j < n; ++j) std::memcpy(dst + j * k, data + j * sc, static_cast<size_t>(k));
      return;
    }
    constexpr int64_t kBlock = 64;  // blocked transpose keeps both sides in cache
    for (int64_t k0 = 0; k0 < k; k0 += kBlock)
      for (int64_t j0 = 0; j0 < n; j0 += kBlock)
        for (int64_t kk = k0; kk < k && kk < k0 + kBlock; ++kk)
          for (int64_t j = j0; j < n && j < j0 + kBlock; ++j) dst[j * k + kk] = data[kk * sr + j * sc];
    return;
  }
  for (int64_t j = 0; j < n; ++j)
    for (int64_t kk = 0; kk < k; ++kk) dst[j * k + kk] = static_cast<int8_t>(rd.at<int8_t>(kk, j));
}

}  // namespace qmm::emu
