/**
 * The independent reference: a plain TypeScript model of docs/semantics.md, written from
 * the spec text and not from the C++ (nor from lib/half.ts). It works on
 * logical values only: matrices as row-major number arrays of their logical
 * (…, m, k) / (…, k, n) shapes, with int4 values unpacked. Layouts (transposed
 * storage, FRACTAL_NZ, int4 packing) are the tests' business, so a layout bug
 * in the package shows up as a mismatch here.
 */

// ---------------------------------------------------------------- float formats

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** IEEE float32 rounding of a double (RNE). */
export const f32 = Math.fround;

export function f32FromBits(bits: number): number {
  U32[0] = bits >>> 0;
  return F32[0];
}

export function bitsFromF32(v: number): number {
  F32[0] = v;
  return U32[0];
}

function roundHalfEven(x: number): number {
  const r = Math.round(x); // half up
  if (Math.abs(x - Math.trunc(x)) === 0.5) return 2 * Math.round(x / 2);
  return r;
}

/**
 * Rounds a finite double to the nearest value of a binary format with `man`
 * fraction bits and exponent range [emin, emax] (subnormals below emin), ties
 * to even. Returns ±Infinity on overflow.
 */
function roundToFormat(v: number, man: number, emin: number, emax: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const a = Math.abs(v);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const q = Math.max(e, emin) - man; // the ulp exponent
  const r = roundHalfEven(a / 2 ** q) * 2 ** q;
  const max = (2 - 2 ** -man) * 2 ** emax;
  if (r > max) return v < 0 ? -Infinity : Infinity;
  return v < 0 ? -r : r;
}

/** Encodes a value already representable in the format into its bits. */
function encode(v: number, man: number, expBits: number, bias: number, nanBits: number): number {
  const signBit = 1 << (man + expBits);
  if (Number.isNaN(v)) return nanBits;
  const sign = v < 0 || Object.is(v, -0) ? signBit : 0;
  const a = Math.abs(v);
  const expMax = (1 << expBits) - 1;
  if (a === Infinity) return sign | (expMax << man);
  if (a === 0) return sign;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  if (e < 1 - bias) return sign | Math.round(a / 2 ** (1 - bias - man)); // subnormal
  return sign | ((e + bias) << man) | Math.round((a / 2 ** e - 1) * 2 ** man);
}

/** float value -> float16 bits, RNE, overflow to ±inf (vector path). */
export function toF16Bits(v: number): number {
  if (Number.isNaN(v)) return bitsFromF32(v) >>> 31 ? 0xfe00 : 0x7e00;
  return encode(roundToFormat(v, 10, -14, 15), 10, 5, 15, 0x7e00);
}

/** float value -> float16 bits saturating at ±65504 (fixpipe path, docs/semantics.md §3.1). */
export function toF16BitsSaturating(v: number): number {
  if (Number.isNaN(v)) return toF16Bits(v);
  const r = roundToFormat(v, 10, -14, 15);
  return encode(Math.max(-65504, Math.min(65504, r)), 10, 5, 15, 0x7e00);
}

/** float value -> bfloat16 bits, RNE, overflow to ±inf; NaN -> quiet NaN keeping sign and top payload. */
export function toBf16Bits(v: number): number {
  if (Number.isNaN(v)) return ((bitsFromF32(v) >>> 16) | 0x40) & 0xffff;
  return encode(roundToFormat(v, 7, -126, 127), 7, 8, 127, 0x7fc0);
}

export function f16BitsToValue(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const f = h & 1023;
  if (e === 31) return f ? NaN : s * Infinity;
  return e === 0 ? s * f * 2 ** -24 : s * (1 + f / 1024) * 2 ** (e - 15);
}

export function bf16BitsToValue(h: number): number {
  return f32FromBits((h & 0xffff) << 16);
}

// ---------------------------------------------------------------- trans_quant_param (docs/semantics.md §4)

export function refFp19(scale: number, roundMode: 0 | 1): number {
  const u = bitsFromF32(scale);
  if (roundMode === 0) return (u & 0xffffe000) >>> 0;
  const sign = u >>> 31;
  let e = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  let m10 = mant >>> 13;
  if (e === 0) return (sign << 31) >>> 0;
  if (e !== 255) {
    const rb = (mant >>> 12) & 1;
    const sticky = mant & 0xfff;
    if (rb && (sticky || m10 & 1)) {
      m10 += 1;
      if (m10 === 1024) {
        m10 = 0;
        e += 1;
      }
    }
  }
  return ((sign << 31) | (e << 23) | (m10 << 13)) >>> 0;
}

