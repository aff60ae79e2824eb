/**
 * Packed weights owned by their tensors (cpu backend): a FRACTAL_NZ weight is
 * packed into the kernel's layout at its first matmul and reused after; the
 * pack goes when the weight's buffer is garbage-collected; ND weights never
 * get one; several weights in one buffer each keep theirs; another view of
 * the same bytes replaces the pack instead of adding one. Every result is
 * compared with the reference bit for bit.
 */

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backendInfo, npuFormatCastSync, npuQuantMatmul, npuQuantMatmulSync, tensor, type Tensor } from '../lib/index';
import { loadNative } from '../lib/native';
import { expectMatches, randInts, rng, swapLast2 } from './helpers';
import { refQuantMatmul } from './reference';

const onCpu = backendInfo().backend === 'cpu';
const root = path.resolve(__dirname, '..');
const libDir = process.env.QMM_TEST_LIB_DIR ?? path.join(root, 'dist', 'cjs', 'lib');

function counters() {
  const c = loadNative().emulator.packs;
  if (!c) throw new Error('this addon was built without the test hooks (QMM_TEST_HOOKS): build with the mock CANN option');
  return c;
}
const scale = tensor(Float32Array.of(1), [1], 'float32');
const int32 = { outputDtype: 'int32' as const };

function problem(seed: number, m: number, k: number, n: number) {
  const r = rng(seed);
  const a = randInts(r, m * k, -128, 127);
  const b = randInts(r, k * n, -128, 127);
  const ref = refQuantMatmul({ x1: { shape: [m, k], values: a }, x2: { shape: [k, n], values: b }, scale: { dtype: 'float32', values: [1] }, out: 'int32' });
  return { x1: tensor(Int8Array.from(a), [m, k], 'int8'), b, ref };
}

const nzOf = (b: number[], k: number, n: number) => npuFormatCastSync(tensor(Int8Array.from(b), [k, n], 'int8'), 29);

/** Runs `script` in a child process (with --expose-gc) and returns its last stdout line as JSON. */
function child(script: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, QMM_BACKEND: 'cpu', QMM_TEST_LIB: libDir },
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
}

