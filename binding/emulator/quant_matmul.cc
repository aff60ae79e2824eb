// QuantMatmul on the CPU. x1 is read in place when its rows are int8 with
// k a multiple of 16 (else packed once per call). x2 is read from the
// pack its FRACTAL_NZ weight owns (weight_packs.h) or, for any other weight,
// from where it lies, with no copy of the whole weight:
//   * decode (m <= 16): an (n, k) weight's rows are read in place by the
//     kernel's gemmRowsK; other layouts are packed one cache-sized block at
//     a time right before use, so the weight streams once;
//   * prefill: each task packs its panels one k block at a time into an
//     L2-sized buffer and runs every row of its batch over them, so packing
//     overlaps compute on the other threads.
// Tasks run on the pool; the epilogue is applied to each tile while it is hot.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "../errors.h"
#include "emulator.h"
#include "epilogue.h"
#include "huge_pages.h"
#include "kernels/kernel.h"
#include "operand.h"
#include "plan.h"
#include "thread_pool.h"
#include "weight_packs.h"

namespace qmm::emu {

namespace {

bool cancelled(const CancelToken* c) { return c != nullptr && c->cancelled.load(); }

template <typename T>
T* alignedBuffer(std::unique_ptr<T[]>& holder, size_t count) {
  holder.reset(new T[count + 64 / sizeof(T)]);
  auto addr = reinterpret_cast<uintptr_t>(holder.get());
  return reinterpret_cast<T*>((addr + 63) & ~uintptr_t{63});
}

template <typename T>
T* alignedScratch(std::vector<T>& v, size_t count) {
  v.resize(count + 64 / sizeof(T));
  auto addr = reinterpret_cast<uintptr_t>(v.data());
  return reinterpret_cast<T*>((addr + 63) & ~uintptr_t{63});
}

constexpr int64_t kDecodeRows = 16;     // m at or below this: bandwidth-bound "decode" tiling
constexpr int64_t kDecodeStreams = 4;   // panels per decode gemm call: each one sequential stream
constexpr size_t kHugeOutput = size_t{2} << 20;  // output bytes from which huge pages are asked for
constexpr int64_t kRowsNBlock = 64;    // rows per dense block of a (k, n) weight in decode (measured: 64 > 16, 128, 256)
constexpr int64_t kPrefillKc = 1024;   // measured on Zen 4: 1024 > 512 > 256 with the 6 x 64 microkernel
constexpr int64_t kPrefillPanels = 16; // panels per prefill n block: 16 x 1024-deep = 256 KiB, in L2 (8, 32: same)
constexpr int64_t kPrefillMc = 192;    // rows per gemm call: the A block stays in L2 across panel groups
constexpr int64_t kPrefillMaxRows = 1024;  // rows per prefill task: its int32 tile is at most 1 MiB
// Multiply-adds up to which a call runs on the calling thread, without waking
// the pool. Measured on Zen 4 (2 cores): (1, 512) @ (512, 256) = 131K is as fast
// or faster inline (0.012 ms); S2, 15 x (1, 512) @ (512, 128) = 983K, is faster
// on the pool when the second core is free (0.021 vs 0.027 ms inline) and slower
// when another process holds it (0.031 vs 0.027 ms).
constexpr int64_t kInlineMacs = int64_t{1} << 18;

// Everything the tasks of one call share.
struct Call {
  const QuantMatmulArgs& a;
  const MatmulPlan& p;
  const Epilogue& ep;
  const kern::Kernel& K;
  int64_t m, k, n, kp, panels;
  const std::vector<const int8_t*>& aBatch;  // row 0 of each x1 batch, packed or in place
  int64_t lda;                               // bytes between x1 rows (kp when packed)
  const std::vector<int32_t>& rowSum;
  uint8_t* out;
  size_t outItem;

