/**
 * Test helpers: a seeded PRNG, operand builders for every layout the ops take
 * (plain, transposed storage, FRACTAL_NZ, int4-in-int32), and output checks
 * against the reference.
 */

import { expect } from 'vitest';
import { seeded } from '../scripts/demo/random';
import { backendInfo, fromFloat32, npuFormatCastSync, QmmError, tensor, type Tensor } from '../lib/index';
import { bf16BitsToValue, f16BitsToValue, f32, refPackInt4, type RefQuantMatmulInput, type RefResult } from './reference';

export type Rng = () => number;

/** mulberry32: small, fast, deterministic (the demo's generator). */
export const rng: (seed: number) => Rng = seeded;

export function randInt(r: Rng, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

export function randInts(r: Rng, count: number, lo: number, hi: number): number[] {
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = randInt(r, lo, hi);
  return out;
}

/** float32-representable values uniform in [lo, hi). */
export function randFloats(r: Rng, count: number, lo: number, hi: number): number[] {
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = f32(lo + (hi - lo) * r());
  return out;
}

/** The QmmError code, or the constructor name of any other error, or 'no error'. */
export function errorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return e instanceof QmmError ? e.code : (e as Error).constructor.name;
  }
  return 'no error';
}

/**
 * `run()`, or undefined where the cann backend lacks an op it needs
 * (ERR_QMM_UNSUPPORTED from an older CANN): the caller then has nothing to check.
 */
export async function unlessUnsupportedOnCann<T>(run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (e) {
    if (backendInfo().backend === 'cann' && e instanceof QmmError && e.code === 'ERR_QMM_UNSUPPORTED') return undefined;
    throw e;
  }
}

export const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Moves the last two dims of a row-major logical array: (…, a, b) -> (…, b, a). */
export function swapLast2(values: ArrayLike<number>, shape: number[]): number[] {
  const r = shape.length;
  const a = shape[r - 2];
  const b = shape[r - 1];
  const batch = prod(shape.slice(0, -2));
  const out = new Array<number>(values.length);
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[(t * b + j) * a + i] = values[(t * a + i) * b + j];
  return out;
}

const swapShape = (s: number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];

export interface X1Layout {
  /** stored as (…, k, m) and passed as a transposed view */
  transposed?: boolean;
  int4?: boolean;
}

/** x1 with logical shape (…, m, k) and the given values, in the requested layout. */
export function makeX1(values: number[], shape: number[], layout: X1Layout = {}): Tensor {
  if (layout.int4) {
    const p = refPackInt4(values, shape);
    return tensor(p.data, p.shape, 'int32');
  }
  if (layout.transposed) {
    return tensor(Int8Array.from(swapLast2(values, shape)), swapShape(shape), 'int8').transpose(-1, -2);
  }
  return tensor(Int8Array.from(values), shape, 'int8');
}

export interface X2Layout {
  /** stored as the weight (…, n, k) and passed as x2 = w.t() */
  transposed?: boolean;
  /** FRACTAL_NZ via npuFormatCast of the stored tensor */
  nz?: boolean;
  int4?: boolean;
}

/** x2 with logical shape (…, k, n), in the requested layout. */
export function makeX2(values: number[], shape: number[], layout: X2Layout = {}): Tensor {
  const storedShape = layout.transposed ? swapShape(shape) : shape;
  const stored = layout.transposed ? swapLast2(values, shape) : values;
  let t: Tensor;
  if (layout.int4) {
    const p = refPackInt4(stored, storedShape);
    t = tensor(p.data, p.shape, 'int32');
  } else {
    t = tensor(Int8Array.from(stored), storedShape, 'int8');
  }
  if (layout.nz) t = npuFormatCastSync(t, 29, layout.int4 ? { customizeDtype: 'int32' } : undefined);
  return layout.transposed ? t.transpose(-1, -2) : t;
}

/** A float tensor of the given dtype whose values are exactly representable; returns it and its values. */
export function floatTensor(values: number[], shape: number[], dtype: 'float32' | 'float16' | 'bfloat16'): { t: Tensor; values: number[] } {
  const t = fromFloat32(values, shape, dtype);
  const data = t.data as Uint16Array | Float32Array;
  const exact =
    dtype === 'float32' ? Array.from(data as Float32Array) : Array.from(data as Uint16Array, (h) => (dtype === 'float16' ? f16BitsToValue(h) : bf16BitsToValue(h)));
  return { t, values: exact };
}

/** Compares an op result with the reference, element by element, with a useful first-mismatch message. */
export function expectMatches(out: Tensor, ref: RefResult, label = ''): void {
  expect(out.shape, `${label} shape`).toEqual(ref.shape);
  const host = out.cpu();
  const data = host.data as ArrayLike<number>;
  expect(data.length, `${label} length`).toBe(ref.values.length);
  for (let i = 0; i < ref.values.length; i++) {
    if (data[i] !== ref.values[i]) {
      const hex = (v: number) => (out.dtype === 'float16' || out.dtype === 'bfloat16' ? `0x${v.toString(16)}` : String(v));
      expect.fail(`${label} first mismatch at flat index ${i} of ${ref.values.length}: got ${hex(data[i])}, reference ${hex(ref.values[i])}`);
    }
  }
}

export type { RefQuantMatmulInput };
