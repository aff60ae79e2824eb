/**
 * ND weights read where they lie (no pack kept): a (k, n) weight, the seed's
 * (n, k) weight passed as w.t(), and both with a row stride wider than the
 * row (a batch dim moved inward), for decode m = 1..16 (split k included),
 * prefill m, odd k and n, batches with either side broadcast, and every
 * epilogue kind; compared with the reference bit for bit on both backends.
 */

import { describe, it } from 'vitest';
import { npuQuantMatmul, npuQuantMatmulSync, npuTransQuantParamSync, tensor, type Tensor } from '../lib/index';
import { expectMatches, prod, randFloats, randInts, rng, type Rng } from './helpers';
import { refQuantMatmul, refTransQuantParam, type RefQuantMatmulInput } from './reference';

type Layout = 'kn' | 'nkT' | 'knWide' | 'nkTWide';
const LAYOUTS: Layout[] = ['kn', 'nkT', 'knWide', 'nkTWide'];
type Out = 'int32' | 'float16' | 'bfloat16-pertoken';

/** x2 (…, k, n) with the given row-major logical values, stored in `layout`. */
function weight(values: number[], shape: number[], layout: Layout): Tensor {
  const r = shape.length;
  const [k, n] = [shape[r - 2], shape[r - 1]];
  const batch = shape.slice(0, -2);
  const nb = prod(batch);
  if (layout === 'kn') return tensor(Int8Array.from(values), shape, 'int8');
  if (layout === 'nkT') {
    const s = new Int8Array(values.length);
    for (let b = 0; b < nb; b++) for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) s[(b * n + j) * k + i] = values[(b * k + i) * n + j];
    return tensor(s, [...batch, n, k], 'int8').t();
  }
  // the batch dim moved inside the matrix: rows are nb times longer than the matrix row
  if (batch.length !== 1) return weight(values, shape, layout === 'knWide' ? 'kn' : 'nkT');
  if (layout === 'knWide') {
    const s = new Int8Array(values.length); // stored (k, nb, n)
    for (let b = 0; b < nb; b++) for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) s[(i * nb + b) * n + j] = values[(b * k + i) * n + j];
    return tensor(s, [k, nb, n], 'int8').transpose(0, 1);
  }
  const s = new Int8Array(values.length); // stored (n, nb, k), read as (nb, k, n)
  for (let b = 0; b < nb; b++) for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) s[(j * nb + b) * k + i] = values[(b * k + i) * n + j];
  return tensor(s, [n, nb, k], 'int8').transpose(0, 1).transpose(1, 2);
}

interface Case {
  x1: number[]; // (…, m, k)
  x2: number[]; // (…, k, n)
  out: Out;
}

function run(r: Rng, c0: Case, layout: Layout, promise: boolean): Promise<void> | void {
  // a wide row stride needs a batch dim to move inside the matrix
  const c = layout.endsWith('Wide') && c0.x2.length === 2 && c0.x1.length === 2 ? { ...c0, x1: [2, ...c0.x1], x2: [2, ...c0.x2] } : c0;
  const [m, k] = c.x1.slice(-2);
  const n = c.x2[c.x2.length - 1];
  const a = randInts(r, prod(c.x1), -128, 127);
  const b = randInts(r, prod(c.x2), -128, 127);
  const x1 = tensor(Int8Array.from(a), c.x1, 'int8');
  const x2 = weight(b, c.x2, layout);
  const inp: RefQuantMatmulInput = { x1: { shape: c.x1, values: a }, x2: { shape: c.x2, values: b }, scale: { dtype: 'float32', values: [1] }, out: 'int32' };
  let call: () => Tensor | Promise<Tensor>;
  if (c.out === 'int32') {
    const s = tensor(Float32Array.of(1), [1], 'float32');
    call = () => (promise ? npuQuantMatmul(x1, x2, s, { outputDtype: 'int32' }) : npuQuantMatmulSync(x1, x2, s, { outputDtype: 'int32' }));
  } else if (c.out === 'float16') {
    const sv = randFloats(r, n, 1e-5, 4e-4);
    const qp = npuTransQuantParamSync(tensor(Float32Array.from(sv), [n], 'float32'));
    inp.scale = { dtype: 'int64', values: refTransQuantParam(sv, undefined, 0) };
    inp.out = 'float16';
    call = () => (promise ? npuQuantMatmul(x1, x2, qp, { outputDtype: 'float16' }) : npuQuantMatmulSync(x1, x2, qp, { outputDtype: 'float16' }));
  } else {
    const sv = randFloats(r, n, 1e-4, 2e-3);
    const pt = randFloats(r, m, 0.5, 2);
    const opts = { outputDtype: 'bfloat16' as const, pertokenScale: tensor(Float32Array.from(pt), [m], 'float32') };
    const s = tensor(Float32Array.from(sv), [n], 'float32');
    inp.scale = { dtype: 'float32', values: sv };
    inp.pertoken = pt;
    inp.out = 'bfloat16';
    call = () => (promise ? npuQuantMatmul(x1, x2, s, opts) : npuQuantMatmulSync(x1, x2, s, opts));
  }
  const ref = refQuantMatmul(inp);
  const label = `${layout} x1 ${JSON.stringify(c.x1)} x2 ${JSON.stringify(c.x2)} ${c.out}${promise ? ' (Promise)' : ''} k=${k}`;
  const got = call();
  if (got instanceof Promise) return got.then((t) => expectMatches(t, ref, label));
  expectMatches(got, ref, label);
}

