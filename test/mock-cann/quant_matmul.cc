// quant_matmul.cc - aclnnQuantMatmulV3/V4/V5/WeightNz: validation as on
// A2/A3 (docs/semantics.md §1.2-§1.5, §2.1, §5) and the docs/semantics.md §3.7 arithmetic.
#include <climits>

#include "op_common.h"

using namespace mockcann;
using namespace mockop;
using namespace mocknum;

namespace {

enum Version { kV3 = 3, kV4 = 4, kV5 = 5, kNz = 6 };

// A matrix operand after aclnn's transposition processing: dims/strides are
// the "physical" view P (last two swapped when a transposed view was
// detected), trans is the resulting transpose flag.
struct Operand {
  TensorDesc d;
  std::vector<int64_t> dims, strides;
  bool trans = false;
  bool nz = false;
  int64_t c0 = 0;  // NZ block width in storage elements
};

struct Plan {
  Version ver;
  bool int4 = false;
  Operand x1, x2;
  int64_t m = 0, k = 0, n = 0;
  std::vector<int64_t> outBatch;
  TensorDesc scale, out, pt, bias;
  bool hasPt = false, hasBias = false;
};

// IsTransposeLastTwoDims (docs/semantics.md §1.2).
bool is_transpose_last_two(const std::vector<int64_t>& sz, const std::vector<int64_t>& st) {
  size_t nd = sz.size();
  if (nd < 2 || nd > 6) return false;
  size_t d1 = nd - 1, d2 = nd - 2;
  if (st[d2] != 1 || st[d1] != sz[d2]) return false;
  int64_t acc = sz[d1] * sz[d2];
  for (size_t b = nd - 2; b-- > 0;) {
    if (st[b] != acc) return false;
    acc *= sz[b];
  }
  return !(sz[d1] == 1 && sz[d2] == 1);
}

void swap_last_two(Operand& o) {
  size_t r = o.dims.size();
  std::swap(o.dims[r - 1], o.dims[r - 2]);
  std::swap(o.strides[r - 1], o.strides[r - 2]);
  o.trans = !o.trans;
}

Operand process(const TensorDesc& d, bool flag, bool nz) {
  Operand o;
  o.d = d;
  o.dims = d.view;
  o.strides = d.strides;
  o.trans = flag;
  o.nz = nz;
  size_t r = d.view.size();
  if (nz) {  // GetTransposeAttrValue on the NZ view strides (narrow check)
    if (d.strides[r - 2] == 1 && d.strides[r - 1] == d.view[r - 2]) swap_last_two(o);
  } else if (is_transpose_last_two(d.view, d.strides)) {  // TensorContiguousProcess
    swap_last_two(o);
  }
  return o;
}

bool is_float_scale(int dt) { return dt == ACL_FLOAT || dt == ACL_BF16; }
bool is_int64_scale(int dt) { return dt == ACL_INT64 || dt == ACL_UINT64; }

// 910B dtype rules (docs/semantics.md §1.5 aclnn V4/V5, §2.1). Returns "" if fine.
std::string check_dtypes(bool int4, int out, int scale, bool hasPt, int pt, bool hasBias, int bias,
                         bool hasOffset, int offset) {
  const char* on = dtype_name(out);
  if (out != ACL_INT8 && out != ACL_FLOAT16 && out != ACL_BF16 && out != ACL_INT32)
    return strf("out dtype should be INT8, FLOAT16, BFLOAT16 or INT32, but is %s", on);
  if (!is_float_scale(scale) && !is_int64_scale(scale))
    return strf("scale dtype should be INT64, UINT64, FLOAT or BFLOAT16, but is %s", dtype_name(scale));
  if (hasBias && bias != ACL_INT32 && bias != ACL_FLOAT16 && bias != ACL_BF16 && bias != ACL_FLOAT)
    return strf("bias dtype should be INT32, FLOAT16, BFLOAT16 or FLOAT, but is %s", dtype_name(bias));
  if (hasOffset) {
    if (out != ACL_INT8) return strf("Offset only exists when out dtype is INT8, actual dtype is %s.", on);
    if (offset != ACL_FLOAT) return strf("offset dtype should be FLOAT, but is %s", dtype_name(offset));
  }
  if (hasBias && bias == ACL_BF16 && out != ACL_BF16)
    return strf("When bias dtype is BFLOAT16, out dtype should be BFLOAT16, actual out dtype is %s.", on);
  if (scale == ACL_BF16 && out != ACL_BF16 && out != ACL_INT32)
    return strf("When scale dtype is BFLOAT16, out dtype should be BFLOAT16 or INT32, actual out dtype is %s.", on);
  if (hasPt) {
    if (pt != ACL_FLOAT)
      return strf("pertokenScaleOptional dtype should be FLOAT, but is %s", dtype_name(pt));
    if (out != ACL_FLOAT16 && out != ACL_BF16)
      return strf("When pertokenScaleOptional is not nullptr, out dtype should be FLOAT16 or BFLOAT16, "
                  "but is %s.", on);
    if (hasBias && bias == ACL_FLOAT16 && out != ACL_FLOAT16)
      return strf("When bias dtype is FLOAT16, out dtype should be FLOAT16, actual out dtype is %s.", on);
    if (out == ACL_FLOAT16 && scale != ACL_FLOAT)
      return strf("When pertokenScaleOptional is not nullptr and out dtype is FLOAT16, scale dtype should "
                  "be FLOAT, but is %s.", dtype_name(scale));
    if (out == ACL_BF16 && !is_float_scale(scale))
      return strf("When out dtype is BFLOAT16, scale dtype should be BFLOAT16 or FLOAT, but is %s.",
                  dtype_name(scale));
    return "";
  }
  if (hasBias && bias == ACL_FLOAT16) return "When pertokenScaleOptional is nullptr, bias dtype should not be FLOAT16.";
  if (hasBias && bias == ACL_FLOAT && out != ACL_BF16)
    return strf("When pertokenScaleOptional is nullptr and bias dtype is FLOAT, out dtype should be "
                "BFLOAT16, actual out dtype is %s.", on);
  if (scale == ACL_FLOAT && (out == ACL_INT8 || out == ACL_FLOAT16))
    return "When pertokenScaleOptional is nullptr and output dtype is INT8 or FLOAT16, scale dtype should not be FLOAT.";
  if (int4) {
    if (out != ACL_FLOAT16)
      return strf("In a4w4 scenario without pertokenScaleOptional, out dtype should be FLOAT16, but is %s.", on);
    if (!is_int64_scale(scale))
      return strf("In a4w4 scenario, scale dtype should be UINT64 or INT64, but is %s.", dtype_name(scale));
    if (hasBias && bias != ACL_INT32)
      return strf("In a4w4 scenario, bias dtype should be INT32, but is %s.", dtype_name(bias));
    return "";
  }
  switch (out) {
    case ACL_BF16:
      if (!is_float_scale(scale))
        return strf("When out dtype is BFLOAT16, scale dtype should be BFLOAT16 or FLOAT, but is %s.",
                    dtype_name(scale));
      break;
    case ACL_INT8:
    case ACL_FLOAT16:
      if (!is_int64_scale(scale))
        return strf("When out dtype is %s, scale dtype should be INT64 or UINT64, but is %s.", on,
                    dtype_name(scale));
      if (hasBias && bias != ACL_INT32)
        return strf("When out dtype is %s, bias dtype should be INT32, but is %s.", on, dtype_name(bias));
      break;
    case ACL_INT32:
      if (!is_float_scale(scale))
        return strf("When out dtype is INT32, scale dtype should be FLOAT or BFLOAT16, but is %s.",
                    dtype_name(scale));
      if (hasBias && bias != ACL_INT32)
        return strf("When out dtype is INT32, bias dtype should be INT32, but is %s.", dtype_name(bias));
      break;
  }
  return "";
}

struct Inputs {
  const char* fn;
  const char* op;
  Version ver;
  const aclTensor *x1, *x2, *scale, *offset, *pt, *bias, *out, *yScale, *x1Offset, *yOffset;
  bool tX1, tX2;
  int64_t groupSize;
};

int validate(const Inputs& in, Plan* P) {
  const char* fn = in.fn;
  Arg x1, x2, sc, off, pt, bias, out, ys, x1o, yo;
  int rc;
  if ((rc = get_arg(fn, "x1", in.x1, true, false, &x1)) || (rc = get_arg(fn, "x2", in.x2, true, false, &x2)) ||
      (rc = get_arg(fn, in.ver >= kV5 ? "x2Scale" : "scale", in.scale, true, false, &sc)) ||
      (rc = get_arg(fn, in.ver >= kV5 ? "x2Offset" : "offset", in.offset, false, true, &off)) ||
      (rc = get_arg(fn, in.ver >= kV5 ? "x1Scale" : "pertokenScaleOptional", in.pt, false, true, &pt)) ||
      (rc = get_arg(fn, "bias", in.bias, false, true, &bias)) ||
      (rc = get_arg(fn, "out", in.out, true, false, &out)) ||
      (rc = get_arg(fn, "yScale", in.yScale, false, true, &ys)) ||
      (rc = get_arg(fn, "x1Offset", in.x1Offset, false, true, &x1o)) ||
      (rc = get_arg(fn, "yOffset", in.yOffset, false, true, &yo)))
    return rc;
  if (in.groupSize != 0)
    return fail(kNnParamInvalid, fn,
                strf("groupSize %lld: group-quantized modes (A4W4 pergroup, A8W4) are not implemented by "
                     "mock-cann", (long long)in.groupSize));
  if (ys.present || x1o.present || yo.present)
    return fail(kNnParamInvalid, fn,
                "yScale/x1Offset/yOffset are only used by modes (A8W4, 950 MX/fp8) that mock-cann does not "
                "implement; pass nullptr");
  const TensorDesc &a = x1.d, &b = x2.d;
  if (numel(a.view) == 0 || numel(b.view) == 0)
    return fail(kNnParamInvalid, fn,
                in.ver >= kV5 ? "x1 and x2 can not be empty"
                              : "QuantMatmul not support to process empty tensor currently.");
  if (a.dtype == ACL_INT4 || b.dtype == ACL_INT4)
    return fail(kNnParamInvalid, fn,
                "ACL_INT4 tensors are not supported by mock-cann; pass int4 data packed 8 per ACL_INT32");
  if ((a.dtype != ACL_INT8 && a.dtype != ACL_INT32) || (b.dtype != ACL_INT8 && b.dtype != ACL_INT32))
    return fail(kNnParamInvalid, fn,
                strf("x1/x2 dtype should be INT8 or INT32 (int4 x8), but x1 is %s, x2 is %s",
                     dtype_name(a.dtype), dtype_name(b.dtype)));
  if (a.dtype == ACL_INT8 && b.dtype == ACL_INT32)
    return fail(kNnParamInvalid, fn, "A8W4 (x1 INT8, x2 INT32/INT4) needs groupSize; not implemented by mock-cann");
  if (a.dtype != b.dtype)
    return fail(kNnParamInvalid, fn,
                strf("In non-A8W4 case, x1 and x2 dtype should be same, but x1 is %s, x2 is %s.",
                     dtype_name(a.dtype), dtype_name(b.dtype)));
  P->int4 = a.dtype == ACL_INT32;
  size_t r1 = a.view.size(), r2 = b.view.size();
  if (r1 < 2 || r1 > 6) return fail(kNnParamInvalid, fn, strf("x1 dim num should be 2 ~ 6, but is %zu", r1));
  if (P->int4 && r2 != 2)
    return fail(kNnParamInvalid, fn, strf("x2 should be 2-d in a4w4/a8w4, but is %zu.", r2));
  if (r2 < 2 || r2 > 6) return fail(kNnParamInvalid, fn, strf("x2 dim num should be 2 ~ 6, but is %zu", r2));
  // formats
  if (!format_is_base(a.format))
    return fail(kNnParamInvalid, fn, strf("x1 format should be ND, but is %d", a.format));
  bool nz = b.format == ACL_FORMAT_FRACTAL_NZ;
  if (in.ver == kNz && !nz)
    return fail(kNnParamInvalid, fn,
                strf("x2'format only support NZ, but now x2's format is not NZ(Ascend affinity format), "
                     "format is %d.", b.format));
  if (!nz && !format_is_base(b.format))
    return fail(kNnParamInvalid, fn, strf("x2 format should be ND or FRACTAL_NZ(29), but is %d", b.format));
  if (nz && in.ver == kV3)
    return fail(kNnParamInvalid, fn, "aclnnQuantMatmulV3 does not support a FRACTAL_NZ x2; use aclnnQuantMatmulWeightNz");
  const struct { const Arg* arg; const char* name; } others[] = {
      {&sc, "scale"}, {&off, "offset"}, {&pt, "pertokenScale"}, {&bias, "bias"}, {&out, "out"}};
  for (auto& o : others)
    if (o.arg->present && !format_is_base(o.arg->d.format))
      return fail(kNnParamInvalid, fn, strf("%s format should be ND, but is %d", o.name, o.arg->d.format));
  // dtype table
  std::string e = check_dtypes(P->int4, out.d.dtype, sc.d.dtype, pt.present, pt.d.dtype, bias.present,
                               bias.d.dtype, off.present, off.d.dtype);
  if (!e.empty()) return fail(kNnParamInvalid, fn, e);
  // transposition (docs/semantics.md §1.2)
  P->x1 = process(a, in.tX1, false);
  P->x2 = process(b, in.tX2, nz);
  if (P->int4 && P->x1.trans)
    return fail(kNnParamInvalid, fn, "TransposeX1 should be false in a4w4/a8w4 scenario, but is true.");
  const Operand &o1 = P->x1, &o2 = P->x2;
  int64_t p1a = o1.dims[r1 - 2], p1b = o1.dims[r1 - 1], p2a = o2.dims[r2 - 2], p2b = o2.dims[r2 - 1];
  int64_t mult = P->int4 ? 8 : 1;
  P->m = o1.trans ? p1b : p1a;
  P->k = o1.trans ? p1a : p1b * mult;
  int64_t k2 = o2.trans ? p2b * mult : p2a;
  P->n = o2.trans ? p2a : p2b * mult;
  if (P->k != k2)
    return fail(kNnParamInvalid, fn,
                strf("x1 k dim and x2 k dim should be same, but x1 is %lld, x2 is %lld.", (long long)P->k,
                     (long long)k2));
  for (int64_t v : {P->m, P->k, P->n})
    if (v > INT32_MAX)
      return fail(kNnParamInvalid, fn, strf("Shape must be within the range [1, %d], but a dim is %lld", INT32_MAX, (long long)v));
  for (const auto* dv : {&a.view, &b.view})
    for (int64_t v : *dv)
      if (v > INT32_MAX)
        return fail(kNnParamInvalid, fn, strf("Shape must be within the range [1, %d], but a dim is %lld", INT32_MAX, (long long)v));
  // FRACTAL_NZ x2 (docs/semantics.md §5.1, §5.3): element-count check only
  if (nz) {
    if (P->k == 1 || P->n == 1)
      return fail(kNnParamInvalid, fn, "when the format of x2 is FRACTAL_NZ, the last two dimensions of x2 can not be 1");
    if (b.offset != 0)
      return fail(kNnParamInvalid, fn, "a FRACTAL_NZ x2 with a non-zero storage offset is not supported by mock-cann");
    size_t sr = b.storage.size();
    if (sr < 4 || sr > 8)
      return fail(kNnParamInvalid, fn, strf("x2 NZ storage dim num should be 4 ~ 8, but is %zu", sr));
    P->x2.c0 = 32 / itemsize(b.dtype);
    std::vector<int64_t> expect(o2.dims.begin(), o2.dims.end() - 2);
    expect.push_back((p2b + P->x2.c0 - 1) / P->x2.c0);
    expect.push_back((p2a + 15) / 16);
    expect.push_back(16);
    expect.push_back(P->x2.c0);
    if (numel(expect) != numel(b.storage))
      return fail(kNnParamInvalid, fn,
                  strf("x2 FRACTAL_NZ storage shape %s does not match the NZ shape %s expected for a %s "
                       "weight of physical shape %s (element count %lld vs %lld)",
                       shape_str(b.storage).c_str(), shape_str(expect).c_str(), dtype_name(b.dtype),
                       shape_str(o2.dims).c_str(), (long long)numel(b.storage), (long long)numel(expect)));
  }
  // last-dim limit 65535 (physical last dims, int4 units)
  bool exempt = !P->int4 && is_float_scale(sc.d.dtype) && pt.present && sc.d.view.size() == 1 &&
                pt.d.view.size() == 1;
  int64_t last1 = p1b * mult, last2 = p2b * mult;
  if (!exempt && (last1 > 65535 || last2 > 65535))
    return fail(kNnParamInvalid, fn,
                strf("x1 last dim or x2 last dim is larger than 65535, x1 is %lld, x2 is %lld.",
                     (long long)last1, (long long)last2));
  // batch broadcast (numpy)
  std::vector<int64_t> b1(o1.dims.begin(), o1.dims.end() - 2), b2(o2.dims.begin(), o2.dims.end() - 2);
  const std::vector<int64_t>& lng = b1.size() >= b2.size() ? b1 : b2;
  const std::vector<int64_t>& sht = b1.size() >= b2.size() ? b2 : b1;
  P->outBatch = lng;
  for (size_t i = 0; i < lng.size(); ++i) {
    size_t off2 = lng.size() - sht.size();
    int64_t s = i >= off2 ? sht[i - off2] : 1, l = lng[i];
    if (s != l && s != 1 && l != 1)
      return fail(kNnParamInvalid, fn,
                  strf("Current short dim value %lld and long dim value %lld are not supported for broadcasting.",
                       (long long)s, (long long)l));
    P->outBatch[i] = s == 1 ? l : s;
  }
  std::vector<int64_t> outShape = P->outBatch;
  outShape.push_back(P->m);
  outShape.push_back(P->n);
  int64_t tot = 1;
  for (int64_t v : outShape)
    if (__builtin_mul_overflow(tot, v, &tot))
      return fail(kNnParamInvalid, fn, "Multiple of output shape dims should be in boundary of INT64_MAX.");
  if (out.d.view != outShape)
    return fail(kNnParamInvalid, fn,
                strf("the shape of out should be %s, but is %s", shape_str(outShape).c_str(),
                     shape_str(out.d.view).c_str()));
  // scale / offset / pertoken / bias shapes (docs/semantics.md §1.4)
  if (sc.d.view.size() != 1)
    return fail(kNnParamInvalid, fn, strf("the scale dim num must be 1, but is %zu", sc.d.view.size()));
  if (sc.d.view[0] != 1 && sc.d.view[0] != P->n)
    return fail(kNnParamInvalid, fn,
                strf("the last dimension of scale must be n or 1, but is %lld (n is %lld)",
                     (long long)sc.d.view[0], (long long)P->n));
  if (off.present) {
    if (off.d.view.size() != 1)
      return fail(kNnParamInvalid, fn, strf("the offset dim num must be 1, but is %zu", off.d.view.size()));
    if (off.d.view[0] != 1 && off.d.view[0] != P->n)
      return fail(kNnParamInvalid, fn,
                  strf("Offset 1st dim should equal to x2 n dim %lld or 1, but actually is %lld.",
                       (long long)P->n, (long long)off.d.view[0]));
  }
  if (pt.present) {
    if (pt.d.view.size() != 1)
      return fail(kNnParamInvalid, fn, strf("the pertoken_scale dim num must be 1, but is %zu", pt.d.view.size()));
    if (pt.d.view[0] != P->m)
      return fail(kNnParamInvalid, fn,
                  strf("PertokenScaleOptional 1st dim should be equal to x1 m dim %lld or 1, but actually is %lld.",
                       (long long)P->m, (long long)pt.d.view[0]));
  }
  if (bias.present) {
    const std::vector<int64_t>& bv = bias.d.view;
    if (P->int4 && bv.size() != 1)
      return fail(kNnParamInvalid, fn, strf("Bias should be 1-d in a4w4/a8w4, but is %zu-d.", bv.size()));
    if (bv.size() == 1) {
      if (bv[0] != P->n)
        return fail(kNnParamInvalid, fn,
                    strf("Bias last dim should be equal to x2 n dim %lld, but actually is %lld.",
                         (long long)P->n, (long long)bv[0]));
    } else if (bv.size() == 3) {
      if (P->outBatch.size() != 1)
        return fail(kNnParamInvalid, fn,
                    strf("When bias dim-num is 3, infered out batch dim-num should be 1, but actually is %zu.",
                         P->outBatch.size()));
      if (bv[0] != P->outBatch[0])
        return fail(kNnParamInvalid, fn,
                    strf("Bias 1st dim should be equal to out batch dim %lld, but actually is %lld.",
                         (long long)P->outBatch[0], (long long)bv[0]));
      if (bv[1] != 1)
        return fail(kNnParamInvalid, fn,
                    strf("Bias 2nd dim should be equal to 1, but actually is %lld.", (long long)bv[1]));
      if (bv[2] != P->n)
        return fail(kNnParamInvalid, fn,
                    strf("Bias last dim should be equal to x2 n dim %lld, but actually is %lld.",
                         (long long)P->n, (long long)bv[2]));
    } else {
      return fail(kNnParamInvalid, fn, strf("Bias dim-num should equal 3 or 1, but is %zu.", bv.size()));
    }
  }
  P->scale = sc.d;
  P->out = out.d;
  P->hasPt = pt.present;
  if (pt.present) P->pt = pt.d;
  P->hasBias = bias.present;
  if (bias.present) P->bias = bias.d;
  return 0;
}

// ---------------- execution ----------------

// Reads the physical element (r, c) (storage dtype units) of batch bidx.
int32_t phys(const Operand& o, const uint8_t* base, const std::vector<int64_t>& bidx, int64_t r, int64_t c) {
  size_t nd = o.dims.size();
  int64_t e;
  if (o.nz) {
    int64_t fb = 0;
    for (size_t i = 0; i + 2 < nd; ++i) fb = fb * o.dims[i] + bidx[i];
    int64_t R = o.dims[nd - 2], C = o.dims[nd - 1];
    int64_t c1 = (C + o.c0 - 1) / o.c0, r1 = (R + 15) / 16;
    e = o.d.offset + fb * (c1 * r1 * 16 * o.c0) + (c / o.c0) * (r1 * 16 * o.c0) + (r / 16) * (16 * o.c0) +
        (r % 16) * o.c0 + c % o.c0;
  } else {
    e = o.d.offset + r * o.strides[nd - 2] + c * o.strides[nd - 1];
    for (size_t i = 0; i + 2 < nd; ++i) e += bidx[i] * o.strides[i];
  }
  return o.d.dtype == ACL_INT8 ? load<int8_t>(base, e) : load<int32_t>(base, e);
}

// Batch index of an operand for the output batch multi-index ob.
std::vector<int64_t> operand_batch(const Operand& o, const std::vector<int64_t>& ob) {
  size_t nb = o.dims.size() - 2, sh = ob.size() - nb;
  std::vector<int64_t> r(nb);
  for (size_t i = 0; i < nb; ++i) r[i] = o.dims[i] == 1 ? 0 : ob[sh + i];
  return r;
}

void compute(const Plan& P) {
  const uint8_t* b1 = base_ptr(P.x1.d);
  const uint8_t* b2 = base_ptr(P.x2.d);
  const uint8_t* bs = base_ptr(P.scale);
  const uint8_t* bp = P.hasPt ? base_ptr(P.pt) : nullptr;
  const uint8_t* bb = P.hasBias ? base_ptr(P.bias) : nullptr;
  uint8_t* bo = base_ptr(P.out);
  const int64_t m = P.m, k = P.k, n = P.n;
  int64_t batches = numel(P.outBatch);
  std::vector<int32_t> X1(static_cast<size_t>(m * k)), X2t(static_cast<size_t>(n * k));
  std::vector<int64_t> ob(P.outBatch.size(), 0);
  for (int64_t bf = 0; bf < batches; ++bf) {
    // unflatten bf into ob (row-major)
    int64_t rem = bf;
    for (size_t i = ob.size(); i-- > 0;) {
      ob[i] = rem % P.outBatch[i];
      rem /= P.outBatch[i];
    }
    std::vector<int64_t> i1 = operand_batch(P.x1, ob), i2 = operand_batch(P.x2, ob);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t kk = 0; kk < k; ++kk) {
        int32_t v;
        if (P.int4)
          v = nibble(phys(P.x1, b1, i1, i, kk / 8), static_cast<int>(kk % 8));
        else
          v = P.x1.trans ? phys(P.x1, b1, i1, kk, i) : phys(P.x1, b1, i1, i, kk);
        X1[static_cast<size_t>(i * k + kk)] = v;
      }
    for (int64_t j = 0; j < n; ++j)
      for (int64_t kk = 0; kk < k; ++kk) {
        int32_t v;
        if (!P.x2.trans)
          v = P.int4 ? nibble(phys(P.x2, b2, i2, kk, j / 8), static_cast<int>(j % 8)) : phys(P.x2, b2, i2, kk, j);
        else
          v = P.int4 ? nibble(phys(P.x2, b2, i2, j, kk / 8), static_cast<int>(kk % 8)) : phys(P.x2, b2, i2, j, kk);
        X2t[static_cast<size_t>(j * k + kk)] = v;
      }
    int64_t outBase = P.out.offset;
    for (size_t d = 0; d < ob.size(); ++d) outBase += ob[d] * P.out.strides[d];
    size_t ro = P.out.view.size();
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        const int32_t* xr = &X1[static_cast<size_t>(i * k)];
        const int32_t* wr = &X2t[static_cast<size_t>(j * k)];
        uint32_t acc = 0;
        for (int64_t kk = 0; kk < k; ++kk) acc += static_cast<uint32_t>(xr[kk] * wr[kk]);
        int32_t A = static_cast<int32_t>(acc);
        float fbias = 0.0f;
        bool floatBias = false;
        if (P.hasBias) {
          int64_t be = P.bias.view.size() == 3
                           ? P.bias.offset + ob[0] * P.bias.strides[0] + j * P.bias.strides[2]
                           : at1(P.bias, j);
          if (P.bias.dtype == ACL_INT32)
            A = wrap_add(A, load<int32_t>(bb, be));
          else {
            floatBias = true;
            fbias = load_float(P.bias, bb, be);
          }
        }
        int64_t oe = outBase + i * P.out.strides[ro - 2] + j * P.out.strides[ro - 1];
        int od = P.out.dtype;
        if (od == ACL_INT32) {
          store<int32_t>(bo, oe, A);
          continue;
        }
        int64_t se = at1(P.scale, P.scale.view[0] == 1 ? 0 : j);
        if (is_int64_scale(P.scale.dtype)) {
          uint64_t bits = load<uint64_t>(bs, se);
          float s = f32_from_bits(static_cast<uint32_t>(bits) & 0xFFFFE000u);
          float prod = static_cast<float>(A) * s;
          if (od == ACL_FLOAT16) {
            store<uint16_t>(bo, oe, f32_to_f16_sat(prod));
          } else {  // INT8 requant
            float t = std::isnan(prod) ? 0.0f : std::rint(prod);
            t = t < -256.0f ? -256.0f : (t > 255.0f ? 255.0f : t);
            int32_t off9 = static_cast<int32_t>((bits >> 37) & 0x1FF);
            if (off9 >= 256) off9 -= 512;
            int32_t y = static_cast<int32_t>(t) + off9;
            y = y < -128 ? -128 : (y > 127 ? 127 : y);
            store<int8_t>(bo, oe, static_cast<int8_t>(y));
          }
          continue;
        }
        float r = static_cast<float>(A) * load_float(P.scale, bs, se);
        if (P.hasPt) r = r * load<float>(bp, at1(P.pt, i));
        if (floatBias) r = r + fbias;
        store<uint16_t>(bo, oe, od == ACL_BF16 ? f32_to_bf16_rne(r) : f32_to_f16_rne(r));
      }
    }
  }
}

