/**
 * The per-channel int8 kernel of `qmm quantize` (lib/model/quantize/per_channel.ts)
 * against the independent reference of the rule (test/reference-per-channel.ts),
 * bit for bit, on rows that take each of its paths: the per-row lookup table
 * (bf16/fp16 rows longer than the number of bit patterns between the first that
 * quantizes to 1 and amax), the direct division (shorter rows, float32), ties, subnormals, all-zero rows, signed zeros,
 * and non-finite values (reported with row and column).
 */

import { describe, expect, it } from 'vitest';
import { quantizeRows, type FloatDtype } from '../lib/model/quantize/per_channel';
import { rng, type Rng } from './helpers';
import { bf16BitsToValue, f16BitsToValue, toBf16Bits, toF16Bits } from './reference';
import { refPerChannel } from './reference-per-channel';

/** Stores values as dtype; returns the file bytes and the exact stored values. */
function encode(values: number[], dtype: FloatDtype): { bytes: Uint8Array; exact: number[] } {
  if (dtype === 'F32') {
    const f = Float32Array.from(values);
    return { bytes: new Uint8Array(f.buffer), exact: Array.from(f) };
  }
  const bits = Uint16Array.from(values, dtype === 'BF16' ? toBf16Bits : toF16Bits);
  return { bytes: new Uint8Array(bits.buffer), exact: Array.from(bits, dtype === 'BF16' ? bf16BitsToValue : f16BitsToValue) };
}

function check(values: number[], n: number, k: number, dtype: FloatDtype, label: string): { q: Int8Array; scales: Float32Array } {
  const { bytes, exact } = encode(values, dtype);
  const q = new Int8Array(n * k);
  const scales = new Float32Array(n + 2);
  expect(quantizeRows(bytes, dtype, n, k, q, scales, 2), label).toBeUndefined();
  const ref = refPerChannel(exact, n, k);
  const bad = Array.from(q).findIndex((v, i) => v !== ref.q[i]);
  expect(bad, `${label}: first difference at (${Math.floor(bad / k)}, ${bad % k}), value ${exact[bad]}: got ${q[bad]}, want ${ref.q[bad]}`).toBe(-1);
  expect(Array.from(new Uint32Array(scales.slice(2).buffer)), `${label} scales`).toEqual(Array.from(new Uint32Array(ref.scale.buffer)));
  return { q, scales: scales.slice(2) };
}

function normalRows(r: Rng, n: number, k: number, spread: (row: number) => number): number[] {
  const v: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = spread(i);
    for (let j = 0; j < k; j++) v.push(Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()) * s * (r() < 0.02 ? 10 : 1));
  }
  return v;
}

describe.each(['BF16', 'F16', 'F32'] as const)('quantizeRows, %s', (dtype) => {
  it('random rows of every width, from tiny to 2^16 magnitudes apart', () => {
    const r = rng(dtype.length * 31);
    for (const k of [1, 2, 7, 64, 300, 1500, 5000]) {
      const n = Math.max(2, Math.floor(20000 / k));
      check(normalRows(r, n, k, (i) => 10 ** ((i % (dtype === 'F16' ? 7 : 9)) - 4)), n, k, dtype, `k=${k}`); // float16 stops below 65504
    }
  });

  it('every bit pattern up to amax, in one row (the lookup table covers them all) and in rows of 7 (direct division)', () => {
    if (dtype === 'F32') return; // 2^31 patterns: the random rows cover float32
    // the table path is taken when fewer patterns than k lie between the first that quantizes to 1 and amax:
    // about 1 100 for bfloat16, 8 200 for float16
    const dec = dtype === 'BF16' ? bf16BitsToValue : f16BitsToValue;
    for (const top of [dtype === 'BF16' ? 0x42fe : 0x57f0, dtype === 'BF16' ? 0x3c23 : 0x1c23]) {
      const values: number[] = [];
      for (let h = 0; h <= top; h++) values.push(dec(h), -dec(h));
      check(values, 1, values.length, dtype, `patterns 0..0x${top.toString(16)}`);
      const rows = Math.floor(values.length / 7);
      check(values.slice(0, rows * 7), rows, 7, dtype, `patterns 0..0x${top.toString(16)} in rows of 7`);
    }
  });

  it('every .5 tie rounds to even, both zeros give 0: in a short row and in a long one (lookup table)', () => {
    // amax 127 → scale exactly 1 → w / scale is w itself
    const ties = [127, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, 62.5, -63.5, 125.5, -126.5, 0, -0];
    const want = [127, 0, 0, 2, -2, 2, -2, 4, 62, -64, 126, -126, 0, 0];
    for (const k of [ties.length, 9000]) {
      const row = Array.from({ length: k }, (_, j) => (j < ties.length ? ties[j] : ties[j % ties.length] / 2));
      const { q } = check(row, 1, k, dtype, `ties, k=${k}`);
      expect(Array.from(q.subarray(0, ties.length))).toEqual(want);
    }
  });

  it('an all-zero row has scale 1; subnormal and huge values keep the rule', () => {
    const tiny = dtype === 'F16' ? 2 ** -24 : dtype === 'BF16' ? 2 ** -133 : 2 ** -149;
    const big = dtype === 'F16' ? 65504 : 3e38;
    const k = 5;
    const rows = [[0, -0, 0, 0, 0], [tiny, -tiny, 3 * tiny, 0, tiny], [big, -big / 3, 1, -1, big / 7], [-2 * tiny, tiny, 0, 0, 0]];
    const { scales } = check(rows.flat(), rows.length, k, dtype, 'edges');
    expect(scales[0]).toBe(1);
    if (dtype === 'F32') expect(scales[3]).toBe(1); // 2^-148 / 127 rounds to 0 in float32: scale 1, q 0
  });

  it('a non-finite value is reported with its row and column, not quantized', () => {
    const k = 40;
    const v = new Array<number>(3 * k).fill(0.25);
    v[2 * k + 17] = Number.NaN;
    v[k + 3] = dtype === 'F16' ? 1e6 : Number.POSITIVE_INFINITY; // overflows float16 to Inf
    const { bytes } = encode(v, dtype);
    const bad = quantizeRows(bytes, dtype, 3, k, new Int8Array(3 * k), new Float32Array(3), 0);
    expect(bad).toEqual({ row: 1, col: 3, value: Number.POSITIVE_INFINITY });
  });

  it('rejects buffers that are too small', () => {
    expect(() => quantizeRows(new Uint8Array(10), dtype, 2, 8, new Int8Array(16), new Float32Array(2), 0)).toThrow(RangeError);
  });
});
