// QuantMatmul on the CPU: pack operands, tile the int32 GEMM over the pool,
// apply the epilogue while each tile is hot.
#include <algorithm>
#include <memory>
#include <vector>

#include "../errors.h"
#include "emulator.h"
#include "epilogue.h"
#include "gemm.h"
#include "operand.h"
#include "plan.h"
#include "thread_pool.h"

namespace qmm::emu {

namespace {

constexpr int64_t kTileM = 64;
constexpr int64_t kTileN = 64;

bool cancelled(const CancelToken* c) { return c != nullptr && c->cancelled.load(); }

}  // namespace

void quantMatmul(const QuantMatmulArgs& a) {
  const MatmulPlan p = planQuantMatmul(a);
  const Epilogue ep = makeEpilogue(a, p.m, p.n, p.outBatches);
  const int64_t m = p.m, k = p.k, n = p.n;

  std::vector<int8_t> packedA(static_cast<size_t>(p.x1Batches * m * k));
  std::vector<int8_t> packedB(static_cast<size_t>(p.x2Batches * n * k));
  auto stop = [&] { return cancelled(a.cancel); };
  parallelFor(p.x1Batches, [&](int64_t b) { packA(a.x1, p.int4, b, m, k, packedA.data() + b * m * k); }, stop);
  parallelFor(p.x2Batches,
              [&](int64_t b) { packB(a.x2, p.int4, p.x2Transposed, b, k, n, packedB.data() + b * n * k); }, stop);
  if (cancelled(a.cancel)) fail(ErrorCode::Aborted, "the operation was aborted");

  const int64_t mTiles = (m + kTileM - 1) / kTileM, nTiles = (n + kTileN - 1) / kTileN;
  const size_t outItem = itemSize(a.out.dtype);
  auto* out = static_cast<uint8_t*>(a.out.mem.ptr);
  parallelFor(
      p.outBatches * mTiles * nTiles,
      [&](int64_t task) {
        const int64_t b = task / (mTiles * nTiles);
        const int64_t mt = (task / nTiles) % mTiles, nt = task % nTiles;
        const int64_t m0 = mt * kTileM, m1 = std::min(m, m0 + kTileM);
        const int64_t n0 = nt * kTileN, n1 = std::min(n, n0 + kTileN);
        thread_local std::vector<int32_t> acc;
        acc.resize(static_cast<size_t>(kTileM * kTileN));
        GemmTile t{packedA.data() + (p.x1BatchOf[b] * m + m0) * k, packedB.data() + (p.x2BatchOf[b] * n + n0) * k,
                   m1 - m0, n1 - n0, k, acc.data(), kTileN};
        gemmTile(t);
        for (int64_t i = m0; i < m1; ++i)
          applyEpilogue(ep, acc.data() + (i - m0) * kTileN, b, i, n0, n1, out + ((b * m + i) * n) * outItem);
      },
      stop);
  if (cancelled(a.cancel)) fail(ErrorCode::Aborted, "the operation was aborted");
}

}  // namespace qmm::emu
