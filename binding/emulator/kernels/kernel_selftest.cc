// Standalone self-test of the ISA kernels (no Node, no N-API): every kernel
// this CPU can run is compared bit for bit with the portable one on random
// and edge shapes, packers, edge values and epilogues. The AMX kernel's logic
// also runs on the software tile model (amx_soft.h) on any x86 CPU; the real
// AMX kernel runs only where the CPU has it, else the line
// "amx: skipped (CPU lacks amx_int8)" says so. A CTest test of the build with
// QMM_BUILD_TESTS (the host: ctest --test-dir build; aarch64 under qemu with
// and without i8mm: scripts/dev/arm64-selftest.cjs).
//
//   kernel_selftest [--iters N] [--exhaustive] [--seed S] [--expect-active NAME]
//
// --expect-active NAME fails unless run-time dispatch chose kernel NAME.
// Exit status 0 when every check passed; the last line reads
// "kernels: N passed, M failed".
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "amx_soft.h"
#include "dispatch.h"
#include "kernel.h"

using namespace qmm::emu::kern;

namespace {

uint64_t rngState = 0x9e3779b97f4a7c15ull;
uint64_t next() {
  rngState ^= rngState << 13;
  rngState ^= rngState >> 7;
  rngState ^= rngState << 17;
  return rngState;
}
int64_t randInt(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1)); }

int8_t randByte() {
  switch (next() % 8) {
    case 0: return -128;
    case 1: return 127;
    default: return static_cast<int8_t>(next());
  }
}

float floatOf(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float randFloat() {
  switch (next() % 10) {
    case 0: return floatOf(0x7fc00000u | static_cast<uint32_t>(next() & 0x803fffffu));  // NaNs with payloads
    case 1: return (next() & 1) ? INFINITY : -INFINITY;
    case 2: return floatOf(static_cast<uint32_t>(next()) & 0x807fffffu);  // subnormals and zeros
    case 3: return floatOf(static_cast<uint32_t>(next()));                 // any bit pattern
    default: {
      const float m = static_cast<float>(static_cast<int64_t>(next() % 2000001) - 1000000) / 1000000.0f;
      const int e = static_cast<int>(next() % 60) - 40;
      return std::ldexp(m, e);
    }
  }
}

int passed = 0, failed = 0;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++passed;
  } else {
    ++failed;
    if (failed <= 20) std::printf("FAIL %s\n", what.c_str());
  }
}

// ---------------------------------------------------------------- gemm

void toInt4Panel(const int8_t* src, int64_t kc, int8_t* dst) {
  for (int64_t q = 0; q < kc / 8; ++q)
    for (int64_t i = 0; i < kGroupBytes; ++i)
      dst[q * kGroupBytes + i] = static_cast<int8_t>(((src[(2 * q) * kGroupBytes + i] + 8) & 15) |
                                                     (((src[(2 * q + 1) * kGroupBytes + i] + 8) & 15) << 4));
}

enum class Values { Random, Min, Extremes };

int8_t valueOf(Values v, bool int4) {
  if (int4) {
    if (v == Values::Min) return -8;
    if (v == Values::Extremes) return (next() & 1) ? 7 : -8;
    return static_cast<int8_t>(static_cast<int>(next() % 16) - 8);
  }
  switch (v) {
    case Values::Min: return -128;
    case Values::Extremes: return (next() & 1) ? 127 : -128;
    default: return randByte();
  }
}

struct GemmShape {
  int64_t rows = 1, panels = 1, kc = 16;
  int64_t ldaExtra = 0, bStrideExtra = 0, ldcExtra = 0;  // padding past kc / the panel / n
  bool accumulate = false;
  Values values = Values::Random;
};

