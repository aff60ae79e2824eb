// npu_quantize (div_mode=False, axis=-1, dtype=qint8) and npu_dynamic_quant
// (dst_type=int8) on the CPU (docs/semantics.md §9.1 and §9.2). Every step is one IEEE float32 operation (no FMA
// contraction: the project compiles with -ffp-contract=off); rne is
// round-half-to-even, sat_int8 clamps to [-128, 127], NaN becomes 0
// (num::rneClamp).
//
//   quantize:     r = f32(f32(x) * f32(scale[c]));  r = f32(r + f32(offset[c]));
//                 y = sat_int8(rne(r))
//
//   dynamicQuant, as the A2/A3 kernels compute it (ops-nn quant/dynamic_quant):
//                 amax = max_c |f32(x[row, c])|   (NaN if the row holds a NaN)
//                 q    = f32(127 / amax)
//                 y    = sat_int8(rne(f32(f32(x) * q)))
//                 scale[row] = f32(amax * f32(1/127))   the "multiply" kernels
//                            = f32(1 / q)                the "reciprocal" kernels
//   The tiling picks the kernel from the row length alone (192 KiB UB, no
//   smooth scales): SingleRow, MultiRow and the double-buffered kernel
//   multiply; the plain and the large-shape kernels take the reciprocal. That
//   is the reciprocal exactly when the row is longer than 15040 elements and
//   is not a multiple of 8 of at most 16320 elements (see scaleByReciprocal).
//   The kernels go f32 -> int (RINT) -> half -> int8 (TRUNC); |x * q| stays
//   below 127.5, so the detour through half is exact and y = rne(x * q).
//   Consequences: a zero row has q = inf, x * q = NaN -> y 0, and scale 0; an
//   infinite amax gives q 0, y 0 and scale inf; an amax so small that 127/amax
//   overflows (bfloat16 only) gives y = +-127/-128 by saturation and scale 0.

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "../errors.h"
#include "emulator.h"
#include "float_at.h"
#include "numerics.h"
#include "thread_pool.h"

