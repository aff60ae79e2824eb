// Tensor descriptors as they cross from JS into the backends.
// Shapes, strides and offsets are in elements; strides describe the logical
// (ND) view even for FRACTAL_NZ tensors, exactly as torch hands them to aclnn
// (docs/semantics.md §6.3, §5.3).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qmm {

namespace emu {
class WeightPacks;  // emulator/weight_packs.h
}

// The numeric values are the aclDataType codes (docs/semantics.md §6.2) so the CANN
// backend can pass them through unchanged.
enum class DType : int32_t {
  Float32 = 0,
  Float16 = 1,
  Int8 = 2,
  Int32 = 3,
  UInt8 = 4,
  Int64 = 9,
  UInt64 = 10,
  BFloat16 = 27,
};

// aclFormat codes (docs/semantics.md §6.2).
enum class Format : int32_t {
  ND = 2,
  FractalNZ = 29,
};

// Every code above, for the addon's `constants` export.
constexpr DType kDTypes[] = {DType::Float32, DType::Float16, DType::Int8,   DType::Int32,
                             DType::UInt8,   DType::Int64,   DType::UInt64, DType::BFloat16};
constexpr Format kFormats[] = {Format::ND, Format::FractalNZ};

constexpr int kMaxRank = 8;

bool isKnownDType(int32_t code);
size_t itemSize(DType d);
const char* dtypeName(DType d);
const char* formatName(Format f);

// Where the bytes of a tensor live. On the emulator every tensor is host
// memory (emulated device memory is host memory too); on the CANN backend a
// Device pointer came from aclrtMalloc and must never be dereferenced here.
struct Memory {
  enum class Kind { Host, Device };
  Kind kind = Kind::Host;
  void* ptr = nullptr;   // base of the buffer
  size_t bytes = 0;      // usable size of the buffer starting at ptr
  int device = -1;       // device index for Kind::Device
};

struct TensorArg {
  DType dtype = DType::Int8;
  Format format = Format::ND;
  std::vector<int64_t> shape;         // logical view dims
  std::vector<int64_t> strides;       // logical view strides (elements)
  int64_t offset = 0;                 // storage offset (elements)
  std::vector<int64_t> storageShape;  // NZ: the 4..8-D storage dims; ND: {elements in buffer}
  Memory mem;
  // FRACTAL_NZ host tensors: the emulator's packs of the weights in this
  // tensor's buffer, owned by the buffer (emulator/weight_packs.h); else null.
  std::shared_ptr<emu::WeightPacks> packs;

  int rank() const { return static_cast<int>(shape.size()); }
  int64_t numel() const;
  int64_t storageNumel() const;
  bool isContiguous() const;
  // Storage index of the element at row-major logical position `flat`.
  int64_t storageIndexOf(int64_t flat) const;
  template <typename T>
  const T* hostData() const { return static_cast<const T*>(mem.ptr); }
  template <typename T>
  T* hostMutableData() const { return static_cast<T*>(mem.ptr); }
};

// aclnn's IsTransposeLastTwoDims (docs/semantics.md §1.2): the view is a transposed
// contiguous buffer of its last two dims, with packed batch dims.
bool isTransposeLastTwoDims(const TensorArg& t);

// The narrower check aclnn applies to FRACTAL_NZ views (GetTransposeAttrValue,
// docs/semantics.md §1.2 / §5.3): stride[-2] == 1 && stride[-1] == size[-2].
bool isTransposedNzView(const TensorArg& t);

// FRACTAL_NZ storage dims for a physical ND matrix (..., rows, cols) (docs/semantics.md §5.1):
// (..., ceil(cols/c0), ceil(rows/16), 16, c0).
std::vector<int64_t> nzStorageShape(const std::vector<int64_t>& physicalShape, int64_t c0);

// Throws QmmException(ERR_QMM_SHAPE) unless every element the view can reach
// lies inside the memory it names, storage dims agree with the buffer size,
// dims are non-negative and the element count fits in int64.
void checkTensorBounds(const TensorArg& t, const char* argName);

std::string shapeToString(const std::vector<int64_t>& s);

}  // namespace qmm