std::string describe(const Kernel& k, const char* what, const GemmShape& s) {
  return std::string(k.name) + " " + what + " rows=" + std::to_string(s.rows) + " panels=" + std::to_string(s.panels) +
         " kc=" + std::to_string(s.kc) + (s.accumulate ? " accumulate" : "") +
         (s.values == Values::Min ? " min" : (s.values == Values::Extremes ? " extremes" : ""));
}

// C = A*B through the kernel's gemm (or gemm4 on int4 panels) against the
// portable gemm on the same values, after the kernel's row-sum correction.
// Accumulation starts from random int32 (so sums wrap) or from zero; padding
// columns and the rows after C must stay untouched. With `direct`, the portable result is
// checked against plain int64 sums reduced modulo 2^32 too.
bool gemmCase(const Kernel& k, const GemmShape& s, bool int4, bool direct = false) {
  const Kernel& ref = *scalarKernel();
  const int64_t rows = s.rows, panels = s.panels, kc = s.kc, lda = s.kc + s.ldaExtra, n = panels * kPanel;
  std::vector<int8_t> a(static_cast<size_t>(rows * lda)), src(static_cast<size_t>(kc * n));
  for (auto& v : a) v = valueOf(s.values, int4 && (next() & 1));
  for (auto& v : src) v = valueOf(s.values, int4);
  const int64_t refStride = panelBytes(kc);
  const int64_t kStride = (int4 ? panelBytes4(kc) : panelBytes(kc)) + s.bStrideExtra;
  std::vector<int8_t> bRef(static_cast<size_t>(panels * refStride)), bK(static_cast<size_t>(panels * kStride), 0x5A);
  for (int64_t p = 0; p < panels; ++p) {
    packRowsNPortable(src.data() + p * kPanel, n, kc, kPanel, kc, bRef.data() + p * refStride, 0);
    if (int4) toInt4Panel(bRef.data() + p * refStride, kc, bK.data() + p * kStride);
    else packRowsNPortable(src.data() + p * kPanel, n, kc, kPanel, kc, bK.data() + p * kStride, k.bXor);
  }
  const int64_t ldc = n + s.ldcExtra;
  // 16 guard rows after C: a kernel must not write past its rows
  std::vector<int32_t> cRef(static_cast<size_t>((rows + 16) * ldc));
  for (auto& v : cRef) v = static_cast<int32_t>(next());
  const std::vector<int32_t> c0 = cRef;
  std::vector<int32_t> cK = cRef;
  ref.gemm(a.data(), lda, rows, bRef.data(), refStride, panels, kc, cRef.data(), ldc, s.accumulate);
  if (int4) k.gemm4(a.data(), lda, rows, bK.data(), kStride, panels, kc, cK.data(), ldc, s.accumulate);
  else k.gemm(a.data(), lda, rows, bK.data(), kStride, panels, kc, cK.data(), ldc, s.accumulate);
  const int32_t mul = int4 ? k.corrMul4 : k.corrMul;
  for (int64_t i = 0; i < rows; ++i) {
    uint32_t rs = 0;
    for (int64_t kk = 0; kk < kc; ++kk) rs += static_cast<uint32_t>(static_cast<int32_t>(a[i * lda + kk]));
    const uint32_t corr = static_cast<uint32_t>(mul) * rs;
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      if (j >= n) {  // padding columns
        if (cK[at] != c0[at]) return false;
        continue;
      }
      if (static_cast<int32_t>(static_cast<uint32_t>(cK[at]) - corr) != cRef[at]) return false;
      if (direct) {
        int64_t sum = s.accumulate ? c0[at] : 0;
        for (int64_t kk = 0; kk < kc; ++kk) sum += static_cast<int64_t>(a[i * lda + kk]) * src[kk * n + j];
        if (static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum))) != cRef[at]) return false;
      }
    }
  }
  for (size_t at = static_cast<size_t>(rows * ldc); at < cK.size(); ++at)
    if (cK[at] != c0[at]) return false;
  return true;
}

