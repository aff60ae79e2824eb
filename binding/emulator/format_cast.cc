// ND <-> FRACTAL_NZ on the CPU (docs/semantics.md §5.1): zero padding, C0 from the storage dims.
#include <cstring>
#include <string>

#include "../errors.h"
#include "emulator.h"
#include "thread_pool.h"

namespace qmm::emu {

namespace {

// The ND side's logical element offset of (batch b, row r, col c).
int64_t ndOffset(const TensorArg& t, int64_t b, int64_t r, int64_t c) {
  const int nd = t.rank();
  int64_t off = t.offset + r * t.strides[nd - 2] + c * t.strides[nd - 1];
  for (int i = nd - 3; i >= 0; --i) {
    off += (b % t.shape[i]) * t.strides[i];
    b /= t.shape[i];
  }
  return off;
}

void checkNzPair(const TensorArg& nd, const TensorArg& nz) {
  if (nd.shape != nz.shape)
    fail(ErrorCode::Shape, "format cast: ND shape " + shapeToString(nd.shape) + " differs from NZ shape " +
                               shapeToString(nz.shape));
  if (nd.rank() < 2 || nd.rank() > 6) fail(ErrorCode::Shape, "format cast needs a rank 2..6 tensor");
  if (!nz.isContiguous()) fail(ErrorCode::Format, "a FRACTAL_NZ tensor in a format cast must not be a view");
  const int64_t c0 = nz.storageShape.back();
  if (c0 <= 0) fail(ErrorCode::Format, "FRACTAL_NZ C0 must be positive");
  if (nz.storageShape != nzStorageShape(nz.shape, c0))
    fail(ErrorCode::Format, "FRACTAL_NZ storage " + shapeToString(nz.storageShape) + " does not match " +
                                shapeToString(nzStorageShape(nz.shape, c0)));
}

}  // namespace

void formatCast(const FormatCastArgs& a) {
  checkTensorBounds(a.src, "src");
  checkTensorBounds(a.dst, "dst");
  if (a.src.dtype != a.dst.dtype) fail(ErrorCode::DType, "format cast keeps the dtype");
  const size_t item = itemSize(a.src.dtype);
  auto* dst = static_cast<uint8_t*>(a.dst.mem.ptr);
  const auto* src = static_cast<const uint8_t*>(a.src.mem.ptr);
  const bool toNz = a.dst.format == Format::FractalNZ;
  const TensorArg& nd = toNz ? a.src : a.dst;
  const TensorArg& nz = toNz ? a.dst : a.src;
  if (a.src.format == a.dst.format) fail(ErrorCode::Format, "format cast between equal formats");
  checkNzPair(nd, nz);
  if (!toNz && (!a.dst.isContiguous() || a.dst.offset != 0)) fail(ErrorCode::Shape, "dst must be contiguous");
  const int r = nd.rank();
  const int64_t rows = nd.shape[r - 2], cols = nd.shape[r - 1], c0 = nz.storageShape.back();
  const int64_t rows1 = (rows + 15) / 16, cols1 = (cols + c0 - 1) / c0;
  const int64_t perBatch = cols1 * rows1 * 16 * c0;
  int64_t batches = 1;
  for (int i = 0; i + 2 < r; ++i) batches *= nd.shape[i];
  if (toNz) std::memset(dst, 0, static_cast<size_t>(batches * perBatch) * item);  // zero padding (§5.1)
  parallelFor(batches * cols1, [&](int64_t task) {
    const int64_t b = task / cols1, c1 = task % cols1;
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t cc = 0; cc < c0 && c1 * c0 + cc < cols; ++cc) {
        const int64_t nzOff = b * perBatch + ((c1 * rows1 + row / 16) * 16 + row % 16) * c0 + cc;
        const int64_t ndOff = ndOffset(nd, b, row, c1 * c0 + cc);
        if (toNz)
          std::memcpy(dst + nzOff * item, src + ndOff * item, item);
        else
          std::memcpy(dst + ndOff * item, src + nzOff * item, item);
      }
  });
}

}  // namespace qmm::emu