/**
 * torch_npu's eager result shape of npu_trans_quant_param (op-plugin
 * TransQuantParamKernelNpuOpApi.cpp): the scale's sizes; for a 1-D scale with
 * an offset, the offset's sizes unless scale.size(0) > offset.size(0).
 */
export function refTransQuantParamShape(scaleShape: readonly number[], offsetShape?: readonly number[]): number[] {
  if (offsetShape === undefined || scaleShape.length !== 1) return [...scaleShape];
  return scaleShape[0] > offsetShape[0] ? [...scaleShape] : [...offsetShape];
}

export function refTransQuantParam(scale: number[], offset: number[] | undefined, roundMode: 0 | 1 = 0): bigint[] {
  const len = Math.max(scale.length, offset ? offset.length : 0);
  const out: bigint[] = [];
  for (let i = 0; i < len; i++) {
    const s = scale[scale.length === 1 ? 0 : i];
    let q = BigInt(refFp19(f32(s), roundMode)) | (1n << 46n);
    if (offset) {
      const o = offset[offset.length === 1 ? 0 : i];
      const r = Math.max(-256, Math.min(255, roundHalfEven(f32(o))));
      q |= (BigInt(r) & 0x1ffn) << 37n;
    }
    out.push(BigInt.asIntN(64, q));
  }
  return out;
}

// ---------------------------------------------------------------- FRACTAL_NZ (docs/semantics.md §5.1)

/** ND values (…, R, C) -> NZ storage (…, ceil(C/c0), ceil(R/16), 16, c0), zero padded. */
export function refNdToNz(values: ArrayLike<number>, shape: number[], c0: number): number[] {
  const r = shape.length;
  const R = shape[r - 2];
  const C = shape[r - 1];
  const batch = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const C1 = Math.ceil(C / c0);
  const R1 = Math.ceil(R / 16);
  const out = new Array<number>(batch * C1 * R1 * 16 * c0).fill(0);
  for (let b = 0; b < batch; b++)
    for (let c1 = 0; c1 < C1; c1++)
      for (let r1 = 0; r1 < R1; r1++)
        for (let r0 = 0; r0 < 16; r0++)
          for (let cc = 0; cc < c0; cc++) {
            const row = r1 * 16 + r0;
            const col = c1 * c0 + cc;
            if (row < R && col < C) {
              out[(((b * C1 + c1) * R1 + r1) * 16 + r0) * c0 + cc] = values[(b * R + row) * C + col];
            }
          }
  return out;
}

// ---------------------------------------------------------------- int4 packing (docs/semantics.md §1.3)

/** Packs int4 values (in [-8, 7]) 8 per int32 along the last dim, LSB first. */
export function refPackInt4(values: ArrayLike<number>, shape: number[]): { data: Int32Array; shape: number[] } {
  const cols = shape[shape.length - 1];
  if (cols % 8 !== 0) throw new Error('int4 packing needs the last dim to be a multiple of 8');
  const rows = values.length / cols;
  const data = new Int32Array(rows * (cols / 8));
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < cols; j++) {
      const nib = values[i * cols + j] & 0xf;
      data[i * (cols / 8) + (j >> 3)] |= nib << (4 * (j & 7));
    }
  return { data, shape: [...shape.slice(0, -1), cols / 8] };
}

// ---------------------------------------------------------------- quant matmul (docs/semantics.md §1.1, §3.7)

export type RefOut = 'int8' | 'float16' | 'bfloat16' | 'int32';

export interface RefMatrix {
  /** logical shape (…, rows, cols) */
  shape: number[];
  /** row-major logical values (int4 already unpacked) */
  values: ArrayLike<number>;
}

export interface RefQuantMatmulInput {
  x1: RefMatrix; // (…, m, k)
  x2: RefMatrix; // (…, k, n)
  /** int64 quant params (bigint), or float values for float32/bfloat16 scales (already representable). */
  scale: { dtype: 'int64' | 'float32' | 'bfloat16'; values: ArrayLike<number> | bigint[] };
  /** only used when the package packs a float32 scale itself (docs/semantics.md §2.2); explicit int64 scales ignore it. */
  offset?: number[];
  pertoken?: number[];
  bias?: { dtype: 'int32' | 'float32' | 'float16' | 'bfloat16'; shape: number[]; values: ArrayLike<number> };
  out: RefOut;
}

export interface RefResult {
  shape: number[];
  /** int8/int32: integer values; float16/bfloat16: bits */
  values: number[];
}