GemmShape randomShape(int it) {
  GemmShape s;
  s.rows = randInt(1, it % 7 == 0 ? 70 : 30);
  s.panels = randInt(1, 5);
  s.kc = 16 * randInt(1, it % 5 == 0 ? 40 : 12);
  s.ldaExtra = 16 * randInt(0, 2);
  s.bStrideExtra = 64 * randInt(0, 1);
  s.ldcExtra = 16 * randInt(0, 1);
  s.accumulate = (next() & 1) != 0;
  return s;
}

void testGemm(const Kernel& k, int iters) {
  for (int it = 0; it < iters; ++it) {
    const GemmShape s = randomShape(it);
    check(gemmCase(k, s, false), describe(k, "gemm", s));
  }
}

// int4 panels (gemm4) against the portable GEMM on the same int4 values.
void testGemm4(const Kernel& k, int iters) {
  for (int it = 0; it < iters; ++it) {
    GemmShape s = randomShape(it);
    s.kc = 16 * randInt(1, it % 5 == 0 ? 80 : 12);  // past 1024: several unpacked blocks in AMX's gemm4
    check(gemmCase(k, s, true), describe(k, "gemm4", s));
  }
}

// Every row count around the 2/4/16/32-row strips and tiles, k around the
// 16/64-deep steps (tails of 16, 32 and 48), one panel, a pair and a pair plus one.
void testGemmEdges(const Kernel& k, bool int4) {
  const int64_t rowsList[] = {1, 2, 3, 4, 5, 7, 8, 12, 13, 15, 16, 17, 24, 31, 32, 33, 47, 48, 49, 63, 64, 65, 70};
  const int64_t kcList[] = {16, 32, 48, 64, 80, 112, 128, 1072};
  int total = 0, bad = 0;
  for (int64_t rows : rowsList)
    for (int64_t kc : kcList)
      for (int64_t panels : {1, 2, 3}) {
        GemmShape s;
        s.rows = rows;
        s.kc = kc;
        s.panels = panels;
        s.accumulate = ((rows + kc / 16 + panels) & 1) != 0;
        s.ldaExtra = 16 * (rows % 3);
        s.ldcExtra = 16 * (panels % 2);
        ++total;
        const bool ok = gemmCase(k, s, int4);
        bad += ok ? 0 : 1;
        check(ok, describe(k, int4 ? "gemm4 edge" : "gemm edge", s));
      }
  for (int64_t panels : {17, 18}) {  // past 16 panels and 1024 k: several blocks of AMX's int4 unpacking
    GemmShape s;
    s.rows = panels == 17 ? 3 : 33;
    s.kc = 1040;
    s.panels = panels;
    s.accumulate = panels == 18;
    ++total;
    const bool ok = gemmCase(k, s, int4);
    bad += ok ? 0 : 1;
    check(ok, describe(k, int4 ? "gemm4 edge" : "gemm edge", s));
  }
  std::printf("  %s %s: %d edge shapes, %d wrong\n", k.name, int4 ? "gemm4" : "gemm", total, bad);
}

// Sums past 2^31 (k = 131120 with operands at the limits): int32 accumulation
// wraps as on the device, also checked against plain int64 sums.
void testGemmWrap(const Kernel& k) {
  for (int64_t rows : {1, 17}) {
    GemmShape s;
    s.rows = rows;
    s.panels = rows == 1 ? 1 : 2;
    s.kc = 131072 + 48;
    s.values = rows == 1 ? Values::Min : Values::Extremes;
    s.accumulate = rows != 1;
    check(gemmCase(k, s, false, true), describe(k, "gemm wrap", s));
  }
}

