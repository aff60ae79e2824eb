// AMX kernel (TDPBSSD: signed int8 x signed int8 -> int32, wrapping like the
// device, docs/semantics.md §8). Compiled with -mamx-tile -mamx-int8; only
// reached when cpuid, XCR0 and the OS (the XTILEDATA permission of
// dispatch.cc) allow tiles.
//
// Tiles (palette 1) for a block of 32 rows x 2 panels (32 columns):
//   tmm0 tmm1   int32 accumulators, rows 0-15, panel p / p+1
//   tmm2 tmm3   rows 16-31
//   tmm4 tmm5   A: rows 0-15 / 16-31, 64 k each (stride lda)
//   tmm6 tmm7   B: panel p / p+1, 16 k-groups of 64 bytes
// 16 consecutive k-groups of a packed panel (kernel.h) are exactly one B tile
// in TDPBSSD's VNNI-4 layout, so panels are read where they are, with bXor 0
// and no correction. The packers and the fused epilogue are vnni512's (every
// AMX CPU has AVX-512 VNNI; dispatch.cc requires both).
//
// Row tails configure shorter tiles (tmm0/1/4 hold the top rows, tmm2/3/5 the
// bottom ones). The configuration is per thread: a thread keeps the one it
// loaded last and reloads only when a strip needs other row counts, never in
// the middle of a block (LDTILECFG zeroes every tile), or when another
// library changed it (TileSession). A k tail (kc % 64 = 16, 32 or 48) is
// copied, zero padded, into per-thread scratch and run as one more
// full-depth step.
//
// With QMM_AMX_SOFT defined (the kernel self-test only, never the addon) this
// same source runs on amx_soft.h, a software model of the tiles for testing,
// so its logic is checked on CPUs without AMX.
#if defined(QMM_AMX_SOFT)
#include "amx_soft.h"
#define QMM_AMX_ENTRY amxSoftKernel
#else
#include <immintrin.h>

#include <ctime>
#define QMM_AMX_ENTRY amxKernel
#endif

#include <cstdlib>
#include <cstring>
#include <new>

#include "kernel.h"

namespace qmm::emu::kern {

namespace {

#if defined(QMM_AMX_SOFT)
using namespace amx_soft;
#endif

constexpr int64_t kTileK = 64;           // k per tile step: A tile columns, 4 x B tile rows
constexpr int64_t kTileBytes = 16 * 64;  // one full tile
constexpr long kBTileStride = kGroupBytes;  // a B tile row is one k-group of a panel

// GCC's tile intrinsics are asm statements that do not tell the compiler they
// read memory (tileloadd has no "memory" clobber, ldtilecfg names only the
// first 8 bytes of its operand): data written with plain stores right before
// a tile load must be forced out first.
inline void storesVisible() { __asm__ volatile("" ::: "memory"); }
inline void storesVisible(const void* p) { __asm__ volatile("" : : "r"(p) : "memory"); }

// Growable 64-byte aligned per-thread buffer, freed when its thread ends.
struct Scratch {
  int8_t* p = nullptr;
  size_t cap = 0;
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { std::free(p); }
  int8_t* get(size_t bytes) {
    if (bytes > cap) {
      const size_t rounded = (bytes + 4095) / 4096 * 4096;
      void* q = std::aligned_alloc(64, rounded);
      if (q == nullptr) throw std::bad_alloc();
      std::free(p);
      p = static_cast<int8_t*>(q);
      cap = rounded;
    }
    return p;
  }
};

// The LDTILECFG operand.
struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t startRow;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(TileConfig) == 64, "LDTILECFG reads 64 bytes");

// The configuration this thread loaded last (top == 0: none), released when the thread ends.
struct ThreadTiles {
  TileConfig loaded{};
  int top = 0, bottom = 0;
  ThreadTiles() = default;
  ThreadTiles(const ThreadTiles&) = delete;
  ThreadTiles& operator=(const ThreadTiles&) = delete;
  ~ThreadTiles() {
    if (top != 0) _tile_release();
  }
};

thread_local ThreadTiles tTiles;
thread_local Scratch tATail, tBTail, tUnpacked;

// Tiles for `top` rows (tmm0/1/4) and `bottom` rows (tmm2/3/5, none when 0).
// A strip without bottom rows accepts any loaded configuration with its top.
void configure(int top, int bottom) {
  ThreadTiles& t = tTiles;
  if (t.top == top && (bottom == 0 || t.bottom == bottom)) return;
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  auto set = [&cfg](int tile, int rows) {
    cfg.rows[tile] = static_cast<uint8_t>(rows);
    cfg.colsb[tile] = 64;
  };
  set(0, top);
  set(1, top);
  set(4, top);
  if (bottom > 0) {
    set(2, bottom);
    set(3, bottom);
    set(5, bottom);
  }
  set(6, 16);
  set(7, 16);
  storesVisible(&cfg);
  _tile_loadconfig(&cfg);
  t.loaded = cfg;
  t.top = top;
  t.bottom = bottom;
}

// The tiles of this thread for the span of one call. Other code on the same
// thread (oneDNN, onnxruntime's MLAS, which keeps its configuration per
// thread and does not reload it) may have loaded its own configuration: it is
// noticed (STTILECFG) and put back when the call ends, so neither side
// computes with the other's tile shapes.
class TileSession {
 public:
  TileSession() {
    _tile_storeconfig(&entry_);
    storesVisible(&entry_);
    ThreadTiles& t = tTiles;
    if (entry_.palette == 0) {  // init state: nothing loaded (or released by someone else)
      t.top = t.bottom = 0;
    } else if (t.top == 0 || std::memcmp(&entry_, &t.loaded, sizeof entry_) != 0) {
      foreign_ = true;
      t.top = t.bottom = 0;
    }
  }
  ~TileSession() {
    if (!foreign_) return;
    storesVisible(&entry_);
    _tile_loadconfig(&entry_);
    tTiles.top = tTiles.bottom = 0;
  }
  TileSession(const TileSession&) = delete;
  TileSession& operator=(const TileSession&) = delete;

