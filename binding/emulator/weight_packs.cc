#include "weight_packs.h"

#include <atomic>
#include <cstdlib>
#include <new>

#include "huge_pages.h"
#include "thread_pool.h"

namespace qmm::emu {

namespace {

std::atomic<uint64_t> packsMade{0};
std::atomic<size_t> liveBytes{0};

}  // namespace

PanelMemory::PanelMemory(size_t bytes) {
  const bool big = bytes >= kHugePage;
  const size_t align = big ? kHugePage : 64;
  const size_t rounded = (bytes + align - 1) / align * align;
  if (posix_memalign(&p, align, rounded) != 0 || p == nullptr) throw std::bad_alloc();
  if (big) adviseHugePages(p, rounded);
}

PanelMemory::~PanelMemory() { std::free(p); }

PackedWeight::~PackedWeight() { liveBytes.fetch_sub(bytes); }

std::shared_ptr<const PackedWeight> WeightPacks::get(
    const void* ptr, size_t bytes, const PackKey& key,
    const std::function<std::shared_ptr<const PackedWeight>()>& make) {
  const size_t begin = static_cast<size_t>(static_cast<const uint8_t*>(ptr) - base_), end = begin + bytes;
  std::shared_ptr<Entry> e;
  {
    std::lock_guard<std::mutex> g(m_);
    for (auto it = entries_.begin(); it != entries_.end();) {
      Entry& x = **it;
      if (x.begin == begin && x.end == end && x.key == key) {
        e = *it;
        break;
      }
      // another view of these bytes: its pack goes (ops using it keep their reference)
      if (x.begin < end && begin < x.end) it = entries_.erase(it);
      else ++it;
    }
    if (!e) {
      e = std::make_shared<Entry>();
      e->begin = begin;
      e->end = end;
      e->key = key;
      entries_.push_back(e);
    }
  }
  // Made outside the buffer's lock, so other weights of the buffer stay
  // usable meanwhile; ops wanting this one wait for it instead of packing it
  // again. A failed make (bad_alloc) leaves the entry empty for the next op.
  std::lock_guard<std::mutex> g(e->making);
  if (!e->pack) e->pack = make();
  return e->pack;
}

std::shared_ptr<const PackedWeight> packWeight(const std::vector<BSource>& src, const kern::Kernel& kernel,
                                               int64_t kp, int64_t panels, bool int4) {
  const bool nibbles = int4 && kernel.gemm4 != nullptr;
  const int64_t batches = static_cast<int64_t>(src.size());
  const int64_t pb = nibbles ? kern::panelBytes4(kp) : kern::panelBytes(kp);
  auto w = std::make_shared<PackedWeight>();
  w->kp = kp;
  w->panels = panels;
  w->int4 = nibbles;
  w->storage = std::make_unique<PanelMemory>(static_cast<size_t>(batches * panels * pb) + 64);
  w->bytes = static_cast<size_t>(batches * panels * pb);
  liveBytes.fetch_add(w->bytes);
  packsMade.fetch_add(1);
  auto* base = static_cast<int8_t*>(w->storage->p);
  for (int64_t b = 0; b < batches; ++b) w->batch.push_back(base + b * panels * pb);
  kern::Kernel signedPack = kernel;  // int4 panels are made from plain signed int8 panels
  signedPack.bXor = 0;
  // 4 panels per task: whole cache lines of a row-major (k, n) source
  const int64_t per = 4, tasks = (panels + per - 1) / per;
  parallelFor(batches * tasks, [&](int64_t t) {
    const int64_t b = t / tasks, p0 = (t % tasks) * per;
    thread_local std::vector<int8_t> tmp;
    for (int64_t p = p0; p < panels && p < p0 + per; ++p) {
      int8_t* dst = base + (b * panels + p) * pb;
      if (!nibbles) {
        packBPanel(src[b], kernel, p, 0, kp, dst);
        continue;
      }
      tmp.resize(static_cast<size_t>(kern::panelBytes(kp)));
      packBPanel(src[b], signedPack, p, 0, kp, tmp.data());
      int8PanelToInt4(tmp.data(), kp, dst);
    }
  });
  return w;
}

std::shared_ptr<const PackedWeight> ownedPack(const TensorArg& x2, bool int4, bool x2Transposed, int64_t k, int64_t n,
                                              int64_t x2Batches, const kern::Kernel& kernel) {
  if (!x2.packs || x2.format != Format::FractalNZ || x2.mem.kind != Memory::Kind::Host) return nullptr;
  if (int4 && kernel.gemm4 == nullptr) return nullptr;
  const size_t srcBytes = static_cast<size_t>(x2.storageNumel()) * itemSize(x2.dtype);
  const int64_t kp = kern::kPad(k), panels = kern::panelsOf(n);
  const size_t packed =
      static_cast<size_t>(x2Batches * panels * (int4 ? kern::panelBytes4(kp) : kern::panelBytes(kp)));
  if (packed > srcBytes) return nullptr;  // memory rule: a pack never outgrows its weight
  const PackKey key{&kernel, int4, x2Transposed, k, n, x2Batches};
  return x2.packs->get(x2.mem.ptr, srcBytes, key, [&] {
    std::vector<BSource> src;
    for (int64_t b = 0; b < x2Batches; ++b) src.push_back(describeB(x2, int4, x2Transposed, b, k, n));
    return packWeight(src, kernel, kp, panels, int4);
  });
}

uint64_t ownedPacksMade() { return packsMade.load(); }
size_t ownedPackBytes() { return liveBytes.load(); }

}  // namespace qmm::emu
