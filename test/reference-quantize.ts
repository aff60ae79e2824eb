/**
 * Independent reference for npuQuantize / npuDynamicQuant (and the int4
 * dynamic quantization QuantLinear uses for W4A4), written from the semantics
 * the package documents (binding/emulator/quantize.cc header, WEIGHTS.md
 * §2.2/§2.3), not from the C++: logical values in, logical values out.
 *
 *   quantize:      r = f32(f32(x)·s[c]); r = f32(r + o[c]); y = sat8(rne(r)), NaN → 0
 *   dynamic int8:  s = f32(max|x| / 127); y = sat8(rne(f32(x / s))); s = 0 → y = 0
 *   dynamic int4:  s = f32(max|x| / 7);   y = sat4(rne(f32(x / s))); s = 0 → y = 0
 */

import { f32 } from './reference';

/** Round half to even of a double (no range limit). */
export function rne(v: number): number {
  const fl = Math.floor(v);
  const d = v - fl;
  if (d > 0.5) return fl + 1;
  if (d < 0.5) return fl;
  return fl % 2 === 0 ? fl : fl + 1;
}

function sat(v: number, lo: number, hi: number): number {
  if (Number.isNaN(v)) return 0;
  if (v <= lo) return lo;
  if (v >= hi) return hi;
  return rne(v) + 0; // no -0
}

/** x: logical values (…, cols) row-major; scale/offset: length 1 or cols, float32-exact values. */
export function refQuantize(x: ArrayLike<number>, cols: number, scale: ArrayLike<number>, offset?: ArrayLike<number>): number[] {
  const out = new Array<number>(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = i % cols;
    const s = scale[scale.length === 1 ? 0 : c];
    const o = offset ? offset[offset.length === 1 ? 0 : c] : 0;
    let r = f32(f32(x[i]) * s);
    r = f32(r + o);
    out[i] = sat(r, -128, 127);
  }
  return out;
}

export interface RefDynamicQuant {
  y: number[];
  scale: number[];
}

function dynamic(x: ArrayLike<number>, cols: number, qmax: number, lo: number, hi: number): RefDynamicQuant {
  const rows = cols === 0 ? 0 : x.length / cols;
  const y = new Array<number>(x.length);
  const scale = new Array<number>(rows);
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(x[r * cols + c]);
      if (Number.isNaN(a) || Number.isNaN(amax)) amax = NaN;
      else amax = Math.max(amax, a);
    }
    const s = f32(amax / qmax);
    scale[r] = s;
    for (let c = 0; c < cols; c++) y[r * cols + c] = s === 0 ? 0 : sat(f32(x[r * cols + c] / s), lo, hi);
  }
  return { y, scale };
}

/** npu_dynamic_quant, int8: per row of `cols` elements. */
export function refDynamicQuant(x: ArrayLike<number>, cols: number): RefDynamicQuant {
  return dynamic(x, cols, 127, -128, 127);
}

/** The int4 variant (dst_type=quint4x2) QuantLinear emulates for W4A4: values in [-8, 7], unpacked. */
export function refDynamicQuantInt4(x: ArrayLike<number>, cols: number): RefDynamicQuant {
  return dynamic(x, cols, 7, -8, 7);
}
