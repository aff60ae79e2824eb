// numerics.h - bit-level float helpers for the mock kernels (docs/semantics.md §3, §4).
// Compiled with -ffp-contract=off so no multiply-add is ever fused.
#ifndef MOCK_CANN_NUMERICS_H
#define MOCK_CANN_NUMERICS_H

#include <cmath>
#include <cstdint>
#include <cstring>

namespace mocknum {

inline uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
inline float f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

// float -> fp16 bits, round to nearest even, IEEE overflow to +-inf,
// NaN -> 0x7E00 | sign.
inline uint16_t f32_to_f16_rne(float f) {
  uint32_t x = f32_bits(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return sign | 0x7E00u;  // NaN
  if (ax >= 0x477FF000u) return sign | 0x7C00u; // >= 65520 rounds to inf (or is inf)
  if (ax >= 0x38800000u) {                      // normal fp16 range (>= 2^-14)
    uint32_t e = (ax >> 23) - 112u;
    uint32_t mant = ax & 0x7FFFFFu;
    uint32_t r = (e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1FFFu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) r++;
    return static_cast<uint16_t>(sign | r);
  }
  // subnormal fp16: units of 2^-24
  uint32_t e = ax >> 23;
  if (e < 102) return sign;  // < 2^-25: rounds to 0 (2^-25 itself ties to even 0 too)
  uint32_t m = (ax & 0x7FFFFFu) | 0x800000u;  // value = m * 2^(e-150)
  uint32_t shift = 126u - e;                   // 14..24
  uint32_t r = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1u);
  uint32_t half = 1u << (shift - 1u);
  if (rem > half || (rem == half && (r & 1u))) r++;
  return static_cast<uint16_t>(sign | r);
}

// Fixpipe flavour: saturate to +-65504 instead of inf.
inline uint16_t f32_to_f16_sat(float f) {
  uint16_t h = f32_to_f16_rne(f);
  if ((h & 0x7FFFu) == 0x7C00u) return static_cast<uint16_t>((h & 0x8000u) | 0x7BFFu);
  return h;
}

// float -> bf16 bits, RNE, overflow to inf, NaN -> (bits>>16)|0x0040.
inline uint16_t f32_to_bf16_rne(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  uint32_t lsb = (x >> 16) & 1u;
  x += 0x7FFFu + lsb;
  return static_cast<uint16_t>(x >> 16);
}

inline float f16_to_f32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
  if (e == 0x1F) return f32_from_bits(sign | 0x7F800000u | (m << 13));
  if (e == 0) {
    if (m == 0) return f32_from_bits(sign);
    float v = std::ldexp(static_cast<float>(m), -24);  // exact
    return sign ? -v : v;
  }
  return f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
}

inline float bf16_to_f32(uint16_t b) { return f32_from_bits(static_cast<uint32_t>(b) << 16); }

inline int32_t wrap_add(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

// Signed nibble i (LSB first) of a packed int32.
inline int32_t nibble(int32_t w, int i) {
  int32_t v = (static_cast<uint32_t>(w) >> (4 * i)) & 0xF;
  return v >= 8 ? v - 16 : v;
}

}  // namespace mocknum

#endif
