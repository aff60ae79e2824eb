/**
 * x1 read where it lies (binding/emulator/operand.h x1ReadInPlace): int8 rows
 * with unit element stride and k a multiple of 16 are read in place with their
 * own row stride; any other x1 is packed. Views whose row stride is not k (a
 * column slice, a batch dim moved inward, one row repeated with stride 0) and
 * the packed cases next to them, for decode and prefill m, with an NZ and an
 * ND weight, compared with the reference bit for bit; the same calls also
 * through the Promise form. x1's buffer is never written.
 */

import { describe, expect, it } from 'vitest';
import { npuFormatCastSync, npuQuantMatmul, npuQuantMatmulSync, npuTransQuantParamSync, tensor, type Tensor } from '../lib/index';
import { expectMatches, randFloats, randInts, rng, type Rng } from './helpers';
import { refQuantMatmul, refTransQuantParam } from './reference';

type View = 'contiguous' | 'columnSlice' | 'batchInward' | 'repeatedRow' | 'transposed';
const VIEWS: View[] = ['contiguous', 'columnSlice', 'batchInward', 'repeatedRow', 'transposed'];

/** An x1 view of shape (b, m, k) with the given logical values, laid out as `view` says. */
function x1View(values: number[], b: number, m: number, k: number, view: View): { t: Tensor; logical: number[] } {
  if (view === 'contiguous') return { t: tensor(Int8Array.from(values), [b, m, k], 'int8'), logical: values };
  if (view === 'columnSlice') {
    // rows of k + 48 bytes, the view takes the first k of each
    const w = k + 48;
    const s = new Int8Array(b * m * w).fill(77);
    for (let i = 0; i < b * m; i++) for (let j = 0; j < k; j++) s[i * w + j] = values[i * k + j];
    return { t: tensor(s, [b * m * w], 'int8').viewAs([b, m, k], [m * w, w, 1], 0), logical: values };
  }
  if (view === 'batchInward') {
    // stored (m, b, k): row stride b * k
    const s = new Int8Array(b * m * k);
    for (let bb = 0; bb < b; bb++) for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) s[(i * b + bb) * k + j] = values[(bb * m + i) * k + j];
    return { t: tensor(s, [m, b, k], 'int8').transpose(0, 1), logical: values };
  }
  if (view === 'repeatedRow') {
    // each batch is one stored row seen m times (row stride 0)
    const s = Int8Array.from(values.slice(0, b * k));
    const logical: number[] = [];
    for (let bb = 0; bb < b; bb++) for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) logical.push(s[bb * k + j]);
    return { t: tensor(s, [b * k], 'int8').viewAs([b, m, k], [k, 0, 1], 0), logical };
  }
  // (b, k, m) stored, read transposed: element stride m, packed
  const s = new Int8Array(b * m * k);
  for (let bb = 0; bb < b; bb++) for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) s[(bb * k + j) * m + i] = values[(bb * m + i) * k + j];
  return { t: tensor(s, [b, k, m], 'int8').transpose(1, 2), logical: values };
}

async function check(r: Rng, view: View, b: number, m: number, k: number, n: number, nzWeight: boolean): Promise<void> {
  const a = randInts(r, b * m * k, -128, 127);
  const w = randInts(r, b * k * n, -128, 127);
  const { t: x1, logical } = x1View(a, b, m, k, view);
  const before = Int8Array.from(x1.storage.host as Int8Array);
  const wt = tensor(Int8Array.from(w), [b, k, n], 'int8');
  const x2 = nzWeight ? npuFormatCastSync(wt, 29) : wt;
  const sv = randFloats(r, n, 1e-5, 4e-4);
  const scale = npuTransQuantParamSync(tensor(Float32Array.from(sv), [n], 'float32'));
  const ref = refQuantMatmul({ x1: { shape: [b, m, k], values: logical }, x2: { shape: [b, k, n], values: w }, scale: { dtype: 'int64', values: refTransQuantParam(sv, undefined, 0) }, out: 'float16' });
  const label = `${view} (${b}, ${m}, ${k}) @ (${b}, ${k}, ${n}) ${nzWeight ? 'NZ' : 'ND'}`;
  expectMatches(npuQuantMatmulSync(x1, x2, scale, { outputDtype: 'float16' }), ref, label);
  expectMatches(await npuQuantMatmul(x1, x2, scale, { outputDtype: 'float16' }), ref, `${label} (Promise)`);
  expect(Int8Array.from(x1.storage.host as Int8Array), `${label}: x1 unchanged`).toEqual(before);
}

describe('x1 views, read in place or packed', () => {
  for (const view of VIEWS) {
    it(`${view}: decode and prefill m, k on and off the 16 grid, NZ and ND weights`, async () => {
      const r = rng(900 + VIEWS.indexOf(view));
      for (const [b, m, k, n] of [[2, 1, 64, 48], [3, 7, 96, 33], [2, 16, 80, 16], [2, 40, 128, 70], [1, 200, 256, 40], [2, 23, 100, 31], [2, 33, 17, 20]]) {
        await check(r, view, b, m, k, n, true);
        await check(r, view, b, m, k, n, false);
      }
    });
  }
});