describe.skipIf(!onCpu)('packs owned by FRACTAL_NZ weights (cpu backend)', () => {
  it('packs an NZ weight once across many calls, sync and Promise, within its own size', async () => {
    const [m, k, n] = [3, 300, 70];
    const p = problem(1, m, k, n);
    const w = nzOf(p.b, k, n);
    const made = counters().made();
    const live = counters().liveBytes();
    for (let i = 0; i < 5; i++) expectMatches(npuQuantMatmulSync(p.x1, w, scale, int32), p.ref, `sync call ${i}`);
    for (const out of await Promise.all(Array.from({ length: 5 }, () => npuQuantMatmul(p.x1, w, scale, int32)))) expectMatches(out, p.ref, 'Promise');
    expect(counters().made() - made).toBe(1);
    const added = counters().liveBytes() - live;
    expect(added).toBeGreaterThan(0);
    expect(added).toBeLessThanOrEqual((w.data as Int8Array).byteLength); // at most one extra copy
  });

  it('gives ND weights no pack, whatever their layout and m', () => {
    const made = counters().made();
    const live = counters().liveBytes();
    for (const [m, k, n] of [[1, 520, 90], [16, 333, 47], [40, 260, 130]]) {
      const p = problem(2 + m, m, k, n);
      const kn = tensor(Int8Array.from(p.b), [k, n], 'int8');
      const nk = tensor(Int8Array.from(swapLast2(p.b, [k, n])), [n, k], 'int8').t();
      for (let i = 0; i < 3; i++) {
        expectMatches(npuQuantMatmulSync(p.x1, kn, scale, int32), p.ref, `(k, n) m=${m}`);
        expectMatches(npuQuantMatmulSync(p.x1, nk, scale, int32), p.ref, `(n, k).t() m=${m}`);
      }
    }
    expect(counters().made()).toBe(made);
    expect(counters().liveBytes()).toBe(live);
  });

  it('keeps one pack per weight when several NZ weights share one ArrayBuffer', () => {
    const [m, k, n] = [5, 96, 48];
    const p1 = problem(11, m, k, n);
    const p2 = problem(12, m, k, n);
    const s1 = nzOf(p1.b, k, n).data as Int8Array;
    const s2 = nzOf(p2.b, k, n).data as Int8Array;
    const buf = new ArrayBuffer(64 + s1.length + s2.length);
    const v1 = new Int8Array(buf, 64, s1.length);
    const v2 = new Int8Array(buf, 64 + s1.length, s2.length);
    v1.set(s1);
    v2.set(s2);
    const w1 = tensor(v1, [k, n], 'int8', { format: 'FRACTAL_NZ' });
    const w2 = tensor(v2, [k, n], 'int8', { format: 'FRACTAL_NZ' });
    const made = counters().made();
    for (let i = 0; i < 4; i++) {
      expectMatches(npuQuantMatmulSync(p1.x1, w1, scale, int32), p1.ref, `weight 1, call ${i}`);
      expectMatches(npuQuantMatmulSync(p2.x1, w2, scale, int32), p2.ref, `weight 2, call ${i}`);
    }
    expect(counters().made() - made).toBe(2);
  });

  it('replaces the pack when the same bytes are read as another view (one pack per weight)', () => {
    const [m, k, n] = [4, 64, 96];
    const p = problem(21, m, k, n);
    const w = nzOf(p.b, k, n);
    // w.t() is the (n, k) weight whose x2 is the transpose of w's
    const r = rng(22);
    const a2 = randInts(r, m * n, -128, 127);
    const ref2 = refQuantMatmul({ x1: { shape: [m, n], values: a2 }, x2: { shape: [n, k], values: swapLast2(p.b, [k, n]) }, scale: { dtype: 'float32', values: [1] }, out: 'int32' });
    const x1t = tensor(Int8Array.from(a2), [m, n], 'int8');
    const live = counters().liveBytes();
    const made = counters().made();
    let most = 0;
    for (let i = 0; i < 3; i++) {
      expectMatches(npuQuantMatmulSync(p.x1, w, scale, int32), p.ref, `view (k, n), round ${i}`);
      most = Math.max(most, counters().liveBytes() - live);
      expectMatches(npuQuantMatmulSync(x1t, w.t(), scale, int32), ref2, `view .t(), round ${i}`);
      most = Math.max(most, counters().liveBytes() - live);
    }
    expect(counters().made() - made).toBe(6);
    expect(most).toBeLessThanOrEqual((w.data as Int8Array).byteLength);
  });

  it('packs again for another kernel, replacing the previous pack', (ctx) => {
    const h = loadNative().emulator;
    const kernels = h.kernelsAvailable().split(',');
    const other = kernels.find((x) => x !== h.kernelName() && x !== 'scalar') ?? 'scalar';
    const [m, k, n] = [2, 128, 64];
    const p = problem(31, m, k, n);
    const w = nzOf(p.b, k, n);
    const before = h.kernelName();
    const made = counters().made();
    expectMatches(npuQuantMatmulSync(p.x1, w, scale, int32), p.ref, before);
    const live = counters().liveBytes();
    try {
      if (!h.selectKernel(other)) ctx.skip();
      expectMatches(npuQuantMatmulSync(p.x1, w, scale, int32), p.ref, other);
      expectMatches(npuQuantMatmulSync(p.x1, w, scale, int32), p.ref, other);
    } finally {
      h.selectKernel(before);
    }
    expect(counters().made() - made).toBe(2);
    expect(counters().liveBytes() - live).toBeLessThanOrEqual(0); // the scalar/avx2 pack is no larger and replaced the first
  });

  it('frees the pack when the weight is garbage-collected', () => {
    const out = child(String.raw`
      const q = require(process.env.QMM_TEST_LIB + '/index.js');
      const packs = require(process.env.QMM_TEST_LIB + '/native.js').loadNative().emulator.packs;
      const settle = async () => { for (let i = 0; i < 10; i++) { global.gc(); await new Promise((r) => setImmediate(r)); } };
      const x1 = q.tensor(new Int8Array(4 * 512).fill(3), [4, 512], 'int8');
      const sc = q.tensor(Float32Array.of(1), [1], 'float32');
      // the weights live in this function's scope only (an async function's
      // context would keep its last loop variable alive)
      function use() {
        const weights = [0, 1, 2].map((s) => q.npuFormatCastSync(q.tensor(new Int8Array(512 * 256).fill(s), [512, 256], 'int8'), 29));
        for (const w of weights) q.npuQuantMatmulSync(x1, w, sc, { outputDtype: 'int32' });
        return q.npuQuantMatmul(x1, weights[1], sc, { outputDtype: 'int32' });
      }
      (async () => {
        const base = packs.liveBytes();
        await use();
        const held = packs.liveBytes();
        await settle();
        console.log(JSON.stringify({ base, held, after: packs.liveBytes(), made: packs.made() }));
      })();
    `);
    expect(out.made).toBe(3);
    expect(out.held as number).toBeGreaterThan(out.base as number);
    expect(out.after).toBe(out.base);
  });

  it('works in worker_threads: each thread packs its own weights, freed when it exits', () => {
    const out = child(String.raw`
      const { Worker } = require('node:worker_threads');
      const q = require(process.env.QMM_TEST_LIB + '/index.js');
      const packs = require(process.env.QMM_TEST_LIB + '/native.js').loadNative().emulator.packs;
      const work = String.raw${'`'}
        const { parentPort } = require('node:worker_threads');
        const q = require(process.env.QMM_TEST_LIB + '/index.js');
        const x1 = q.tensor(new Int8Array(7 * 640).map((_, i) => (i * 5) % 251), [7, 640], 'int8');
        const w = q.npuFormatCastSync(q.tensor(new Int8Array(640 * 200).map((_, i) => (i * 11) % 253), [640, 200], 'int8'), 29);
        const sc = q.tensor(Float32Array.of(1), [1], 'float32');
        Promise.all(Array.from({ length: 6 }, () => q.npuQuantMatmul(x1, w, sc, { outputDtype: 'int32' }))).then((outs) => {
          const s = outs.map((o) => Buffer.from(o.cpu().data.buffer).toString('base64'));
          parentPort.postMessage({ same: s.every((v) => v === s[0]), out: s[0] });
        });
      ${'`'};
      (async () => {
        const base = packs.liveBytes();
        const made0 = packs.made();
        const results = await Promise.all([0, 1, 2].map(() => new Promise((resolve, reject) => {
          const w = new Worker(work, { eval: true, env: process.env });
          w.once('message', (m) => { w.terminate().then(() => resolve(m), reject); });
          w.once('error', reject);
        })));
        await new Promise((r) => setTimeout(r, 50));
        const x1 = q.tensor(new Int8Array(7 * 640).map((_, i) => (i * 5) % 251), [7, 640], 'int8');
        const nd = q.tensor(new Int8Array(640 * 200).map((_, i) => (i * 11) % 253), [640, 200], 'int8');
        const want = Buffer.from(q.npuQuantMatmulSync(x1, nd, q.tensor(Float32Array.of(1), [1], 'float32'), { outputDtype: 'int32' }).data.buffer).toString('base64');
        console.log(JSON.stringify({
          same: results.every((r) => r.same && r.out === want),
          made: packs.made() - made0,
          leftover: packs.liveBytes() - base,
        }));
      })();
    `);
    expect(out.same).toBe(true);
    expect(out.made).toBe(3); // one per worker: each thread's weight is its own
    expect(out.leftover).toBe(0); // freed with each worker's buffers when it exited
  });
});

describe('ND and NZ weights give the same bits (both backends)', () => {
  it('an NZ weight, its first and later calls, equals the ND weight and the reference', () => {
    const [m, k, n] = [9, 1000, 33];
    const p = problem(41, m, k, n);
    const w: Tensor = nzOf(p.b, k, n);
    for (let i = 0; i < 3; i++) expectMatches(npuQuantMatmulSync(p.x1, w, scale, int32), p.ref, `NZ call ${i}`);
    expectMatches(npuQuantMatmulSync(p.x1, tensor(Int8Array.from(p.b), [k, n], 'int8'), scale, int32), p.ref, 'ND');
  });
});
