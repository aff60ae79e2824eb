// The CANN backend's activation quantization, as torch_npu's op-plugin calls
// aclnn (op_plugin/ops/opapi/QuantizeKernelNpuOpApi.cpp,
// DynamicQuantKernelNpuOpApi.cpp):
//
//   npu_quantize(x, scales, zero_points, qint8, axis=-1, div_mode=False)
//     -> aclnnAscendQuantV3(x, scale, offset, sqrtMode=false, roundMode="round",
//                           dstType=ACL_INT8, axis=-1, y)
//        y = round(x * scale + offset): f32 multiply and add, RINT to int8.
//   npu_dynamic_quant(x) (int8, no smooth scales)
//     -> aclnnDynamicQuant(x, smoothScalesOptional=nullptr, yOut, scaleOut)
//        scaleOut and yOut as docs/semantics.md §9.2 describes.
//
// Both entry points are optional: a CANN without them gets ERR_QMM_UNSUPPORTED.
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../errors.h"
#include "acl_tensor.h"
#include "cann_backend_impl.h"

namespace qmm {

namespace {

// "a and b": the entry points (name, resolved) this CANN lacks.
std::string missingNames(std::initializer_list<std::pair<const char*, bool>> fns) {
  std::string s;
  for (const auto& [name, resolved] : fns)
    if (!resolved) s += (s.empty() ? "" : " and ") + std::string(name);
  return s;
}

[[noreturn]] void missingOp(const CannApi& api, const char* op, const std::string& names) {
  unsupported(op + std::string(" needs ") + names + ", which the CANN at " + api.root +
              (api.version.empty() ? std::string() : " (version " + api.version + ")") +
              " does not export; please upgrade CANN.");
}

bool isHalf(DType d) { return d == DType::Float16 || d == DType::BFloat16; }

}  // namespace

void CannBackend::quantize(const QuantizeArgs& a) {
  checkCancel(a.cancel);
  checkTensorBounds(a.x, "x");
  checkTensorBounds(a.scale, "scale");
  checkTensorBounds(a.out, "out");
  if (a.offset) checkTensorBounds(*a.offset, "offset");
  if (!api_.hasAscendQuantV3())
    missingOp(api_, "npuQuantize",
              missingNames({{"aclnnAscendQuantV3GetWorkspaceSize", api_.aclnnAscendQuantV3GetWorkspaceSize != nullptr},
                            {"aclnnAscendQuantV3", api_.aclnnAscendQuantV3 != nullptr}}));
  // aclnnAscendQuantV3 (CheckDtypeCompatible) takes any float scale for a
  // float32 x, but only a scale of x's own dtype for a float16/bfloat16 x.
  if (isHalf(a.x.dtype) && a.scale.dtype != a.x.dtype)
    unsupported(std::string("aclnnAscendQuantV3 needs scale (and offset) of x's dtype when x is ") +
                dtypeName(a.x.dtype) + ", got " + dtypeName(a.scale.dtype) + "; pass them as " +
                dtypeName(a.x.dtype) + " or x as float32");
  if (a.x.numel() == 0) return;  // nothing to write

  const int device = opDevice({&a.x, &a.scale, a.offset ? &*a.offset : nullptr, &a.out});
  DeviceRuntime::Lock lock(rt_, device);
  checkCancel(a.cancel);
  DeviceOperand x(api_, a.x, device, true), scale(api_, a.scale, device, true);
  std::optional<DeviceOperand> offset;
  if (a.offset) offset.emplace(api_, *a.offset, device, true);
  DeviceOperand out(api_, a.out, device, false);
  twoPhase(
      lock, "aclnnAscendQuantV3GetWorkspaceSize",
      [&](uint64_t* ws, acl::aclOpExecutor** ex) {
        return api_.aclnnAscendQuantV3GetWorkspaceSize(x.get(), scale.get(), handleOf(offset), /*sqrtMode=*/false,
                                                      "round", acl::ACL_INT8, /*axis=*/-1, out.get(), ws, ex);
      },
      "aclnnAscendQuantV3", api_.aclnnAscendQuantV3);
  out.downloadIfStaged();
}

void CannBackend::dynamicQuant(const DynamicQuantArgs& a) {
  checkCancel(a.cancel);
  checkTensorBounds(a.x, "x");
  checkTensorBounds(a.out, "out");
  checkTensorBounds(a.scaleOut, "scaleOut");
  if (!api_.hasDynamicQuant())
    missingOp(api_, "npuDynamicQuant",
              missingNames({{"aclnnDynamicQuantGetWorkspaceSize", api_.aclnnDynamicQuantGetWorkspaceSize != nullptr},
                            {"aclnnDynamicQuant", api_.aclnnDynamicQuant != nullptr}}));
  if (!isHalf(a.x.dtype))
    unsupported(std::string("aclnnDynamicQuant takes a float16 or bfloat16 x, got ") + dtypeName(a.x.dtype));

  const int device = opDevice({&a.x, &a.out, &a.scaleOut});
  if (a.x.numel() == 0) {
    // No kernel to run; rows of length 0 get scale 0 (as on the cpu backend).
    if (!a.scaleOut.isContiguous()) throw QmmException(ErrorCode::Shape, "scaleOut must be contiguous");
    const size_t bytes = static_cast<size_t>(a.scaleOut.numel()) * sizeof(float);
    if (bytes == 0) return;
    uint8_t* dst = static_cast<uint8_t*>(a.scaleOut.mem.ptr) + a.scaleOut.offset * sizeof(float);
    if (a.scaleOut.mem.kind != Memory::Kind::Device) {
      std::memset(dst, 0, bytes);
      return;
    }
    const std::vector<uint8_t> zeros(bytes, 0);
    DeviceRuntime::Lock lock(rt_, device);
    checkAcl(api_, api_.aclrtMemcpy(dst, bytes, zeros.data(), bytes, acl::ACL_MEMCPY_HOST_TO_DEVICE), "aclrtMemcpy");
    return;
  }

  DeviceRuntime::Lock lock(rt_, device);
  checkCancel(a.cancel);
  DeviceOperand x(api_, a.x, device, true);
  DeviceOperand out(api_, a.out, device, false), scaleOut(api_, a.scaleOut, device, false);
  twoPhase(
      lock, "aclnnDynamicQuantGetWorkspaceSize",
      [&](uint64_t* ws, acl::aclOpExecutor** ex) {
        return api_.aclnnDynamicQuantGetWorkspaceSize(x.get(), /*smoothScalesOptional=*/nullptr, out.get(),
                                                     scaleOut.get(), ws, ex);
      },
      "aclnnDynamicQuant", api_.aclnnDynamicQuant);
  out.downloadIfStaged();
  scaleOut.downloadIfStaged();
}

}  // namespace qmm