 private:
  TileConfig entry_;
  bool foreign_ = false;
};

// One 32-row (kBottom) or 16-row block over one panel or a pair (kPair):
// C = (accumulate ? C : 0) + A[:, 0:kMain] * B, plus the zero-padded k tail
// (aTail rows of 64 bytes, bTail tiles of 1 KiB per panel) when present.
template <bool kPair, bool kBottom>
inline void tileBlock(const int8_t* a, int64_t lda, const int8_t* aTail, const int8_t* b, int64_t bStride,
                      const int8_t* bTail, int64_t kMain, int32_t* c, int64_t ldc, bool accumulate) {
  const long cs = static_cast<long>(ldc * 4);
  int32_t* cb = c + 16 * ldc;
  if (accumulate) {
    _tile_loadd(0, c, cs);
    if constexpr (kPair) _tile_loadd(1, c + 16, cs);
    if constexpr (kBottom) _tile_loadd(2, cb, cs);
    if constexpr (kPair && kBottom) _tile_loadd(3, cb + 16, cs);
  } else {
    _tile_zero(0);
    if constexpr (kPair) _tile_zero(1);
    if constexpr (kBottom) _tile_zero(2);
    if constexpr (kPair && kBottom) _tile_zero(3);
  }
  const int8_t* ab = a + 16 * lda;
  const int8_t* b1 = b + bStride;
  const long sa = static_cast<long>(lda);
  for (int64_t k = 0; k < kMain; k += kTileK) {
    const int64_t kb = k / 4 * kGroupBytes;
    _tile_loadd(4, a + k, sa);
    _tile_loadd(6, b + kb, kBTileStride);
    _tile_dpbssd(0, 4, 6);
    if constexpr (kPair) {
      _tile_loadd(7, b1 + kb, kBTileStride);
      _tile_dpbssd(1, 4, 7);
    }
    if constexpr (kBottom) {
      _tile_loadd(5, ab + k, sa);
      _tile_dpbssd(2, 5, 6);
      if constexpr (kPair) _tile_dpbssd(3, 5, 7);
    }
  }
  if (aTail != nullptr) {
    _tile_loadd(4, aTail, 64);
    _tile_loadd(6, bTail, kBTileStride);
    _tile_dpbssd(0, 4, 6);
    if constexpr (kPair) {
      _tile_loadd(7, bTail + kTileBytes, kBTileStride);
      _tile_dpbssd(1, 4, 7);
    }
    if constexpr (kBottom) {
      _tile_loadd(5, aTail + 16 * 64, 64);
      _tile_dpbssd(2, 5, 6);
      if constexpr (kPair) _tile_dpbssd(3, 5, 7);
    }
  }
  _tile_stored(0, c, cs);
  if constexpr (kPair) _tile_stored(1, c + 16, cs);
  if constexpr (kBottom) _tile_stored(2, cb, cs);
  if constexpr (kPair && kBottom) _tile_stored(3, cb + 16, cs);
}

void gemmAmx(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t bStride, int64_t panels,
             int64_t kc, int32_t* c, int64_t ldc, bool accumulate) {
  if (rows <= 0 || panels <= 0) return;
  TileSession session;
  const int64_t kMain = kc / kTileK * kTileK, kTail = kc - kMain;
  int8_t* aTail = nullptr;
  int8_t* bTail = nullptr;
  if (kTail != 0) {
    aTail = tATail.get(static_cast<size_t>(rows * 64));
    for (int64_t i = 0; i < rows; ++i) {
      std::memcpy(aTail + i * 64, a + i * lda + kMain, static_cast<size_t>(kTail));
      std::memset(aTail + i * 64 + kTail, 0, static_cast<size_t>(64 - kTail));
    }
    bTail = tBTail.get(static_cast<size_t>(panels * kTileBytes));
    const int64_t tailBytes = kTail / 4 * kGroupBytes;
    for (int64_t p = 0; p < panels; ++p) {
      std::memcpy(bTail + p * kTileBytes, b + p * bStride + kMain / 4 * kGroupBytes, static_cast<size_t>(tailBytes));
      std::memset(bTail + p * kTileBytes + tailBytes, 0, static_cast<size_t>(kTileBytes - tailBytes));
    }
  }
  storesVisible();

  // Strips of 32 rows first, so a call reloads the configuration at most for its last strip.
  auto strip = [&](int64_t r0, int top, int bottom) {
    configure(top, bottom);
    const int8_t* ar = a + r0 * lda;
    const int8_t* at = aTail != nullptr ? aTail + r0 * 64 : nullptr;
    int32_t* cr = c + r0 * ldc;
    for (int64_t p = 0; p < panels; p += 2) {
      const int8_t* bp = b + p * bStride;
      const int8_t* bt = bTail != nullptr ? bTail + p * kTileBytes : nullptr;
      int32_t* cp = cr + p * kPanel;
      if (p + 1 < panels) {
        if (bottom > 0) tileBlock<true, true>(ar, lda, at, bp, bStride, bt, kMain, cp, ldc, accumulate);
        else tileBlock<true, false>(ar, lda, at, bp, bStride, bt, kMain, cp, ldc, accumulate);
      } else {
        if (bottom > 0) tileBlock<false, true>(ar, lda, at, bp, bStride, bt, kMain, cp, ldc, accumulate);
        else tileBlock<false, false>(ar, lda, at, bp, bStride, bt, kMain, cp, ldc, accumulate);
      }
    }
  };
  const int64_t full = rows / 32 * 32;
  for (int64_t r0 = 0; r0 < full; r0 += 32) strip(r0, 16, 16);
  const int64_t rest = rows - full;
  if (rest > 16) strip(full, 16, static_cast<int>(rest - 16));
  else if (rest > 0) strip(full, static_cast<int>(rest), 0);
}

// ---------------------------------------------------------------- int4 panels

// An int4 panel pair-of-groups q (64 bytes: B+8 in the low nibble for group
// 2q, in the high nibble for group 2q+1) becomes two int8 groups of 0..15.
void unpackInt4(const int8_t* src, int64_t kc, int8_t* dst) {
  for (int64_t q = 0; q < kc / 8; ++q) {
    const auto* s = reinterpret_cast<const uint8_t*>(src + q * kGroupBytes);
    int8_t* lo = dst + 2 * q * kGroupBytes;
    int8_t* hi = lo + kGroupBytes;
    for (int i = 0; i < kGroupBytes; ++i) {
      lo[i] = static_cast<int8_t>(s[i] & 0x0F);
      hi[i] = static_cast<int8_t>(s[i] >> 4);
    }
  }
}

// int4 panels through the int8 path, unpacked per block of at most 16 panels
// x 1024 k (256 KiB of scratch, L2-resident). The values are B+8, hence corrMul4 = 8.
void gemm4Amx(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t bStride, int64_t panels,
              int64_t kc, int32_t* c, int64_t ldc, bool accumulate) {
  constexpr int64_t kPanelsPerBlock = 16, kKPerBlock = 1024;
  int8_t* u = tUnpacked.get(static_cast<size_t>(kPanelsPerBlock * panelBytes(kKPerBlock)));
  for (int64_t p0 = 0; p0 < panels; p0 += kPanelsPerBlock) {
    const int64_t np = panels - p0 < kPanelsPerBlock ? panels - p0 : kPanelsPerBlock;
    for (int64_t k0 = 0; k0 < kc; k0 += kKPerBlock) {
      const int64_t kk = kc - k0 < kKPerBlock ? kc - k0 : kKPerBlock;
      for (int64_t q = 0; q < np; ++q)
        unpackInt4(b + (p0 + q) * bStride + k0 / 8 * kGroupBytes, kk, u + q * panelBytes(kk));
      gemmAmx(a + k0, lda, rows, u, panelBytes(kk), np, kk, c + p0 * kPanel, ldc, accumulate || k0 > 0);
    }
  }
}

#if !defined(QMM_AMX_SOFT)
// ---------------------------------------------------------------- probe

double nowSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Sustained TDPBSSD throughput on this thread: the four accumulators of a
// full 32 x 32 block, 64 k per instruction, operands kept in tiles.
double probeAmx(double seconds) {
  TileSession session;
  configure(16, 16);
  alignas(64) int8_t operand[kTileBytes];
  for (int i = 0; i < kTileBytes; ++i) operand[i] = static_cast<int8_t>(i * 7 - 3);
  storesVisible(operand);
  _tile_loadd(4, operand, 64);
  _tile_loadd(5, operand, 64);
  _tile_loadd(6, operand, 64);
  _tile_loadd(7, operand, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  const double t0 = nowSeconds();
  int64_t iters = 0;
  double el = 0;
  do {
    for (int r = 0; r < 4096; ++r) {
      _tile_dpbssd(0, 4, 6);
      _tile_dpbssd(1, 4, 7);
      _tile_dpbssd(2, 5, 6);
      _tile_dpbssd(3, 5, 7);
    }
    iters += 4096;
    el = nowSeconds() - t0;
  } while (el < seconds);
  alignas(64) int32_t sink[4][256];
  _tile_stored(0, sink[0], 64);
  _tile_stored(1, sink[1], 64);
  _tile_stored(2, sink[2], 64);
  _tile_stored(3, sink[3], 64);
  volatile int32_t keep = sink[0][0] + sink[1][1] + sink[2][2] + sink[3][3];
  (void)keep;
  return static_cast<double>(iters) * 4 * (16.0 * 16 * 64 * 2) / el / 1e9;
}
#endif

Kernel makeTable() {
#if defined(QMM_AMX_SOFT)
  return Kernel{"amx_int8-soft", 0, 0, gemmAmx, packRowsNPortable, packRowsKPortable, epilogueScalar,
                nullptr,         gemm4Amx, 8};
#else
  const Kernel* v = vnni512Kernel();
  if (v == nullptr)
    return Kernel{"amx_int8", 0, 0, gemmAmx, packRowsNPortable, packRowsKPortable, epilogueScalar, probeAmx, gemm4Amx, 8};
  // decode from an (n, k) weight: VNNI's rows kernel (one row of A cannot fill a tile)
  return Kernel{"amx_int8", 0, 0, gemmAmx, v->packRowsN, v->packRowsK, v->epilogue, probeAmx, gemm4Amx, 8,
                v->gemmRowsK, v->corrMulRowsK};
#endif
}

}  // namespace

const Kernel* QMM_AMX_ENTRY() {
  static const Kernel k = makeTable();
  return &k;
}

}  // namespace qmm::emu::kern