  const int8_t* aRow(int64_t x1b, int64_t i) const { return aBatch[static_cast<size_t>(x1b)] + i * lda; }
  int32_t corr(int64_t x1b, int64_t i, int32_t mul) const {
    return static_cast<int32_t>(static_cast<uint32_t>(mul) * static_cast<uint32_t>(rowSum[static_cast<size_t>(x1b * m + i)]));
  }
  // Epilogue of output row (b, i), columns [n0, n1), accumulators acc[0..n1-n0).
  void finish(int64_t b, int64_t i, const int32_t* acc, int64_t n0, int64_t n1, int32_t corrMul) const {
    K.epilogue(epiRow(ep, b, i, corr(p.x1BatchOf[b], i, corrMul)), acc, n0, n1, out + (b * m + i) * n * outItem);
  }
};

// Packs panels [p0, p1) of a (k, n) weight (BSource::Kind::RowsN) for k in
// [k0, k0 + kc) into dst, panel after panel `stride` bytes apart. The block's
// rows are first copied whole, in memory order, into `dense`, whose rows are
// one cache line longer than the block is wide: packing straight from rows
// a power of two apart would put them all in one L1 set, and would visit a
// page per row for every panel. `dense` holds kc * (16 * (p1 - p0) + 64) bytes.
void packRowsNBlock(const BSource& s, const kern::Kernel& K, int64_t p0, int64_t p1, int64_t k0, int64_t kc,
                    int8_t* dense, int8_t* dst, int64_t stride) {
  const int64_t j0 = p0 * kern::kPanel, w = std::min(s.n, p1 * kern::kPanel) - j0;
  const int64_t ld = (p1 - p0) * kern::kPanel + 64, rows = std::clamp<int64_t>(s.k - k0, 0, kc);
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dense + r * ld, s.base + (k0 + r) * s.ld + j0, static_cast<size_t>(w));
  for (int64_t q = p0; q < p1; ++q) {
    const int64_t j = (q - p0) * kern::kPanel;
    K.packRowsN(dense + j, ld, rows, std::min<int64_t>(kern::kPanel, w - j), kc, dst + (q - p0) * stride, K.bXor);
  }
}

// ---------------------------------------------------------------- decode

enum class DecodeRead {
  Owned,     // the NZ weight's own pack
  RowsK,     // an (n, k) weight read in place (Kernel::gemmRowsK)
  RowsN,     // a (k, n) weight packed kRowsNBlock whole rows at a time (packRowsNBlock)
  Panels,    // any other layout, packed a panel pair at a time
};

struct DecodeTiling {
  int64_t ncp = 16;  // panels per n block
  int64_t nBlocks = 1, kSplit = 1;
};

DecodeTiling decodeTiling(int64_t batches, int64_t kp, int64_t panels, int threads, bool wholeRows) {
  DecodeTiling t;
  if (wholeRows) {
    // A (k, n) weight: each task reads whole rows (n blocks of up to 4096
    // columns), one contiguous run of memory per k split.
    t.ncp = std::min<int64_t>(panels, 256);
    t.nBlocks = (panels + t.ncp - 1) / t.ncp;
    const int64_t tasks = batches * t.nBlocks;
    if (tasks < 4 * threads)
      t.kSplit = std::clamp<int64_t>((4 * threads + tasks - 1) / tasks, 1, std::max<int64_t>(1, kp / 256));
    return t;
  }
  // enough n blocks for load balance, at least one panel pair each
  const int64_t want = std::max<int64_t>(1, 8 * threads / std::max<int64_t>(1, batches));
  t.ncp = std::clamp<int64_t>((panels + want - 1) / want, 2, 64);
  t.ncp += t.ncp % 2;
  t.nBlocks = (panels + t.ncp - 1) / t.ncp;
  const int64_t tasks = batches * t.nBlocks;
  if (tasks < 2 * threads && kp >= 2048) t.kSplit = std::min<int64_t>((2 * threads + tasks - 1) / tasks, kp / 1024);
  return t;
}

void runDecode(const Call& cl, const PackedWeight* owned, const std::vector<BSource>& src) {
  const MatmulPlan& p = cl.p;
  const kern::Kernel& K = cl.K;
  const int64_t m = cl.m, n = cl.n, kp = cl.kp, panels = cl.panels;
  DecodeRead read = DecodeRead::Panels;
  if (owned != nullptr) read = DecodeRead::Owned;
  else if (!p.int4 && src[0].kind == BSource::Kind::RowsK && K.gemmRowsK != nullptr) read = DecodeRead::RowsK;
  else if (!p.int4 && src[0].kind == BSource::Kind::RowsN) read = DecodeRead::RowsN;

  const DecodeTiling tl = decodeTiling(p.outBatches, kp, panels, computeThreads(), read == DecodeRead::RowsN);
  const int64_t kChunk = ((kp + 31) / 32 + tl.kSplit - 1) / tl.kSplit * 32;  // k range per split, multiple of 32
  const int64_t ldP = panels * kern::kPanel;
  std::unique_ptr<int32_t[]> partHold;
  int32_t* partial =
      tl.kSplit > 1 ? alignedBuffer(partHold, static_cast<size_t>(tl.kSplit * p.outBatches * m * ldP)) : nullptr;

  // int4 panels: their own GEMM, bytes per panel and row-sum correction
  const bool nib = owned != nullptr && owned->int4;
  const auto gemm = nib ? K.gemm4 : K.gemm;
  const int64_t opb = nib ? kern::panelBytes4(kp) : kern::panelBytes(kp);
  const int64_t groupDiv = nib ? 8 : 4;  // k per 64 bytes of a panel
  const int32_t corrMul = read == DecodeRead::RowsK ? K.corrMulRowsK : nib ? K.corrMul4 : K.corrMul;

  parallelFor(
      p.outBatches * tl.nBlocks * tl.kSplit,
      [&](int64_t task) {
        const int64_t s = task % tl.kSplit, nb = (task / tl.kSplit) % tl.nBlocks, b = task / tl.kSplit / tl.nBlocks;
        const int64_t p0 = nb * tl.ncp, p1 = std::min(panels, p0 + tl.ncp);
        const int64_t kBeg = s * kChunk, kEnd = std::min(kp, kBeg + kChunk);
        const int64_t x1b = p.x1BatchOf[b], x2b = p.x2BatchOf[b];
        const int8_t* aBlock = cl.aRow(x1b, 0);
        const int64_t n0 = p0 * kern::kPanel, n1 = std::min(n, p1 * kern::kPanel);

        thread_local std::vector<int32_t> cTile;
        thread_local std::vector<int8_t> bScratch;
        int32_t* c;
        int64_t ldc;
        if (partial != nullptr) {
          c = partial + (s * p.outBatches + b) * m * ldP + n0;
          ldc = ldP;
        } else {
          ldc = tl.ncp * kern::kPanel;
          cTile.resize(static_cast<size_t>(m * ldc));
          c = cTile.data();
        }
        // k past the weight's end (an (n, k) weight holds exactly k bytes per row)
        const int64_t kLim = read == DecodeRead::RowsK ? std::min(kEnd, cl.k) : kEnd;
        if (kBeg >= kLim) {  // an empty k split contributes zeros
          for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + (p1 - p0) * kern::kPanel, 0);
          return;
        }
        switch (read) {
          case DecodeRead::Owned:
            // kDecodeStreams panels at a time down the whole k range, so the weight
            // streams as that many long sequential runs (measured: beats 256/512-deep blocks)
            for (int64_t pp = p0; pp < p1; pp += kDecodeStreams)
              gemm(aBlock + kBeg, cl.lda, m, owned->batch[x2b] + pp * opb + kBeg / groupDiv * kern::kGroupBytes, opb,
                   std::min<int64_t>(kDecodeStreams, p1 - pp), kEnd - kBeg, c + (pp - p0) * kern::kPanel, ldc, false);
            break;
          case DecodeRead::RowsK: {
            const BSource& sb = src[x2b];
            // the whole k range at once (measured: k blocks of 1024..4096 are slower, even for m = 15)
            K.gemmRowsK(aBlock + kBeg, cl.lda, m, sb.base + n0 * sb.ld + kBeg, sb.ld, n1 - n0, kLim - kBeg, c, ldc, false);
            break;
          }
          case DecodeRead::RowsN: {
            // blocks of kRowsNBlock whole rows (of this n block), packed through a dense copy
            const int64_t st = kRowsNBlock / 4 * kern::kGroupBytes;
            int8_t* packed = alignedScratch(bScratch, static_cast<size_t>(
                                                          (p1 - p0) * st + kRowsNBlock * ((p1 - p0) * kern::kPanel + 64)));
            int8_t* dense = packed + (p1 - p0) * st;
            for (int64_t k0 = kBeg; k0 < kEnd; k0 += kRowsNBlock) {
              const int64_t kc = std::min(kRowsNBlock, kEnd - k0);
              packRowsNBlock(src[x2b], K, p0, p1, k0, kc, dense, packed, st);
              K.gemm(aBlock + k0, cl.lda, m, packed, st, p1 - p0, kc, c, ldc, k0 != kBeg);
            }
            break;
          }
          case DecodeRead::Panels: {
            constexpr int64_t kc0 = 1024;  // measured: better than 256/512 also for two row strips (m = 13..16)
            const int64_t st = kc0 / 4 * kern::kGroupBytes;
            int8_t* sb = alignedScratch(bScratch, static_cast<size_t>(2 * st));
            for (int64_t pp = p0; pp < p1; pp += 2) {
              const int64_t np = std::min<int64_t>(2, p1 - pp);
              for (int64_t k0 = kBeg; k0 < kEnd; k0 += kc0) {
                const int64_t kc = std::min(kc0, kEnd - k0), stc = kc / 4 * kern::kGroupBytes;
                for (int64_t q = 0; q < np; ++q) packBPanel(src[x2b], K, pp + q, k0, kc, sb + q * stc);
                K.gemm(aBlock + k0, cl.lda, m, sb, stc, np, kc, c + (pp - p0) * kern::kPanel, ldc, k0 != kBeg);
              }
            }
            break;
          }
        }
        if (partial != nullptr) return;
        for (int64_t i = 0; i < m; ++i) cl.finish(b, i, c + i * ldc, n0, n1, corrMul);
      },
      [&] { return cancelled(cl.a.cancel); });
  if (cancelled(cl.a.cancel)) fail(ErrorCode::Aborted, "the operation was aborted");

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
      cl.finish(b, i, row.data(), 0, n, corrMul);
    });
  }
}

