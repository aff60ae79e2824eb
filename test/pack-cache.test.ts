/** The emulator's packed-weight cache: reuse, release after mutation, modes, and identical results either way. */

import { describe, expect, it } from 'vitest';
import { backendInfo, npuFormatCastSync, npuQuantMatmulSync, packCache, tensor } from '../lib/index';
import { expectMatches, randInts, rng } from './helpers';
import { refQuantMatmul } from './reference';

const onCpu = backendInfo().backend === 'cpu';

describe.skipIf(!onCpu)('packCache (cpu backend)', () => {
  const r = rng(31);
  const [m, k, n] = [4, 256, 256]; // a 64 KiB weight: large enough to be cached
  const a = randInts(r, m * k, -128, 127);
  const b = randInts(r, k * n, -128, 127);
  const x1 = tensor(Int8Array.from(a), [m, k], 'int8');
  const scale = tensor(Float32Array.of(1), [1], 'float32');
  const ref = (bv: number[]) =>
    refQuantMatmul({ x1: { shape: [m, k], values: a }, x2: { shape: [k, n], values: bv }, scale: { dtype: 'float32', values: [1] }, out: 'int32' });

  it('packs an NZ weight once and reuses it, with the same results', () => {
    packCache.configure({ mode: 'nz' });
    packCache.clear();
    const w = npuFormatCastSync(tensor(Int8Array.from(b), [k, n], 'int8'), 29);
    const s0 = packCache.stats();
    expectMatches(npuQuantMatmulSync(x1, w, scale, { outputDtype: 'int32' }), ref(b));
    expectMatches(npuQuantMatmulSync(x1, w, scale, { outputDtype: 'int32' }), ref(b));
    const s1 = packCache.stats();
    expect(s1.entries).toBe(1);
    expect(s1.misses - s0.misses).toBe(1);
    expect(s1.hits - s0.hits).toBeGreaterThanOrEqual(1);
    expect(s1.bytes).toBeLessThanOrEqual(w.storage.length); // at most the weight's own size
  });

  it('release() after writing into the weight gives results for the new values', () => {
    packCache.clear();
    const nd = tensor(Int8Array.from(b), [k, n], 'int8');
    const w = npuFormatCastSync(nd, 29);
    npuQuantMatmulSync(x1, w, scale, { outputDtype: 'int32' });
    const b2 = b.map((v) => (v === -128 ? 127 : -v));
    (w.data as Int8Array).set(npuFormatCastSync(tensor(Int8Array.from(b2), [k, n], 'int8'), 29).data as Int8Array);
    expect(packCache.release(w)).toBe(1);
    expectMatches(npuQuantMatmulSync(x1, w, scale, { outputDtype: 'int32' }), ref(b2));
  });

  it("mode 'all' caches ND weights too; 'off' caches nothing; results never change", () => {
    packCache.clear();
    const w = tensor(Int8Array.from(b), [k, n], 'int8');
    packCache.configure({ mode: 'all' });
    expectMatches(npuQuantMatmulSync(x1, w, scale, { outputDtype: 'int32' }), ref(b));
    expect(packCache.stats().entries).toBe(1);
    packCache.clear();
    packCache.configure({ mode: 'off' });
    expectMatches(npuQuantMatmulSync(x1, npuFormatCastSync(w, 29), scale, { outputDtype: 'int32' }), ref(b));
    expect(packCache.stats().entries).toBe(0);
    packCache.configure({ mode: 'nz' });
  });

  it('a limit of 0 stops caching; bad arguments are typed errors', () => {
    const before = packCache.stats().limitBytes;
    packCache.clear();
    packCache.configure({ limitBytes: 0 });
    npuQuantMatmulSync(x1, npuFormatCastSync(tensor(Int8Array.from(b), [k, n], 'int8'), 29), scale, { outputDtype: 'int32' });
    expect(packCache.stats().entries).toBe(0);
    packCache.configure({ limitBytes: before });
    expect(() => packCache.configure({ mode: 'sometimes' as never })).toThrow(TypeError);
    expect(() => packCache.configure({ limitBytes: -1 })).toThrow(RangeError);
    expect(() => packCache.release({} as never)).toThrow(TypeError);
    expect(packCache.stats().kernel).toMatch(/^(vnni512|avx2|neon|scalar)$/);
  });
});
