// quantize.cc - aclnnAscendQuantV3 (torch_npu npu_quantize, div_mode=False)
// and aclnnDynamicQuant (npu_dynamic_quant), validated as ops-nn does on
// A2/A3 (quant/ascend_quant_v2/op_api/aclnn_ascend_quant_v3.cpp,
// quant/dynamic_quant/op_host/op_api/aclnn_dynamic_quant.cpp). Numerics
// (docs/semantics.md §9.1 and §9.2), one IEEE f32
// operation per step:
//   AscendQuantV3: r = f32(x) * f32(scale[c]) (again * scale if sqrtMode),
//                  r = r + f32(offset[c]); y = sat_int8(rne(r)), NaN -> 0
//   DynamicQuant:  as the A2/A3 kernels (quant/dynamic_quant/op_kernel):
//                  amax = max_c |x| (NaN if any NaN); q = 127 / amax;
//                  y = sat_int8(rne(x * q)); the scale is amax * f32(1/127)
//                  or 1 / q, by the kernel the tiling picks (dyn_tiling_key).
// Not implemented (161002 saying so): y other than INT8, roundMode other than
// "round", an axis other than the last, non-ND formats, smoothScalesOptional.
#include <cmath>
#include <limits>

#include "op_common.h"

using namespace mockcann;
using namespace mockop;

namespace {

constexpr uint64_t kQuantWorkspace = 16 * 1024;  // an AscendC system workspace

int8_t sat_int8_rne(float v) {
  if (std::isnan(v)) return 0;
  if (v <= -128.0f) return -128;
  if (v >= 127.0f) return 127;
  return static_cast<int8_t>(std::nearbyint(v));
}

// Storage element of flat (row-major) index i of a view.
int64_t elem_at(const TensorDesc& d, int64_t i) {
  int64_t off = d.offset;
  for (size_t k = d.view.size(); k-- > 0;) {
    off += (i % d.view[k]) * d.strides[k];
    i /= d.view[k];
  }
  return off;
}

bool is_float_like(int dt) { return dt == ACL_FLOAT || dt == ACL_FLOAT16 || dt == ACL_BF16; }

std::unique_ptr<Payload> payload(const char* op, std::vector<TensorDesc> reads, std::vector<TensorDesc> writes) {
  std::unique_ptr<Payload> p(new Payload);
  p->op = op;
  p->workspace = kQuantWorkspace;
  p->reads = std::move(reads);
  p->writes = std::move(writes);
  return p;
}

struct QuantPlan {
  TensorDesc x, scale, offset, y;
  bool hasOffset = false, sqrtMode = false;
};

void quant_compute(const QuantPlan& P) {
  const uint8_t *bx = base_ptr(P.x), *bs = base_ptr(P.scale), *bo = P.hasOffset ? base_ptr(P.offset) : nullptr;
  uint8_t* by = base_ptr(P.y);
  const int64_t n = numel(P.x.view), cols = P.x.view.back(), ls = numel(P.scale.view);
  const int64_t sstride = P.scale.strides.back();  // scale is (1,..,1,L): its last dim carries the axis
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = ls == 1 ? 0 : i % cols;
    const float s = load_float(P.scale, bs, P.scale.offset + c * sstride);
    float r = load_float(P.x, bx, elem_at(P.x, i)) * s;
    if (P.sqrtMode) r = r * s;
    if (P.hasOffset) r = r + load_float(P.offset, bo, P.offset.offset + c * P.offset.strides.back());
    store<int8_t>(by, elem_at(P.y, i), sat_int8_rne(r));
  }
}