// ---------------------------------------------------------------- prefill, owned pack

// Output batches [b, b + count) that can run as one GEMM over their panels
// side by side: they read the same x1 batch and consecutive x2 batches (an
// x1 broadcast over a batched narrow weight, e.g. 31 x (256, 768) @ (768, 16)).
// Their panels are then `panels` apart in a pack whose batches are contiguous,
// and each broadcast of A feeds several panels instead of one.
int64_t fusableRun(const MatmulPlan& p, int64_t b, int64_t limit) {
  int64_t count = 1;
  while (count < limit && b + count < p.outBatches && p.x1BatchOf[b + count] == p.x1BatchOf[b] &&
         p.x2BatchOf[b + count] == p.x2BatchOf[b] + count)
    ++count;
  return count;
}

// Batches per fused group when the weight is narrower than a prefill n block:
// enough panels per GEMM for the widest microkernel (4 panels), and groups
// small enough to give every thread several tasks.
int64_t batchGroup(int64_t outBatches, int64_t mBlocks, int64_t panels, int threads) {
  if (panels >= kPrefillPanels) return 1;
  const int64_t most = kPrefillPanels / panels, least = std::min<int64_t>(most, (4 + panels - 1) / panels);
  const int64_t forThreads = (outBatches * mBlocks + 4 * threads - 1) / (4 * threads);
  return std::clamp<int64_t>(forThreads, least, most);
}