// The GEMM read straight from rows of k (gemmRowsK) against direct sums: any
// kc (odd, below and across 64-byte steps, rows longer than 8 KiB), strides
// wider than kc, rows and columns off every tile size, accumulate or not,
// values at the int8 limits.
void testGemmRowsK(const Kernel& k, int iters) {
  for (int it = 0; it < iters; ++it) {
    const int64_t rows = randInt(1, 20), cols = randInt(1, 40);
    // rows of 2048 bytes and more take the kernel's prefetch-ahead path
    const int64_t kc = it % 4 == 0 ? randInt(0, 70) : it % 11 == 1 ? randInt(8192, 12000) : randInt(1, it % 7 == 0 ? 5000 : 700);
    const int64_t lda = kc + randInt(0, 70), ldb = kc + randInt(0, 70);
    // exactly the bytes the kernel may read, so the vectors end where the data does
    std::vector<int8_t> a(static_cast<size_t>((rows - 1) * lda + kc)), b(static_cast<size_t>((cols - 1) * ldb + kc));
    for (auto& v : a) v = randByte();
    for (auto& v : b) v = randByte();
    const int64_t ldc = cols + randInt(0, 5);
    std::vector<int32_t> c(static_cast<size_t>(rows * ldc));
    for (auto& v : c) v = static_cast<int32_t>(next());
    const std::vector<int32_t> before = c;
    const bool acc = (next() & 1) != 0;
    k.gemmRowsK(a.empty() ? nullptr : a.data(), lda, rows, b.empty() ? nullptr : b.data(), ldb, cols, kc, c.data(), ldc,
                acc);
    bool ok = true;
    for (int64_t i = 0; i < rows && ok; ++i) {
      uint32_t rs = 0;
      for (int64_t kk = 0; kk < kc; ++kk) rs += static_cast<uint32_t>(static_cast<int32_t>(a[i * lda + kk]));
      for (int64_t j = 0; j < cols; ++j) {
        uint32_t s = acc ? static_cast<uint32_t>(before[i * ldc + j]) : 0u;
        for (int64_t kk = 0; kk < kc; ++kk)
          s += static_cast<uint32_t>(static_cast<int32_t>(a[i * lda + kk]) * static_cast<int32_t>(b[j * ldb + kk]));
        if (static_cast<uint32_t>(c[i * ldc + j]) - static_cast<uint32_t>(k.corrMulRowsK) * rs != s) ok = false;
      }
      for (int64_t j = cols; j < ldc; ++j)
        if (c[i * ldc + j] != before[i * ldc + j]) ok = false;  // nothing written past cols
    }
    check(ok, std::string(k.name) + " gemmRowsK rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) +
                  " kc=" + std::to_string(kc) + (acc ? " accumulate" : ""));
  }
}

void testPortableGemmAgainstSums(int iters) {
  const Kernel& ref = *scalarKernel();
  for (int it = 0; it < iters; ++it) {
    const int64_t rows = randInt(1, 9), kc = 16 * randInt(1, 8), n = kPanel * randInt(1, 3);
    std::vector<int8_t> a(static_cast<size_t>(rows * kc)), src(static_cast<size_t>(kc * n));
    for (auto& v : a) v = randByte();
    for (auto& v : src) v = randByte();
    std::vector<int8_t> b(static_cast<size_t>(n / kPanel * panelBytes(kc)));
    for (int64_t p = 0; p < n / kPanel; ++p)
      packRowsNPortable(src.data() + p * kPanel, n, kc, kPanel, kc, b.data() + p * panelBytes(kc), 0);
    std::vector<int32_t> c(static_cast<size_t>(rows * n));
    ref.gemm(a.data(), kc, rows, b.data(), panelBytes(kc), n / kPanel, kc, c.data(), n, false);
    bool ok = true;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < n; ++j) {
        int64_t s = 0;
        for (int64_t kk = 0; kk < kc; ++kk) s += static_cast<int64_t>(a[i * kc + kk]) * src[kk * n + j];
        if (static_cast<int32_t>(s) != c[i * n + j]) ok = false;
      }
    check(ok, "scalar gemm vs direct sums");
  }
}

// ---------------------------------------------------------------- packers

