// The interface both backends (emulator, cann) implement. Arguments arrive
// already validated by the TypeScript facade (docs/semantics.md §1–§2); implementations
// still bounds-check everything so a direct or malformed call cannot crash
// the process, and report problems by throwing QmmException.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tensor.h"

namespace qmm {

// Cooperative cancellation: set by AbortSignal; backends check it before
// starting work (and the emulator between tiles).
struct CancelToken {
  std::atomic<bool> cancelled{false};
};

struct QuantMatmulArgs {
  TensorArg x1, x2, scale;
  std::optional<TensorArg> offset, pertokenScale, bias;
  TensorArg out;  // contiguous ND, the output shape and dtype; written by the op
  const CancelToken* cancel = nullptr;
};

struct TransQuantParamArgs {
  TensorArg scale;                  // float32 (n,) or (1,n)
  std::optional<TensorArg> offset;  // float32
  int roundMode = 0;                // 0 truncation, 1 RNE (docs/semantics.md §4)
  TensorArg out;                    // int64, max(len) elements
  const CancelToken* cancel = nullptr;
};

// ND -> FRACTAL_NZ or FRACTAL_NZ -> ND, decided by src.format / dst.format.
// For NZ the storage dims carry C0 (docs/semantics.md §5.1).
struct FormatCastArgs {
  TensorArg src;
  TensorArg dst;
  const CancelToken* cancel = nullptr;
};

// npu_quantize with div_mode=False (static, per-tensor or per-channel along
// the last dim): out = sat_int8(rne(f32(x) * scale + offset)).
struct QuantizeArgs {
  TensorArg x;                      // float16 / bfloat16 / float32
  TensorArg scale;                  // float32 or x's dtype, (1,) or (last dim,)
  std::optional<TensorArg> offset;  // same shapes as scale
  TensorArg out;                    // int8, x's shape
  const CancelToken* cancel = nullptr;
};

// npu_dynamic_quant (per-token symmetric int8), as the A2/A3 kernels compute it:
// q = f32(127 / max|x[row]|), out = sat_int8(rne(x * q)), scale[row] = max * f32(1/127)
// or 1/q by row length (docs/semantics.md §9.2).
struct DynamicQuantArgs {
  TensorArg x;         // float16 / bfloat16 / float32, (..., k)
  TensorArg out;       // int8, x's shape
  TensorArg scaleOut;  // float32, x.shape[:-1]
  const CancelToken* cancel = nullptr;
};

struct BackendInfo {
  std::string name;      // "cpu" or "cann"
  std::string detail;    // e.g. ISA in use, library paths
  int deviceCount = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendInfo info() const = 0;

  virtual void quantMatmul(const QuantMatmulArgs& a) = 0;
  virtual void transQuantParam(const TransQuantParamArgs& a) = 0;
  virtual void formatCast(const FormatCastArgs& a) = 0;
  virtual void quantize(const QuantizeArgs& a);
  virtual void dynamicQuant(const DynamicQuantArgs& a);

  // Device memory. The emulator never hands out device memory (its npu:N
  // tensors are host buffers owned by JS), so these defaults throw
  // ERR_QMM_UNSUPPORTED; a backend with hasDeviceMemory() overrides them all.
  virtual bool hasDeviceMemory() const { return false; }
  virtual void* deviceAlloc(int device, size_t bytes);
  virtual void deviceFree(int device, void* ptr);
  virtual void copyToDevice(int device, void* dst, const void* src, size_t bytes);
  virtual void copyToHost(int device, void* dst, const void* src, size_t bytes);
  virtual void copyDeviceToDevice(int device, void* dst, const void* src, size_t bytes);

 private:
  [[noreturn]] void noDeviceMemory(const char* call) const;
};

}  // namespace qmm
