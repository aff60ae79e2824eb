// The CANN backend's ops: npu_quant_matmul, npu_trans_quant_param and
// npu_format_cast through aclnn (docs/semantics.md §2.3, §4, §5.2, §6.4). The activation
// quantization ops are in cann_quantize.cc.
#include <memory>
#include <string>
#include <vector>

#include "../emulator/emulator.h"
#include "../errors.h"
#include "acl_tensor.h"
#include "cann_backend_impl.h"

namespace qmm {

namespace {

// A TensorArg that points at a host copy of a tensor's whole storage.
TensorArg onHost(const TensorArg& t, std::vector<uint8_t>& bytes) {
  TensorArg h = t;
  h.mem = Memory{Memory::Kind::Host, bytes.data(), bytes.size(), -1};
  return h;
}

// additionalDtype for aclnnNpuFormatCastCalculateSizeAndFormat: the dtype
// whose size gives the C0 of our storage dims (docs/semantics.md §5.1/§5.2), -1 = src's.
bool additionalDtypeFor(const TensorArg& src, int64_t c0, int* out) {
  if (c0 <= 0 || 32 % c0 != 0) return false;
  const int64_t bytes = 32 / c0;
  if (static_cast<int64_t>(itemSize(src.dtype)) == bytes) *out = -1;
  else if (bytes == 1) *out = acl::ACL_INT8;
  else if (bytes == 2) *out = acl::ACL_FLOAT16;
  else if (bytes == 4) *out = acl::ACL_FLOAT;
  else return false;
  return true;
}

}  // namespace

void CannBackend::quantMatmul(const QuantMatmulArgs& a) {
  checkCancel(a.cancel);
  checkTensorBounds(a.x1, "x1");
  checkTensorBounds(a.x2, "x2");
  checkTensorBounds(a.scale, "scale");
  checkTensorBounds(a.out, "out");
  if (a.offset) checkTensorBounds(*a.offset, "offset");
  if (a.pertokenScale) checkTensorBounds(*a.pertokenScale, "pertokenScale");
  if (a.bias) checkTensorBounds(*a.bias, "bias");

  const bool nz = a.x2.format == Format::FractalNZ;
  if (nz && !api_.hasWeightNz())
    unsupported("Get aclnnQuantMatmulWeightNz or aclnnQuantMatmulWeightNzGetWorkspaceSize failed, only "
                "aclnnQuantMatmulWeightNz support X2's format is nz, please upgrade CANN.");
  if (!nz && !api_.hasV5() && !api_.hasV4()) {
    const char* what = a.pertokenScale ? "a pertoken scale"
                       : a.x1.dtype == DType::Int32 ? "int4 (int32-packed) inputs"
                       : a.out.dtype == DType::Int32 ? "an int32 output"
                                                     : nullptr;
    if (what != nullptr)
      unsupported(std::string("aclnnQuantMatmulV3, the newest QuantMatmul in this CANN, cannot take ") + what +
                  "; please upgrade CANN (aclnnQuantMatmulV4 or V5 is needed)");
  }

  const int device = opDevice({&a.x1, &a.x2, &a.scale, a.offset ? &*a.offset : nullptr,
                               a.pertokenScale ? &*a.pertokenScale : nullptr, a.bias ? &*a.bias : nullptr, &a.out});
  DeviceRuntime::Lock lock(rt_, device);
  checkCancel(a.cancel);
  DeviceOperand x1(api_, a.x1, device, true), x2(api_, a.x2, device, true), scale(api_, a.scale, device, true);
  std::optional<DeviceOperand> offset, pertoken, bias;
  if (a.offset) offset.emplace(api_, *a.offset, device, true);
  if (a.pertokenScale) pertoken.emplace(api_, *a.pertokenScale, device, true);
  if (a.bias) bias.emplace(api_, *a.bias, device, true);
  DeviceOperand out(api_, a.out, device, false);

  // Transpose flags stay false: the views carry the transposition (docs/semantics.md §1.2).
  // V5 and WeightNz: x1Scale = pertoken, x2Scale = scale, x2Offset = offset.
  auto v5Args = [&](auto getWs) {
    return [&, getWs](uint64_t* ws, acl::aclOpExecutor** ex) {
      return getWs(x1.get(), x2.get(), handleOf(pertoken), scale.get(), nullptr, nullptr, handleOf(offset), nullptr,
                   handleOf(bias), false, false, int64_t{0}, out.get(), ws, ex);
    };
  };
  if (nz) {
    twoPhase(lock, "aclnnQuantMatmulWeightNzGetWorkspaceSize", v5Args(api_.aclnnQuantMatmulWeightNzGetWorkspaceSize),
             "aclnnQuantMatmulWeightNz", api_.aclnnQuantMatmulWeightNz);
  } else if (api_.hasV5()) {
    twoPhase(lock, "aclnnQuantMatmulV5GetWorkspaceSize", v5Args(api_.aclnnQuantMatmulV5GetWorkspaceSize),
             "aclnnQuantMatmulV5", api_.aclnnQuantMatmulV5);
  } else if (api_.hasV4()) {
    twoPhase(
        lock, "aclnnQuantMatmulV4GetWorkspaceSize",
        [&](uint64_t* ws, acl::aclOpExecutor** ex) {
          return api_.aclnnQuantMatmulV4GetWorkspaceSize(x1.get(), x2.get(), scale.get(), handleOf(offset),
                                                        handleOf(pertoken), handleOf(bias), false, false, out.get(),
                                                        ws, ex);
        },
        "aclnnQuantMatmulV4", api_.aclnnQuantMatmulV4);
  } else {
    twoPhase(
        lock, "aclnnQuantMatmulV3GetWorkspaceSize",
        [&](uint64_t* ws, acl::aclOpExecutor** ex) {
          return api_.aclnnQuantMatmulV3GetWorkspaceSize(x1.get(), x2.get(), scale.get(), handleOf(offset),
                                                        handleOf(bias), false, false, out.get(), ws, ex);
        },
        "aclnnQuantMatmulV3", api_.aclnnQuantMatmulV3);
  }
  out.downloadIfStaged();
}

void CannBackend::transQuantParam(const TransQuantParamArgs& a) {
  checkCancel(a.cancel);
  checkTensorBounds(a.scale, "scale");
  checkTensorBounds(a.out, "out");
  if (a.offset) checkTensorBounds(*a.offset, "offset");
  if (!api_.hasTqpV3()) {
    if (!api_.hasTqpV2()) unsupported("this CANN has neither aclnnTransQuantParamV3 nor aclnnTransQuantParamV2");
    if (a.roundMode != 0) unsupported("aclnnTransQuantParamV2 can't support round_mode, please upgrade CANN.");
  }
  const int device = opDevice({&a.scale, a.offset ? &*a.offset : nullptr, &a.out});
  DeviceRuntime::Lock lock(rt_, device);
  checkCancel(a.cancel);
  DeviceOperand scale(api_, a.scale, device, true);
  std::optional<DeviceOperand> offset;
  if (a.offset) offset.emplace(api_, *a.offset, device, true);
  DeviceOperand out(api_, a.out, device, false);
  if (api_.hasTqpV3()) {
    twoPhase(
        lock, "aclnnTransQuantParamV3GetWorkspaceSize",
        [&](uint64_t* ws, acl::aclOpExecutor** ex) {
          return api_.aclnnTransQuantParamV3GetWorkspaceSize(scale.get(), handleOf(offset), a.roundMode, out.get(),
                                                            ws, ex);
        },
        "aclnnTransQuantParamV3", api_.aclnnTransQuantParamV3);
  } else {
    twoPhase(
        lock, "aclnnTransQuantParamV2GetWorkspaceSize",
        [&](uint64_t* ws, acl::aclOpExecutor** ex) {
          return api_.aclnnTransQuantParamV2GetWorkspaceSize(scale.get(), handleOf(offset), out.get(), ws, ex);
        },
        "aclnnTransQuantParamV2", api_.aclnnTransQuantParamV2);
  }
  out.downloadIfStaged();
}

void CannBackend::formatCast(const FormatCastArgs& a) {
  checkCancel(a.cancel);
  checkTensorBounds(a.src, "src");
  checkTensorBounds(a.dst, "dst");
  if (a.src.format == a.dst.format) throw QmmException(ErrorCode::Format, "format cast between equal formats");
  if (a.src.dtype != a.dst.dtype) throw QmmException(ErrorCode::DType, "format cast keeps the dtype");
  const bool toNz = a.dst.format == Format::FractalNZ;
  const int device = opDevice({&a.src, &a.dst});
  int additional = -1;
  if (!formatCastOnDevice(a, &additional)) return formatCastOnHost(a, device);

  DeviceRuntime::Lock lock(rt_, device);
  checkCancel(a.cancel);
  DeviceOperand src(api_, a.src, device, true);
  DeviceOperand dst(api_, a.dst, device, false);
  if (toNz) {
    int64_t* dims = nullptr;
    uint64_t rank = 0;
    int actualFormat = 0;
    checkAcl(api_,
             api_.aclnnNpuFormatCastCalculateSizeAndFormat(src.get(), acl::ACL_FORMAT_FRACTAL_NZ, additional, &dims,
                                                           &rank, &actualFormat),
             "aclnnNpuFormatCastCalculateSizeAndFormat");
    const std::unique_ptr<int64_t[]> owned(dims);  // allocated with new[] by the API (docs/semantics.md §6.3)
    const std::vector<int64_t> shape(dims, dims + rank);
    if (actualFormat != acl::ACL_FORMAT_FRACTAL_NZ || shape != a.dst.storageShape)
      throw QmmException(ErrorCode::Format, "aclnnNpuFormatCastCalculateSizeAndFormat gives format " +
                                                std::to_string(actualFormat) + " with storage " + shapeToString(shape) +
                                                ", but the FRACTAL_NZ layout of docs/semantics.md §5.1 is " +
                                                shapeToString(a.dst.storageShape));
  }
  twoPhase(
      lock, "aclnnNpuFormatCastGetWorkspaceSize",
      [&](uint64_t* ws, acl::aclOpExecutor** ex) {
        return api_.aclnnNpuFormatCastGetWorkspaceSize(src.get(), dst.get(), ws, ex);
      },
      "aclnnNpuFormatCast", api_.aclnnNpuFormatCast);
  dst.downloadIfStaged();
}

// What aclnnNpuFormatCast takes (hicann/ops-math
// conversion/npu_format_cast/op_host/op_api/aclnn_npu_format_cast.cpp); torch
// uses its legacy path for everything else (docs/semantics.md §5.2); we pack on
// the host (§5.1).
bool CannBackend::formatCastOnDevice(const FormatCastArgs& a, int* additionalDtype) const {
  if (!api_.hasFormatCast()) return false;
  // CheckGetWorkSpaceSizeInputs: Atlas A2 / A3 or Ascend 950 only. When the
  // runtime does not name its chip, the op is tried.
  if (soc_ == SocFamily::Other) return false;
  const TensorArg& nz = a.dst.format == Format::FractalNZ ? a.dst : a.src;
  for (const TensorArg* t : {&a.src, &a.dst}) {
    switch (t->dtype) {  // WEIGHT_DTYPE_SUPPORT_LIST as far as our dtypes go
      case DType::Int8: case DType::UInt8: case DType::Float32: case DType::Float16: case DType::BFloat16:
      case DType::Int32:
        break;
      default:
        return false;
    }
    if (t->rank() < 2 || t->rank() > 6) return false;
    // IsContiguous on both sides. aclnn counts every FRACTAL_NZ tensor as
    // contiguous and would cast its storage as if the view were not there.
    if (!t->isContiguous()) return false;
  }
  if (nz.offset != 0) return false;
  // FallbackAclop: before Ascend 950 an empty source is the legacy path's.
  if (a.src.numel() == 0 && soc_ != SocFamily::Ascend950) return false;
  return a.dst.format != Format::FractalNZ || additionalDtypeFor(a.src, a.dst.storageShape.back(), additionalDtype);
}

void CannBackend::formatCastOnHost(const FormatCastArgs& a, int device) {
  const bool srcDev = a.src.mem.kind == Memory::Kind::Device, dstDev = a.dst.mem.kind == Memory::Kind::Device;
  if (!srcDev && !dstDev) return emu::formatCast(a);
  DeviceRuntime::Lock lock(rt_, device);
  checkCancel(a.cancel);
  std::vector<uint8_t> srcBytes, dstBytes;
  FormatCastArgs h = a;
  // aclrtMemcpy rejects a count of 0 (empty tensors have nothing to copy)
  if (srcDev) {
    srcBytes.resize(storageBytes(a.src));
    if (!srcBytes.empty())
      checkAcl(api_, api_.aclrtMemcpy(srcBytes.data(), srcBytes.size(), a.src.mem.ptr, srcBytes.size(),
                                      acl::ACL_MEMCPY_DEVICE_TO_HOST),
               "aclrtMemcpy");
    h.src = onHost(a.src, srcBytes);
  }
  if (dstDev) {
    dstBytes.resize(storageBytes(a.dst));
    h.dst = onHost(a.dst, dstBytes);
  }
  emu::formatCast(h);
  if (dstDev && !dstBytes.empty())
    checkAcl(api_, api_.aclrtMemcpy(a.dst.mem.ptr, dstBytes.size(), dstBytes.data(), dstBytes.size(),
                                    acl::ACL_MEMCPY_HOST_TO_DEVICE),
             "aclrtMemcpy");
}

}  // namespace qmm