void runPrefillOwned(const Call& cl, const PackedWeight& w) {
  const MatmulPlan& p = cl.p;
  const kern::Kernel& K = cl.K;
  const int64_t m = cl.m, n = cl.n, kp = cl.kp, panels = cl.panels;
  const int64_t mb = (m + kPrefillMc - 1) / kPrefillMc, mc = (m + mb - 1) / mb;
  const int64_t mBlocks = (m + mc - 1) / mc, ncp = kPrefillPanels, nBlocks = (panels + ncp - 1) / ncp;
  const auto gemm = w.int4 ? K.gemm4 : K.gemm;
  const int64_t opb = w.int4 ? kern::panelBytes4(kp) : kern::panelBytes(kp);
  const int64_t groupDiv = w.int4 ? 8 : 4;
  const int32_t corrMul = w.int4 ? K.corrMul4 : K.corrMul;
  // groups of output batches run as one GEMM (fusableRun); one batch each when the weight is wide
  const int64_t groupMax = batchGroup(p.outBatches, mBlocks, panels, computeThreads());
  std::vector<std::pair<int64_t, int64_t>> groups;  // (first out batch, count)
  for (int64_t b = 0; b < p.outBatches;) {
    int64_t count = groupMax > 1 ? fusableRun(p, b, groupMax) : 1;
    for (int64_t g = 1; g < count; ++g)  // panels of the run must sit batch after batch
      if (w.batch[p.x2BatchOf[b + g]] != w.batch[p.x2BatchOf[b]] + g * panels * opb) count = g;
    groups.emplace_back(b, count);
    b += count;
  }
  const int64_t nGroups = static_cast<int64_t>(groups.size());
  parallelFor(
      nGroups * mBlocks * nBlocks,
      [&](int64_t task) {
        const int64_t nb = task % nBlocks, mi = (task / nBlocks) % mBlocks;
        const auto [b, count] = groups[static_cast<size_t>(task / nBlocks / mBlocks)];
        const int64_t m0 = mi * mc, m1 = std::min(m, m0 + mc);
        const int64_t p0 = nb * ncp, p1 = std::min(panels, p0 + ncp);
        const int64_t x1b = p.x1BatchOf[b], x2b = p.x2BatchOf[b];
        // a fused group spans whole batches (nBlocks == 1): its panels follow batch after batch
        const int64_t width = count > 1 ? count * panels : p1 - p0;
        thread_local std::vector<int32_t> cTile;
        const int64_t ldc = std::max(ncp, width) * kern::kPanel;
        cTile.resize(static_cast<size_t>(mc * ldc));
        int32_t* c = cTile.data();
        for (int64_t k0 = 0; k0 < kp; k0 += kPrefillKc)
          gemm(cl.aRow(x1b, m0) + k0, cl.lda, m1 - m0, w.batch[x2b] + p0 * opb + k0 / groupDiv * kern::kGroupBytes, opb,
               width, std::min(kPrefillKc, kp - k0), c, ldc, k0 != 0);
        const int64_t n0 = p0 * kern::kPanel, n1 = std::min(n, p1 * kern::kPanel);
        for (int64_t g = 0; g < count; ++g)
          for (int64_t i = m0; i < m1; ++i)
            cl.finish(b + g, i, c + (i - m0) * ldc + g * panels * kern::kPanel, n0, n1, corrMul);
      },
      [&] { return cancelled(cl.a.cancel); });
  if (cancelled(cl.a.cancel)) fail(ErrorCode::Aborted, "the operation was aborted");
}

