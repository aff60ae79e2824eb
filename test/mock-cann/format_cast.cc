// format_cast.cc - aclnnNpuFormatCast family: ND <-> FRACTAL_NZ with zero
// padding (docs/semantics.md §5.1, §5.2). The chip and input rules follow ops-math
// conversion/npu_format_cast/op_host/op_api/aclnn_npu_format_cast.cpp.
#include "op_common.h"

using namespace mockcann;
using namespace mockop;

namespace {

bool cast_dtype_ok(int dt) {
  return dt == ACL_INT8 || dt == ACL_UINT8 || dt == ACL_FLOAT || dt == ACL_FLOAT16 || dt == ACL_BF16 ||
         dt == ACL_INT32 || dt == ACL_UINT32;
}

std::vector<int64_t> nz_shape(const std::vector<int64_t>& view, int64_t c0) {
  size_t r = view.size();
  std::vector<int64_t> s(view.begin(), view.end() - 2);
  s.push_back((view[r - 1] + c0 - 1) / c0);
  s.push_back((view[r - 2] + 15) / 16);
  s.push_back(16);
  s.push_back(c0);
  return s;
}

struct CastPlan {
  TensorDesc src, dst;
  bool toNz = true;
  int64_t c0 = 16;
};

// Element offset inside the NZ storage of ND element (batch fb, r, c).
int64_t nz_index(const std::vector<int64_t>& view, int64_t c0, int64_t fb, int64_t r, int64_t c) {
  size_t nd = view.size();
  int64_t R = view[nd - 2], C = view[nd - 1];
  int64_t c1 = (C + c0 - 1) / c0, r1 = (R + 15) / 16;
  return fb * (c1 * r1 * 16 * c0) + (c / c0) * (r1 * 16 * c0) + (r / 16) * (16 * c0) + (r % 16) * c0 + c % c0;
}

void compute(const CastPlan& P) {
  const uint8_t* bs = base_ptr(P.src);
  uint8_t* bd = base_ptr(P.dst);
  int isz = itemsize(P.src.dtype);
  const TensorDesc& nd = P.toNz ? P.src : P.dst;  // the ND side (view strides apply)
  const std::vector<int64_t>& v = nd.view;
  size_t rank = v.size();
  if (P.toNz) memset(bd, 0, static_cast<size_t>(numel(P.dst.storage)) * isz);  // zero padding
  int64_t batches = 1;
  for (size_t i = 0; i + 2 < rank; ++i) batches *= v[i];
  int64_t R = v[rank - 2], C = v[rank - 1];
  std::vector<int64_t> bidx(rank - 2, 0);
  for (int64_t fb = 0; fb < batches; ++fb) {
    int64_t rem = fb, base = nd.offset;
    for (size_t i = rank - 2; i-- > 0;) {
      bidx[i] = rem % v[i];
      rem /= v[i];
      base += bidx[i] * nd.strides[i];
    }
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c) {
        int64_t ndElem = base + r * nd.strides[rank - 2] + c * nd.strides[rank - 1];
        int64_t nzElem = nz_index(v, P.c0, fb, r, c);
        if (P.toNz)
          memcpy(bd + nzElem * isz, bs + ndElem * isz, isz);
        else
          memcpy(bd + ndElem * isz, bs + nzElem * isz, isz);
      }
  }
}

// aclnn runs this op on Atlas A2 (910B), A3 (910_93) and Ascend 950 only; any
// other chip fails with 161002 (the 361001 of the check is mapped by its caller).
int check_soc(const char* fn) {
  if (soc_family() != kSocOther) return 0;
  return fail(kNnParamInvalid, fn, "Only support Ascend950/ASCEND910_93/ASCEND910B (see aclrtGetSocName)");
}

// aclnn's IsContiguous, except that a FRACTAL_NZ tensor must have a contiguous
// view too: aclnn counts every FRACTAL_NZ tensor as contiguous and casts its
// storage as if the view were not there; the mock refuses such views instead.
bool contiguous_for_cast(const TensorDesc& d) { return numel(d.view) <= 1 || is_contiguous(d); }

}  // namespace

MOCK_API aclnnStatus aclnnNpuFormatCastCalculateSizeAndFormat(const aclTensor* srcTensor, const int dstFormat,
                                                              int additionalDtype, int64_t** dstShape,
                                                              uint64_t* dstShapeSize, int* actualFormat) {
  Guard g(mu());
  const char* fn = "aclnnNpuFormatCastCalculateSizeAndFormat";
  if (enter(fn)) return kNnFault;
  if (!is_initialized()) return fail(kAclInvalidParam, fn, "aclInit has not been called");
  if (int rc = check_soc(fn)) return rc;
  if (!dstShape || !dstShapeSize || !actualFormat)
    return fail(kNnNullptr, fn, "dstShape, dstShapeSize or actualFormat is nullptr");
  Arg src;
  if (int rc = get_arg(fn, "srcTensor", srcTensor, true, false, &src)) return rc;
  const TensorDesc& d = src.d;
  if (!cast_dtype_ok(d.dtype))
    return fail(kNnParamInvalid, fn, strf("srcTensor dtype %s is not supported", dtype_name(d.dtype)));
  if (d.view.size() < 2 || d.view.size() > 6)
    return fail(kNnParamInvalid, fn, strf("srcTensor dim num should be 2 ~ 6, but is %zu", d.view.size()));
  // Before Ascend 950 an empty source is left to the legacy (aclop) path.
  if (numel(d.view) == 0 && soc_family() != kSoc950)
    return fail(kNnRuntime, fn, "aclnn empty tensor is not supported, fallback aclop");
  std::vector<int64_t> shape;
  int fmt;
  if (dstFormat == ACL_FORMAT_FRACTAL_NZ) {
    if (!format_is_base(d.format))
      return fail(kNnParamInvalid, fn, strf("srcTensor format %d: only ND-like sources can be cast to FRACTAL_NZ", d.format));
    int ad = additionalDtype == -1 ? d.dtype : additionalDtype;
    if (!cast_dtype_ok(ad))
      return fail(kNnParamInvalid, fn, strf("additionalDtype %d is not supported", additionalDtype));
    shape = nz_shape(d.view, 32 / itemsize(ad));
    fmt = ACL_FORMAT_FRACTAL_NZ;
  } else if (format_is_base(dstFormat)) {
    shape = d.view;
    fmt = ACL_FORMAT_ND;
  } else {
    return fail(kNnParamInvalid, fn, strf("dstFormat %d is not supported (only FRACTAL_NZ(29) and ND(2))", dstFormat));
  }
  int64_t* out = new int64_t[shape.size()];
  for (size_t i = 0; i < shape.size(); ++i) out[i] = shape[i];
  *dstShape = out;
  *dstShapeSize = shape.size();
  *actualFormat = fmt;
  return kOk;
}

