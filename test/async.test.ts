/** Promise forms: off the event loop, cancellable, identical to the sync forms under concurrency. */

import { describe, expect, it } from 'vitest';
import { npuQuantMatmul, npuQuantMatmulSync, QmmError, tensor } from '../lib/index';
import { randInts, rng } from './helpers';

function problem(seed: number, m: number, k: number, n: number) {
  const r = rng(seed);
  return {
    x1: tensor(Int8Array.from(randInts(r, m * k, -128, 127)), [m, k], 'int8'),
    x2: tensor(Int8Array.from(randInts(r, k * n, -128, 127)), [k, n], 'int8'),
    scale: tensor(Float32Array.from({ length: n }, () => 0.001 + r() / 1000), [n], 'float32'),
  };
}

describe('async ops', () => {
  it('resolve later than the current tick (the compute runs off the event loop)', async () => {
    const p = problem(1, 64, 512, 512);
    let ticked = false;
    const op = npuQuantMatmul(p.x1, p.x2, p.scale, { outputDtype: 'float16' });
    setImmediate(() => {
      ticked = true;
    });
    await op;
    expect(ticked).toBe(true);
  });

  it('1000 overlapping calls equal the sequential results', async () => {
    const problems = Array.from({ length: 10 }, (_, i) => problem(100 + i, 1 + i * 3, 40 + i, 33));
    const expected = problems.map((p) => Array.from(npuQuantMatmulSync(p.x1, p.x2, p.scale, { outputDtype: 'bfloat16', pertokenScale: undefined }).data as Uint16Array));
    const calls = Array.from({ length: 1000 }, (_, i) => npuQuantMatmul(problems[i % 10].x1, problems[i % 10].x2, problems[i % 10].scale, { outputDtype: 'bfloat16' }));
    const results = await Promise.all(calls);
    results.forEach((o, i) => expect(Array.from(o.data as Uint16Array)).toEqual(expected[i % 10]));
  });

  it('an aborted signal rejects with ERR_QMM_ABORTED, before or during the call', async () => {
    const p = problem(2, 256, 2048, 2048);
    const ac = new AbortController();
    ac.abort();
    await expect(npuQuantMatmul(p.x1, p.x2, p.scale, { signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_QMM_ABORTED' });
    const ac2 = new AbortController();
    const calls = Array.from({ length: 6 }, () => npuQuantMatmul(p.x1, p.x2, p.scale, { signal: ac2.signal }));
    ac2.abort();
    const settled = await Promise.allSettled(calls);
    const aborted = settled.filter((s) => s.status === 'rejected' && (s.reason as QmmError).code === 'ERR_QMM_ABORTED').length;
    expect(aborted).toBeGreaterThan(0);
    for (const s of settled) if (s.status === 'rejected') expect(s.reason).toBeInstanceOf(QmmError);
    // the next call still works
    const ok = await npuQuantMatmul(p.x1, p.x2, p.scale, { signal: new AbortController().signal });
    expect(ok.shape).toEqual([256, 2048]);
  });
});