int quant_validate(const char* fn, const Arg& x, const Arg& sc, const Arg& off, const char* roundMode,
                   int32_t dstType, int32_t axis, const Arg& y) {
  const auto& xv = x.d.view;
  const int64_t xr = static_cast<int64_t>(xv.size());
  if (xr == 0) return fail(kNnParamInvalid, fn, "input x does not support scalar.");
  for (const Arg* a : {&x, &sc, &off})
    if (a->present && !is_float_like(a->d.dtype))
      return fail(kNnParamInvalid, fn, strf("x/scale/offset dtype should be FLOAT, FLOAT16 or BFLOAT16, got %s",
                                            dtype_name(a->d.dtype)));
  if (y.d.dtype != ACL_INT8 && y.d.dtype != ACL_INT32 && y.d.dtype != ACL_INT4)
    return fail(kNnParamInvalid, fn, strf("y dtype should be INT8, INT32 or INT4, got %s", dtype_name(y.d.dtype)));
  if (off.present && off.d.dtype != sc.d.dtype)
    return fail(kNnParamInvalid, fn, strf("offset dtype %s should be the same as scale dtype %s",
                                          dtype_name(off.d.dtype), dtype_name(sc.d.dtype)));
  if (x.d.dtype != ACL_FLOAT && sc.d.dtype != x.d.dtype)
    return fail(kNnParamInvalid, fn, strf("dtype of input x:%s is not compatible with scale:%s.",
                                          dtype_name(x.d.dtype), dtype_name(sc.d.dtype)));
  if (y.d.dtype != dstType)
    return fail(kNnParamInvalid, fn, strf("dstType:%d must be able to represent the y dtype[%s].", dstType,
                                          dtype_name(y.d.dtype)));
  if (axis >= xr || axis < -xr)
    return fail(kNnParamInvalid, fn, strf("invalid axis: %d, axis can't exceed the dimension of x: %lld", axis,
                                          (long long)xr));
  if (xr > 2 && (axis < -2 || (axis >= 0 && axis < xr - 2)))
    return fail(kNnParamInvalid, fn, strf("invalid axis: %d, axis must be one of last two dimensions of x", axis));
  if (y.d.dtype != ACL_INT8) return fail(kNnParamInvalid, fn, "mock-cann implements only an INT8 y");
  if (y.d.view != xv)
    return fail(kNnParamInvalid, fn, strf("y shape %s should be the same as x shape %s", shape_str(y.d.view).c_str(),
                                          shape_str(xv).c_str()));
  if (xr > 8) return fail(kNnParamInvalid, fn, strf("x should have at most 8 dims, got %lld", (long long)xr));
  if (off.present && off.d.view != sc.d.view)
    return fail(kNnParamInvalid, fn, "offset shape should be the same as scale shape");
  const int64_t sr = static_cast<int64_t>(sc.d.view.size());
  if (sr == 0) return fail(kNnParamInvalid, fn, "scale and offset do not support scalar.");
  if (sr != 1 && sr != xr) return fail(kNnParamInvalid, fn, "scale dimNum must be same as x dimNum or 1.");
  const int64_t xAxis = axis >= 0 ? axis : xr + axis, sAxis = sr == 1 ? 0 : xAxis;
  const int64_t sDim = sc.d.view[sAxis];
  if (sDim != xv[xAxis] && sDim != 1)
    return fail(kNnParamInvalid, fn, strf("scale dim(%lld)'s value(%lld) is invalid, should be same as x dim(%lld)'s "
                                          "value(%lld) or 1", (long long)sAxis, (long long)sDim, (long long)xAxis,
                                          (long long)xv[xAxis]));
  if (numel(sc.d.view) != sDim)
    return fail(kNnParamInvalid, fn, "If scale is not 1-dimensional tensor, all dimensions except the dimension "
                                     "specified by axis should be 1");
  const std::string mode = roundMode ? roundMode : "";
  if (!roundMode || (mode != "round" && mode != "floor" && mode != "ceil" && mode != "trunc"))
    return fail(kNnParamInvalid, fn, strf("check roundMode failed, roundMode[%s] not in ['round','floor','ceil',"
                                          "'trunc'] for int8/int4/int32.", mode.c_str()));
  if (mode != "round") return fail(kNnParamInvalid, fn, "mock-cann implements only roundMode \"round\"");
  if (xAxis != xr - 1) return fail(kNnParamInvalid, fn, "mock-cann implements only axis = the last dim of x");
  for (const Arg* a : {&x, &sc, &off, &y})
    if (a->present && !format_is_base(a->d.format))
      return fail(kNnParamInvalid, fn, strf("mock-cann implements only ND tensors, got format %d", a->d.format));
  return kOk;
}

struct DynPlan {
  TensorDesc x, y, scale;
};

// The tiling key DynamicQuant's A2/A3 tiling (dynamic_quant_tiling.cpp)
// chooses for an int8 y without smooth scales or groups, on a 192 KiB UB.
enum DynKernel { kDynPlain = 0, kDynDoubleBuffer = 2, kDynLargeShape = 6, kDynMultiRow = 10, kDynSingleRow = 100 };

