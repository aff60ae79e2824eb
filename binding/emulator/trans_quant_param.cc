// aclnnTransQuantParamV2/V3 on the CPU, bit-exact to docs/semantics.md §4.
#include <string>

#include "../errors.h"
#include "emulator.h"
#include "numerics.h"

namespace qmm::emu {

namespace {

uint32_t fp19Bits(uint32_t u, int roundMode) {
  if (roundMode == 0) return u & 0xFFFFE000u;  // truncation, denormals kept as masked bits
  const uint32_t sign = u >> 31;
  uint32_t e = (u >> 23) & 0xFF;
  const uint32_t mant = u & 0x7FFFFF;
  uint32_t m10 = mant >> 13;
  if (e == 0) return sign << 31;                   // denormals flush to ±0
  if (e == 255) return (sign << 31) | (e << 23) | (m10 << 13);
  const uint32_t rb = (mant >> 12) & 1, sticky = mant & 0xFFF;
  if (rb && (sticky || (m10 & 1))) {
    if (++m10 == 1024) {
      m10 = 0;
      ++e;  // may reach 255: inf
    }
  }
  return (sign << 31) | (e << 23) | (m10 << 13);
}

float elementAt(const TensorArg& t, int64_t i) { return t.hostData<float>()[t.storageIndexOf(i)]; }

}  // namespace

void transQuantParam(const TransQuantParamArgs& a) {
  checkTensorBounds(a.scale, "scale");
  if (a.offset) checkTensorBounds(*a.offset, "offset");
  checkTensorBounds(a.out, "out");
  if (a.scale.dtype != DType::Float32) fail(ErrorCode::DType, "scale must be float32");
  if (a.offset && a.offset->dtype != DType::Float32) fail(ErrorCode::DType, "offset must be float32");
  if (a.out.dtype != DType::Int64 && a.out.dtype != DType::UInt64) fail(ErrorCode::DType, "out must be int64");
  if (a.roundMode != 0 && a.roundMode != 1) fail(ErrorCode::Shape, "roundMode only support 0 and 1");
  const int64_t ls = a.scale.numel(), lo = a.offset ? a.offset->numel() : 0;
  if (ls == 0 || (a.offset && lo == 0)) fail(ErrorCode::Shape, "scale and offset can not be empty");
  if (ls > 1 && lo > 1 && ls != lo)
    fail(ErrorCode::Shape, "scale and offset should be same when both greater than 1, got " + std::to_string(ls) +
                               " and " + std::to_string(lo));
  const int64_t len = std::max(ls, lo);
  if (a.out.numel() != len || !a.out.isContiguous() || a.out.offset != 0)
    fail(ErrorCode::Shape, "out must hold " + std::to_string(len) + " contiguous elements");
  auto* out = a.out.hostMutableData<uint64_t>();
  for (int64_t i = 0; i < len; ++i) {
    const float s = elementAt(a.scale, ls == 1 ? 0 : i);
    uint64_t q = fp19Bits(num::bitsOf(s), a.roundMode) | (uint64_t{1} << 46);
    if (a.offset) {
      const int32_t o = num::rneClamp(elementAt(*a.offset, lo == 1 ? 0 : i), -256, 255);
      q |= (static_cast<uint64_t>(static_cast<uint32_t>(o)) & 0x1FF) << 37;
    }
    out[i] = q;
  }
}

}  // namespace qmm::emu
