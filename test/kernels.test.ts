/**
 * The GEMM kernels (QMM_KERNEL=scalar|avx2|vnni512|amx|neon|i8mm) must agree
 * bit for bit: a matrix of edge shapes and layouts runs in one child process
 * per kernel the CPU has (the others are skipped: AMX needs amx_int8, i8mm an
 * arm64 CPU with SMMLA), and every output is compared with the scalar kernel's
 * and, where small enough, with the pure-TypeScript reference. Edge cases:
 * k not a multiple of 4/16/32/64, n not a multiple of 16, m = 1..17, values at
 * the int8 limits, int4 in both packings, FRACTAL_NZ both ways, x1
 * transposed, split-k decode, int32 wraparound, the packs owned by NZ
 * weights (int4 weights as int4 panels), ND weights read in place, and every
 * epilogue kind.
 */

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { refQuantMatmul, refTransQuantParam, type RefQuantMatmulInput } from './reference';
import { distLib } from './support/paths';

const root = path.resolve(__dirname, '..');

/**
 * Deterministic case list, shared verbatim by the parent and the children.
 * It is source text run by `node -e` and `new Function`, so it carries its own
 * copy of mulberry32 (lib/mulberry32.ts) instead of importing it.
 */
const GEN = String.raw`
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function makeCases() {
  const r = rng(20261125);
  const ri = (lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
  const vals = (count, lo, hi, mode) => {
    const out = new Array(count);
    for (let i = 0; i < count; i++) {
      if (mode === 'min') out[i] = lo;
      else if (mode === 'edge') out[i] = r() < 0.5 ? lo : hi;
      else out[i] = r() < 0.1 ? (r() < 0.5 ? lo : hi) : ri(lo, hi);
    }
    return out;
  };
  const outs = ['int32', 'fp16', 'int8', 'bf16pt'];
  const cases = [];
  const add = (m, k, n, o) => {
    const int4 = !!o.int4;
    const lo = int4 ? -8 : -128, hi = int4 ? 7 : 127;
    let x2 = o.x2 || 'nd';
    if ((x2 === 'nz' || x2 === 'nzT') && (k === 1 || n === 1)) x2 = 'nd'; // NZ needs k, n > 1 (docs/semantics.md §5.1)
    const out = o.out || (int4 ? (cases.length % 2 ? 'fp16' : 'bf16pt') : outs[cases.length % 4]);
    const c = { id: cases.length, m, k, n, int4, x1T: !!o.x1T, x2, out, mode: o.mode || 'rand' };
    c.a = vals(m * k, lo, hi, c.mode);
    c.b = vals(k * n, lo, hi, c.mode);
    c.scale = Array.from({ length: n }, () => Math.fround((0.2 + r() * 3) / (int4 ? 8 * 8 * Math.sqrt(k) : 128 * 40 * Math.sqrt(k))));
    c.offset = Array.from({ length: n }, () => Math.fround(r() * 500 - 250));
    c.pt = Array.from({ length: m }, () => Math.fround(0.01 + r() * 4));
    c.bias = Array.from({ length: n }, () => Math.fround(r() * 6 - 3));
    cases.push(c);
  };
  const layouts = ['nd', 'ndT', 'nz', 'nzT'];
  // m = 1..17 over odd k and n, every layout
  for (let m = 1; m <= 17; m++) add(m, [1, 3, 4, 15, 17, 31, 33, 63, 65, 127, 129][m % 11] + (m > 12 ? 64 : 0), [1, 15, 16, 17, 31, 33, 47, 100][m % 8], { x2: layouts[m % 4], x1T: m % 5 === 0 });
  // prefill-sized m, k and n off every block size
  for (const [m, k, n] of [[33, 200, 50], [70, 513, 33], [200, 100, 17], [19, 1000, 130], [129, 64, 64]]) for (const x2 of layouts) add(m, k, n, { x2 });
  // NZ weights, each used twice below (the second call reads the weight's own pack)
  add(5, 512, 256, { x2: 'nz' });
  add(40, 640, 200, { x2: 'nzT' });
  add(1, 4096, 64, { x2: 'nz' });          // decode with split k
  add(3, 2100, 16, { x2: 'ndT' });         // split k, one panel
  // values at the limits
  add(7, 300, 40, { x2: 'nd', mode: 'edge' });
  add(2, 1000, 20, { x2: 'nzT', mode: 'min', out: 'int32' });
  add(1, 140000, 2, { x2: 'nd', x1T: true, mode: 'min', out: 'int32' });  // |A| > 2^31: two's-complement wrap
  // int4, both packings (ND and NZ)
  for (const [m, k, n, x2] of [[1, 64, 16, 'nd'], [9, 128, 40, 'ndT'], [20, 256, 64, 'nz'], [3, 512, 24, 'nzT'], [17, 8, 8, 'nd'], [40, 1024, 72, 'ndT'], [3, 1024, 256, 'nz'], [17, 2048, 64, 'nzT'], [64, 512, 256, 'nz']]) add(m, k, n, { int4: true, x2 });
  return cases;
}
`;