DynKernel dyn_tiling_key(int64_t rowLen, int64_t rowNum) {
  const int64_t ub = 196608, reserved = 1024;
  if ((rowLen == 4096 || rowLen == 5120 || rowLen == 10240) && rowNum >= 4 && rowNum <= 384) return kDynSingleRow;
  // MultiRow: its buffers take 11 floats a row element, 64-aligned, at most
  // 255 repeats of 64.
  int64_t maxUbLen = (ub - reserved - (256 + 64 + 12 * 64 * 4)) / 11 / 64 * 64;
  if (maxUbLen > 255 * 64) maxUbLen = 255 * 64;
  if (rowLen >= 128 && rowLen <= maxUbLen && rowLen % 8 == 0) return kDynMultiRow;
  const int64_t aligned = (rowLen + 15) / 16 * 16;
  const int64_t usable = ub - reserved;
  if (usable / (11 * aligned) == 0) return kDynLargeShape;
  return 13 * aligned < usable ? kDynDoubleBuffer : kDynPlain;
}

// Which kernels store amax * f32(1/127) (Muls by a constant) and which 1 / q
// (a scalar division after the vector Div).
bool dyn_scale_is_product(DynKernel k) {
  return k == kDynSingleRow || k == kDynMultiRow || k == kDynDoubleBuffer;
}

void dyn_compute(const DynPlan& P) {
  const uint8_t* bx = base_ptr(P.x);
  uint8_t *by = base_ptr(P.y), *bs = base_ptr(P.scale);
  const int64_t cols = P.x.view.back(), rows = numel(P.scale.view);
  const bool product = dyn_scale_is_product(dyn_tiling_key(cols, rows));
  const float inv127 = 1.0f / 127.0f;
  for (int64_t row = 0; row < rows; ++row) {
    float amax = 0.0f;
    bool nan = false;
    for (int64_t c = 0; c < cols; ++c) {
      const float v = std::fabs(load_float(P.x, bx, elem_at(P.x, row * cols + c)));
      if (std::isnan(v)) nan = true;
      else if (v > amax) amax = v;
    }
    if (nan) amax = std::numeric_limits<float>::quiet_NaN();
    const float q = 127.0f / amax;
    store<float>(bs, elem_at(P.scale, row), product ? amax * inv127 : 1.0f / q);
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t i = row * cols + c;
      store<int8_t>(by, elem_at(P.y, i), sat_int8_rne(load_float(P.x, bx, elem_at(P.x, i)) * q));
    }
  }
}

int dyn_validate(const char* fn, const Arg& x, const Arg& smooth, const Arg& y, const Arg& sc) {
  const auto& xv = x.d.view;
  if (x.d.dtype != ACL_FLOAT16 && x.d.dtype != ACL_BF16)
    return fail(kNnParamInvalid, fn, strf("x dtype should be FLOAT16 or BFLOAT16, got %s", dtype_name(x.d.dtype)));
  if (smooth.present && smooth.d.dtype != x.d.dtype)
    return fail(kNnParamInvalid, fn, "The dtypes of x and smooth_scales are not equal.");
  if (y.d.dtype != ACL_INT8 && y.d.dtype != ACL_INT32 && y.d.dtype != ACL_INT4)
    return fail(kNnParamInvalid, fn, strf("y dtype should be INT4, INT8 or INT32, got %s", dtype_name(y.d.dtype)));
  if (sc.d.dtype != ACL_FLOAT)
    return fail(kNnParamInvalid, fn, strf("scale dtype should be FLOAT, got %s", dtype_name(sc.d.dtype)));
  if (xv.size() <= 1) return fail(kNnParamInvalid, fn, strf("The dimNum[%zu] of x should be greater than 1", xv.size()));
  if (xv.size() >= 9) return fail(kNnParamInvalid, fn, strf("The dimNum[%zu] of x should be less than 9", xv.size()));
  if (smooth.present) return fail(kNnParamInvalid, fn, "smoothScalesOptional is not implemented by mock-cann");
  if (y.d.dtype != ACL_INT8) return fail(kNnParamInvalid, fn, "mock-cann implements only an INT8 y");
  if (y.d.view != xv) return fail(kNnParamInvalid, fn, "The shapes of x and y are inconsistent.");
  if (sc.d.view != std::vector<int64_t>(xv.begin(), xv.end() - 1))
    return fail(kNnParamInvalid, fn,
                "The shapes of x and scale should be consistent except for the last dimension of x.");
  for (const Arg* a : {&x, &y, &sc})
    if (!format_is_base(a->d.format))
      return fail(kNnParamInvalid, fn, strf("mock-cann implements only ND tensors, got format %d", a->d.format));
  return kOk;
}

}  // namespace

