// QuantMatmul on the CPU: pack x1 once per call, take x2 from the pack cache
// or pack it panel by panel right before use, run the ISA microkernel over
// (batch, m block, n block[, k split]) tasks on the pool, and apply the
// epilogue to each tile while it is hot.
#include <algorithm>
#include <memory>
#include <vector>

#include "../errors.h"
#include "emulator.h"
#include "epilogue.h"
#include "kernels/kernel.h"
#include "operand.h"
#include "pack_cache.h"
#include "plan.h"
#include "thread_pool.h"

namespace qmm::emu {

namespace {

bool cancelled(const CancelToken* c) { return c != nullptr && c->cancelled.load(); }

template <typename T>
T* alignedBuffer(std::unique_ptr<T[]>& holder, size_t count) {
  holder.reset(new T[count + 64 / sizeof(T)]);
  auto addr = reinterpret_cast<uintptr_t>(holder.get());
  return reinterpret_cast<T*>((addr + 63) & ~uintptr_t{63});
}

constexpr int64_t kDecodeRows = 16;  // m at or below this: bandwidth-bound "decode" tiling

struct Tiling {
  int64_t kc = 512;     // k block (multiple of 32)
  int64_t mc = 0;       // rows per m block
  int64_t ncp = 16;     // panels per n block
  int64_t mBlocks = 1, nBlocks = 1, kSplit = 1;
};

Tiling chooseTiling(int64_t batches, int64_t m, int64_t kp, int64_t panels, int threads) {
  Tiling t;
  if (m <= kDecodeRows) {
    t.kc = 1024;  // measured: better than 256/512 also for two row strips (m = 13..16)
    t.mc = m;
    // enough n blocks for load balance, at least one panel pair each
    const int64_t want = std::max<int64_t>(1, 8 * threads / std::max<int64_t>(1, batches));
    t.ncp = std::clamp<int64_t>((panels + want - 1) / want, 2, 64);
    t.ncp += t.ncp % 2;
  } else {
    t.kc = 1024;  // measured on Zen 4: 1024 > 512 > 256 with the 6 x 64 microkernel
    const int64_t mb = (m + 191) / 192;
    t.mc = (m + mb - 1) / mb;
    t.ncp = 16;
  }
  t.mBlocks = (m + t.mc - 1) / t.mc;
  t.nBlocks = (panels + t.ncp - 1) / t.ncp;
  const int64_t tasks = batches * t.mBlocks * t.nBlocks;
  if (m <= kDecodeRows && tasks < 2 * threads && kp >= 2048)
    t.kSplit = std::min<int64_t>((2 * threads + tasks - 1) / tasks, kp / 1024);
  return t;
}

}  // namespace

void quantMatmul(const QuantMatmulArgs& a) {
  const MatmulPlan p = planQuantMatmul(a);
  const Epilogue ep = makeEpilogue(a, p.m, p.n, p.outBatches);
  const kern::Kernel& K = kern::active();
  const int64_t m = p.m, k = p.k, n = p.n;
  const int64_t kp = kern::kPad(k), panels = kern::panelsOf(n), pb = kern::panelBytes(kp);
  auto stop = [&] { return cancelled(a.cancel); };

  // x1: every batch, every row, once
  std::unique_ptr<int8_t[]> aHold;
  int8_t* packedA = alignedBuffer(aHold, static_cast<size_t>(p.x1Batches * m * kp));
  std::vector<int32_t> rowSum(static_cast<size_t>(p.x1Batches * m));
  constexpr int64_t kRowsPerTask = 64;
  const int64_t rowTasks = (m + kRowsPerTask - 1) / kRowsPerTask;
  auto packA = [&](int64_t t) {
    const int64_t b = t / rowTasks, r0 = (t % rowTasks) * kRowsPerTask, r1 = std::min(m, r0 + kRowsPerTask);
    packARows(a.x1, p.int4, b, m, k, kp, r0, r1, packedA + b * m * kp, rowSum.data() + b * m);
  };
  if (p.x1Batches * m * kp <= (256 << 10)) {  // small: cheaper than waking the pool
    for (int64_t t = 0; t < p.x1Batches * rowTasks; ++t) packA(t);
  } else {
    parallelFor(p.x1Batches * rowTasks, packA, stop);
  }
  if (cancelled(a.cancel)) fail(ErrorCode::Aborted, "the operation was aborted");

  // x2: the cached packing, or a description to pack from on the fly
  std::shared_ptr<const PackedWeight> cached = packCacheGet(a.x2, p.int4, p.x2Transposed, k, n, p.x2Batches, K);
  std::vector<BSource> src;
  if (!cached) {
    for (int64_t b = 0; b < p.x2Batches; ++b) src.push_back(describeB(a.x2, p.int4, p.x2Transposed, b, k, n));
    // Many rows reuse every panel: pack the whole weight once for this call
    // (a temporary as large as the int8 weight) instead of once per m block.
    // Few rows (decode): pack each panel right before its only use instead,
    // so the weight streams from memory once.
    if (m > kDecodeRows && m * p.outBatches / p.x2Batches > 2 * kDecodeRows) {
      cached = packWeight(src, K, kp, panels, p.int4);
      if (cancelled(a.cancel)) fail(ErrorCode::Aborted, "the operation was aborted");
    }
  }

  const Tiling tl = chooseTiling(p.outBatches, m, kp, panels, computeThreads());
  const int64_t kChunk = ((kp + 31) / 32 + tl.kSplit - 1) / tl.kSplit * 32;  // k range per split, multiple of 32
  const size_t outItem = itemSize(a.out.dtype);
  auto* out = static_cast<uint8_t*>(a.out.mem.ptr);
  const int64_t ldP = panels * kern::kPanel;
  std::unique_ptr<int32_t[]> partHold;
  int32_t* partial = tl.kSplit > 1
                         ? alignedBuffer(partHold, static_cast<size_t>(tl.kSplit * p.outBatches * m * ldP))
                         : nullptr;

  // int4 panels: their own GEMM, bytes per panel and row-sum correction
  const bool nib = cached && cached->int4;
  const auto gemm = nib ? K.gemm4 : K.gemm;
  const int64_t cpb = nib ? kern::panelBytes4(kp) : pb;
  const int64_t groupDiv = nib ? 8 : 4;  // k per 64 bytes of a panel
  const int32_t corrMul = nib ? K.corrMul4 : K.corrMul;
  auto corrOf = [&](int64_t x1b, int64_t i) {
    return static_cast<int32_t>(static_cast<uint32_t>(corrMul) *
                                static_cast<uint32_t>(rowSum[static_cast<size_t>(x1b * m + i)]));
  };

  parallelFor(
      p.outBatches * tl.mBlocks * tl.nBlocks * tl.kSplit,
      [&](int64_t task) {
        const int64_t s = task % tl.kSplit;
        int64_t rest = task / tl.kSplit;
        const int64_t nb = rest % tl.nBlocks;
        rest /= tl.nBlocks;
        const int64_t mb = rest % tl.mBlocks, b = rest / tl.mBlocks;
        const int64_t m0 = mb * tl.mc, m1 = std::min(m, m0 + tl.mc);
        const int64_t p0 = nb * tl.ncp, p1 = std::min(panels, p0 + tl.ncp);
        const int64_t kBeg = s * kChunk, kEnd = std::min(kp, kBeg + kChunk);
        const int64_t x1b = p.x1BatchOf[b], x2b = p.x2BatchOf[b];
        const int8_t* aBlock = packedA + (x1b * m + m0) * kp;

        thread_local std::vector<int32_t> cTile;
        thread_local std::vector<int8_t> bScratch;
        int32_t* c;
        int64_t ldc;
        if (partial != nullptr) {
          c = partial + ((s * p.outBatches + b) * m + m0) * ldP + p0 * kern::kPanel;
          ldc = ldP;
        } else {
          ldc = tl.ncp * kern::kPanel;
          cTile.resize(static_cast<size_t>(tl.mc * ldc));
          c = cTile.data();
        }
        if (kBeg >= kEnd) {  // an empty k split contributes zeros
          for (int64_t i = 0; i < m1 - m0; ++i) std::fill(c + i * ldc, c + i * ldc + (p1 - p0) * kern::kPanel, 0);
          return;
        }
        const int64_t step = tl.kc / 4 * kern::kGroupBytes;
        int8_t* sb = nullptr;
        if (!cached) {
          bScratch.resize(static_cast<size_t>(2 * step + 64));
          sb = bScratch.data() + (64 - reinterpret_cast<uintptr_t>(bScratch.data()) % 64) % 64;
        }
        auto fresh = [&](int64_t pp, int64_t np, int64_t k0, int64_t kc) {  // pack a panel pair, then its GEMM
          const int64_t st = kc / 4 * kern::kGroupBytes;
          for (int64_t q = 0; q < np; ++q) packBPanel(src[x2b], K, pp + q, k0, kc, sb + q * st);
          K.gemm(aBlock + k0, kp, m1 - m0, sb, st, np, kc, c + (pp - p0) * kern::kPanel, ldc, k0 != kBeg);
        };
        if (m <= kDecodeRows) {
          // decode: one panel pair at a time down the whole k range, so the
          // weight streams as two long sequential runs (prefetch-friendly)
          for (int64_t pp = p0; pp < p1; pp += 2) {
            const int64_t np = std::min<int64_t>(2, p1 - pp);
            if (cached) {  // measured: the whole k in one call beats 256/512-deep blocks
              gemm(aBlock + kBeg, kp, m1 - m0, cached->batch[x2b] + pp * cpb + kBeg / groupDiv * kern::kGroupBytes,
                   cpb, np, kEnd - kBeg, c + (pp - p0) * kern::kPanel, ldc, false);
              continue;
            }
            for (int64_t k0 = kBeg; k0 < kEnd; k0 += tl.kc) fresh(pp, np, k0, std::min(tl.kc, kEnd - k0));
          }
        } else {
          for (int64_t k0 = kBeg; k0 < kEnd; k0 += tl.kc) {
            const int64_t kc = std::min(tl.kc, kEnd - k0);
            if (cached) {
              gemm(aBlock + k0, kp, m1 - m0, cached->batch[x2b] + p0 * cpb + k0 / groupDiv * kern::kGroupBytes, cpb,
                   p1 - p0, kc, c, ldc, k0 != kBeg);
              continue;
            }
            for (int64_t pp = p0; pp < p1; pp += 2) fresh(pp, std::min<int64_t>(2, p1 - pp), k0, kc);
          }
        }
        if (partial != nullptr) return;
        const int64_t n0 = p0 * kern::kPanel, n1 = std::min(n, p1 * kern::kPanel);
        for (int64_t i = m0; i < m1; ++i)
          K.epilogue(epiRow(ep, b, i, corrOf(x1b, i)), c + (i - m0) * ldc, n0, n1, out + (b * m + i) * n * outItem);
      },
      stop);
  if (cancelled(a.cancel)) fail(ErrorCode::Aborted, "the operation was aborted");

  if (partial != nullptr) {
    parallelFor(p.outBatches * m, [&](int64_t t) {
      const int64_t b = t / m, i = t % m;
      thread_local std::vector<int32_t> row;
      row.assign(static_cast<size_t>(n), 0);
      for (int64_t s = 0; s < tl.kSplit; ++s) {
        const int32_t* pr = partial + ((s * p.outBatches + b) * m + i) * ldP;
        for (int64_t j = 0; j < n; ++j)
          row[j] = static_cast<int32_t>(static_cast<uint32_t>(row[j]) + static_cast<uint32_t>(pr[j]));
      }
      K.epilogue(epiRow(ep, b, i, corrOf(p.x1BatchOf[b], i)), row.data(), 0, n, out + (b * m + i) * n * outItem);
    });
  }
}

}  // namespace qmm::emu