interface Case {
  id: number;
  m: number;
  k: number;
  n: number;
  int4: boolean;
  x1T: boolean;
  x2: 'nd' | 'ndT' | 'nz' | 'nzT';
  out: 'int32' | 'fp16' | 'int8' | 'bf16pt';
  a: number[];
  b: number[];
  scale: number[];
  offset: number[];
  pt: number[];
  bias: number[];
}

/** The child: builds tensors for every case, runs each twice (an NZ weight's 2nd call uses its pack), prints outputs. */
const CHILD = String.raw`
const q = require(process.env.QMM_TEST_LIB + '/index.js');
${GEN}
function packInt4(values, rows, cols) {
  const out = new Int32Array(rows * cols / 8);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[(i * cols + j) >> 3] |= (values[i * cols + j] & 15) << (4 * (j & 7));
  return out;
}
function transpose(v, rows, cols) {
  const o = new Array(v.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) o[j * rows + i] = v[i * cols + j];
  return o;
}
const results = [];
for (const c of makeCases()) {
  const { m, k, n } = c;
  let x1;
  if (c.int4) x1 = q.tensor(packInt4(c.a, m, k), [m, k / 8], 'int32');
  else if (c.x1T) x1 = q.tensor(Int8Array.from(transpose(c.a, m, k)), [k, m], 'int8').t();
  else x1 = q.tensor(Int8Array.from(c.a), [m, k], 'int8');
  const stored = c.x2 === 'ndT' || c.x2 === 'nzT';
  const sv = stored ? transpose(c.b, k, n) : c.b;           // stored (n, k) or (k, n)
  const [sr, sc] = stored ? [n, k] : [k, n];
  let x2 = c.int4 ? q.tensor(packInt4(sv, sr, sc), [sr, sc / 8], 'int32') : q.tensor(Int8Array.from(sv), [sr, sc], 'int8');
  if (c.x2 === 'nz' || c.x2 === 'nzT') x2 = q.npuFormatCastSync(x2, 29, c.int4 ? { customizeDtype: 'int32' } : undefined);
  if (stored) x2 = x2.t();
  const sf = q.tensor(Float32Array.from(c.scale), [n], 'float32');
  let run;
  if (c.out === 'int32') run = () => q.npuQuantMatmulSync(x1, x2, sf, { outputDtype: 'int32' });
  else if (c.out === 'fp16') run = () => q.npuQuantMatmulSync(x1, x2, sf, { outputDtype: 'float16' });
  else if (c.out === 'int8') run = () => q.npuQuantMatmulSync(x1, x2, sf, { outputDtype: 'int8', offset: q.tensor(Float32Array.from(c.offset), [n], 'float32') });
  else run = () => q.npuQuantMatmulSync(x1, x2, sf, { outputDtype: 'bfloat16', pertokenScale: q.tensor(Float32Array.from(c.pt), [m], 'float32'), bias: q.tensor(Float32Array.from(c.bias), [n], 'float32') });
  const first = run().cpu().data;
  const second = run().cpu().data;
  const b64 = (t) => Buffer.from(t.buffer, t.byteOffset, t.byteLength).toString('base64');
  results.push({ id: c.id, out: b64(first), again: b64(second) === b64(first) });
}
console.log(JSON.stringify({ detail: q.backendInfo().detail, results }));
`;

