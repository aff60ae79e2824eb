// exports.util: the hot loops of `qmm prepare` (lib/model/convert.ts).
#include "util_ops.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>
#define QMM_UTIL_SSE2 1
#elif defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
#define QMM_UTIL_NEON 1
#endif

namespace qmm {

namespace {

// ------------------------------------------------------------------ kernels

// d[j * ds + i] = s[i * ss + j] for i < rows, j < cols.
void transposeScalar(const uint8_t* s, size_t ss, size_t rows, size_t cols, uint8_t* d, size_t ds) {
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < cols; ++j) d[j * ds + i] = s[i * ss + j];
}

#if defined(QMM_UTIL_SSE2) || defined(QMM_UTIL_NEON)
#if defined(QMM_UTIL_SSE2)
using Vec = __m128i;
inline Vec load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline void store16(uint8_t* p, Vec v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }
inline Vec zipLo(Vec a, Vec b) { return _mm_unpacklo_epi8(a, b); }
inline Vec zipHi(Vec a, Vec b) { return _mm_unpackhi_epi8(a, b); }
#else
using Vec = uint8x16_t;
inline Vec load16(const uint8_t* p) { return vld1q_u8(p); }
inline void store16(uint8_t* p, Vec v) { vst1q_u8(p, v); }
inline Vec zipLo(Vec a, Vec b) { return vzip1q_u8(a, b); }
inline Vec zipHi(Vec a, Vec b) { return vzip2q_u8(a, b); }
#endif

// One round interleaves register i with register i + 8 byte by byte. Seeing
// (register, byte) as 8 index bits (r3 r2 r1 r0 | p3 p2 p1 p0), a round
// rotates them left by one, so four rounds swap register and byte: a
// transpose of the 16 x 16 tile.
inline void zipRound(const Vec* in, Vec* out) {
  for (int i = 0; i < 8; ++i) {
    out[2 * i] = zipLo(in[i], in[i + 8]);
    out[2 * i + 1] = zipHi(in[i], in[i + 8]);
  }
}

inline void transposeTile16(const uint8_t* s, size_t ss, uint8_t* d, size_t ds) {
  Vec a[16], b[16];
  for (int i = 0; i < 16; ++i) a[i] = load16(s + i * ss);
  zipRound(a, b);
  zipRound(b, a);
  zipRound(a, b);
  zipRound(b, a);
  for (int i = 0; i < 16; ++i) store16(d + i * ds, a[i]);
}
#define QMM_UTIL_TILE 16
#endif

// Source columns per strip: each strip walks down all rows, so a source cache
// line is used whole before it is evicted and the destination rows of the
// strip stay in L1.
constexpr size_t kStrip = 64;

void transposeStrips(const uint8_t* s, size_t ss, size_t rows, size_t cols, uint8_t* d, size_t ds) {
  for (size_t c = 0; c < cols; c += kStrip) {
    const size_t cw = cols - c < kStrip ? cols - c : kStrip;
    size_t r = 0;
#ifdef QMM_UTIL_TILE
    for (; r + QMM_UTIL_TILE <= rows; r += QMM_UTIL_TILE) {
      size_t j = 0;
      for (; j + QMM_UTIL_TILE <= cw; j += QMM_UTIL_TILE) transposeTile16(s + r * ss + c + j, ss, d + (c + j) * ds + r, ds);
      if (j < cw) transposeScalar(s + r * ss + c + j, ss, QMM_UTIL_TILE, cw - j, d + (c + j) * ds + r, ds);
    }
#endif
    if (r < rows) transposeScalar(s + r * ss + c, ss, rows - r, cw, d + c * ds + r, ds);
  }
}

#ifdef QMM_UTIL_TILE
// A 64 x 64 block goes through two L1 buffers, so each source row and each
// destination row is touched as one whole cache line, once. Straight from
// memory, a power-of-two stride (n = 8192) puts the 16 rows of a tile in one
// cache set, and the lines are evicted before the next tile uses them.
constexpr size_t kBlock = 64;

void transposeBlock64(const uint8_t* s, size_t ss, uint8_t* d, size_t ds) {
  alignas(64) uint8_t in[kBlock * kBlock];
  alignas(64) uint8_t out[kBlock * kBlock];
  for (size_t i = 0; i < kBlock; ++i) std::memcpy(in + i * kBlock, s + i * ss, kBlock);
  for (size_t ti = 0; ti < kBlock; ti += QMM_UTIL_TILE)
    for (size_t tj = 0; tj < kBlock; tj += QMM_UTIL_TILE) transposeTile16(in + ti * kBlock + tj, kBlock, out + tj * kBlock + ti, kBlock);
  for (size_t j = 0; j < kBlock; ++j) std::memcpy(d + j * ds, out + j * kBlock, kBlock);
}
#endif

// d[j * ds + i] = s[i * ss + j] for i < rows, j < cols.
void transposeBlock(const uint8_t* s, size_t ss, size_t rows, size_t cols, uint8_t* d, size_t ds) {
#ifdef QMM_UTIL_TILE
  const size_t rows64 = rows / kBlock * kBlock, cols64 = cols / kBlock * kBlock;
  for (size_t r = 0; r < rows64; r += kBlock)
    for (size_t c = 0; c < cols64; c += kBlock) transposeBlock64(s + r * ss + c, ss, d + c * ds + r, ds);
  if (cols64 < cols) transposeStrips(s + cols64, ss, rows64, cols - cols64, d + cols64 * ds, ds);
  if (rows64 < rows) transposeStrips(s + rows64 * ss, ss, rows - rows64, cols, d + rows64, ds);
#else
  transposeStrips(s, ss, rows, cols, d, ds);
#endif
}

// Packs rows of int4 values (one per int8) into uint32 words, LSB first.
// Returns the index of the first value outside [-8, 7], or -1.
int64_t packInt4(const int8_t* src, size_t n, uint32_t* dst) {
  for (size_t w = 0; w < n / 8; ++w) {
    const int8_t* s = src + w * 8;
    uint32_t v = 0;
    bool ok = true;
    for (int j = 0; j < 8; ++j) {
      ok &= s[j] >= -8 && s[j] <= 7;
      v |= (static_cast<uint32_t>(s[j]) & 0xfu) << (4 * j);
    }
    if (!ok) {
      for (int j = 0; j < 8; ++j)
        if (s[j] < -8 || s[j] > 7) return static_cast<int64_t>(w * 8 + j);
    }
    dst[w] = v;
  }
  return -1;
}

// ------------------------------------------------------------------ arguments

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
    return "the number " + std::to_string(d);
  }
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array: return "an Int8Array";
      case napi_uint8_array: return "a Uint8Array";
      case napi_uint8_clamped_array: return "a Uint8ClampedArray";
      case napi_int16_array: return "an Int16Array";
      case napi_uint16_array: return "a Uint16Array";
      case napi_int32_array: return "an Int32Array";
      case napi_uint32_array: return "a Uint32Array";
      case napi_float32_array: return "a Float32Array";
      case napi_float64_array: return "a Float64Array";
      default: return "a typed array";
    }
  }
  if (v.IsArray()) return "an array";
  if (v.IsFunction()) return "a function";
  return "an object";
}

