// The ISA-specific pieces of the int8 GEMM, behind one table of function
// pointers chosen once at run time (dispatch.cc). Every ISA file is compiled
// with its own -m flags and includes nothing but this header and the
// compiler's intrinsics headers, so no inline function compiled for a newer
// ISA can leak into code that runs on an older CPU (ODR/COMDAT folding).
//
// Packed layouts (the contract between packers and microkernels):
//   * A (x1): row-major int8, rows of `lda` bytes, lda = kPad(k); bytes past k
//     are zero. The signed operand of every kernel.
//   * B (x2): "VNNI panels" of 16 output columns. For a panel and a k-group g
//     (4 consecutive k) the 64 bytes at g*64 hold column c's 4 values at
//     c*4 .. c*4+3, i.e. panel[g][c][t] = B[k0 + 4g + t][n0 + c], XORed with
//     the kernel's bXor (0x80 for the u8 x s8 VNNI trick). Padding columns and
//     padding k rows hold 0 ^ bXor; A's zero padding makes them contribute 0.
//   * With bXor = 0x80 the kernel computes sum_k A*(B+128) and the epilogue
//     subtracts 128 * rowsum(A) (exact in wrapping int32 arithmetic).
//   * A panel is what every kernel reads: AMX uses 16 consecutive groups of a
//     panel as one B tile (16 rows of 64 bytes, the VNNI-4 layout of
//     TDPBSSD); i8mm (SMMLA) zips two groups in registers into 8-deep column
//     pairs. No kernel needs a layout of its own.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qmm::emu::kern {

constexpr int64_t kPanel = 16;    // columns per packed B panel
constexpr int64_t kKAlign = 16;   // k granularity of packed A/B (and of k blocks)
constexpr int64_t kGroupBytes = kPanel * 4;  // bytes per k-group of a panel

static inline int64_t kPad(int64_t k) { return (k + kKAlign - 1) / kKAlign * kKAlign; }
static inline int64_t panelsOf(int64_t n) { return (n + kPanel - 1) / kPanel; }
static inline int64_t panelBytes(int64_t kp) { return kp / 4 * kGroupBytes; }

enum class EpiKind : int32_t { Int32Out = 0, FixpipeF16 = 1, FixpipeInt8 = 2, VectorBf16 = 3, VectorF16 = 4 };

// Epilogue inputs for one output row (pointers indexed by the absolute column j).
struct EpiRow {
  EpiKind kind;
  const float* scale;     // n floats (fp19 values for the fixpipe kinds)
  const int32_t* offset;  // n s9 offsets (FixpipeInt8)
  const int32_t* biasI;   // n int32 (or null), added to the accumulator
  const float* biasF;     // n float (or null), added after scaling
  float pertoken;         // this row's pertoken scale
  bool hasPertoken;
  int32_t corr;           // subtracted from every accumulator of the row (wrapping)
};

// The portable epilogue for columns [n0, n1) (acc[0] is column n0), defined
// in a baseline translation unit; vector kernels call it for what they skip.
void epilogueScalar(const EpiRow& e, const int32_t* acc, int64_t n0, int64_t n1, void* outRow);

// Portable packers (scalar.cc), usable by any kernel table.
void packRowsNPortable(const int8_t* src, int64_t ld, int64_t kRows, int64_t nCols, int64_t kc, int8_t* dst,
                       uint8_t bXor);
void packRowsKPortable(const int8_t* src, int64_t ld, int64_t chunk, int64_t nRows, int64_t kCols, int64_t kc,
                       int8_t* dst, uint8_t bXor);

struct Kernel {
  const char* name;   // "amx_int8", "vnni512", "avx2", "i8mm", "neon", "scalar"
  uint8_t bXor;       // XOR baked into packed B bytes
  int32_t corrMul;    // accumulator correction per unit of rowsum(A) (128 with bXor 0x80)

