// Reading x1 / x2 views (strided ND, FRACTAL_NZ, int4-in-int32) into the
// plain int8 panels the GEMM consumes. A is (m, k) row-major; B is (n, k)
// row-major, i.e. the weight laid out so each output column is a contiguous
// dot product along k.
#pragma once

#include <cstdint>
#include <vector>

#include "../tensor.h"

namespace qmm::emu {

// Element offset of flat batch `b` (row-major over the tensor's own batch dims).
int64_t batchOffset(const TensorArg& t, int64_t b);

// Number of batches of a tensor (product of all dims but the last two).
int64_t batchCount(const TensorArg& t);

// C0 of the FRACTAL_NZ weight QuantMatmul reads: 32 int8, or 8 int32 holding int4 (SPEC §5.1).
int64_t nzC0ForMatmul(DType d);

// x1 batch `b` (flat over x1's batch dims) into dst (m x k int8).
void packA(const TensorArg& x1, bool int4, int64_t b, int64_t m, int64_t k, int8_t* dst);

// x2 batch `b` into dst (n x k int8). `x2Transposed` is the aclnn stride
// inference of SPEC §1.2 (ND) or §5.3 (NZ).
void packB(const TensorArg& x2, bool int4, bool x2Transposed, int64_t b, int64_t k, int64_t n, int8_t* dst);

}  // namespace qmm::emu
