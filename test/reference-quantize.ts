/**
 * Independent reference for npuQuantize / npuDynamicQuant (and the int4
 * dynamic quantization QuantLinear uses for W4A4), written from the semantics
 * the package documents (docs/semantics.md §9.1 and §9.2),
 * not from the C++: logical values in, logical values out.
 *
 *   quantize:      r = f32(f32(x)·s[c]); r = f32(r + o[c]); y = sat8(rne(r)), NaN → 0
 *   dynamic int8:  the A2/A3 kernels: q = f32(127 / max|x|); y = sat8(rne(f32(x·q)));
 *                  scale = f32(max · f32(1/127)) or f32(1 / q) by kernel (dynamicQuantScaleForm)
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

/** max |x| over row r (of `cols` elements); NaN when the row holds a NaN. */
function rowAbsMax(x: ArrayLike<number>, r: number, cols: number): number {
  let amax = 0;
  for (let c = 0; c < cols; c++) {
    const a = Math.abs(x[r * cols + c]);
    amax = Number.isNaN(a) || Number.isNaN(amax) ? NaN : Math.max(amax, a);
  }
  return amax;
}

function dynamic(x: ArrayLike<number>, cols: number, qmax: number, lo: number, hi: number): RefDynamicQuant {
  const rows = cols === 0 ? 0 : x.length / cols;
  const y = new Array<number>(x.length);
  const scale = new Array<number>(rows);
  for (let r = 0; r < rows; r++) {
    const s = f32(rowAbsMax(x, r, cols) / qmax);
    scale[r] = s;
    for (let c = 0; c < cols; c++) y[r * cols + c] = s === 0 ? 0 : sat(f32(x[r * cols + c] / s), lo, hi);
  }
  return { y, scale };
}

/**
 * How the A2/A3 DynamicQuant kernel that the tiling picks for rows of `cols`
 * elements (int8, no smooth scales) stores the scale: 'product' is
 * max · f32(1/127) (the SingleRow, MultiRow and double-buffered kernels),
 * 'reciprocal' is 1 / f32(127/max) (the plain and the large-shape kernels).
 * MultiRow serves rows of 128 to 16320 elements that are a multiple of 8;
 * the double-buffered kernel serves rows up to 15040 elements.
 */
export function dynamicQuantScaleForm(cols: number): 'product' | 'reciprocal' {
  if (cols <= 15040) return 'product';
  if (cols <= 16320 && cols % 8 === 0) return 'product';
  return 'reciprocal';
}

/** npu_dynamic_quant, int8, per row of `cols` elements, bit for bit with the A2/A3 kernels. */
export function refDynamicQuant(x: ArrayLike<number>, cols: number): RefDynamicQuant {
  const rows = cols === 0 ? 0 : x.length / cols;
  const form = dynamicQuantScaleForm(cols);
  const inv127 = f32(1 / 127);
  const y = new Array<number>(x.length);
  const scale = new Array<number>(rows);
  for (let r = 0; r < rows; r++) {
    const amax = rowAbsMax(x, r, cols);
    const q = f32(127 / amax); // inf for a zero row, so x·q is NaN and y is 0
    scale[r] = form === 'product' ? f32(amax * inv127) : f32(1 / q);
    for (let c = 0; c < cols; c++) y[r * cols + c] = sat(f32(x[r * cols + c] * q), -128, 127);
  }
  return { y, scale };
}

/**
 * The int4 variant (dst_type=quint4x2) QuantLinear emulates on the host for
 * W4A4 (lib/model/int4_quant.ts, the op-plugin formula x / (max/7)): values
 * in [-8, 7], unpacked.
 */
export function refDynamicQuantInt4(x: ArrayLike<number>, cols: number): RefDynamicQuant {
  return dynamic(x, cols, 7, -8, 7);
}