struct View {
  uint8_t* ptr;
  size_t length;  // elements
  size_t bytes;
};

View typedArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name, std::initializer_list<napi_typedarray_type> types,
              const char* expected) {
  const Napi::Value v = i < info.Length() ? info[i] : info.Env().Undefined();
  bool ok = v.IsTypedArray();
  if (ok) {
    ok = false;
    for (auto t : types) ok |= v.As<Napi::TypedArray>().TypedArrayType() == t;
  }
  if (!ok) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be " + expected + ", got " + describe(v));
  // the raw call: it also gives the data of a SharedArrayBuffer view (napi_get_arraybuffer_info does not)
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(info.Env(), v, &type, &length, &data, nullptr, nullptr) != napi_ok)
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " cannot be read");
  if (data == nullptr || length == 0) return {nullptr, 0, 0};  // detached or empty
  return {static_cast<uint8_t*>(data), length, length * v.As<Napi::TypedArray>().ElementSize()};
}

size_t indexArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* name) {
  const Napi::Value v = i < info.Length() ? info[i] : info.Env().Undefined();
  if (!v.IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": " + name + " must be a number, got " + describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 9007199254740991.0) || std::floor(d) != d)
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + name + " must be a non-negative safe integer, got " + describe(v));
  return static_cast<size_t>(d);
}

[[noreturn]] void rangeError(const Napi::CallbackInfo& info, const std::string& msg) { throw Napi::RangeError::New(info.Env(), msg); }

std::string str(size_t v) { return std::to_string(v); }

bool overlaps(const View& a, const View& b) { return a.bytes > 0 && b.bytes > 0 && a.ptr < b.ptr + b.bytes && b.ptr < a.ptr + a.bytes; }

