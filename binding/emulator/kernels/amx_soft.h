// FOR TESTING ONLY: an exact software model of the AMX tile registers and the
// instructions amx.cc uses (LDTILECFG, STTILECFG, TILELOADD, TILESTORED,
// TILEZERO, TDPBSSD, TILERELEASE), so the AMX kernel's logic can be checked bit for bit
// on a CPU without AMX. amx.cc includes it instead of <immintrin.h> when
// QMM_AMX_SOFT is defined; only the kernel self-test builds it that way. It is
// never part of the addon, and it is slow.
//
// The model follows the instruction definitions for palette 1 (8 tiles of at
// most 16 rows x 64 bytes): a configuration zeroes every tile; a load fills
// the configured rows x colsb bytes and zeroes the rest; TDPBSSD adds, to each
// int32 of the destination, the four signed byte products of each k dword,
// wrapping modulo 2^32. What real hardware rejects (#UD/#GP: no or invalid
// configuration, a tile outside it, operand shapes that do not chain, equal
// operand registers) aborts with a message, so a kernel that only passes on
// the model would still fault on the CPU.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace qmm::emu::kern::amx_soft {

constexpr int kTiles = 8, kMaxRows = 16, kRowBytes = 64;

struct TileFile {
  bool configured = false;
  uint8_t rows[kTiles] = {};
  uint16_t colsb[kTiles] = {};
  uint8_t data[kTiles][kMaxRows][kRowBytes] = {};
};

inline TileFile& tileFile() {
  static thread_local TileFile t;
  return t;
}

[[noreturn]] inline void fault(const char* instruction, const char* why, int tile) {
  std::fprintf(stderr, "amx soft model: %s faults: %s (tmm%d)\n", instruction, why, tile);
  std::abort();
}

inline void need(const char* instruction, int t) {
  const TileFile& f = tileFile();
  if (!f.configured) fault(instruction, "tiles are not configured", t);
  if (t < 0 || t >= kTiles) fault(instruction, "no such tile", t);
  if (f.rows[t] == 0) fault(instruction, "tile is not part of the configuration", t);
}

// The 64-byte LDTILECFG operand: palette, start_row, 14 reserved bytes,
// colsb as 16 little-endian uint16 at byte 16, rows as 16 bytes at byte 48.
inline void _tile_loadconfig(const void* config) {
  const auto* p = static_cast<const uint8_t*>(config);
  TileFile& f = tileFile();
  f = TileFile{};
  if (p[0] == 0) return;  // palette 0: the init state (nothing configured)
  if (p[0] != 1) fault("ldtilecfg", "unsupported palette", -1);
  for (int i = 1; i < 16; ++i)
    if (p[i] != 0) fault("ldtilecfg", "start_row or reserved bytes are not zero", -1);
  for (int t = 0; t < 16; ++t) {
    const int colsb = p[16 + 2 * t] | (p[17 + 2 * t] << 8), rows = p[48 + t];
    if (t >= kTiles) {
      if (colsb != 0 || rows != 0) fault("ldtilecfg", "palette 1 has 8 tiles", t);
      continue;
    }
    if ((colsb == 0) != (rows == 0)) fault("ldtilecfg", "rows and colsb must both be zero or both be set", t);
    if (rows > kMaxRows || colsb > kRowBytes) fault("ldtilecfg", "tile larger than 16 rows x 64 bytes", t);
    f.rows[t] = static_cast<uint8_t>(rows);
    f.colsb[t] = static_cast<uint16_t>(colsb);
  }
  f.configured = true;
}

// Writes the loaded configuration in LDTILECFG's format (64 zero bytes in the init state).
inline void _tile_storeconfig(void* config) {
  auto* p = static_cast<uint8_t*>(config);
  std::memset(p, 0, 64);
  const TileFile& f = tileFile();
  if (!f.configured) return;
  p[0] = 1;
  for (int t = 0; t < kTiles; ++t) {
    p[16 + 2 * t] = static_cast<uint8_t>(f.colsb[t] & 0xff);
    p[17 + 2 * t] = static_cast<uint8_t>(f.colsb[t] >> 8);
    p[48 + t] = f.rows[t];
  }
}

inline void _tile_release() { tileFile() = TileFile{}; }

inline void _tile_loadd(int t, const void* base, long stride) {
  need("tileloadd", t);
  TileFile& f = tileFile();
  std::memset(f.data[t], 0, sizeof f.data[t]);
  for (int r = 0; r < f.rows[t]; ++r)
    std::memcpy(f.data[t][r], static_cast<const uint8_t*>(base) + r * stride, f.colsb[t]);
}

inline void _tile_stored(int t, void* base, long stride) {
  need("tilestored", t);
  const TileFile& f = tileFile();
  for (int r = 0; r < f.rows[t]; ++r) std::memcpy(static_cast<uint8_t*>(base) + r * stride, f.data[t][r], f.colsb[t]);
}

inline void _tile_zero(int t) {
  need("tilezero", t);
  std::memset(tileFile().data[t], 0, sizeof tileFile().data[t]);
}

// dst[m][n] += sum over k < colsb(a)/4, i < 4 of a[m][4k+i] * b[k][4n+i], all signed bytes.
inline void _tile_dpbssd(int dst, int a, int b) {
  need("tdpbssd", dst);
  need("tdpbssd", a);
  need("tdpbssd", b);
  if (dst == a || dst == b || a == b) fault("tdpbssd", "operand tiles must be distinct", dst);
  TileFile& f = tileFile();
  if (f.colsb[a] % 4 != 0 || f.colsb[a] / 4 != f.rows[b]) fault("tdpbssd", "colsb(src1)/4 != rows(src2)", a);
  if (f.colsb[dst] != f.colsb[b] || f.colsb[dst] % 4 != 0) fault("tdpbssd", "colsb(dst) != colsb(src2)", dst);
  if (f.rows[dst] != f.rows[a]) fault("tdpbssd", "rows(dst) != rows(src1)", dst);
  for (int m = 0; m < f.rows[dst]; ++m)
    for (int n = 0; n < f.colsb[dst] / 4; ++n) {
      uint32_t acc;
      std::memcpy(&acc, &f.data[dst][m][4 * n], 4);
      for (int k = 0; k < f.colsb[a] / 4; ++k)
        for (int i = 0; i < 4; ++i) {
          const int32_t x = static_cast<int8_t>(f.data[a][m][4 * k + i]);
          const int32_t y = static_cast<int8_t>(f.data[b][k][4 * n + i]);
          acc += static_cast<uint32_t>(x * y);
        }
      std::memcpy(&f.data[dst][m][4 * n], &acc, 4);
    }
}

}  // namespace qmm::emu::kern::amx_soft
