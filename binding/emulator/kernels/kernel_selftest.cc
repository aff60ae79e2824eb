// Standalone self-test of the ISA kernels (no Node, no N-API): every kernel
// this CPU can run is compared bit for bit with the portable one on random
// shapes, packers, edge values and epilogues. A CTest test of the build with
// QMM_BUILD_TESTS (the host: ctest --test-dir build; aarch64 under qemu:
// scripts/dev/arm64-selftest.cjs).
//
//   kernel_selftest [--iters N] [--exhaustive] [--seed S]
//
// Exit status 0 when every check passed; the last line reads
// "kernels: N passed, M failed".
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

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

void testGemm(const Kernel& k, int iters) {
  const Kernel& ref = *scalarKernel();
  for (int it = 0; it < iters; ++it) {
    const int64_t rows = randInt(1, 30), panels = randInt(1, 5);
    const int64_t kc = 16 * randInt(1, it % 5 == 0 ? 40 : 12);
    const int64_t lda = kc + 16 * randInt(0, 2);
    const int64_t n = panels * kPanel;
    std::vector<int8_t> a(static_cast<size_t>(rows * lda)), src(static_cast<size_t>(kc * n));
    for (auto& v : a) v = randByte();
    for (auto& v : src) v = randByte();
    const int64_t bStride = panelBytes(kc) + 64 * randInt(0, 1);
    std::vector<int8_t> bRef(static_cast<size_t>(panels * bStride)), bK(bRef.size());
    for (int64_t p = 0; p < panels; ++p) {
      packRowsNPortable(src.data() + p * kPanel, n, kc, kPanel, kc, bRef.data() + p * bStride, 0);
      packRowsNPortable(src.data() + p * kPanel, n, kc, kPanel, kc, bK.data() + p * bStride, k.bXor);
    }
    const int64_t ldc = n + 16 * randInt(0, 1);
    std::vector<int32_t> cRef(static_cast<size_t>(rows * ldc)), cK;
    for (auto& v : cRef) v = static_cast<int32_t>(next());
    cK = cRef;
    const bool acc = (next() & 1) != 0;
    ref.gemm(a.data(), lda, rows, bRef.data(), bStride, panels, kc, cRef.data(), ldc, acc);
    k.gemm(a.data(), lda, rows, bK.data(), bStride, panels, kc, cK.data(), ldc, acc);
    bool ok = true;
    for (int64_t i = 0; i < rows && ok; ++i) {
      uint32_t rs = 0;
      for (int64_t kk = 0; kk < kc; ++kk) rs += static_cast<uint32_t>(static_cast<int32_t>(a[i * lda + kk]));
      const uint32_t corr = static_cast<uint32_t>(k.corrMul) * rs;
      for (int64_t j = 0; j < n; ++j)
        if (static_cast<int32_t>(static_cast<uint32_t>(cK[i * ldc + j]) - corr) != cRef[i * ldc + j]) ok = false;
    }
    check(ok, std::string(k.name) + " gemm rows=" + std::to_string(rows) + " panels=" + std::to_string(panels) +
                  " kc=" + std::to_string(kc) + (acc ? " accumulate" : ""));
  }
}

void toInt4Panel(const int8_t* src, int64_t kc, int8_t* dst) {
  for (int64_t q = 0; q < kc / 8; ++q)
    for (int64_t i = 0; i < kGroupBytes; ++i)
      dst[q * kGroupBytes + i] = static_cast<int8_t>(((src[(2 * q) * kGroupBytes + i] + 8) & 15) |
                                                     (((src[(2 * q + 1) * kGroupBytes + i] + 8) & 15) << 4));
}

// int4 panels (gemm4) against the portable GEMM on the same int4 values.
void testGemm4(const Kernel& k, int iters) {
  const Kernel& ref = *scalarKernel();
  for (int it = 0; it < iters; ++it) {
    const int64_t rows = randInt(1, 30), panels = randInt(1, 5), kc = 16 * randInt(1, 12), lda = kc + 16 * randInt(0, 2);
    const int64_t n = panels * kPanel;
    std::vector<int8_t> a(static_cast<size_t>(rows * lda)), src(static_cast<size_t>(kc * n));
    for (auto& v : a) v = (next() & 1) ? static_cast<int8_t>(static_cast<int>(next() % 16) - 8) : randByte();
    for (auto& v : src) v = static_cast<int8_t>(static_cast<int>(next() % 16) - 8);
    std::vector<int8_t> bRef(static_cast<size_t>(panels * panelBytes(kc))), b4(static_cast<size_t>(panels * panelBytes4(kc)));
    for (int64_t p = 0; p < panels; ++p) {
      packRowsNPortable(src.data() + p * kPanel, n, kc, kPanel, kc, bRef.data() + p * panelBytes(kc), 0);
      toInt4Panel(bRef.data() + p * panelBytes(kc), kc, b4.data() + p * panelBytes4(kc));
    }
    std::vector<int32_t> cRef(static_cast<size_t>(rows * n)), cK;
    for (auto& v : cRef) v = static_cast<int32_t>(next());
    cK = cRef;
    const bool acc = (next() & 1) != 0;
    ref.gemm(a.data(), lda, rows, bRef.data(), panelBytes(kc), panels, kc, cRef.data(), n, acc);
    k.gemm4(a.data(), lda, rows, b4.data(), panelBytes4(kc), panels, kc, cK.data(), n, acc);
    bool ok = true;
    for (int64_t i = 0; i < rows && ok; ++i) {
      uint32_t rs = 0;
      for (int64_t kk = 0; kk < kc; ++kk) rs += static_cast<uint32_t>(static_cast<int32_t>(a[i * lda + kk]));
      const uint32_t corr = static_cast<uint32_t>(k.corrMul4) * rs;
      for (int64_t j = 0; j < n; ++j)
        if (static_cast<int32_t>(static_cast<uint32_t>(cK[i * n + j]) - corr) != cRef[i * n + j]) ok = false;
    }
    check(ok, std::string(k.name) + " gemm4 rows=" + std::to_string(rows) + " panels=" + std::to_string(panels) +
                  " kc=" + std::to_string(kc));
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

}  // namespace

int main(int argc, char** argv) {
  int iters = 400;
  bool exhaustive = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--iters" && i + 1 < argc) iters = std::atoi(argv[++i]);
    else if (a == "--exhaustive") exhaustive = true;
    else if (a == "--seed" && i + 1 < argc) rngState = std::strtoull(argv[++i], nullptr, 10) | 1;
  }
  const Kernel* all[] = {scalarKernel(), avx2Kernel(), vnni512Kernel(), neonKernel()};
  const bool can[] = {true, cpuHasAvx2(), cpuHasVnni512(), cpuHasNeonDot()};
  testPortableGemmAgainstSums(iters / 4 + 1);
  int tested = 0;
  for (int i = 0; i < 4; ++i) {
    if (all[i] == nullptr) continue;
    if (!can[i]) {
      std::printf("skip %s: not supported by this CPU\n", all[i]->name);
      continue;
    }
    std::printf("testing %s\n", all[i]->name);
    ++tested;
    testGemm(*all[i], iters);
    if (all[i]->gemm4 != nullptr) testGemm4(*all[i], iters);
    testPackers(*all[i], iters);
    testEpilogue(*all[i], iters * 2);
    sweepFloats(*all[i], exhaustive ? 1 : 65537);
  }
  std::printf("kernels tested: %d (active: %s)\n", tested, active().name);
  std::printf("kernels: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
