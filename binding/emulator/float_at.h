// Reading one element of a float32 / float16 / bfloat16 host tensor as float32
// (exact: half types widen losslessly). Kept out of numerics.h, which the
// per-ISA kernel files include and which must stay free of TensorArg.
#pragma once

#include <string>

#include "../errors.h"
#include "../tensor.h"
#include "numerics.h"

namespace qmm::num {

inline float floatAt(const TensorArg& t, int64_t storageIndex) {
  switch (t.dtype) {
    case DType::Float32: return t.hostData<float>()[storageIndex];
    case DType::Float16: return f16ToF32(t.hostData<uint16_t>()[storageIndex]);
    case DType::BFloat16: return bf16ToF32(t.hostData<uint16_t>()[storageIndex]);
    default: fail(ErrorCode::Internal, std::string("floatAt on a ") + dtypeName(t.dtype) + " tensor");
  }
}

}  // namespace qmm::num
