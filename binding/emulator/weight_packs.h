// Packed weights owned by their tensors. A FRACTAL_NZ weight carries its
// kernel-layout pack (kernels/kernel.h): made at its first matmul, reused by
// every later one, freed with the weight's storage. Nothing is keyed by
// address and nothing is evicted.
//
// Ownership: every JS buffer (ArrayBuffer) that holds FRACTAL_NZ tensors gets
// one WeightPacks when an op first reads such a tensor (binding/pack_owner.cc);
// the buffer owns it and drops it when the buffer is garbage-collected, and
// each op in flight holds it through TensorArg::packs. Inside, packs are kept
// per weight region (byte range of the buffer), so several weights in one
// buffer each keep theirs.
//
// Contract: an NZ weight is immutable once cast, as on the device
// (docs/semantics.md §5.2): a pack is never checked against the bytes again.
//
// Memory: at most one pack per region, never larger than the weight's own
// storage (int4 weights are packed only by kernels with int4 panels; int8
// panels would be twice the weight). A pack for another view of the same
// bytes (transposed, another kernel) replaces the previous one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
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
  PackedWeight() = default;
  PackedWeight(const PackedWeight&) = delete;
  PackedWeight& operator=(const PackedWeight&) = delete;
  ~PackedWeight();
};

// What a pack was made for: the kernel and how the weight is read.
struct PackKey {
  const kern::Kernel* kernel = nullptr;
  bool int4 = false, transposed = false;
  int64_t k = 0, n = 0, batches = 0;
  bool operator==(const PackKey& o) const {
    return kernel == o.kernel && int4 == o.int4 && transposed == o.transposed && k == o.k && n == o.n &&
           batches == o.batches;
  }
};

// The packs of the weights stored in one JS buffer whose bytes start at `base`.
class WeightPacks {
 public:
  explicit WeightPacks(const void* base) : base_(static_cast<const uint8_t*>(base)) {}
  WeightPacks(const WeightPacks&) = delete;
  WeightPacks& operator=(const WeightPacks&) = delete;

  // The pack for the weight at [ptr, ptr + bytes) read as `key`; on a miss
  // `make` builds it (once, however many ops ask at the same time) and it
  // replaces the packs of every region overlapping this one.
  std::shared_ptr<const PackedWeight> get(const void* ptr, size_t bytes, const PackKey& key,
                                          const std::function<std::shared_ptr<const PackedWeight>()>& make);

 private:
  struct Entry {
    size_t begin = 0, end = 0;  // byte range in the buffer
    PackKey key;
    std::mutex making;
    std::shared_ptr<const PackedWeight> pack;
  };
  const uint8_t* base_;
  std::mutex m_;
  std::vector<std::shared_ptr<Entry>> entries_;  // disjoint regions
};

// The pack owned by the FRACTAL_NZ weight x2 for `kernel`, made now if this is
// its first use; null when x2 has no owner (ND, device memory) or cannot be
// packed within its own size.
std::shared_ptr<const PackedWeight> ownedPack(const TensorArg& x2, bool int4, bool x2Transposed, int64_t k, int64_t n,
                                              int64_t x2Batches, const kern::Kernel& kernel);

// Packs every panel of every batch (in parallel) into a new PackedWeight:
// int4 panels when `int4` and the kernel has gemm4, else int8 panels.
std::shared_ptr<const PackedWeight> packWeight(const std::vector<BSource>& src, const kern::Kernel& kernel,
                                               int64_t kp, int64_t panels, bool int4);

// Test counters: owned packs made since the process started, and the bytes of
// those alive now.
uint64_t ownedPacksMade();
size_t ownedPackBytes();

}  // namespace qmm::emu
