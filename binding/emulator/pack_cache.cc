#include "pack_cache.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <list>
#include <new>
#include <mutex>
#include <string>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "operand.h"
#include "pack_cache_api.h"
#include "thread_pool.h"

namespace qmm::emu {

namespace {

enum class Mode { Off, Nz, All };

// Weights smaller than this are packed on the fly: it costs less than a lookup.
constexpr size_t kMinCachedBytes = 64 * 1024;

struct Key {
  const void* ptr = nullptr;
  size_t memBytes = 0;
  int32_t dtype = 0, format = 0;
  std::vector<int64_t> shape, strides, storageShape;
  int64_t offset = 0;
  bool int4 = false, transposed = false;
  const kern::Kernel* kernel = nullptr;

  bool operator==(const Key& o) const {
    return ptr == o.ptr && memBytes == o.memBytes && dtype == o.dtype && format == o.format && shape == o.shape &&
           strides == o.strides && storageShape == o.storageShape && offset == o.offset && int4 == o.int4 &&
           transposed == o.transposed && kernel == o.kernel;
  }
};

struct Entry {
  Key key;
  uint64_t fingerprint = 0;
  std::shared_ptr<const PackedWeight> w;
  std::chrono::steady_clock::time_point lastUse;
};

// A full cache evicts only entries idle this long; otherwise the new weight
// runs uncached. Plain LRU would thrash when the weights in use exceed the
// limit (every call repacking a whole weight); this keeps the hot set and
// still frees entries of weights that are no longer used (or were freed).
constexpr auto kIdleEvict = std::chrono::seconds(10);

inline uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdull;
  return h ^ (h >> 33);
}

// Head, tail and 256 evenly spread 8-byte words of the buffer.
uint64_t fingerprint(const void* ptr, size_t bytes) {
  const auto* p = static_cast<const uint8_t*>(ptr);
  uint64_t h = mix(0x243f6a8885a308d3ull, bytes);
  auto word = [&](size_t off) {
    uint64_t v = 0;
    const size_t len = bytes - off < 8 ? bytes - off : 8;
    std::memcpy(&v, p + off, len);
    h = mix(h, v);
  };
  const size_t edge = bytes < 512 ? bytes : 512;
  for (size_t o = 0; o < edge; o += 8) word(o);
  for (size_t o = bytes - edge; o < bytes; o += 8) word(o);
  if (bytes > 8) {
    const size_t step = (bytes - 8) / 256 + 1;
    for (size_t o = 0; o + 8 <= bytes; o += step) word(o);
  }
  return h;
}

struct Cache {
  std::mutex m;
  std::list<Entry> lru;  // most recently used first
  size_t bytes = 0;
  size_t limit = 0;
  Mode mode = Mode::Nz;
  std::atomic<uint64_t> hits{0}, misses{0};

  Cache() {
    if (const char* s = std::getenv("QMM_PACK_CACHE")) {
      const std::string v(s);
      if (v == "off" || v == "0") mode = Mode::Off;
      else if (v == "all") mode = Mode::All;
    }
    limit = size_t{4096} << 20;
    if (const char* s = std::getenv("QMM_PACK_CACHE_MAX_MB")) {
      const long long v = std::strtoll(s, nullptr, 10);
      if (v >= 0) limit = static_cast<size_t>(v) << 20;
    }
  }

  void evictTo(size_t target) {
    while (bytes > target && !lru.empty()) {
      bytes -= lru.back().w->bytes;
      lru.pop_back();
    }
  }

  // Makes room for `need` bytes by dropping idle entries (least recently used
  // first); false when that is not enough.
  bool makeRoom(size_t need) {
    const auto now = std::chrono::steady_clock::now();
    while (bytes + need > limit && !lru.empty() && now - lru.back().lastUse > kIdleEvict) {
      bytes -= lru.back().w->bytes;
      lru.pop_back();
    }
    return bytes + need <= limit;
  }
};

Cache& cache() {
  static Cache* c = new Cache;  // leaked: outlives every environment and the pool
  return *c;
}

Key makeKey(const TensorArg& x2, bool int4, bool transposed, const kern::Kernel& kernel) {
  Key k;
  k.ptr = x2.mem.ptr;
  k.memBytes = x2.mem.bytes;
  k.dtype = static_cast<int32_t>(x2.dtype);
  k.format = static_cast<int32_t>(x2.format);
  k.shape = x2.shape;
  k.strides = x2.strides;
  k.storageShape = x2.storageShape;
  k.offset = x2.offset;
  k.int4 = int4;
  k.transposed = transposed;
  k.kernel = &kernel;
  return k;
}

}  // namespace