function runChild(kernel: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, ['-e', CHILD], {
    cwd: root,
    encoding: 'utf8',
    timeout: 600_000,
    maxBuffer: 256 << 20,
    env: { ...process.env, QMM_BACKEND: 'cpu', QMM_KERNEL: kernel, QMM_TEST_LIB: distLib, ...extraEnv },
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as { detail: string; results: Array<{ id: number; out: string; again: boolean }> };
}

const cases = new Function(`${GEN}; return makeCases();`)() as Case[];

/** backendInfo().detail with QMM_KERNEL=kernel: says "not available" when this CPU or build lacks it. */
function kernelDetail(kernel: string): string {
  const r = spawnSync(process.execPath, ['-e', `console.log(require(process.env.QMM_TEST_LIB + '/index.js').backendInfo().detail)`], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, QMM_BACKEND: 'cpu', QMM_KERNEL: kernel, QMM_TEST_LIB: distLib },
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** The kernel name backendInfo reports for a QMM_KERNEL value. */
const reportedName: Record<string, string> = { amx: 'amx_int8' };

function refOutput(c: Case): number[] {
  const inp: RefQuantMatmulInput = {
    x1: { shape: [c.m, c.k], values: c.a },
    x2: { shape: [c.k, c.n], values: c.b },
    scale: { dtype: 'float32', values: c.scale },
    out: c.out === 'fp16' ? 'float16' : c.out === 'bf16pt' ? 'bfloat16' : c.out,
  };
  if (c.out === 'fp16') inp.scale = { dtype: 'int64', values: refTransQuantParam(c.scale, undefined, 0) };
  if (c.out === 'int8') inp.scale = { dtype: 'int64', values: refTransQuantParam(c.scale, c.offset, 0) };
  if (c.out === 'bf16pt') {
    inp.pertoken = c.pt;
    inp.bias = { dtype: 'float32', shape: [c.n], values: c.bias };
  }
  return refQuantMatmul(inp).values;
}

function decode(c: Case, b64: string): number[] {
  const buf = Buffer.from(b64, 'base64');
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  if (c.out === 'int32') return Array.from(new Int32Array(ab));
  if (c.out === 'int8') return Array.from(new Int8Array(ab));
  return Array.from(new Uint16Array(ab));
}

describe('GEMM kernels agree bit for bit', () => {
  let scalar: ReturnType<typeof runChild>;
  beforeAll(() => {
    scalar = runChild('scalar');
  });

  it('the scalar kernel matches the TypeScript reference', () => {
    expect(scalar.detail).toContain('scalar');
    for (const c of cases) {
      if (c.m * c.k * c.n > 3_000_000) continue; // the reference is slow; the others are checked kernel vs kernel
      const got = decode(c, scalar.results[c.id].out);
      const want = refOutput(c);
      const bad = got.findIndex((v, i) => v !== want[i]);
      expect(bad, `case ${c.id} (m=${c.m} k=${c.k} n=${c.n} ${c.x2}${c.int4 ? ' int4' : ''} ${c.out}): first mismatch at ${bad}: ${got[bad]} vs ${want[bad]}`).toBe(-1);
    }
  });

  for (const kernel of ['amx', 'vnni512', 'avx2', 'i8mm', 'neon']) {
    it(`QMM_KERNEL=${kernel} equals the scalar kernel`, (ctx) => {
      if (kernelDetail(kernel).includes('not available')) {
        ctx.skip();
        return;
      }
      const r = runChild(kernel);
      expect(r.detail).toContain(`kernel=${reportedName[kernel] ?? kernel}`);
      for (const c of cases) {
        const res = r.results[c.id];
        expect(res.again, `case ${c.id}: the second call (an NZ weight's own pack) differs from the first`).toBe(true);
        if (res.out !== scalar.results[c.id].out) {
          const got = decode(c, res.out);
          const want = decode(c, scalar.results[c.id].out);
          const bad = got.findIndex((v, i) => v !== want[i]);
          expect.fail(`case ${c.id} (m=${c.m} k=${c.k} n=${c.n} ${c.x2}${c.x1T ? ' x1T' : ''}${c.int4 ? ' int4' : ''} ${c.out}): first mismatch at ${bad}: ${got[bad]} vs scalar ${want[bad]}`);
        }
      }
    });
  }
});