MOCK_API aclnnStatus aclnnNpuFormatCastGetWorkspaceSize(const aclTensor* srcTensor, aclTensor* dstTensor,
                                                        uint64_t* workspaceSize, aclOpExecutor** executor) {
  NN_ENTRY("aclnnNpuFormatCastGetWorkspaceSize");
  const char* fn = "aclnnNpuFormatCastGetWorkspaceSize";
  if (!workspaceSize) return fail(kNnNullptr, fn, "workspaceSize is nullptr");
  if (!executor) return fail(kNnNullptr, fn, "executor is nullptr");
  if (int rc = check_soc(fn)) return rc;
  Arg s, d;
  int rc;
  if ((rc = get_arg(fn, "srcTensor", srcTensor, true, false, &s)) || (rc = get_arg(fn, "dstTensor", dstTensor, true, false, &d)))
    return rc;
  if (s.d.dtype != d.d.dtype)
    return fail(kNnParamInvalid, fn, strf("srcTensor dtype %s and dstTensor dtype %s must be the same",
                                          dtype_name(s.d.dtype), dtype_name(d.d.dtype)));
  if (!cast_dtype_ok(s.d.dtype))
    return fail(kNnParamInvalid, fn, strf("dtype %s is not supported", dtype_name(s.d.dtype)));
  if (s.d.view.size() < 2 || s.d.view.size() > 6)
    return fail(kNnParamInvalid, fn, strf("srcTensor dim num should be 2 ~ 6, but is %zu", s.d.view.size()));
  if (s.d.view != d.d.view)
    return fail(kNnParamInvalid, fn, strf("srcTensor view shape %s and dstTensor view shape %s must be the same",
                                          shape_str(s.d.view).c_str(), shape_str(d.d.view).c_str()));
  if (!contiguous_for_cast(s.d)) return fail(kNnParamInvalid, fn, "srcTensor must be contiguous.");
  if (!contiguous_for_cast(d.d)) return fail(kNnParamInvalid, fn, "dstTensor must be contiguous.");
  if (numel(s.d.view) == 0 && soc_family() != kSoc950)
    return fail(kNnParamInvalid, fn, "empty tensors are not supported before Ascend 950");
  auto plan = std::make_shared<CastPlan>();
  plan->src = s.d;
  plan->dst = d.d;
  bool sNz = s.d.format == ACL_FORMAT_FRACTAL_NZ, dNz = d.d.format == ACL_FORMAT_FRACTAL_NZ;
  const TensorDesc* nzT;
  if (format_is_base(s.d.format) && dNz) {
    plan->toNz = true;
    nzT = &d.d;
  } else if (sNz && format_is_base(d.d.format)) {
    plan->toNz = false;
    nzT = &s.d;
  } else {
    return fail(kNnParamInvalid, fn, strf("format cast %d -> %d is not supported (only ND <-> FRACTAL_NZ(29))",
                                          s.d.format, d.d.format));
  }
  int64_t c0 = nzT->storage.back();
  if (c0 != 8 && c0 != 16 && c0 != 32)
    return fail(kNnParamInvalid, fn, strf("FRACTAL_NZ storage %s has an unsupported C0 %lld",
                                          shape_str(nzT->storage).c_str(), (long long)c0));
  std::vector<int64_t> expect = nz_shape(nzT->view, c0);
  if (nzT->storage != expect)
    return fail(kNnParamInvalid, fn, strf("FRACTAL_NZ storage shape should be %s for view %s, but is %s",
                                          shape_str(expect).c_str(), shape_str(nzT->view).c_str(),
                                          shape_str(nzT->storage).c_str()));
  if (nzT->offset != 0)
    return fail(kNnParamInvalid, fn, "a FRACTAL_NZ tensor with a non-zero storage offset is not supported");
  plan->c0 = c0;
  std::unique_ptr<Payload> p(new Payload);
  p->op = "aclnnNpuFormatCast";
  p->workspace = 0;
  p->reads = {s.d};
  p->writes = {d.d};
  p->compute = [plan]() { compute(*plan); };
  return make_executor(std::move(p), workspaceSize, executor);
}

MOCK_API aclnnStatus aclnnNpuFormatCast(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,
                                        aclrtStream stream) {
  return run_op("aclnnNpuFormatCast", workspace, workspaceSize, executor, stream);
}