PanelMemory::PanelMemory(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  const bool big = bytes >= kHuge;
  const size_t align = big ? kHuge : 64;
  const size_t rounded = (bytes + align - 1) / align * align;
  if (posix_memalign(&p, align, rounded) != 0 || p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (big) madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure only costs speed
#endif
}

PanelMemory::~PanelMemory() { std::free(p); }

std::shared_ptr<const PackedWeight> packWeight(const std::vector<BSource>& src, const kern::Kernel& kernel,
                                               int64_t kp, int64_t panels, bool int4) {
  const bool nibbles = int4 && kernel.gemm4 != nullptr;
  const int64_t batches = static_cast<int64_t>(src.size());
  const int64_t pb = nibbles ? kern::panelBytes4(kp) : kern::panelBytes(kp);
  auto w = std::make_shared<PackedWeight>();
  w->kp = kp;
  w->panels = panels;
  w->int4 = nibbles;
  w->bytes = static_cast<size_t>(batches * panels * pb);
  w->storage = std::make_unique<PanelMemory>(w->bytes + 64);
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

std::shared_ptr<const PackedWeight> packCacheGet(const TensorArg& x2, bool int4, bool x2Transposed, int64_t k,
                                                 int64_t n, int64_t x2Batches, const kern::Kernel& kernel) {
  Cache& c = cache();
  Mode mode;
  size_t limit;
  {
    std::lock_guard<std::mutex> g(c.m);
    mode = c.mode;
    limit = c.limit;
  }
  if (mode == Mode::Off || (int4 && kernel.gemm4 == nullptr)) return nullptr;
  if (mode == Mode::Nz && x2.format != Format::FractalNZ) return nullptr;
  const size_t srcBytes = static_cast<size_t>(x2.storageNumel()) * itemSize(x2.dtype);
  const int64_t kp = kern::kPad(k), panels = kern::panelsOf(n);
  const size_t packed =
      static_cast<size_t>(x2Batches * panels * (int4 ? kern::panelBytes4(kp) : kern::panelBytes(kp)));
  // memory rule: a packing never adds more than the weight's own size
  if (srcBytes < kMinCachedBytes || packed > srcBytes || packed > limit) return nullptr;

  Key key = makeKey(x2, int4, x2Transposed, kernel);
  const uint64_t fp = fingerprint(x2.mem.ptr, x2.mem.bytes);
  {
    std::lock_guard<std::mutex> g(c.m);
    for (auto it = c.lru.begin(); it != c.lru.end(); ++it) {
      if (!(it->key == key)) continue;
      if (it->fingerprint != fp) {  // same address, other bytes: a reused buffer
        c.bytes -= it->w->bytes;
        c.lru.erase(it);
        break;
      }
      it->lastUse = std::chrono::steady_clock::now();
      c.lru.splice(c.lru.begin(), c.lru, it);
      c.hits.fetch_add(1);
      return c.lru.front().w;
    }
  }

  {
    std::lock_guard<std::mutex> g(c.m);
    if (!c.makeRoom(packed)) return nullptr;  // full of weights in use: run this one uncached
  }
  std::vector<BSource> src;
  for (int64_t b = 0; b < x2Batches; ++b) src.push_back(describeB(x2, int4, x2Transposed, b, k, n));
  std::shared_ptr<const PackedWeight> cw = packWeight(src, kernel, kp, panels, int4);
  c.misses.fetch_add(1);
  {
    std::lock_guard<std::mutex> g(c.m);
    for (auto it = c.lru.begin(); it != c.lru.end(); ++it)
      if (it->key == key) {
        c.bytes -= it->w->bytes;
        c.lru.erase(it);
        break;
      }
    if (!c.makeRoom(packed)) return cw;  // filled up meanwhile: use it for this call only
    c.lru.push_front(Entry{std::move(key), fp, cw, std::chrono::steady_clock::now()});
    c.bytes += packed;
  }
  return cw;
}

void packCacheClear() {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  c.lru.clear();
  c.bytes = 0;
}

size_t packCacheRelease(const void* ptr, size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  const auto lo = reinterpret_cast<uintptr_t>(ptr);
  const uintptr_t hi = lo + bytes;
  size_t dropped = 0;
  for (auto it = c.lru.begin(); it != c.lru.end();) {
    const auto elo = reinterpret_cast<uintptr_t>(it->key.ptr);
    const uintptr_t ehi = elo + it->key.memBytes;
    const bool hit = bytes == 0 ? elo == lo : (elo < hi && lo < ehi);
    if (hit) {
      c.bytes -= it->w->bytes;
      it = c.lru.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

size_t packCacheBytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  return c.bytes;
}

size_t packCacheEntries() {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  return c.lru.size();
}

uint64_t packCacheHits() { return cache().hits.load(); }
uint64_t packCacheMisses() { return cache().misses.load(); }

bool packCacheSetMode(const std::string& mode) {
  Mode m;
  if (mode == "off") m = Mode::Off;
  else if (mode == "nz") m = Mode::Nz;
  else if (mode == "all") m = Mode::All;
  else return false;
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  c.mode = m;
  if (m == Mode::Off) {
    c.lru.clear();
    c.bytes = 0;
  }
  return true;
}

std::string packCacheMode() {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  return c.mode == Mode::Off ? "off" : (c.mode == Mode::Nz ? "nz" : "all");
}

void packCacheSetLimit(size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  c.limit = bytes;
  c.evictTo(bytes);
}

size_t packCacheLimit() {
  Cache& c = cache();
  std::lock_guard<std::mutex> g(c.m);
  return c.limit;
}

}  // namespace qmm::emu
