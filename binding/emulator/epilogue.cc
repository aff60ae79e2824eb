#include "epilogue.h"

#include "../errors.h"
#include "float_at.h"
#include "numerics.h"

namespace qmm::emu {

namespace {

// Element i (row-major logical index) of a 1-D or (B,1,n) view, converted exactly to float.
float readF32(const TensorArg& t, int64_t i) { return num::floatAt(t, t.storageIndexOf(i)); }

template <typename T>
T readAt(const TensorArg& t, int64_t i) {
  return t.hostData<T>()[t.storageIndexOf(i)];
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

kern::EpiRow epiRow(const Epilogue& e, int64_t batch, int64_t row, int32_t corr) {
  const int64_t bb = e.biasBatches == 1 ? 0 : batch;
  kern::EpiRow r{};
  r.kind = static_cast<kern::EpiKind>(e.kind);
  r.scale = e.scale.empty() ? nullptr : e.scale.data();
  r.offset = e.offset.empty() ? nullptr : e.offset.data();
  r.biasI = e.biasI32.empty() ? nullptr : e.biasI32.data() + bb * e.n;
  r.biasF = e.biasF32.empty() ? nullptr : e.biasF32.data() + bb * e.n;
  r.hasPertoken = !e.pertoken.empty();
  r.pertoken = r.hasPertoken ? e.pertoken[row] : 1.0f;
  r.corr = corr;
  return r;
}

void applyEpilogue(const Epilogue& e, const int32_t* acc, int64_t batch, int64_t row, int64_t n0, int64_t n1,
                   void* outRow) {
  kern::epilogueScalar(epiRow(e, batch, row, 0), acc, n0, n1, outRow);
}

}  // namespace qmm::emu