  // C[rows][panels*16] (ldc int32 per row) = (accumulate ? C : 0) + A[rows][kc] * B,
  // B = `panels` packed panels starting at b, `bStride` bytes apart, each
  // holding kc/4 groups. kc is a multiple of kKAlign.
  void (*gemm)(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t bStride, int64_t panels,
               int64_t kc, int32_t* c, int64_t ldc, bool accumulate);

  // Packs one panel (16 columns, kc/4 groups) from a source whose rows are k:
  // element (kk, cc) at src[kk*ld + cc], valid for kk < kRows, cc < nCols.
  void (*packRowsN)(const int8_t* src, int64_t ld, int64_t kRows, int64_t nCols, int64_t kc, int8_t* dst,
                    uint8_t bXor);
  // Packs one panel from a source whose rows are n, k grouped in chunks of 32:
  // element (cc, kk) at src[(kk/32)*chunk + cc*ld + kk%32] (chunk = 32 for a
  // plain row-major (n, k) matrix), valid for cc < nRows, kk < kCols.
  void (*packRowsK)(const int8_t* src, int64_t ld, int64_t chunk, int64_t nRows, int64_t kCols, int64_t kc,
                    int8_t* dst, uint8_t bXor);

  // Writes out[n0..n1) of one output row from the accumulators acc[0..n1-n0).
  void (*epilogue)(const EpiRow& e, const int32_t* acc, int64_t n0, int64_t n1, void* outRow);

  // Optional: sustained int8 MAC throughput probe (GOPS, 1 op = 1 multiply or add) on this thread.
  double (*probe)(double seconds);

  // Optional: the same GEMM on int4 panels (null: int4 weights are unpacked to
  // int8 panels on the fly). An int4 panel holds two k-groups per 64 bytes:
  // byte [c*4 + t] of pair q has B[8q + t][c] + 8 in its low nibble and
  // B[8q + 4 + t][c] + 8 in its high nibble (kPanelBytes4 = kp/8*64 per
  // panel); the epilogue subtracts corrMul4 * rowsum(A).
  void (*gemm4)(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t bStride, int64_t panels,
                int64_t kc, int32_t* c, int64_t ldc, bool accumulate);
  int32_t corrMul4;

  // Optional (null: the weight is packed into panels first): the GEMM read
  // straight from a weight whose rows are n, for few rows of A (decode):
  // C[i][j] = (accumulate ? C[i][j] : 0) + sum_{kk < kc} A[i*lda + kk] * B[j*ldb + kk]
  // + corrMulRowsK * rowsum(A[i][0..kc)), for i < rows, j < cols. Reads
  // exactly kc bytes of each A and B row; kc is any count (no padding needed).
  // The AMX table uses the VNNI one (its correction differs from AMX gemm's).
  void (*gemmRowsK)(const int8_t* a, int64_t lda, int64_t rows, const int8_t* b, int64_t ldb, int64_t cols,
                    int64_t kc, int32_t* c, int64_t ldc, bool accumulate) = nullptr;
  int32_t corrMulRowsK = 0;
};

static inline int64_t panelBytes4(int64_t kp) { return kp / 8 * kGroupBytes; }



// Table of the kernels compiled into this binary (null when not built).
const Kernel* scalarKernel();
const Kernel* avx2Kernel();
const Kernel* vnni512Kernel();
const Kernel* amxKernel();   // uses vnni512's packers and epilogue
const Kernel* neonKernel();
const Kernel* i8mmKernel();
// The AMX kernel's source compiled on the software tile model (amx_soft.h):
// defined only in the kernel self-test, never in the addon.
const Kernel* amxSoftKernel();

// CPU support for each (cpuid/xgetbv or getauxval).
bool cpuHasAvx2();
bool cpuHasVnni512();
// AMX-TILE + AMX-INT8 in cpuid, tile state enabled in XCR0, and the OS granted
// this process XTILEDATA (arch_prctl(ARCH_REQ_XCOMP_PERM), requested once).
bool cpuHasAmxInt8();
bool cpuHasNeonDot();
bool cpuHasI8mm();

// The kernel chosen once for the process (dispatch.h says how).
const Kernel& active();

}  // namespace qmm::emu::kern