int get_workspace(const Inputs& in, uint64_t* ws, aclOpExecutor** executor) {
  if (!ws) return fail(kNnNullptr, in.fn, "workspaceSize is nullptr");
  if (!executor) return fail(kNnNullptr, in.fn, "executor is nullptr");
  auto plan = std::make_shared<Plan>();
  plan->ver = in.ver;
  if (int rc = validate(in, plan.get())) return rc;
  std::unique_ptr<Payload> p(new Payload);
  p->op = in.op;
  p->workspace = 65536 + (static_cast<uint64_t>(plan->n) * 4 + 511) / 512 * 512;
  p->reads = {plan->x1.d, plan->x2.d, plan->scale};
  if (plan->hasPt) p->reads.push_back(plan->pt);
  if (plan->hasBias) p->reads.push_back(plan->bias);
  p->writes = {plan->out};
  p->compute = [plan]() { compute(*plan); };
  return make_executor(std::move(p), ws, executor);
}

}  // namespace

MOCK_API aclnnStatus aclnnQuantMatmulV3GetWorkspaceSize(const aclTensor* x1, const aclTensor* x2,
                                                        const aclTensor* scale, const aclTensor* offset,
                                                        const aclTensor* bias, bool transposeX1,
                                                        bool transposeX2, const aclTensor* out,
                                                        uint64_t* workspaceSize, aclOpExecutor** executor) {
  NN_ENTRY("aclnnQuantMatmulV3GetWorkspaceSize");
  Inputs in{"aclnnQuantMatmulV3GetWorkspaceSize", "aclnnQuantMatmulV3", kV3, x1, x2, scale, offset, nullptr,
            bias, out, nullptr, nullptr, nullptr, transposeX1, transposeX2, 0};
  return get_workspace(in, workspaceSize, executor);
}