void testPackers(const Kernel& k, int iters) {
  for (int it = 0; it < iters; ++it) {
    const uint8_t x = (next() & 1) ? k.bXor : static_cast<uint8_t>(next());
    const int64_t kc = 16 * randInt(1, 12);
    {  // rows are k
      const int64_t kRows = randInt(0, kc + 20), nCols = randInt(1, 16), ld = nCols + randInt(0, 40);
      std::vector<int8_t> src(static_cast<size_t>((kRows + 1) * ld + 64));
      for (auto& v : src) v = randByte();
      std::vector<int8_t> r(static_cast<size_t>(panelBytes(kc))), o(r.size());
      const int64_t valid = kRows < kc ? kRows : kc;
      packRowsNPortable(src.data(), ld, valid, nCols, kc, r.data(), x);
      k.packRowsN(src.data(), ld, valid, nCols, kc, o.data(), x);
      check(r == o, std::string(k.name) + " packRowsN kc=" + std::to_string(kc) + " kRows=" + std::to_string(valid) +
                        " nCols=" + std::to_string(nCols) + " ld=" + std::to_string(ld));
    }
    {  // rows are n, k in chunks of 32
      const int64_t kCols = randInt(0, kc + 20), nRows = randInt(1, 16);
      const bool nz = (next() & 1) != 0;
      const int64_t ld = nz ? 32 : kc + randInt(0, 40);
      const int64_t chunk = nz ? 512 * randInt(1, 3) : 32;
      const int64_t span = nz ? ((kc + 31) / 32) * chunk + 512 : nRows * ld + kc + 64;
      std::vector<int8_t> src(static_cast<size_t>(span));
      for (auto& v : src) v = randByte();
      std::vector<int8_t> r(static_cast<size_t>(panelBytes(kc))), o(r.size());
      const int64_t valid = kCols < kc ? kCols : kc;
      packRowsKPortable(src.data(), ld, chunk, nRows, valid, kc, r.data(), x);
      k.packRowsK(src.data(), ld, chunk, nRows, valid, kc, o.data(), x);
      check(r == o, std::string(k.name) + " packRowsK kc=" + std::to_string(kc) + " kCols=" + std::to_string(valid) +
                        " nRows=" + std::to_string(nRows) + (nz ? " nz" : " nd"));
    }
  }
}

// ---------------------------------------------------------------- epilogue

const char* kindName(EpiKind e) {
  switch (e) {
    case EpiKind::Int32Out: return "int32";
    case EpiKind::FixpipeF16: return "fixpipe-f16";
    case EpiKind::FixpipeInt8: return "fixpipe-int8";
    case EpiKind::VectorBf16: return "vector-bf16";
    case EpiKind::VectorF16: return "vector-f16";
  }
  return "?";
}

size_t outItem(EpiKind e) {
  return e == EpiKind::Int32Out ? 4 : (e == EpiKind::FixpipeInt8 ? 1 : 2);
}

bool sameEpilogue(const Kernel& k, const EpiRow& e, const int32_t* acc, int64_t n0, int64_t n1, int64_t n) {
  const size_t item = outItem(e.kind);
  std::vector<uint8_t> r(static_cast<size_t>(n) * item, 0xAB), o(r.size(), 0xAB);
  epilogueScalar(e, acc, n0, n1, r.data());
  k.epilogue(e, acc, n0, n1, o.data());
  return r == o;
}