const OUTS: Out[] = ['int32', 'float16', 'bfloat16-pertoken'];

describe('ND weights, decode (m = 1..16), every layout', () => {
  const ks = [1, 3, 17, 63, 64, 65, 127, 200, 333, 520];
  const ns = [1, 5, 16, 17, 33, 47, 100];
  for (const layout of LAYOUTS) {
    it(`${layout}: m = 1..16, odd k and n`, () => {
      const r = rng(100 + LAYOUTS.indexOf(layout));
      for (let m = 1; m <= 16; m++) run(r, { x1: [m, ks[m % ks.length]], x2: [ks[m % ks.length], ns[m % ns.length]], out: OUTS[m % 3] }, layout, false);
    });
    it(`${layout}: split k (k up to 9001, few columns) and k past a 64-byte step`, async () => {
      const r = rng(200 + LAYOUTS.indexOf(layout));
      for (const [m, k, n] of [[1, 4500, 16], [3, 2049, 40], [16, 3001, 7], [2, 2111, 200], [5, 9001, 37]]) {
        run(r, { x1: [m, k], x2: [k, n], out: 'int32' }, layout, false);
        await run(r, { x1: [m, k], x2: [k, n], out: 'bfloat16-pertoken' }, layout, true);
      }
    });
    it(`${layout}: batches, either side broadcast`, async () => {
      const r = rng(300 + LAYOUTS.indexOf(layout));
      const shapes: Array<[number[], number[]]> = [
        [[3, 2, 130], [3, 130, 33]],
        [[1, 4, 96], [5, 96, 20]],
        [[15, 1, 512], [15, 512, 128]],
        [[2, 1, 3, 70], [1, 3, 70, 18]],
      ];
      for (const [s1, s2] of shapes) {
        run(r, { x1: s1, x2: s2, out: 'int32' }, layout, false);
        await run(r, { x1: s1, x2: s2, out: 'float16' }, layout, true);
      }
    });
  }
});

describe('ND weights, prefill (m > 16), every layout', () => {
  for (const layout of LAYOUTS) {
    it(`${layout}: m off every block size, odd k and n`, () => {
      const r = rng(400 + LAYOUTS.indexOf(layout));
      for (const [m, k, n, out] of [[17, 65, 33, 'int32'], [40, 1030, 17, 'float16'], [200, 129, 300, 'bfloat16-pertoken'], [33, 2049, 50, 'int32']] as Array<[number, number, number, Out]>)
        run(r, { x1: [m, k], x2: [k, n], out }, layout, false);
    });
    it(`${layout}: batches (x2 shared by many x1 batches, x1 broadcast over x2 batches)`, async () => {
      const r = rng(500 + LAYOUTS.indexOf(layout));
      const shapes: Array<[number[], number[]]> = [
        [[6, 5, 100], [100, 40]], // 30 rows read the one weight: packed once per n block
        [[1, 20, 64], [7, 64, 16]], // S3-like: x1 broadcast over x2 batches
        [[2, 3, 20, 48], [3, 48, 35]], // the rows of one weight batch come from x1 batches j and j + 3
      ];
      for (const [s1, s2] of shapes) {
        run(r, { x1: s1, x2: s2, out: 'int32' }, layout, false);
        await run(r, { x1: s1, x2: s2, out: 'bfloat16-pertoken' }, layout, true);
      }
    });
  }
});
