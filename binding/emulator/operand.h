// Reading x1 / x2 views (strided ND, FRACTAL_NZ, int4-in-int32) into the
// packed layouts of kernels/kernel.h. x1 becomes int8 rows (lda = kPad(k))
// plus row sums; x2 is packed one 16-column panel and one k block at a time,
// either on the fly into a small scratch buffer right before the microkernel
// uses it, or once for the whole weight into the pack an NZ weight owns
// (weight_packs.h).
#pragma once

#include <cstdint>
#include <vector>

#include "../tensor.h"
#include "kernels/kernel.h"

namespace qmm::emu {

// Element offset of flat batch `b` (row-major over the tensor's own batch dims).
int64_t batchOffset(const TensorArg& t, int64_t b);

// Number of batches of a tensor (product of all dims but the last two).
int64_t batchCount(const TensorArg& t);

// C0 of the FRACTAL_NZ weight QuantMatmul reads: 32 int8, or 8 int32 holding int4 (docs/semantics.md §5.1).
int64_t nzC0ForMatmul(DType d);

// Rows [r0, r1) of x1 batch `b` into dst (rows of lda bytes, zero padded past k)
// and rowSum[r] = sum of row r's values (wrapping).
void packARows(const TensorArg& x1, bool int4, int64_t b, int64_t m, int64_t k, int64_t lda, int64_t r0, int64_t r1,
               int8_t* dst, int32_t* rowSum);

// The wrapping sum of a row's k int8 values.
int32_t rowSumOf(const int8_t* row, int64_t k);

// True when the kernels can read x1's rows where they lie (lda = its row
// stride): int8 rows with unit element stride and k a multiple of
// kern::kKAlign, so a row holds exactly the kp bytes the kernels read.
bool x1ReadInPlace(const TensorArg& x1, bool int4, int64_t k);

// How to read one batch of x2 as the logical (k, n) matrix.
struct BSource {
  enum class Kind {
    RowsN,     // element (kk, j) at base[kk*ld + j]                          (ND (k, n), n contiguous)
    RowsK,     // element (kk, j) at base[j*ld + kk]                          (ND (n, k), k contiguous)
    NzN,       // NZ of the physical (k, n): per 32-column block c1, rows of 32 at base[c1*blk + kk*32 + j%32]
    NzK,       // NZ of the physical (n, k): element at base[((kk/32)*n1 + j/16)*512 + (j%16)*32 + kk%32]
    Int4N,     // int4 packed along n: word (kk, jw) at words[kk*ld + col(jw)], nibble j%8 (docs/semantics.md §1.3)
    Int4K,     // int4 packed along k: word (j, kw) at words[j*ld + col(kw)], nibble kk%8
    Generic,   // anything else (odd strides): element by element
  };
  Kind kind = Kind::Generic;
  const int8_t* base = nullptr;
  int64_t ld = 0;    // RowsN / RowsK row stride
  int64_t blk = 0;   // NzN: elements per 32-column block; NzK: elements per 32-k block (n1 * 512)
  int64_t k = 0, n = 0;
  // Int4N / Int4K: the packed words; col(w) = w*wordStride (ND) or (w/8)*blk + w%8 (NZ, C0 = 8 words)
  const int32_t* words = nullptr;
  int64_t wordStride = 0;
  bool nz = false;
  // Generic
  const TensorArg* t = nullptr;
  bool int4 = false, transposed = false;
  int64_t batch = 0;
};

BSource describeB(const TensorArg& x2, bool int4, bool x2Transposed, int64_t batch, int64_t k, int64_t n);

// Packs panel `p` (columns 16p .. 16p+15) for k in [k0, k0 + kc) into dst
// (kc/4 groups of 64 bytes). k0 is a multiple of 32, kc a multiple of 16.
void packBPanel(const BSource& s, const kern::Kernel& kn, int64_t p, int64_t k0, int64_t kc, int8_t* dst);

// Converts an int8 panel (bXor 0, values in [-8, 7]) of kc/4 groups into the
// int4 panel layout of kern::Kernel::gemm4 (kc/8 pairs of groups).
void int8PanelToInt4(const int8_t* src, int64_t kc, int8_t* dst);

}  // namespace qmm::emu