void testEpilogue(const Kernel& k, int iters) {
  for (int it = 0; it < iters; ++it) {
    const int64_t n = randInt(1, 80), n0 = randInt(0, n - 1), n1 = randInt(n0 + 1, n);
    const EpiKind kind = static_cast<EpiKind>(next() % 5);
    std::vector<float> scale(static_cast<size_t>(n)), biasF(static_cast<size_t>(n));
    std::vector<int32_t> offset(static_cast<size_t>(n)), biasI(static_cast<size_t>(n)), acc(static_cast<size_t>(n1 - n0));
    const bool tame = (next() % 3) != 0;  // mostly values in the interesting range
    for (auto& v : scale) v = tame ? std::ldexp(static_cast<float>(next() % 1000000) / 1e6f, -static_cast<int>(next() % 16)) : randFloat();
    for (auto& v : biasF) v = tame ? static_cast<float>(static_cast<int64_t>(next() % 2001) - 1000) / 100.0f : randFloat();
    for (auto& v : offset) v = static_cast<int32_t>(next() % 512) - 256;
    for (auto& v : biasI) v = static_cast<int32_t>(next());
    for (auto& v : acc) v = (next() % 7 == 0) ? static_cast<int32_t>(next()) : static_cast<int32_t>(next() % 2000001) - 1000000;
    EpiRow e{};
    e.kind = kind;
    e.scale = scale.data();
    e.offset = offset.data();
    e.biasI = (next() & 1) ? biasI.data() : nullptr;
    e.biasF = (kind == EpiKind::VectorBf16 || kind == EpiKind::VectorF16) && (next() & 1) ? biasF.data() : nullptr;
    e.hasPertoken = (kind == EpiKind::VectorBf16 || kind == EpiKind::VectorF16) && (next() & 1);
    e.pertoken = e.hasPertoken ? (tame ? static_cast<float>(next() % 4000) / 1000.0f : randFloat()) : 1.0f;
    e.corr = (next() & 1) ? static_cast<int32_t>(next()) : 0;
    check(sameEpilogue(k, e, acc.data(), n0, n1, n),
          std::string(k.name) + " epilogue " + kindName(kind) + " n0=" + std::to_string(n0) + " n1=" + std::to_string(n1));
  }
}

// Every float (or every `step`-th) as the scale with acc = 1: r == the scale, so
// each conversion sees every bit pattern (NaN payloads, subnormals, overflow).
void sweepFloats(const Kernel& k, uint64_t step) {
  constexpr int64_t kBlock = 4096;
  std::vector<float> scale(kBlock);
  std::vector<int32_t> acc(kBlock, 1), offset(kBlock, 0);
  for (EpiKind kind : {EpiKind::FixpipeF16, EpiKind::FixpipeInt8, EpiKind::VectorBf16, EpiKind::VectorF16}) {
    bool ok = true;
    uint64_t u = 0;
    while (u <= 0xFFFFFFFFull && ok) {
      int64_t cnt = 0;
      for (; cnt < kBlock && u <= 0xFFFFFFFFull; ++cnt, u += step) scale[cnt] = floatOf(static_cast<uint32_t>(u));
      for (int64_t j = 0; j < cnt; ++j) offset[j] = static_cast<int32_t>(j % 512) - 256;
      EpiRow e{};
      e.kind = kind;
      e.scale = scale.data();
      e.offset = offset.data();
      e.pertoken = 1.0f;
      ok = sameEpilogue(k, e, acc.data(), 0, cnt, cnt);
      if (!ok) std::printf("  first difference in the block ending at bits 0x%08llx\n", static_cast<unsigned long long>(u));
    }
    check(ok, std::string(k.name) + " float sweep " + kindName(kind) + " step " + std::to_string(step));
  }
}

// ---------------------------------------------------------------- AMX tile model

namespace sm = qmm::emu::kern::amx_soft;

void putConfig(uint8_t* cfg, int tile, int rows, int colsb) {
  cfg[16 + 2 * tile] = static_cast<uint8_t>(colsb & 0xff);
  cfg[17 + 2 * tile] = static_cast<uint8_t>(colsb >> 8);
  cfg[48 + tile] = static_cast<uint8_t>(rows);
}

