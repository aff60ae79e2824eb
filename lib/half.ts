/**
 * float16 / bfloat16 <-> float32 conversions on raw bits (Node 20 has no
 * Float16Array). Narrowing rounds to nearest even; overflow gives ±inf.
 */

import { invalidArgType, invalidArgValue, outOfRange } from './arg_errors';
import { describe } from './errors';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0];
}

export function bitsToF32(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

export function bf16ToF32(h: number): number {
  return bitsToF32((h & 0xffff) << 16);
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man === 0 ? sign * Infinity : NaN;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/** float32 value -> bfloat16 bits, round to nearest even. NaN keeps its sign and becomes quiet. */
export function f32ToBf16(x: number): number {
  const u = f32Bits(x);
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x0040) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 value -> float16 bits, round to nearest even, overflow to ±inf, NaN -> 0x7e00 | sign. */
export function f32ToF16(x: number): number {
  const u = f32Bits(x);
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  const v = bitsToF32(a); // |x| rounded to float32 already
  if (v >= 65520) return sign | 0x7c00;
  if (v < 2 ** -14) {
    // subnormal: units of 2^-24, round half to even
    const q = v * 2 ** 24;
    let r = Math.floor(q);
    const frac = q - r;
    if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r += 1;
    return sign | r;
  }
  const e = Math.floor(Math.log2(v));
  let exp = e;
  // guard against log2 rounding at exact powers of two
  if (2 ** exp > v) exp -= 1;
  if (2 ** (exp + 1) <= v) exp += 1;
  const m = v / 2 ** exp - 1; // in [0, 1)
  const q = m * 1024;
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r += 1;
  if (r === 1024) {
    r = 0;
    exp += 1;
  }
  if (exp + 15 >= 31) return sign | 0x7c00;
  return sign | ((exp + 15) << 10) | r;
}

function checkHalfDType(dtype: unknown): 'float16' | 'bfloat16' {
  if (dtype === 'float16' || dtype === 'bfloat16') return dtype;
  const msg = `dtype must be 'float16' or 'bfloat16', got ${describe(dtype)}`;
  throw typeof dtype === 'string' ? invalidArgValue(msg) : invalidArgType(msg);
}

function checkArrayLike(values: unknown, argument: string): void {
  if (values === null || typeof values !== 'object' || typeof (values as ArrayLike<unknown>).length !== 'number') {
    throw invalidArgType(`${argument} must be an array or a TypedArray of numbers, got ${describe(values)}`);
  }
}

/** Converts float values to a Uint16Array of float16 or bfloat16 bits (any number; NaN and ±Infinity included). */
export function encodeHalf(values: ArrayLike<number>, dtype: 'float16' | 'bfloat16', argument = 'values'): Uint16Array {
  const dt = checkHalfDType(dtype);
  checkArrayLike(values, argument);
  const out = new Uint16Array(values.length);
  const enc = dt === 'float16' ? f32ToF16 : f32ToBf16;
  const numeric = values instanceof Float32Array || values instanceof Float64Array;
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    if (!numeric && typeof v !== 'number') throw invalidArgType(`${argument}[${i}] must be a number, got ${describe(v)}`);
    out[i] = enc(v as number);
  }
  return out;
}

/** Converts float16 or bfloat16 bits (integers in [0, 65535]) to float32 values. */
export function decodeHalf(bits: ArrayLike<number>, dtype: 'float16' | 'bfloat16'): Float32Array {
  const dt = checkHalfDType(dtype);
  checkArrayLike(bits, 'bits');
  const out = new Float32Array(bits.length);
  const dec = dt === 'float16' ? f16ToF32 : bf16ToF32;
  const raw = bits instanceof Uint16Array;
  for (let i = 0; i < bits.length; i++) {
    const h: unknown = bits[i];
    if (!raw) {
      if (typeof h !== 'number') throw invalidArgType(`bits[${i}] must be a number, got ${describe(h)}`);
      if (!Number.isInteger(h) || h < 0 || h > 0xffff) throw outOfRange(`bits[${i}] must be an integer in [0, 65535] (16 raw bits), got ${h}`);
    }
    out[i] = dec(h as number);
  }
  return out;
}
