// trans_quant_param.cc - aclnnTransQuantParamV2/V3 (device, docs/semantics.md §4) and
// the host-only aclnnTransQuantParam.
#include <cmath>
#include <cstdlib>

#include "op_common.h"

using namespace mockcann;
using namespace mockop;
using namespace mocknum;

namespace {

// fp19 rounding of a float's bits (round_mode 1, docs/semantics.md §4).
uint32_t round_fp19(uint32_t u) {
  uint32_t sign = u & 0x80000000u, e = (u >> 23) & 0xFFu, mant = u & 0x7FFFFFu;
  if (e == 0) return sign;                          // denormals flush to +-0
  if (e == 255) return u & 0xFFFFE000u;             // inf/NaN: truncate
  uint32_t m10 = mant >> 13, rb = (mant >> 12) & 1u, sticky = mant & 0xFFFu;
  if (rb && (sticky || (m10 & 1u))) {
    if (++m10 == 1024u) {
      m10 = 0;
      e += 1;  // may reach 255 -> inf
    }
  }
  return sign | (e << 23) | (m10 << 13);
}

int64_t offset_rne_clamped(float o) {
  if (std::isnan(o)) return 0;
  float r = std::nearbyint(o);
  if (r < -256.0f) return -256;
  if (r > 255.0f) return 255;
  return static_cast<int64_t>(r);
}

struct TqpPlan {
  TensorDesc scale, offset, out;
  bool hasOffset = false;
  int64_t roundMode = 0;
  int64_t L = 0;
};

bool shape_n_or_1n(const std::vector<int64_t>& v) {
  if (v.size() == 1) return v[0] > 0;
  if (v.size() == 2) return v[0] == 1 && v[1] > 0;
  return false;
}

void compute(const TqpPlan& P) {
  const uint8_t* bs = base_ptr(P.scale);
  const uint8_t* bo = P.hasOffset ? base_ptr(P.offset) : nullptr;
  uint8_t* bout = base_ptr(P.out);
  int64_t ls = numel(P.scale.view), lo = P.hasOffset ? numel(P.offset.view) : 0;
  auto elem = [](const TensorDesc& d, int64_t i) {  // flat index i of a (n,) or (1,n) view
    return d.offset + i * d.strides.back();
  };
  for (int64_t i = 0; i < P.L; ++i) {
    uint32_t sb = f32_bits(load<float>(bs, elem(P.scale, ls == 1 ? 0 : i)));
    uint64_t q = P.roundMode == 1 ? round_fp19(sb) : (sb & 0xFFFFE000u);
    q |= 1ull << 46;
    if (P.hasOffset) {
      int64_t o = offset_rne_clamped(load<float>(bo, elem(P.offset, lo == 1 ? 0 : i)));
      q |= (static_cast<uint64_t>(o) & 0x1FFull) << 37;
    }
    store<uint64_t>(bout, elem(P.out, i), q);
  }
}

int tqp_workspace(const char* fn, const char* op, const aclTensor* scale, const aclTensor* offset,
                  int64_t roundMode, const aclTensor* out, uint64_t* ws, aclOpExecutor** executor) {
  if (!ws) return fail(kNnNullptr, fn, "workspaceSize is nullptr");
  if (!executor) return fail(kNnNullptr, fn, "executor is nullptr");
  Arg sc, off, o;
  int rc;
  if ((rc = get_arg(fn, "scale", scale, true, false, &sc)) || (rc = get_arg(fn, "offset", offset, false, true, &off)) ||
      (rc = get_arg(fn, "out", out, true, false, &o)))
    return rc;
  if (roundMode != 0 && roundMode != 1)
    return fail(kNnParamInvalid, fn, strf("roundMode only support 0 and 1, but current is %lld", (long long)roundMode));
  if (sc.d.dtype != ACL_FLOAT)
    return fail(kNnParamInvalid, fn, strf("scale dtype should be FLOAT, but is %s", dtype_name(sc.d.dtype)));
  if (!shape_n_or_1n(sc.d.view))
    return fail(kNnParamInvalid, fn,
                strf("shape of scale only support (n, ) and (1, n), but current is %s", shape_str(sc.d.view).c_str()));
  if (off.present) {
    if (off.d.dtype != ACL_FLOAT)
      return fail(kNnParamInvalid, fn, strf("offset dtype should be FLOAT, but is %s", dtype_name(off.d.dtype)));
    if (!shape_n_or_1n(off.d.view))
      return fail(kNnParamInvalid, fn,
                  strf("shape of offset only support (n, ) and (1, n), but current is %s", shape_str(off.d.view).c_str()));
  }
  for (const Arg* a : {&sc, &off, &o})
    if (a->present && !format_is_base(a->d.format))
      return fail(kNnParamInvalid, fn, strf("TransQuantParam tensors must be ND, got format %d", a->d.format));
  int64_t ls = numel(sc.d.view), lo = off.present ? numel(off.d.view) : 0;
  if (ls > 1 && lo > 1 && ls != lo)
    return fail(kNnParamInvalid, fn,
                strf("scale and offset should be same when both greater than 1, but scale is %lld, offset is %lld",
                     (long long)ls, (long long)lo));
  int64_t L = ls > lo ? ls : lo;
  if (o.d.dtype != ACL_UINT64 && o.d.dtype != ACL_INT64)
    return fail(kNnParamInvalid, fn, strf("out dtype should be UINT64 or INT64, but is %s", dtype_name(o.d.dtype)));
  // The kernel writes L values to out. torch_npu shapes out (L,) or (1, L)
  // (the scale's or the offset's shape); aclnn itself does not check it, so
  // the mock insists on one of those forms rather than let a write overrun.
  if (o.d.view != std::vector<int64_t>{L} && o.d.view != std::vector<int64_t>{1, L})
    return fail(kNnParamInvalid, fn,
                strf("out shape should be (%lld,) or (1, %lld), but is %s", (long long)L, (long long)L,
                     shape_str(o.d.view).c_str()));
  auto plan = std::make_shared<TqpPlan>();
  plan->scale = sc.d;
  plan->hasOffset = off.present;
  if (off.present) plan->offset = off.d;
  plan->out = o.d;
  plan->roundMode = roundMode;
  plan->L = L;
  std::unique_ptr<Payload> p(new Payload);
  p->op = op;
  p->workspace = 0;
  p->reads = {sc.d};
  if (off.present) p->reads.push_back(off.d);
  p->writes = {o.d};
  p->compute = [plan]() { compute(*plan); };
  return make_executor(std::move(p), ws, executor);
}

}  // namespace