// The software model against TDPBSSD's definition, written out here on its
// own: random tile shapes (m rows, kd dwords of k, nd dwords of n), strides
// wider than a row, and bytes outside the tiles that must stay untouched.
void testTileModel(int iters) {
  bool ok = true;
  for (int it = 0; it < iters && ok; ++it) {
    const int m = static_cast<int>(randInt(1, 16)), kd = static_cast<int>(randInt(1, 16)),
              nd = static_cast<int>(randInt(1, 16));
    uint8_t cfg[64] = {};
    cfg[0] = 1;
    putConfig(cfg, 3, m, 4 * nd);   // C
    putConfig(cfg, 5, m, 4 * kd);   // A
    putConfig(cfg, 0, kd, 4 * nd);  // B
    sm::_tile_loadconfig(cfg);
    uint8_t back[64];
    sm::_tile_storeconfig(back);
    ok = ok && std::memcmp(back, cfg, 64) == 0;
    const int64_t lda = 4 * kd + randInt(0, 9), ldb = 4 * nd + randInt(0, 9), ldc = nd + randInt(0, 3);
    std::vector<int8_t> a(static_cast<size_t>(m * lda)), b(static_cast<size_t>(kd * ldb));
    std::vector<int32_t> c(static_cast<size_t>(m * ldc)), out(static_cast<size_t>(16 * ldc + 16), 0x13579bdf);
    for (auto& v : a) v = randByte();
    for (auto& v : b) v = randByte();
    for (auto& v : c) v = static_cast<int32_t>(next());
    sm::_tile_loadd(5, a.data(), static_cast<long>(lda));
    sm::_tile_loadd(0, b.data(), static_cast<long>(ldb));
    sm::_tile_loadd(3, c.data(), static_cast<long>(ldc * 4));
    sm::_tile_dpbssd(3, 5, 0);
    sm::_tile_stored(3, out.data(), static_cast<long>(ldc * 4));
    for (int i = 0; i < 16; ++i)
      for (int64_t j = 0; j < ldc; ++j) {
        const int32_t got = out[static_cast<size_t>(i * ldc + j)];
        if (i >= m || j >= nd) {
          ok = ok && got == 0x13579bdf;
          continue;
        }
        int64_t sum = c[static_cast<size_t>(i * ldc + j)];
        for (int kk = 0; kk < 4 * kd; ++kk)
          sum += static_cast<int64_t>(a[static_cast<size_t>(i * lda + kk)]) * b[static_cast<size_t>((kk / 4) * ldb + 4 * j + kk % 4)];
        ok = ok && got == static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(sum)));
      }
  }
  sm::_tile_release();
  uint8_t back[64];
  sm::_tile_storeconfig(back);
  bool zero = true;
  for (uint8_t v : back) zero = zero && v == 0;
  check(ok && zero, "amx soft model: TDPBSSD, TILELOADD/TILESTORED and the configuration image");
}

// Another library's tile configuration on the same thread (MLAS keeps one per
// thread and never reloads it): the kernel must not compute with it, must not
// write rows past its own, and must put it back when it returns.
void testAmxForeignConfiguration(const Kernel& k) {
  uint8_t foreign[64] = {};
  foreign[0] = 1;
  for (int t = 0; t < 8; ++t) putConfig(foreign, t, 16, 64);
  bool ok = true;
  for (int round = 0; round < 3 && ok; ++round) {
    const int64_t rows = 5, kc = 128 + 16 * round, n = 2 * kPanel;
    std::vector<int8_t> a(static_cast<size_t>(16 * kc)), src(static_cast<size_t>(kc * n));
    for (auto& v : a) v = randByte();
    for (auto& v : src) v = randByte();
    std::vector<int8_t> b(static_cast<size_t>(2 * panelBytes(kc)));
    for (int64_t p = 0; p < 2; ++p)
      packRowsNPortable(src.data() + p * kPanel, n, kc, kPanel, kc, b.data() + p * panelBytes(kc), 0);
    std::vector<int32_t> cRef(static_cast<size_t>(16 * n), 0x2468ace0), cK = cRef;
    scalarKernel()->gemm(a.data(), kc, rows, b.data(), panelBytes(kc), 2, kc, cRef.data(), n, false);
    if (round > 0) sm::_tile_loadconfig(foreign);  // round 0: the kernel's own configuration is loaded
    k.gemm(a.data(), kc, rows, b.data(), panelBytes(kc), 2, kc, cK.data(), n, false);
    ok = ok && cK == cRef;  // includes rows 5..15, which must keep their fill
    uint8_t now[64];
    sm::_tile_storeconfig(now);
    if (round > 0) ok = ok && std::memcmp(now, foreign, 64) == 0;
  }
  sm::_tile_release();
  check(ok, std::string(k.name) + " with another library's tile configuration on the thread");
}

