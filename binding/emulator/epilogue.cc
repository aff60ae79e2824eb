#include "epilogue.h"

#include "../errors.h"
#include "float_at.h"
#include "numerics.h"

namespace qmm::emu {

namespace {

// Storage index of element i (row-major) of a 1-D, (1, n) or (B, 1, n) view:
// offset + i when contiguous (the usual case: n conversions per call, each
// through storageIndexOf's divisions, were 6% of a 4096-column decode).
// Indices past the element count wrap as storageIndexOf wraps them (a
// (1, 1, n) bias read for every output batch).
struct FlatIndex {
  const TensorArg& t;
  int64_t direct;  // elements reachable as offset + i: numel when contiguous, else 0
  explicit FlatIndex(const TensorArg& tt) : t(tt), direct(tt.isContiguous() ? tt.numel() : 0) {}
  int64_t operator()(int64_t i) const { return i < direct ? t.offset + i : t.storageIndexOf(i); }
};

// Element i converted exactly to float.
float readF32(const FlatIndex& f, int64_t i) { return num::floatAt(f.t, f(i)); }

template <typename T>
T readAt(const FlatIndex& f, int64_t i) {
  return f.t.hostData<T>()[f(i)];
}

}  // namespace

Epilogue makeEpilogue(const QuantMatmulArgs& a, int64_t m, int64_t n, int64_t outBatches) {
  Epilogue e;
  e.n = n;
  const DType out = a.out.dtype;
  const bool intScale = a.scale.dtype == DType::Int64 || a.scale.dtype == DType::UInt64;
  const int64_t scaleLen = a.scale.numel();
  const FlatIndex scaleAt(a.scale);
  if (out == DType::Int32) {
    e.kind = EpilogueKind::Int32Out;  // the scale is validated but not applied (§3.5)
  } else if (intScale) {
    e.kind = out == DType::Int8 ? EpilogueKind::FixpipeInt8 : EpilogueKind::FixpipeF16;
    e.scale.resize(n);
    if (e.kind == EpilogueKind::FixpipeInt8) e.offset.resize(n);
    for (int64_t j = 0; j < n; ++j) {
      const uint64_t qp = readAt<uint64_t>(scaleAt, scaleLen == 1 ? 0 : j);
      e.scale[j] = num::fp19Scale(qp);
      if (e.kind == EpilogueKind::FixpipeInt8) e.offset[j] = num::s9Offset(qp);  // explicit offset has no effect (§2.3)
    }
  } else {
    e.kind = out == DType::BFloat16 ? EpilogueKind::VectorBf16 : EpilogueKind::VectorF16;
    e.scale.resize(n);
    for (int64_t j = 0; j < n; ++j) e.scale[j] = readF32(scaleAt, scaleLen == 1 ? 0 : j);
    if (a.pertokenScale) {
      e.pertoken.resize(m);
      const FlatIndex ptAt(*a.pertokenScale);
      for (int64_t i = 0; i < m; ++i) e.pertoken[i] = readF32(ptAt, i);
    }
  }
  if (a.bias) {
    const TensorArg& b = *a.bias;
    const FlatIndex biasAt(b);
    e.biasBatches = b.rank() == 3 ? outBatches : 1;
    const int64_t total = e.biasBatches * n;
    if (b.dtype == DType::Int32) {
      e.biasI32.resize(total);
      for (int64_t i = 0; i < total; ++i) e.biasI32[i] = readAt<int32_t>(biasAt, i);
    } else if (e.kind == EpilogueKind::VectorBf16 || e.kind == EpilogueKind::VectorF16) {
      e.biasF32.resize(total);
      for (int64_t i = 0; i < total; ++i) e.biasF32[i] = readF32(biasAt, i);
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
