#include "tensor.h"

#include <limits>
#include <sstream>

#include "errors.h"

namespace qmm {

bool isKnownDType(int32_t code) {
  switch (static_cast<DType>(code)) {
    case DType::Float32: case DType::Float16: case DType::Int8: case DType::Int32:
    case DType::UInt8: case DType::Int64: case DType::UInt64: case DType::BFloat16:
      return true;
  }
  return false;
}

size_t itemSize(DType d) {
  switch (d) {
    case DType::Int8: case DType::UInt8: return 1;
    case DType::Float16: case DType::BFloat16: return 2;
    case DType::Float32: case DType::Int32: return 4;
    case DType::Int64: case DType::UInt64: return 8;
  }
  return 0;
}

const char* dtypeName(DType d) {
  switch (d) {
    case DType::Float32: return "float32";
    case DType::Float16: return "float16";
    case DType::Int8: return "int8";
    case DType::Int32: return "int32";
    case DType::UInt8: return "uint8";
    case DType::Int64: return "int64";
    case DType::UInt64: return "uint64";
    case DType::BFloat16: return "bfloat16";
  }
  return "unknown";
}

const char* formatName(Format f) {
  return f == Format::FractalNZ ? "FRACTAL_NZ" : "ND";
}

int64_t TensorArg::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t TensorArg::storageNumel() const {
  int64_t n = 1;
  for (int64_t d : storageShape) n *= d;
  return n;
}

bool TensorArg::isContiguous() const {
  int64_t expect = 1;
  for (int i = rank() - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != expect) return false;
    expect *= shape[i];
  }
  return true;
}

int64_t TensorArg::storageIndexOf(int64_t flat) const {
  int64_t off = offset;
  for (int d = rank() - 1; d >= 0; --d) {
    off += (flat % shape[d]) * strides[d];
    flat /= shape[d];
  }
  return off;
}

bool isTransposeLastTwoDims(const TensorArg& t) {
  const int nd = t.rank();
  if (nd < 2 || nd > 6) return false;
  const int d1 = nd - 1, d2 = nd - 2;
  if (t.strides[d2] != 1 || t.strides[d1] != t.shape[d2]) return false;
  int64_t acc = t.shape[d1] * t.shape[d2];
  for (int b = nd - 3; b >= 0; --b) {
    if (t.strides[b] != acc) return false;
    acc *= t.shape[b];
  }
  return !(t.shape[d1] == 1 && t.shape[d2] == 1);
}

bool isTransposedNzView(const TensorArg& t) {
  const int nd = t.rank();
  if (nd < 2) return false;
  return t.strides[nd - 2] == 1 && t.strides[nd - 1] == t.shape[nd - 2];
}

std::vector<int64_t> nzStorageShape(const std::vector<int64_t>& physicalShape, int64_t c0) {
  const size_t nd = physicalShape.size();
  std::vector<int64_t> s(physicalShape.begin(), physicalShape.end() - 2);
  const int64_t rows = physicalShape[nd - 2], cols = physicalShape[nd - 1];
  s.push_back((cols + c0 - 1) / c0);
  s.push_back((rows + 15) / 16);
  s.push_back(16);
  s.push_back(c0);
  return s;
}

std::string shapeToString(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "(";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  if (s.size() == 1) o << ",";
  o << ")";
  return o.str();
}

namespace {

bool mulOverflows(int64_t a, int64_t b, int64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}

}  // namespace

void checkTensorBounds(const TensorArg& t, const char* argName) {
  auto bad = [&](const std::string& what) {
    fail(ErrorCode::Shape, std::string(argName) + ": " + what);
  };
  if (!isKnownDType(static_cast<int32_t>(t.dtype))) bad("unknown dtype code");
  if (t.rank() > kMaxRank) bad("rank above " + std::to_string(kMaxRank));
  if (t.strides.size() != t.shape.size()) bad("strides and shape differ in length");
  if (t.storageShape.empty() || t.storageShape.size() > static_cast<size_t>(kMaxRank))
    bad("storage dims must have 1 to 8 entries");
  int64_t storage = 1;
  for (int64_t d : t.storageShape) {
    if (d < 0) bad("negative storage dim");
    if (mulOverflows(storage, d, &storage)) bad("storage element count overflows int64");
  }
  const size_t item = itemSize(t.dtype);
  int64_t storageBytes = 0;
  if (mulOverflows(storage, static_cast<int64_t>(item), &storageBytes)) bad("storage bytes overflow");
  if (static_cast<uint64_t>(storageBytes) > t.mem.bytes)
    bad("storage " + shapeToString(t.storageShape) + " needs " + std::to_string(storageBytes) +
        " bytes but the buffer holds " + std::to_string(t.mem.bytes));
  if (storage > 0 && t.mem.ptr == nullptr) bad("null data pointer");
  if (t.offset < 0) bad("negative storage offset");
  int64_t count = 1, maxIndex = 0;
  for (int i = 0; i < t.rank(); ++i) {
    if (t.shape[i] < 0) bad("negative dim " + std::to_string(t.shape[i]));
    if (t.strides[i] < 0) bad("negative stride");
    if (mulOverflows(count, t.shape[i], &count)) bad("element count overflows int64");
  }
  if (count == 0) return;
  if (t.format == Format::FractalNZ) {
    if (t.offset != 0) bad("a FRACTAL_NZ tensor cannot have a storage offset");
    return;  // NZ strides describe the ND view; storage dims are checked by the op
  }
  for (int i = 0; i < t.rank(); ++i) {
    int64_t span = 0;
    if (mulOverflows(t.shape[i] - 1, t.strides[i], &span) || __builtin_add_overflow(maxIndex, span, &maxIndex))
      bad("view extent overflows int64");
  }
  if (__builtin_add_overflow(maxIndex, t.offset, &maxIndex) || maxIndex >= storage)
    bad("view (shape " + shapeToString(t.shape) + ", strides " + shapeToString(t.strides) + ", offset " +
        std::to_string(t.offset) + ") reaches element " + std::to_string(maxIndex) + " outside storage of " +
        std::to_string(storage) + " elements");
}

}  // namespace qmm