namespace qmm::emu {

namespace {

bool isFloatInput(DType d) { return d == DType::Float32 || d == DType::Float16 || d == DType::BFloat16; }

// Storage offset of the first element of row `row` (all dims but the last).
int64_t rowOffset(const TensorArg& t, int64_t row) {
  int64_t off = t.offset;
  for (int d = t.rank() - 2; d >= 0; --d) {
    off += (row % t.shape[d]) * t.strides[d];
    row /= t.shape[d];
  }
  return off;
}

void requireContiguousOut(const TensorArg& out, const std::vector<int64_t>& shape, const char* name) {
  if (out.shape != shape)
    fail(ErrorCode::Shape, std::string(name) + " must have shape " + shapeToString(shape) + ", got " +
                               shapeToString(out.shape));
  if (!out.isContiguous() || out.offset != 0 || out.format != Format::ND)
    fail(ErrorCode::Shape, std::string(name) + " must be a contiguous ND tensor");
}

// A per-channel vector (1,) or (cols,) of float32 or `xdtype`.
void checkChannelVector(const TensorArg& v, DType xdtype, int64_t cols, const char* name) {
  if (v.format != Format::ND) fail(ErrorCode::Format, std::string(name) + " must be ND");
  if (v.dtype != DType::Float32 && v.dtype != xdtype)
    fail(ErrorCode::DType, std::string(name) + " must be float32 or " + dtypeName(xdtype) + ", got " +
                               dtypeName(v.dtype));
  if (v.rank() != 1 || (v.shape[0] != 1 && v.shape[0] != cols))
    fail(ErrorCode::Shape, std::string(name) + " must have shape (1,) or (" + std::to_string(cols) + ",), got " +
                               shapeToString(v.shape));
}

constexpr float kInt8Max = 127.0f;
constexpr float kInvInt8Max = 1.0f / 127.0f;  // f32(1/127), as the kernels' constant

// Whether the A2/A3 tiling of DynamicQuant (int8, no smooth scales, 192 KiB
// UB) runs a kernel that stores the scale as 1/q rather than amax * (1/127).
// MultiRow takes rows of 128..16320 elements that are a multiple of 8 (and
// SingleRow, a subset); the double-buffered kernel takes rows of up to 15040;
// the rest go to the plain or the large-shape kernel, which take 1/q.
bool scaleByReciprocal(int64_t rowLen) {
  const bool multiRow = rowLen >= 128 && rowLen <= 16320 && rowLen % 8 == 0;
  const bool doubleBuffered = rowLen <= 15040;
  return !multiRow && !doubleBuffered;
}

std::function<bool()> stopper(const CancelToken* cancel) {
  if (cancel == nullptr) return {};
  return [cancel] { return cancel->cancelled.load(std::memory_order_relaxed); };
}

void throwIfCancelled(const CancelToken* cancel) {
  if (cancel != nullptr && cancel->cancelled.load()) throw QmmException(ErrorCode::Aborted, "the operation was aborted");
}

}  // namespace

void quantize(const QuantizeArgs& a) {
  checkTensorBounds(a.x, "x");
  checkTensorBounds(a.scale, "scale");
  if (a.offset) checkTensorBounds(*a.offset, "offset");
  checkTensorBounds(a.out, "out");
  if (!isFloatInput(a.x.dtype))
    fail(ErrorCode::DType, std::string("x must be float32, float16 or bfloat16, got ") + dtypeName(a.x.dtype));
  if (a.x.format != Format::ND) fail(ErrorCode::Format, "x must be ND");
  if (a.x.rank() < 1) fail(ErrorCode::Shape, "x must have at least 1 dim");
  if (a.out.dtype != DType::Int8) fail(ErrorCode::DType, std::string("out must be int8, got ") + dtypeName(a.out.dtype));
  requireContiguousOut(a.out, a.x.shape, "out");
  const int64_t cols = a.x.shape.back();
  checkChannelVector(a.scale, a.x.dtype, cols, "scale");
  if (a.offset) {
    checkChannelVector(*a.offset, a.x.dtype, cols, "offset");
    if (a.offset->dtype != a.scale.dtype || a.offset->shape != a.scale.shape)
      fail(ErrorCode::Shape, "offset must have the shape and dtype of scale");
  }
  const int64_t numel = a.x.numel();
  if (numel == 0) return;
  const int64_t rows = numel / cols;

  // Per-channel parameters as float32 (exact for float16/bfloat16 sources).
  std::vector<float> scale(static_cast<size_t>(cols)), offset(static_cast<size_t>(cols), 0.0f);
  const int64_t ls = a.scale.shape[0];
  for (int64_t c = 0; c < cols; ++c) scale[c] = num::floatAt(a.scale, a.scale.storageIndexOf(ls == 1 ? 0 : c));
  if (a.offset) {
    const TensorArg& o = *a.offset;
    for (int64_t c = 0; c < cols; ++c) offset[c] = num::floatAt(o, o.storageIndexOf(o.shape[0] == 1 ? 0 : c));
  }

  int8_t* out = a.out.hostMutableData<int8_t>();
  const int64_t stride = a.x.strides.back();
  throwIfCancelled(a.cancel);
  parallelFor(
      rows,
      [&](int64_t row) {
        const int64_t base = rowOffset(a.x, row);
        int8_t* y = out + row * cols;
        for (int64_t c = 0; c < cols; ++c) {
          float r = num::floatAt(a.x, base + c * stride) * scale[c];
          r = r + offset[c];
          y[c] = static_cast<int8_t>(num::rneClamp(r, -128, 127));
        }
      },
      stopper(a.cancel));
  throwIfCancelled(a.cancel);
}

void dynamicQuant(const DynamicQuantArgs& a) {
  checkTensorBounds(a.x, "x");
  checkTensorBounds(a.out, "out");
  checkTensorBounds(a.scaleOut, "scaleOut");
  if (!isFloatInput(a.x.dtype))
    fail(ErrorCode::DType, std::string("x must be float16, bfloat16 or float32, got ") + dtypeName(a.x.dtype));
  if (a.x.format != Format::ND) fail(ErrorCode::Format, "x must be ND");
  if (a.x.rank() < 2) fail(ErrorCode::Shape, "x must have at least 2 dims, got " + shapeToString(a.x.shape));
  if (a.out.dtype != DType::Int8) fail(ErrorCode::DType, std::string("out must be int8, got ") + dtypeName(a.out.dtype));
  if (a.scaleOut.dtype != DType::Float32)
    fail(ErrorCode::DType, std::string("scaleOut must be float32, got ") + dtypeName(a.scaleOut.dtype));
  requireContiguousOut(a.out, a.x.shape, "out");
  requireContiguousOut(a.scaleOut, std::vector<int64_t>(a.x.shape.begin(), a.x.shape.end() - 1), "scaleOut");
  const int64_t cols = a.x.shape.back();
  const int64_t rows = a.scaleOut.numel();
  if (a.x.numel() == 0) {
    float* s = a.scaleOut.hostMutableData<float>();
    for (int64_t r = 0; r < rows; ++r) s[r] = 0.0f;  // rows of zero length: amax 0
    return;
  }

  int8_t* out = a.out.hostMutableData<int8_t>();
  float* scaleOut = a.scaleOut.hostMutableData<float>();
  const int64_t stride = a.x.strides.back();
  throwIfCancelled(a.cancel);
  const bool reciprocal = scaleByReciprocal(cols);
  parallelFor(
      rows,
      [&](int64_t row) {
        const int64_t base = rowOffset(a.x, row);
        float amax = 0.0f;
        bool nan = false;
        for (int64_t c = 0; c < cols; ++c) {
          const float v = std::fabs(num::floatAt(a.x, base + c * stride));
          if (std::isnan(v)) nan = true;
          else if (v > amax) amax = v;
        }
        if (nan) amax = std::numeric_limits<float>::quiet_NaN();
        const float q = kInt8Max / amax;
        scaleOut[row] = reciprocal ? 1.0f / q : amax * kInvInt8Max;
        int8_t* y = out + row * cols;
        for (int64_t c = 0; c < cols; ++c) {
          const float t = num::floatAt(a.x, base + c * stride) * q;
          y[c] = static_cast<int8_t>(num::rneClamp(t, -128, 127));
        }
      },
      stopper(a.cancel));
  throwIfCancelled(a.cancel);
}

}  // namespace qmm::emu
