// The dequant/requant stage applied to each int32 accumulator row
// (docs/semantics.md §3.0–§3.5, §3.7 and the "Decisions" table).
#pragma once

#include <cstdint>
#include <vector>

#include "../backend.h"
#include "kernels/kernel.h"

namespace qmm::emu {

enum class EpilogueKind {
  Int32Out,     // A + bias_i32 (§3.5)
  FixpipeF16,   // int64 scale -> fp16, fp19 scale, saturating (§3.1)
  FixpipeInt8,  // int64 scale -> int8, s9 clamp + offset (§3.2)
  VectorBf16,   // float scale [* pertoken] [+ float bias] -> bf16 RNE (§3.3, §3.4)
  VectorF16,    // same -> fp16 RNE (§3.4)
};

struct Epilogue {
  EpilogueKind kind = EpilogueKind::Int32Out;
  int64_t n = 0;
  std::vector<float> scale;        // n values (length-1 scales broadcast)
  std::vector<int32_t> offset;     // n s9 offsets (FixpipeInt8)
  std::vector<float> pertoken;     // m values, shared by every batch (§1.1)
  std::vector<int32_t> biasI32;    // biasBatches * n, added to the accumulator
  std::vector<float> biasF32;      // biasBatches * n, added after scaling
  int64_t biasBatches = 1;         // 1 for a 1-D bias, B for (B,1,n)
};

// Builds the epilogue from the op arguments; m is x1's row count.
Epilogue makeEpilogue(const QuantMatmulArgs& a, int64_t m, int64_t n, int64_t outBatches);

// The per-row view the kernels' epilogues take: output row `row` of output
// batch `batch`; `corr` is subtracted from every accumulator first (the
// kernel's rowsum correction, 0 for kernels without one).
kern::EpiRow epiRow(const Epilogue& e, int64_t batch, int64_t row, int32_t corr);

// Applies the epilogue to acc[0 .. n1-n0) for output row `row` of output
// batch `batch`, writing out[n0 .. n1) of that row (portable code).
void applyEpilogue(const Epilogue& e, const int32_t* acc, int64_t batch, int64_t row, int64_t n0, int64_t n1,
                   void* outRow);

}  // namespace qmm::emu