MOCK_API aclnnStatus aclnnAscendQuantV3GetWorkspaceSize(const aclTensor* x, const aclTensor* scale,
                                                        const aclTensor* offset, bool sqrtMode, const char* roundMode,
                                                        int32_t dstType, int32_t axis, const aclTensor* y,
                                                        uint64_t* workspaceSize, aclOpExecutor** executor) {
  const char* fn = "aclnnAscendQuantV3GetWorkspaceSize";
  NN_ENTRY(fn);
  if (!workspaceSize) return fail(kNnNullptr, fn, "workspaceSize is nullptr");
  if (!executor) return fail(kNnNullptr, fn, "executor is nullptr");
  Arg xa, sa, oa, ya;
  int rc;
  if ((rc = get_arg(fn, "x", x, true, false, &xa)) || (rc = get_arg(fn, "scale", scale, true, false, &sa)) ||
      (rc = get_arg(fn, "offset", offset, false, true, &oa)) || (rc = get_arg(fn, "y", y, true, false, &ya)) ||
      (rc = quant_validate(fn, xa, sa, oa, roundMode, dstType, axis, ya)))
    return rc;
  auto plan = std::make_shared<QuantPlan>();
  plan->x = xa.d;
  plan->scale = sa.d;
  plan->hasOffset = oa.present;
  if (oa.present) plan->offset = oa.d;
  plan->y = ya.d;
  plan->sqrtMode = sqrtMode;
  std::vector<TensorDesc> reads{xa.d, sa.d};
  if (oa.present) reads.push_back(oa.d);
  auto p = payload("aclnnAscendQuantV3", std::move(reads), {ya.d});
  p->compute = [plan]() { quant_compute(*plan); };
  return make_executor(std::move(p), workspaceSize, executor);
}

MOCK_API aclnnStatus aclnnAscendQuantV3(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,
                                        aclrtStream stream) {
  return run_op("aclnnAscendQuantV3", workspace, workspaceSize, executor, stream);
}

MOCK_API aclnnStatus aclnnDynamicQuantGetWorkspaceSize(const aclTensor* x, const aclTensor* smoothScalesOptional,
                                                       const aclTensor* yOut, const aclTensor* scaleOut,
                                                       uint64_t* workspaceSize, aclOpExecutor** executor) {
  const char* fn = "aclnnDynamicQuantGetWorkspaceSize";
  NN_ENTRY(fn);
  if (!workspaceSize) return fail(kNnNullptr, fn, "workspaceSize is nullptr");
  if (!executor) return fail(kNnNullptr, fn, "executor is nullptr");
  Arg xa, sm, ya, sa;
  int rc;
  if ((rc = get_arg(fn, "x", x, true, false, &xa)) ||
      (rc = get_arg(fn, "smoothScalesOptional", smoothScalesOptional, false, true, &sm)) ||
      (rc = get_arg(fn, "y", yOut, true, false, &ya)) || (rc = get_arg(fn, "scale", scaleOut, true, false, &sa)) ||
      (rc = dyn_validate(fn, xa, sm, ya, sa)))
    return rc;
  auto plan = std::make_shared<DynPlan>();
  plan->x = xa.d;
  plan->y = ya.d;
  plan->scale = sa.d;
  auto p = payload("aclnnDynamicQuant", {xa.d}, {ya.d, sa.d});
  p->compute = [plan]() { dyn_compute(*plan); };
  return make_executor(std::move(p), workspaceSize, executor);
}

MOCK_API aclnnStatus aclnnDynamicQuant(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,
                                       aclrtStream stream) {
  return run_op("aclnnDynamicQuant", workspace, workspaceSize, executor, stream);
}
