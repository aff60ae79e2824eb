// Shape logic of QuantMatmul shared by the emulator's driver: which layout
// each operand has, m/k/n, and how output batches map onto input batches
// (docs/semantics.md §1.1–§1.3). It checks only what reading and writing
// memory safely needs, so a malformed call from JS fails with a
// QmmException instead of reading out of bounds; which calls a device
// accepts is the TypeScript facade's check (lib/validate/quant_matmul.ts).
#pragma once

#include <cstdint>
#include <vector>

#include "../backend.h"

namespace qmm::emu {

struct MatmulPlan {
  bool int4 = false;          // x1/x2 are int32 holding 8 int4 each
  bool x1Transposed = false;  // aclnn stride inference (§1.2)
  bool x2Transposed = false;
  int64_t m = 0, k = 0, n = 0;
  std::vector<int64_t> outBatchDims;
  int64_t outBatches = 1;
  std::vector<int64_t> x1BatchOf, x2BatchOf;  // per flat output batch
  int64_t x1Batches = 1, x2Batches = 1;
};

MatmulPlan planQuantMatmul(const QuantMatmulArgs& a);

}  // namespace qmm::emu