// ---------------------------------------------------------------- prefill, panels packed per task

// Tasks own (x2 batches, n block, row range). The rows of an x2 batch are
// those of every output batch that reads it, so a weight broadcast over x1
// batches is packed once per n block, not once per batch. A weight narrower
// than an n block runs several x2 batches reading the same x1 rows (an x1
// broadcast over a batched weight) as one GEMM over their panels side by side.
void runPrefillPanels(const Call& cl, const std::vector<BSource>& src) {
  const MatmulPlan& p = cl.p;
  const kern::Kernel& K = cl.K;
  const int64_t m = cl.m, n = cl.n, kp = cl.kp, panels = cl.panels;
  std::vector<std::vector<int64_t>> batchesOf(static_cast<size_t>(p.x2Batches));  // out batches per x2 batch
  for (int64_t b = 0; b < p.outBatches; ++b) batchesOf[static_cast<size_t>(p.x2BatchOf[b])].push_back(b);
  // x2 batches g and h can share a GEMM when their row lists read the same x1 rows
  auto sameRows = [&](int64_t g, int64_t h) {
    const auto &u = batchesOf[static_cast<size_t>(g)], &v = batchesOf[static_cast<size_t>(h)];
    if (u.size() != v.size()) return false;
    for (size_t j = 0; j < u.size(); ++j)
      if (p.x1BatchOf[u[j]] != p.x1BatchOf[v[j]]) return false;
    return true;
  };
  struct Slice {
    int64_t x2b, count, r0, r1;  // x2 batches [x2b, x2b + count), rows [r0, r1) of x2b's row list
  };
  const int threads = computeThreads();
  const int64_t ncp = kPrefillPanels, nBlocks = (panels + ncp - 1) / ncp;
  const int64_t groupMax = batchGroup(p.x2Batches, 1, panels, threads);
  std::vector<std::pair<int64_t, int64_t>> runs;  // (first x2 batch, count) with rows
  for (int64_t g = 0; g < p.x2Batches;) {
    if (batchesOf[static_cast<size_t>(g)].empty()) {
      ++g;
      continue;
    }
    int64_t count = 1;
    while (count < groupMax && g + count < p.x2Batches && sameRows(g, g + count)) ++count;
    runs.emplace_back(g, count);
    g += count;
  }
  const int64_t groups = static_cast<int64_t>(runs.size());
  std::vector<Slice> slices;
  for (const auto& [g, count] : runs) {
    const int64_t rows = static_cast<int64_t>(batchesOf[g].size()) * m;
    // split rows when there are too few tasks for the threads (each slice packs its panels again)
    int64_t split = std::max<int64_t>(1, (2 * threads + groups * nBlocks - 1) / (groups * nBlocks));
    split = std::min(split, std::max<int64_t>(1, rows / 64));
    split = std::max(split, (rows + kPrefillMaxRows - 1) / kPrefillMaxRows);
    const int64_t per = (rows + split - 1) / split;
    for (int64_t r0 = 0; r0 < rows; r0 += per) slices.push_back({g, count, r0, std::min(rows, r0 + per)});
  }
  const int64_t st = kPrefillKc / 4 * kern::kGroupBytes;  // bytes per packed panel block
  parallelFor(
      static_cast<int64_t>(slices.size()) * nBlocks,
      [&](int64_t task) {
        const Slice& sl = slices[static_cast<size_t>(task / nBlocks)];
        const int64_t nb = task % nBlocks, p0 = nb * ncp, p1 = std::min(panels, p0 + ncp);
        const std::vector<int64_t>& outs = batchesOf[static_cast<size_t>(sl.x2b)];
        // a run of several batches spans whole batches (nBlocks == 1): panels batch after batch
        const int64_t width = sl.count > 1 ? sl.count * panels : p1 - p0;
        // per task, not thread_local: up to 1.6 MiB that should not stay with every pool thread
        std::unique_ptr<int32_t[]> cHold;
        std::unique_ptr<int8_t[]> bHold;
        const int64_t ldc = std::max(ncp, width) * kern::kPanel, rows = sl.r1 - sl.r0;
        int32_t* c = alignedBuffer(cHold, static_cast<size_t>(rows * ldc));
        const bool rowsN = sl.count == 1 && src[sl.x2b].kind == BSource::Kind::RowsN;
        int8_t* bp = alignedBuffer(bHold, static_cast<size_t>(std::max(ncp, width) * st +
                                                              (rowsN ? kPrefillKc * (ldc + 64) : 0)));
        for (int64_t k0 = 0; k0 < kp; k0 += kPrefillKc) {
          const int64_t kc = std::min(kPrefillKc, kp - k0), stc = kc / 4 * kern::kGroupBytes;
          if (rowsN) packRowsNBlock(src[sl.x2b], K, p0, p1, k0, kc, bp + ncp * st, bp, stc);
          else
            for (int64_t g = 0; g < sl.count; ++g)
              for (int64_t q = p0; q < p1; ++q)
                packBPanel(src[sl.x2b + g], K, q, k0, kc, bp + (g * panels + q - p0) * stc);
          // runs of rows contiguous in packed x1, at most kPrefillMc at a time
          for (int64_t r = sl.r0; r < sl.r1;) {
            const int64_t b = outs[static_cast<size_t>(r / m)], i = r % m;
            const int8_t* a0 = cl.aRow(p.x1BatchOf[b], i);
            int64_t len = 1;
            while (r + len < sl.r1 && len < kPrefillMc) {
              const int64_t bb = outs[static_cast<size_t>((r + len) / m)], ii = (r + len) % m;
              if (cl.aRow(p.x1BatchOf[bb], ii) != a0 + len * cl.lda) break;
              ++len;
            }
            K.gemm(a0 + k0, cl.lda, len, bp, stc, width, kc, c + (r - sl.r0) * ldc, ldc, k0 != 0);
            r += len;
          }
        }
        const int64_t n0 = p0 * kern::kPanel, n1 = std::min(n, p1 * kern::kPanel);
        for (int64_t g = 0; g < sl.count; ++g) {
          const std::vector<int64_t>& outsG = batchesOf[static_cast<size_t>(sl.x2b + g)];
          for (int64_t r = sl.r0; r < sl.r1; ++r)
            cl.finish(outsG[static_cast<size_t>(r / m)], r % m, c + (r - sl.r0) * ldc + g * panels * kern::kPanel, n0, n1,
                      K.corrMul);
        }
      },
      [&] { return cancelled(cl.a.cancel); });
  if (cancelled(cl.a.cancel)) fail(ErrorCode::Aborted, "the operation was aborted");
}

}  // namespace

