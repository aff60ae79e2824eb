// The portable epilogue (docs/semantics.md §3.0–§3.5): the reference every vector
// epilogue must match bit for bit, and their fallback for leftover columns.
#include "../numerics.h"
#include "kernel.h"

namespace qmm::emu::kern {

void epilogueScalar(const EpiRow& e, const int32_t* acc, int64_t n0, int64_t n1, void* outRow) {
  for (int64_t j = n0; j < n1; ++j) {
    int32_t v = static_cast<int32_t>(static_cast<uint32_t>(acc[j - n0]) - static_cast<uint32_t>(e.corr));
    if (e.biasI) v = num::wrapAdd(v, e.biasI[j]);  // int32 bias is added inside the cube (§3.0)
    switch (e.kind) {
      case EpiKind::Int32Out:
        static_cast<int32_t*>(outRow)[j] = v;
        break;
      case EpiKind::FixpipeF16:
        static_cast<uint16_t*>(outRow)[j] = num::f32ToF16Saturating(static_cast<float>(v) * e.scale[j]);
        break;
      case EpiKind::FixpipeInt8:
        static_cast<int8_t*>(outRow)[j] = num::requantInt8(v, e.scale[j], e.offset[j]);
        break;
      case EpiKind::VectorBf16:
      case EpiKind::VectorF16: {
        float r = static_cast<float>(v) * e.scale[j];
        if (e.hasPertoken) r = r * e.pertoken;
        if (e.biasF) r = r + e.biasF[j];
        if (e.kind == EpiKind::VectorBf16)
          static_cast<uint16_t*>(outRow)[j] = num::f32ToBf16(r);
        else
          static_cast<uint16_t*>(outRow)[j] = num::f32ToF16(r);
        break;
      }
    }
  }
}

}  // namespace qmm::emu::kern