export function refBroadcast(b1: number[], b2: number[]): number[] {
  const n = Math.max(b1.length, b2.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const d1 = b1[b1.length - n + i] ?? 1;
    const d2 = b2[b2.length - n + i] ?? 1;
    if (d1 !== d2 && d1 !== 1 && d2 !== 1) throw new Error('not broadcastable');
    out.push(Math.max(d1, d2));
  }
  return out;
}

function batchIndex(own: number[], outBatch: number[], flat: number): number {
  const idx: number[] = [];
  for (let i = outBatch.length - 1; i >= 0; i--) {
    idx.unshift(flat % outBatch[i]);
    flat = Math.floor(flat / outBatch[i]);
  }
  let f = 0;
  const off = outBatch.length - own.length;
  for (let i = 0; i < own.length; i++) f = f * own[i] + (own[i] === 1 ? 0 : idx[off + i]);
  return f;
}

function rneInt(v: number): number {
  return roundHalfEven(v);
}

export function refQuantMatmul(inp: RefQuantMatmulInput): RefResult {
  const s1 = inp.x1.shape;
  const s2 = inp.x2.shape;
  const m = s1[s1.length - 2];
  const k = s1[s1.length - 1];
  const n = s2[s2.length - 1];
  if (s2[s2.length - 2] !== k) throw new Error('k mismatch');
  const b1 = s1.slice(0, -2);
  const b2 = s2.slice(0, -2);
  const outBatch = refBroadcast(b1, b2);
  const B = outBatch.reduce((a, b) => a * b, 1);
  const x1 = inp.x1.values;
  const x2 = inp.x2.values;

  // the scale path: explicit int64, or a float32 scale torch packs (int8/fp16 out, no pertoken)
  const packs = inp.scale.dtype === 'float32' && !inp.pertoken && (inp.out === 'int8' || inp.out === 'float16');
  let qp: bigint[] | undefined;
  if (inp.scale.dtype === 'int64') qp = inp.scale.values as bigint[];
  else if (packs) qp = refTransQuantParam(Array.from(inp.scale.values as ArrayLike<number>), inp.offset, 0);
  const scaleAt = (j: number) => {
    const v = inp.scale.values;
    return (v as ArrayLike<number | bigint>)[v.length === 1 ? 0 : j];
  };
  const qpAt = (j: number) => (qp as bigint[])[qp!.length === 1 ? 0 : j];

  const values: number[] = new Array(B * m * n);
  for (let b = 0; b < B; b++) {
    const i1 = batchIndex(b1, outBatch, b);
    const i2 = batchIndex(b2, outBatch, b);
    for (let i = 0; i < m; i++) {
      // exact integer sums (|sum| < 2^53), accumulated row by row for speed
      const accRow = new Float64Array(n);
      for (let kk = 0; kk < k; kk++) {
        const a = x1[(i1 * m + i) * k + kk];
        if (a === 0) continue;
        const base = (i2 * k + kk) * n;
        for (let j = 0; j < n; j++) accRow[j] += a * x2[base + j];
      }
      for (let j = 0; j < n; j++) {
        let A = accRow[j] | 0; // two's-complement wrap (docs/semantics.md §8 decision)
        let floatBias: number | undefined;
        if (inp.bias) {
          const bb = inp.bias.shape.length === 3 ? b : 0;
          const bv = inp.bias.values[bb * n + j];
          if (inp.bias.dtype === 'int32') A = (A + bv) | 0;
          else floatBias = bv;
        }
        let y: number;
        if (inp.out === 'int32') {
          y = A;
        } else if (qp) {
          const q = qpAt(j);
          const s = f32FromBits(Number(BigInt.asUintN(32, q)) & 0xffffe000);
          const prod = f32(f32(A) * s);
          if (inp.out === 'float16') {
            y = toF16BitsSaturating(prod);
          } else {
            let off = Number((BigInt.asUintN(64, q) >> 37n) & 0x1ffn);
            if (off >= 256) off -= 512;
            const t = Number.isNaN(prod) ? 0 : Math.max(-256, Math.min(255, rneInt(prod)));
            y = Math.max(-128, Math.min(127, t + off));
          }
        } else {
          let r = f32(f32(A) * Number(scaleAt(j)));
          if (inp.pertoken) r = f32(r * inp.pertoken[i]);
          if (floatBias !== undefined) r = f32(r + floatBias);
          y = inp.out === 'bfloat16' ? toBf16Bits(r) : toF16Bits(r);
        }
        values[(b * m + i) * n + j] = y;
      }
    }
  }
  return { shape: [...outBatch, m, n], values };
}