void testKernel(const Kernel& k, int iters, bool exhaustive) {
  std::printf("testing %s\n", k.name);
  testGemm(k, iters);
  testGemmEdges(k, false);
  if (k.gemm4 != nullptr) {
    testGemm4(k, iters);
    testGemmEdges(k, true);
  }
  testGemmWrap(k);
  if (k.gemmRowsK != nullptr) testGemmRowsK(k, iters);
  testPackers(k, iters);
  testEpilogue(k, iters * 2);
  sweepFloats(k, exhaustive ? 1 : 65537);
}

}  // namespace

int main(int argc, char** argv) {
  int iters = 400;
  bool exhaustive = false;
  std::string expectActive;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--iters" && i + 1 < argc) iters = std::atoi(argv[++i]);
    else if (a == "--exhaustive") exhaustive = true;
    else if (a == "--seed" && i + 1 < argc) rngState = std::strtoull(argv[++i], nullptr, 10) | 1;
    else if (a == "--expect-active" && i + 1 < argc) expectActive = argv[++i];
  }
  testPortableGemmAgainstSums(iters / 4 + 1);

  // The AMX kernel's logic on the software tile model, on every CPU.
  testTileModel(iters);
  const Kernel& soft = *amxSoftKernel();
  std::printf("testing %s (the AMX kernel on the software tile model)\n", soft.name);
  testGemm(soft, iters / 4 + 1);
  testGemmEdges(soft, false);
  testGemm4(soft, iters / 8 + 1);
  testGemmEdges(soft, true);
  testGemmWrap(soft);
  testAmxForeignConfiguration(soft);

  struct Candidate {
    const Kernel* kernel;
    bool can;
  };
  const Candidate all[] = {{scalarKernel(), true},           {avx2Kernel(), cpuHasAvx2()},
                           {vnni512Kernel(), cpuHasVnni512()}, {amxKernel(), cpuHasAmxInt8()},
                           {neonKernel(), cpuHasNeonDot()},    {i8mmKernel(), cpuHasI8mm()}};
  int tested = 0;
  for (const Candidate& c : all) {
    if (c.kernel == nullptr) continue;
    if (!c.can) {
      std::printf("skip %s: not supported by this CPU\n", c.kernel->name);
      continue;
    }
    ++tested;
    testKernel(*c.kernel, iters, exhaustive);
  }
  if (!cpuHasAmxInt8()) std::printf("amx: skipped (%s)\n", amxUnavailableReason().c_str());
  // the AMX table's decode path from (n, k) weights is VNNI code: checked
  // wherever VNNI runs, with the table's own correction
  const Kernel* amx = amxKernel();
  if (amx != nullptr && amx->gemmRowsK != nullptr && cpuHasVnni512()) {
    std::printf("testing %s gemmRowsK (VNNI code)\n", amx->name);
    testGemmRowsK(*amx, iters);
  }

  std::printf("kernels tested: %d (active: %s; available: %s)\n", tested, active().name, availableKernels().c_str());
  if (!expectActive.empty())
    check(expectActive == active().name, "dispatch chose " + std::string(active().name) + ", expected " + expectActive);
  std::printf("kernels: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
