#include "epilogue.h"

#include "../errors.h"
#include "numerics.h"

namespace qmm::emu {

namespace {

// Element i of a 1-D (or (B,1,n)) view converted exactly to float.
float readF32(const TensorArg& t, int64_t i) {
  // For 1-D views i is the index; for (B,1,n) views the caller passes the flat
  // logical index and we walk the dims.
  int64_t off = t.offset;
  for (int d = t.rank() - 1; d >= 0; --d) {
    const int64_t idx = i % t.shape[d];
    i /= t.shape[d];
    off += idx * t.strides[d];
  }
  switch (t.dtype) {
    case DType::Float32: return t.hostData<float>()[off];
    case DType::Float16: return num::f16ToF32(t.hostData<uint16_t>()[off]);
    case DType::BFloat16: return num::bf16ToF32(t.hostData<uint16_t>()[off]);
    default: fail(ErrorCode::Internal, "readF32 on a non-float tensor");
  }
}

template <typename T>
T readAt(const TensorArg& t, int64_t i) {
  int64_t off = t.offset;
  for (int d = t.rank() - 1; d >= 0; --d) {
    const int64_t idx = i % t.shape[d];
    i /= t.shape[d];
    off += idx * t.strides[d];
  }
  return t.hostData<T>()[off];
}

}  // namespace

Epilogue makeEpilogue(const QuantMatmulArgs& a, int64_t m, int64_t n, int64_t outBatches) {
  Epilogue e;
  e.n = n;
  const DType out = a.out.dtype;
  const bool intScale = a.scale.dtype == DType::Int64 || a.scale.dtype == DType::UInt64;
  const int64_t scaleLen = a.scale.numel();
  if (out == DType::Int32) {
    e.kind = EpilogueKind::Int32Out;  // the scale is validated but not applied (§3.5)
  } else if (intScale) {
    e.kind = out == DType::Int8 ? EpilogueKind::FixpipeInt8 : EpilogueKind::FixpipeF16;
    e.scale.resize(n);
    if (e.kind == EpilogueKind::FixpipeInt8) e.offset.resize(n);
    for (int64_t j = 0; j < n; ++j) {
      const uint64_t qp = readAt<uint64_t>(a.scale, scaleLen == 1 ? 0 : j);
      e.scale[j] = num::fp19Scale(qp);
      if (e.kind == EpilogueKind::FixpipeInt8) e.offset[j] = num::s9Offset(qp);  // explicit offset has no effect (§2.3)
    }
  } else {
    e.kind = out == DType::BFloat16 ? EpilogueKind::VectorBf16 : EpilogueKind::VectorF16;
    e.scale.resize(n);
    for (int64_t j = 0; j < n; ++j) e.scale[j] = readF32(a.scale, scaleLen == 1 ? 0 : j);
    if (a.pertokenScale) {
      e.pertoken.resize(m);
      for (int64_t i = 0; i < m; ++i) e.pertoken[i] = readF32(*a.pertokenScale, i);
    }
  }
  if (a.bias) {
    const TensorArg& b = *a.bias;
    e.biasBatches = b.rank() == 3 ? outBatches : 1;
    const int64_t total = e.biasBatches * n;
    if (b.dtype == DType::Int32) {
      e.biasI32.resize(total);
      for (int64_t i = 0; i < total; ++i) e.biasI32[i] = readAt<int32_t>(b, i);
    } else if (e.kind == EpilogueKind::VectorBf16 || e.kind == EpilogueKind::VectorF16) {
      e.biasF32.resize(total);
      for (int64_t i = 0; i < total; ++i) e.biasF32[i] = readF32(b, i);
    } else {
      fail(ErrorCode::DType, std::string("bias: a ") + dtypeName(b.dtype) + " bias needs a float32/bfloat16 scale path");
    }
  }
  return e;
}

void applyEpilogue(const Epilogue& e, const int32_t* acc, int64_t batch, int64_t row, int64_t n0, int64_t n1,
                   void* outRow) {
  const int64_t bb = e.biasBatches == 1 ? 0 : batch;
  const int32_t* biasI = e.biasI32.empty() ? nullptr : e.biasI32.data() + bb * e.n;
  const float* biasF = e.biasF32.empty() ? nullptr : e.biasF32.data() + bb * e.n;
  for (int64_t j = n0; j < n1; ++j) {
    int32_t v = acc[j - n0];
    if (biasI) v = num::wrapAdd(v, biasI[j]);  // int32 bias is added inside the cube (§3.0)
    switch (e.kind) {
      case EpilogueKind::Int32Out:
        static_cast<int32_t*>(outRow)[j] = v;
        break;
      case EpilogueKind::FixpipeF16:
        static_cast<uint16_t*>(outRow)[j] = num::f32ToF16Saturating(static_cast<float>(v) * e.scale[j]);
        break;
      case EpilogueKind::FixpipeInt8:
        static_cast<int8_t*>(outRow)[j] = num::requantInt8(v, e.scale[j], e.offset[j]);
        break;
      case EpilogueKind::VectorBf16:
      case EpilogueKind::VectorF16: {
        float r = static_cast<float>(v) * e.scale[j];
        if (!e.pertoken.empty()) r = r * e.pertoken[row];
        if (biasF) r = r + biasF[j];
        if (e.kind == EpilogueKind::VectorBf16)
          static_cast<uint16_t*>(outRow)[j] = num::f32ToBf16(r);
        else
          static_cast<uint16_t*>(outRow)[j] = num::f32ToF16(r);
        break;
      }
    }
  }
}

}  // namespace qmm::emu