MOCK_API aclnnStatus aclnnQuantMatmulV3(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,
                                        aclrtStream stream) {
  return run_op("aclnnQuantMatmulV3", workspace, workspaceSize, executor, stream);
}

MOCK_API aclnnStatus aclnnQuantMatmulV4GetWorkspaceSize(const aclTensor* x1, const aclTensor* x2,
                                                        const aclTensor* scale, const aclTensor* offset,
                                                        const aclTensor* pertokenScaleOptional,
                                                        const aclTensor* bias, bool transposeX1,
                                                        bool transposeX2, const aclTensor* out,
                                                        uint64_t* workspaceSize, aclOpExecutor** executor) {
  NN_ENTRY("aclnnQuantMatmulV4GetWorkspaceSize");
  Inputs in{"aclnnQuantMatmulV4GetWorkspaceSize", "aclnnQuantMatmulV4", kV4, x1, x2, scale, offset,
            pertokenScaleOptional, bias, out, nullptr, nullptr, nullptr, transposeX1, transposeX2, 0};
  return get_workspace(in, workspaceSize, executor);
}

MOCK_API aclnnStatus aclnnQuantMatmulV4(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,
                                        aclrtStream stream) {
  return run_op("aclnnQuantMatmulV4", workspace, workspaceSize, executor, stream);
}