void quantMatmul(const QuantMatmulArgs& a) {
  const MatmulPlan p = planQuantMatmul(a);
  const Epilogue ep = makeEpilogue(a, p.m, p.n, p.outBatches);
  const kern::Kernel& K = kern::active();
  const int64_t m = p.m, k = p.k, n = p.n;
  const int64_t kp = kern::kPad(k), panels = kern::panelsOf(n);
  const InlineScope tiny(p.outBatches * m * kp * n <= kInlineMacs);
  // a prefill output is tens of MB of fresh pages: 2 MiB ones fault 512 times
  // less (measured on Zen 4: 4 KiB page faults were 6% of S5)
  if (a.out.mem.bytes >= kHugeOutput) adviseHugePages(a.out.mem.ptr, a.out.mem.bytes);

  // x1: read in place when its rows are what the kernels read, else packed
  // once (every batch, every row); the row sums either way
  const bool inPlace = x1ReadInPlace(a.x1, p.int4, k);
  const int64_t lda = inPlace ? a.x1.strides[a.x1.rank() - 2] : kp;
  std::unique_ptr<int8_t[]> aHold;
  int8_t* packedA = inPlace ? nullptr : alignedBuffer(aHold, static_cast<size_t>(p.x1Batches * m * kp));
  std::vector<const int8_t*> aBatch(static_cast<size_t>(p.x1Batches));
  for (int64_t b = 0; b < p.x1Batches; ++b)
    aBatch[static_cast<size_t>(b)] = inPlace ? a.x1.hostData<int8_t>() + batchOffset(a.x1, b) : packedA + b * m * kp;
  std::vector<int32_t> rowSum(static_cast<size_t>(p.x1Batches * m));
  constexpr int64_t kRowsPerTask = 64;
  const int64_t rowTasks = (m + kRowsPerTask - 1) / kRowsPerTask;
  auto prepareA = [&](int64_t t) {
    const int64_t b = t / rowTasks, r0 = (t % rowTasks) * kRowsPerTask, r1 = std::min(m, r0 + kRowsPerTask);
    int32_t* sums = rowSum.data() + b * m;
    if (!inPlace) packARows(a.x1, p.int4, b, m, k, kp, r0, r1, packedA + b * m * kp, sums);
    else
      for (int64_t i = r0; i < r1; ++i) sums[i] = rowSumOf(aBatch[static_cast<size_t>(b)] + i * lda, k);
  };
  // small: cheaper than waking the pool (row sums alone go faster than a copy)
  if (p.x1Batches * m * kp <= (inPlace ? 1 << 20 : 256 << 10)) {
    for (int64_t t = 0; t < p.x1Batches * rowTasks; ++t) prepareA(t);
  } else {
    parallelFor(p.x1Batches * rowTasks, prepareA, [&] { return cancelled(a.cancel); });
  }
  if (cancelled(a.cancel)) fail(ErrorCode::Aborted, "the operation was aborted");

  // x2: the NZ weight's own pack (made now at its first use), else read where it lies
  const std::shared_ptr<const PackedWeight> owned = ownedPack(a.x2, p.int4, p.x2Transposed, k, n, p.x2Batches, K);
  std::vector<BSource> src;
  if (!owned)
    for (int64_t b = 0; b < p.x2Batches; ++b) src.push_back(describeB(a.x2, p.int4, p.x2Transposed, b, k, n));

  const Call cl{a, p, ep, K, m, k, n, kp, panels, aBatch, lda, rowSum, static_cast<uint8_t*>(a.out.mem.ptr),
                itemSize(a.out.dtype)};
  if (m <= kDecodeRows) runDecode(cl, owned.get(), src);
  else if (owned) runPrefillOwned(cl, *owned);
  else runPrefillPanels(cl, src);
}

}  // namespace qmm::emu
