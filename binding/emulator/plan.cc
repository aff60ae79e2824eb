#include "plan.h"

#include <string>
#include <utility>

#include "../errors.h"
#include "operand.h"

namespace qmm::emu {

namespace {

[[noreturn]] void shapeError(const std::string& msg) { fail(ErrorCode::Shape, msg); }

void requireHost(const TensorArg& t, const char* name) {
  if (t.mem.kind != Memory::Kind::Host)
    fail(ErrorCode::Backend, std::string(name) + ": the cpu backend was given device memory");
  checkTensorBounds(t, name);
}

void checkVector(const TensorArg& t, const char* name, int64_t want, bool allowOne) {
  if (t.rank() != 1) shapeError(std::string(name) + " must be 1-D, got shape " + shapeToString(t.shape));
  if (!(t.shape[0] == want || (allowOne && t.shape[0] == 1)))
    shapeError(std::string(name) + " length must be " + std::to_string(want) + (allowOne ? " or 1" : "") +
               ", got " + std::to_string(t.shape[0]));
}

// float32 / float16 / bfloat16: what num::floatAt reads
bool isFloat(DType d) { return d == DType::Float32 || d == DType::Float16 || d == DType::BFloat16; }

std::vector<int64_t> batchDims(const TensorArg& t) {
  return std::vector<int64_t>(t.shape.begin(), t.shape.end() - 2);
}

int64_t flatIndexFor(const std::vector<int64_t>& own, const std::vector<int64_t>& outIdx) {
  // right-aligned numpy broadcast: size-1 dims read index 0
  const size_t off = outIdx.size() - own.size();
  int64_t flat = 0;
  for (size_t i = 0; i < own.size(); ++i) flat = flat * own[i] + (own[i] == 1 ? 0 : outIdx[off + i]);
  return flat;
}

}  // namespace

MatmulPlan planQuantMatmul(const QuantMatmulArgs& a) {
  MatmulPlan p;
  const std::pair<const TensorArg*, const char*> operands[] = {
      {&a.x1, "x1"},
      {&a.x2, "x2"},
      {&a.scale, "scale"},
      {a.offset ? &*a.offset : nullptr, "offset"},
      {a.pertokenScale ? &*a.pertokenScale : nullptr, "pertokenScale"},
      {a.bias ? &*a.bias : nullptr, "bias"},
      {&a.out, "out"}};
  for (const auto& [t, name] : operands)
    if (t != nullptr) requireHost(*t, name);

  // What the packers and kernels can read (operand.cc): int8, or int4 packed
  // eight to an int32 with a 2-D weight; non-empty matrices; an ND x1.
  if ((a.x1.dtype != DType::Int8 && a.x1.dtype != DType::Int32) || a.x2.dtype != a.x1.dtype)
    fail(ErrorCode::DType, std::string("x1, x2: the emulator reads int8 or int32 (int4) pairs, got ") +
                               dtypeName(a.x1.dtype) + " and " + dtypeName(a.x2.dtype));
  p.int4 = a.x1.dtype == DType::Int32;
  if (a.x1.rank() < 2) shapeError("x1 must have at least 2 dims, got " + shapeToString(a.x1.shape));
  if (a.x2.rank() < 2 || (p.int4 && a.x2.rank() != 2))
    shapeError("x2 must have " + std::string(p.int4 ? "exactly" : "at least") + " 2 dims, got " +
               shapeToString(a.x2.shape));
  if (a.x1.format != Format::ND) fail(ErrorCode::Format, "x1 must be ND");
  if (a.x1.numel() == 0 || a.x2.numel() == 0) shapeError("x1 and x2 can not be empty");

  p.x1Transposed = isTransposeLastTwoDims(a.x1);
  const bool nz = a.x2.format == Format::FractalNZ;
  p.x2Transposed = nz ? isTransposedNzView(a.x2) : isTransposeLastTwoDims(a.x2);
  const int r1 = a.x1.rank(), r2 = a.x2.rank();
  p.m = a.x1.shape[r1 - 2];
  if (p.int4) {
    if (p.x1Transposed) shapeError("x1 cannot be a transposed view for int4 (int32) inputs");
    p.k = a.x1.shape[r1 - 1] * 8;
    const int64_t x2k = p.x2Transposed ? a.x2.shape[r2 - 2] * 8 : a.x2.shape[r2 - 2];
    p.n = p.x2Transposed ? a.x2.shape[r2 - 1] : a.x2.shape[r2 - 1] * 8;
    if (x2k != p.k) shapeError("x1 k dim and x2 k dim should be same, but x1 is " + std::to_string(p.k) +
                               ", x2 is " + std::to_string(x2k));
  } else {
    p.k = a.x1.shape[r1 - 1];
    p.n = a.x2.shape[r2 - 1];
    if (a.x2.shape[r2 - 2] != p.k)
      shapeError("x1 k dim and x2 k dim should be same, but x1 is " + std::to_string(p.k) + ", x2 is " +
                 std::to_string(a.x2.shape[r2 - 2]));
  }

  if (nz) {
    // the physical ND matrix and its NZ storage element count (aclnn's check, docs/semantics.md §5.1)
    std::vector<int64_t> phys(a.x2.shape);
    if (p.x2Transposed) std::swap(phys[r2 - 1], phys[r2 - 2]);
    // aclnn only compares element counts (docs/semantics.md §5.1); the emulator reads the
    // storage with these exact dims, so it requires them (every NZ tensor this
    // package makes has them).
    const auto expect = nzStorageShape(phys, nzC0ForMatmul(a.x2.dtype));
    if (a.x2.storageShape != expect)
      fail(ErrorCode::Format, "x2 FRACTAL_NZ storage " + shapeToString(a.x2.storageShape) + " does not match " +
                                  shapeToString(expect) + " for the view " + shapeToString(a.x2.shape));
    if (!p.x2Transposed && !a.x2.isContiguous())
      fail(ErrorCode::Format, "x2: a FRACTAL_NZ tensor can only be used as is or transposed in its last two dims");
  }

  // numpy batch broadcast (docs/semantics.md §1.1 decision)
  const auto b1 = batchDims(a.x1), b2 = batchDims(a.x2);
  const size_t nb = std::max(b1.size(), b2.size());
  p.outBatchDims.assign(nb, 1);
  for (size_t i = 0; i < nb; ++i) {
    const int64_t d1 = i + b1.size() >= nb ? b1[i + b1.size() - nb] : 1;
    const int64_t d2 = i + b2.size() >= nb ? b2[i + b2.size() - nb] : 1;
    if (d1 != d2 && d1 != 1 && d2 != 1)
      fail(ErrorCode::Broadcast, "the batch dimensions of x1 and x2 must be broadcastable, got " +
                                     std::to_string(d1) + " and " + std::to_string(d2));
    p.outBatchDims[i] = std::max(d1, d2);
  }
  p.outBatches = 1;
  for (int64_t d : p.outBatchDims) p.outBatches *= d;
  p.x1Batches = batchCount(a.x1);
  p.x2Batches = batchCount(a.x2);
  p.x1BatchOf.resize(p.outBatches);
  p.x2BatchOf.resize(p.outBatches);
  std::vector<int64_t> idx(nb, 0);
  for (int64_t f = 0; f < p.outBatches; ++f) {
    int64_t rem = f;
    for (int i = static_cast<int>(nb) - 1; i >= 0; --i) {
      idx[i] = rem % p.outBatchDims[i];
      rem /= p.outBatchDims[i];
    }
    p.x1BatchOf[f] = flatIndexFor(b1, idx);
    p.x2BatchOf[f] = flatIndexFor(b2, idx);
  }

  // output: contiguous, the expected shape
  std::vector<int64_t> outShape(p.outBatchDims);
  outShape.push_back(p.m);
  outShape.push_back(p.n);
  if (a.out.shape != outShape || !a.out.isContiguous() || a.out.offset != 0)
    shapeError("out must be a contiguous " + shapeToString(outShape) + " tensor, got " + shapeToString(a.out.shape));
  // What the epilogue can read and write (epilogue.cc); which combinations
  // a device accepts is the TypeScript facade's check (lib/validate/quant_matmul.ts).
  const DType od = a.out.dtype;
  const bool intScale = a.scale.dtype == DType::Int64 || a.scale.dtype == DType::UInt64;
  if (!intScale && !isFloat(a.scale.dtype))
    fail(ErrorCode::DType, std::string("scale: the emulator cannot read a ") + dtypeName(a.scale.dtype) + " scale");
  checkVector(a.scale, "scale", p.n, true);
  const bool writable = od == DType::Int32 || (intScale ? od == DType::Int8 || od == DType::Float16
                                                           : od == DType::Float16 || od == DType::BFloat16);
  if (!writable)
    fail(ErrorCode::DType, std::string("out: the emulator has no epilogue from a ") + dtypeName(a.scale.dtype) +
                               " scale to " + dtypeName(od));
  if (a.pertokenScale) {
    if (!isFloat(a.pertokenScale->dtype))
      fail(ErrorCode::DType, std::string("pertokenScale: the emulator cannot read ") + dtypeName(a.pertokenScale->dtype));
    checkVector(*a.pertokenScale, "pertokenScale", p.m, false);
  }
  if (a.bias) {
    const TensorArg& b = *a.bias;
    if (b.dtype != DType::Int32 && !isFloat(b.dtype))
      fail(ErrorCode::DType, std::string("bias: the emulator cannot read ") + dtypeName(b.dtype));
    if (b.rank() == 1) {
      checkVector(b, "bias", p.n, false);
    } else if (b.rank() == 3) {
      if (outShape.size() != 3 || b.shape[0] != p.outBatches || b.shape[1] != 1 || b.shape[2] != p.n)
        shapeError("a 3-D bias must be (" + std::to_string(p.outBatches) + ", 1, " + std::to_string(p.n) +
                   ") with a 3-D output, got " + shapeToString(b.shape));
    } else {
      shapeError("bias must be 1-D or 3-D, got " + shapeToString(b.shape));
    }
  }
  return p;
}

}  // namespace qmm::emu