MOCK_API aclnnStatus aclnnTransQuantParamV2GetWorkspaceSize(const aclTensor* scale, const aclTensor* offset,
                                                            const aclTensor* out, uint64_t* workspaceSize,
                                                            aclOpExecutor** executor) {
  NN_ENTRY("aclnnTransQuantParamV2GetWorkspaceSize");
  return tqp_workspace("aclnnTransQuantParamV2GetWorkspaceSize", "aclnnTransQuantParamV2", scale, offset, 0, out,
                       workspaceSize, executor);
}

MOCK_API aclnnStatus aclnnTransQuantParamV2(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,
                                            const aclrtStream stream) {
  return run_op("aclnnTransQuantParamV2", workspace, workspaceSize, executor, stream);
}

#ifndef MOCK_CANN_NO_V5
MOCK_API aclnnStatus aclnnTransQuantParamV3GetWorkspaceSize(const aclTensor* scale, const aclTensor* offset,
                                                            int64_t roundMode, const aclTensor* out,
                                                            uint64_t* workspaceSize, aclOpExecutor** executor) {
  NN_ENTRY("aclnnTransQuantParamV3GetWorkspaceSize");
  return tqp_workspace("aclnnTransQuantParamV3GetWorkspaceSize", "aclnnTransQuantParamV3", scale, offset,
                       roundMode, out, workspaceSize, executor);
}

MOCK_API aclnnStatus aclnnTransQuantParamV3(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,
                                            const aclrtStream stream) {
  return run_op("aclnnTransQuantParamV3", workspace, workspaceSize, executor, stream);
}
#endif

// Host variant (docs/semantics.md §4, "Other variant"): no masking, C round() for the
// offset, output padded to a multiple of 16 (unless 1), calloc'ed.
MOCK_API aclnnStatus aclnnTransQuantParam(const float* scaleArray, uint64_t scaleSize, const float* offsetArray,
                                          uint64_t offsetSize, uint64_t** quantParam, uint64_t* quantParamSize) {
  Guard g(mu());
  const char* fn = "aclnnTransQuantParam";
  if (enter(fn)) return kNnFault;
  if (!scaleArray || !quantParam || !quantParamSize) return fail(kNnNullptr, fn, "scaleArray, quantParam or quantParamSize is nullptr");
  if (scaleSize == 0) return fail(kNnParamInvalid, fn, "scaleSize must be greater than 0");
  if (offsetSize > 0 && !offsetArray) return fail(kNnNullptr, fn, "offsetArray is nullptr while offsetSize > 0");
  if (!offsetArray) offsetSize = 0;
  if (scaleSize > 1 && offsetSize > 1 && scaleSize != offsetSize)
    return fail(kNnParamInvalid, fn, "scaleSize and offsetSize should be same when both greater than 1");
  uint64_t L = scaleSize > offsetSize ? scaleSize : offsetSize;
  uint64_t outSize = L == 1 ? 1 : (L + 15) / 16 * 16;
  uint64_t* q = static_cast<uint64_t*>(calloc(outSize, sizeof(uint64_t)));
  if (!q) return fail(kNnFault, fn, "out of host memory");
  for (uint64_t i = 0; i < L; ++i) {
    uint64_t v = 1ull << 46;
    if (i < scaleSize) v |= f32_bits(scaleArray[i]);
    if (i < offsetSize) {
      float r = std::isnan(offsetArray[i]) ? 0.0f : std::round(offsetArray[i]);
      int64_t o = r < -256.0f ? -256 : (r > 255.0f ? 255 : static_cast<int64_t>(r));
      v |= (static_cast<uint64_t>(o) & 0x1FFull) << 37;
    }
    q[i] = v;
  }
  *quantParam = q;
  *quantParamSize = outSize;
  return kOk;
}
