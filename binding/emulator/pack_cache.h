// Process-wide cache of x2 weights packed once into the kernel's panel layout
// (kernels/kernel.h), so repeated matmuls with the same weight skip packing.
//
// Contract (see pack_cache_api.h for the knobs):
//   * The cache trusts that a cached weight's bytes do not change while they
//     are cached. FRACTAL_NZ weights are cached by default: after a format
//     cast the tensor is documented as not modifiable (SPEC §5.2). ND weights
//     are cached only when QMM_PACK_CACHE=all (or packCacheSetMode("all")).
//   * Entries are keyed by the buffer address and everything that describes
//     the view (byte length, dtype, format, shape, strides, offset, storage
//     dims, transposition) plus the kernel. A sampled fingerprint of the bytes
//     (head, tail and 256 spread 8-byte words) is checked on every hit, which
//     catches a freed buffer whose address was reused for other data, but is
//     not a proof that the bytes are unchanged: code that mutates a weight in
//     place must call packCacheRelease(ptr) or packCacheClear().
//   * Memory: an entry is made only when the packed size is at most the
//     weight's own storage size (int4 weights are cached as int4 panels, by
//     kernels that have them (vnni512), and never as int8 panels, which would
//     be twice their size); the whole cache is bounded by
//     QMM_PACK_CACHE_MAX_MB (default 4096). When it is full, entries idle
//     for 10 s are evicted (least recently used first) and otherwise the new
//     weight simply runs uncached, so a working set larger than the limit
//     never thrashes. Entries of weights that were freed by JS stay until
//     they are idle-evicted, released, or cleared: the cache can add up to
//     the limit on top of the live weights.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "../tensor.h"
#include "kernels/kernel.h"
#include "operand.h"

namespace qmm::emu {

// Memory for packed panels: 2 MiB aligned and, on Linux, advised to use
// transparent huge pages (THP is often in "madvise" mode): a decode step
// streams the whole weight, and 4 KiB pages would miss the TLB on every page.
struct PanelMemory {
  void* p = nullptr;
  explicit PanelMemory(size_t bytes);
  ~PanelMemory();
  PanelMemory(const PanelMemory&) = delete;
  PanelMemory& operator=(const PanelMemory&) = delete;
};

struct PackedWeight {
  std::unique_ptr<PanelMemory> storage;
  std::vector<const int8_t*> batch;  // per x2 batch: panels of panelBytes(kp) bytes
  int64_t kp = 0, panels = 0;
  size_t bytes = 0;
  bool int4 = false;  // int4 panels (kern::Kernel::gemm4), else int8 panels
};

// The cached packing of x2 for `kernel`, packing it (in parallel) on a miss
// when the policy allows; null when x2 is not cacheable.
std::shared_ptr<const PackedWeight> packCacheGet(const TensorArg& x2, bool int4, bool x2Transposed, int64_t k,
                                                 int64_t n, int64_t x2Batches, const kern::Kernel& kernel);

// Packs every panel of every batch (in parallel) into a new PackedWeight:
// int4 panels when `int4` and the kernel has gemm4, else int8 panels.
std::shared_ptr<const PackedWeight> packWeight(const std::vector<BSource>& src, const kern::Kernel& kernel,
                                               int64_t kp, int64_t panels, bool int4);

}  // namespace qmm::emu