// transposeInt8(src, srcCols, r0, r1, c0, c1, dst, dstStride, dstCol):
// dst[(c - c0) * dstStride + dstCol + (r - r0)] = src[r * srcCols + c] for r in [r0, r1), c in [c0, c1).
Napi::Value TransposeInt8(const Napi::CallbackInfo& info) {
  static const char* fn = "transposeInt8";
  const auto bytes = {napi_int8_array, napi_uint8_array};
  const View src = typedArg(info, 0, fn, "src", bytes, "an Int8Array or Uint8Array");
  const size_t srcCols = indexArg(info, 1, fn, "srcCols");
  const size_t r0 = indexArg(info, 2, fn, "r0"), r1 = indexArg(info, 3, fn, "r1");
  const size_t c0 = indexArg(info, 4, fn, "c0"), c1 = indexArg(info, 5, fn, "c1");
  const View dst = typedArg(info, 6, fn, "dst", bytes, "an Int8Array or Uint8Array");
  const size_t dstStride = indexArg(info, 7, fn, "dstStride");
  const size_t dstCol = indexArg(info, 8, fn, "dstCol");
  if (r1 < r0) rangeError(info, std::string(fn) + ": r1 must be at least r0, got r0 = " + str(r0) + ", r1 = " + str(r1));
  if (c1 < c0) rangeError(info, std::string(fn) + ": c1 must be at least c0, got c0 = " + str(c0) + ", c1 = " + str(c1));
  if (c1 > srcCols) rangeError(info, std::string(fn) + ": c1 must be at most srcCols (" + str(srcCols) + "), got " + str(c1));
  const size_t width = r1 - r0, height = c1 - c0;
  if (width == 0 || height == 0) return info.Env().Undefined();
  // the last byte read is (r1 - 1) * srcCols + c1 - 1; checked without overflow
  if (src.length < c1 || (r1 - 1) > (src.length - c1) / srcCols)
    rangeError(info, std::string(fn) + ": src holds " + str(src.length) + " bytes, too few for rows [" + str(r0) + ", " + str(r1) +
                         ") of a " + str(srcCols) + "-column matrix up to column " + str(c1));
  if (dstCol > dstStride || width > dstStride - dstCol)
    rangeError(info, std::string(fn) + ": dstCol + (r1 - r0) must be at most dstStride (" + str(dstStride) + "), got " + str(dstCol) +
                         " + " + str(width));
  if (dst.length < dstCol + width || (height - 1) > (dst.length - dstCol - width) / dstStride)
    rangeError(info, std::string(fn) + ": dst holds " + str(dst.length) + " bytes, too few for " + str(height) + " rows of stride " +
                         str(dstStride) + " from column " + str(dstCol) + " (" + str(width) + " wide)");
  if (overlaps(src, dst)) rangeError(info, std::string(fn) + ": src and dst must not overlap");
  transposeBlock(src.ptr + r0 * srcCols + c0, srcCols, width, height, dst.ptr + dstCol, dstStride);
  return info.Env().Undefined();
}

// packInt4(src: Int8Array (rows, k), k, dst: Int32Array (rows, k / 8)): -1, or the
// index in src of the first value outside [-8, 7] (dst is then incomplete).
Napi::Value PackInt4(const Napi::CallbackInfo& info) {
  static const char* fn = "packInt4";
  const View src = typedArg(info, 0, fn, "src", {napi_int8_array}, "an Int8Array");
  const size_t k = indexArg(info, 1, fn, "k");
  const View dst = typedArg(info, 2, fn, "dst", {napi_int32_array}, "an Int32Array");
  if (k == 0 || k % 8 != 0) rangeError(info, std::string(fn) + ": k must be a positive multiple of 8, got " + str(k));
  if (src.length % k != 0) rangeError(info, std::string(fn) + ": src holds " + str(src.length) + " values, not whole rows of k = " + str(k));
  if (dst.length != src.length / 8)
    rangeError(info, std::string(fn) + ": dst must hold " + str(src.length / 8) + " int32 words (src values / 8), got " + str(dst.length));
  if (overlaps(src, dst)) rangeError(info, std::string(fn) + ": src and dst must not overlap");
  if (src.length == 0) return Napi::Number::New(info.Env(), -1);
  // the int32 view is 4-aligned by the typed-array rules; stores stay host order like Int32Array
  const int64_t bad = packInt4(reinterpret_cast<const int8_t*>(src.ptr), src.length, reinterpret_cast<uint32_t*>(dst.ptr));
  return Napi::Number::New(info.Env(), static_cast<double>(bad));
}

}  // namespace

void registerUtilOps(Napi::Env env, Napi::Object exports) {
  Napi::Object util = Napi::Object::New(env);
  util.Set("transposeInt8", Napi::Function::New(env, TransposeInt8, "transposeInt8"));
  util.Set("packInt4", Napi::Function::New(env, PackInt4, "packInt4"));
  exports.Set("util", util);
}

}  // namespace qmm
