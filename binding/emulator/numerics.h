// Scalar conversions of the epilogue, bit-exact to docs/semantics.md §3 and the
// "Decisions" table: fp19 scale, RNE to fp16/bf16, s9/int8 requant.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace qmm::num {

inline uint32_t bitsOf(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float floatOf(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline float bf16ToF32(uint16_t h) { return floatOf(static_cast<uint32_t>(h) << 16); }

inline float f16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0) {
    // zero or subnormal: man * 2^-24, exact in float32
    const float v = static_cast<float>(man) * 5.9604644775390625e-8f;
    return floatOf(bitsOf(v) | sign);
  }
  if (exp == 31) return floatOf(sign | 0x7f800000u | (man << 13));
  return floatOf(sign | ((exp + 112) << 23) | (man << 13));
}

// IEEE round-to-nearest-even; overflow gives inf, NaN gives a quiet NaN
// keeping the sign (docs/semantics.md "Decisions": vector path).
inline uint16_t f32ToBf16(float f) {
  uint32_t u = bitsOf(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

inline uint16_t f32ToF16(float f) {
  const uint32_t u = bitsOf(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return sign | 0x7e00;           // NaN
  if (a >= 0x477ff000u) return sign | 0x7c00;          // >= 65520 rounds to inf
  if (a < 0x38800000u) {                                // below 2^-14: subnormal or zero
    if (a < 0x33000000u) return sign;                   // below 2^-25 rounds to zero
    const uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;                     // units of 2^-24
    uint32_t q = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  const uint32_t r = a + 0xfffu + ((a >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((r - 0x38000000u) >> 13));
}

// Fixpipe fp16 store: saturates to ±65504 instead of producing inf (docs/semantics.md §3.1).
inline uint16_t f32ToF16Saturating(float f) {
  const uint16_t h = f32ToF16(f);
  if ((h & 0x7fff) == 0x7c00) return static_cast<uint16_t>((h & 0x8000) | 0x7bff);
  return h;
}

// The fp19 value the fixpipe uses from an int64 quant param (docs/semantics.md §3.1).
inline float fp19Scale(uint64_t qp) { return floatOf(static_cast<uint32_t>(qp) & 0xFFFFE000u); }

// Sign-extended 9-bit offset from bits 37..45 (docs/semantics.md §3.2).
inline int32_t s9Offset(uint64_t qp) {
  const int32_t o = static_cast<int32_t>((qp >> 37) & 0x1FF);
  return o >= 256 ? o - 512 : o;
}

// RNE of a float to an integer clamped to [lo, hi]; NaN maps to 0
// (the device behaviour is undocumented, docs/semantics.md §8).
inline int32_t rneClamp(float v, int32_t lo, int32_t hi) {
  if (std::isnan(v)) return 0;
  if (v <= static_cast<float>(lo)) return lo;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int32_t>(std::nearbyint(v));
}

// Fixpipe requant to int8 (docs/semantics.md §3.2): s9 clamp, + offset, int8 saturation.
inline int8_t requantInt8(int32_t acc, float scale, int32_t offset) {
  const float v = static_cast<float>(acc) * scale;
  const int32_t t = rneClamp(v, -256, 255) + offset;
  return static_cast<int8_t>(t < -128 ? -128 : (t > 127 ? 127 : t));
}

// int32 addition that wraps like the hardware accumulator (docs/semantics.md §8 decision).
inline int32_t wrapAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

inline int32_t int4At(int32_t packed, int nibble) {
  const int32_t v = (static_cast<uint32_t>(packed) >> (4 * nibble)) & 0xF;
  return v >= 8 ? v - 16 : v;
}

}  // namespace qmm::num