#ifndef MOCK_CANN_NO_V5
MOCK_API aclnnStatus aclnnQuantMatmulV5GetWorkspaceSize(
    const aclTensor* x1, const aclTensor* x2, const aclTensor* x1Scale, const aclTensor* x2Scale,
    const aclTensor* yScale, const aclTensor* x1Offset, const aclTensor* x2Offset, const aclTensor* yOffset,
    const aclTensor* bias, bool transposeX1, bool transposeX2, int64_t groupSize, aclTensor* out,
    uint64_t* workspaceSize, aclOpExecutor** executor) {
  NN_ENTRY("aclnnQuantMatmulV5GetWorkspaceSize");
  Inputs in{"aclnnQuantMatmulV5GetWorkspaceSize", "aclnnQuantMatmulV5", kV5, x1, x2, x2Scale, x2Offset,
            x1Scale, bias, out, yScale, x1Offset, yOffset, transposeX1, transposeX2, groupSize};
  return get_workspace(in, workspaceSize, executor);
}

MOCK_API aclnnStatus aclnnQuantMatmulV5(void* workspace, uint64_t workspaceSize, aclOpExecutor* executor,
                                        aclrtStream stream) {
  return run_op("aclnnQuantMatmulV5", workspace, workspaceSize, executor, stream);
}
#endif

MOCK_API aclnnStatus aclnnQuantMatmulWeightNzGetWorkspaceSize(
    const aclTensor* x1, const aclTensor* x2, const aclTensor* x1Scale, const aclTensor* x2Scale,
    const aclTensor* yScale, const aclTensor* x1Offset, const aclTensor* x2Offset, const aclTensor* yOffset,
    const aclTensor* bias, bool transposeX1, bool transposeX2, int64_t groupSize, aclTensor* out,
    uint64_t* workspaceSize, aclOpExecutor** executor) {
  NN_ENTRY("aclnnQuantMatmulWeightNzGetWorkspaceSize");
  Inputs in{"aclnnQuantMatmulWeightNzGetWorkspaceSize", "aclnnQuantMatmulWeightNz", kNz, x1, x2, x2Scale,
            x2Offset, x1Scale, bias, out, yScale, x1Offset, yOffset, transposeX1, transposeX2, groupSize};
  return get_workspace(in, workspaceSize, executor);
}

MOCK_API aclnnStatus aclnnQuantMatmulWeightNz(void* workspace, uint64_t workspaceSize,
                                              aclOpExecutor* executor, aclrtStream stream) {
  return run_op("aclnnQuantMatmulWeightNz", workspace, workspaceSize, executor, stream);
}
