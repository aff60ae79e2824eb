/**
 * Input memory a new user may hand to the ops: arrays over a SharedArrayBuffer
 * and Node Buffers work in every op (sync and Promise forms) and give the same
 * bits as ordinary arrays; a detached buffer is named in every op.
 */

import { describe, expect, it } from 'vitest';
import {
  backendInfo,
  fromFloat32,
  npuDynamicQuant,
  npuDynamicQuantSync,
  npuFormatCast,
  npuFormatCastSync,
  npuQuantize,
  npuQuantizeSync,
  npuQuantMatmul,
  npuQuantMatmulSync,
  npuTransQuantParam,
  npuTransQuantParamSync,
  tensor,
  type HostArray,
  type Tensor,
} from '../lib/index';
import { loadNative } from '../lib/native';
import { randFloats, randInts, rng } from './helpers';

/** The same elements in an array over a SharedArrayBuffer. */
function shared<A extends HostArray>(a: A): A {
  const Ctor = a.constructor as new (b: SharedArrayBuffer) => A;
  const out = new Ctor(new SharedArrayBuffer(a.byteLength));
  (out as unknown as { set(v: ArrayLike<number | bigint>): void }).set(a as unknown as ArrayLike<number | bigint>);
  return out;
}

/** `t` rebuilt over shared memory (same dtype, shape, format). */
function onShared(t: Tensor): Tensor {
  return tensor(shared(t.data) as never, [...t.shape], t.dtype, t.format === 'FRACTAL_NZ' ? { format: 'FRACTAL_NZ' } : {});
}

function bits(t: Tensor): Array<number | bigint> {
  return Array.from(t.cpu().contiguous().data as ArrayLike<number | bigint>);
}

function detach(t: Tensor): Tensor {
  const buffer = t.data.buffer as ArrayBuffer;
  structuredClone(buffer, { transfer: [buffer] });
  return t;
}

const r = rng(2024);
const m = 3;
const k = 40;
const n = 24;
const x1 = () => tensor(Int8Array.from(randInts(r, m * k, -128, 127)), [m, k], 'int8');
const w = () => tensor(Int8Array.from(randInts(r, k * n, -128, 127)), [k, n], 'int8');
const scale = () => tensor(Float32Array.from(randFloats(r, n, 0.001, 0.01)), [n], 'float32');
const act = () => fromFloat32(randFloats(r, m * k, -3, 3), [m, k], 'float16');

describe('SharedArrayBuffer-backed inputs', () => {
  it('npuQuantMatmul: same bits as ordinary arrays, for every operand shared (sync and Promise)', async () => {
    const [a, b, s, bias, pt] = [x1(), w(), scale(), tensor(Int32Array.from(randInts(r, n, -1000, 1000)), [n], 'int32'), tensor(Float32Array.from(randFloats(r, m, 0.5, 2)), [m], 'float32')];
    const want = bits(npuQuantMatmulSync(a, b, s, { bias, pertokenScale: pt, outputDtype: 'bfloat16' }));
    const sa = [a, b, s, bias, pt].map(onShared);
    expect(bits(npuQuantMatmulSync(sa[0], sa[1], sa[2], { bias: sa[3], pertokenScale: sa[4], outputDtype: 'bfloat16' }))).toEqual(want);
    expect(bits(await npuQuantMatmul(sa[0], sa[1].t().contiguous().t(), sa[2], { bias: sa[3], pertokenScale: sa[4], outputDtype: 'bfloat16' }))).toEqual(want);
    const nz = npuFormatCastSync(b, 29);
    expect(bits(npuQuantMatmulSync(sa[0], onShared(nz), sa[2], { bias: sa[3], pertokenScale: sa[4], outputDtype: 'bfloat16' }))).toEqual(want);
  });

  it('npuTransQuantParam, npuFormatCast, npuQuantize, npuDynamicQuant: same bits as ordinary arrays', async () => {
    const s = scale();
    const off = tensor(Float32Array.from(randFloats(r, n, -4, 4)), [n], 'float32');
    expect(bits(npuTransQuantParamSync(onShared(s), onShared(off)))).toEqual(bits(npuTransQuantParamSync(s, off)));
    expect(bits(await npuTransQuantParam(onShared(s)))).toEqual(bits(npuTransQuantParamSync(s)));
    const b = w();
    expect(bits(npuFormatCastSync(onShared(b), 29))).toEqual(bits(npuFormatCastSync(b, 29)));
    const nz = npuFormatCastSync(b, 29);
    expect(bits(await npuFormatCast(onShared(nz), 2))).toEqual(bits(b));
    const x = act();
    const qs = fromFloat32(randFloats(r, k, 1, 20), [k], 'float16');
    expect(bits(npuQuantizeSync(onShared(x), onShared(qs)))).toEqual(bits(npuQuantizeSync(x, qs)));
    expect(bits(await npuQuantize(onShared(x), onShared(qs)))).toEqual(bits(npuQuantizeSync(x, qs)));
    const dq = npuDynamicQuantSync(x);
    const sdq = npuDynamicQuantSync(onShared(x));
    expect(bits(sdq.y)).toEqual(bits(dq.y));
    expect(bits(sdq.scale)).toEqual(bits(dq.scale));
    expect(bits((await npuDynamicQuant(onShared(x))).y)).toEqual(bits(dq.y));
  });

  it.skipIf(backendInfo().backend !== 'cpu')('a shared NZ weight owns its pack too: packed once, the same bits', () => {
    const packs = loadNative().emulator.packs;
    if (!packs) throw new Error('this addon was built without the test hooks (QMM_TEST_HOOKS)');
    const big = npuFormatCastSync(tensor(Int8Array.from(randInts(r, 256 * 256, -128, 127)), [256, 256], 'int8'), 29);
    const sw = onShared(big);
    const a = tensor(Int8Array.from(randInts(r, 4 * 256, -128, 127)), [4, 256], 'int8');
    const one = tensor(Float32Array.of(1), [1], 'float32');
    const want = bits(npuQuantMatmulSync(a, big, one, { outputDtype: 'int32' }));
    const made = packs.made();
    for (let i = 0; i < 3; i++) expect(bits(npuQuantMatmulSync(a, sw, one, { outputDtype: 'int32' }))).toEqual(want);
    expect(packs.made() - made).toBe(1);
  });

  it('a shared input moved to the device and back keeps its values', () => {
    const a = x1();
    expect(onShared(a).npu().cpu().toArray()).toEqual(a.toArray());
    expect(bits(npuQuantMatmulSync(onShared(a).npu(), w(), scale().npu(), { outputDtype: 'float16' })).length).toBe(m * n);
  });
});

describe('Node Buffer inputs', () => {
  it('an int8 matmul over Buffer bytes equals the one over an Int8Array', () => {
    const a = x1();
    const b = w();
    const s = scale();
    const buf = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
    expect(bits(npuQuantMatmulSync(tensor(buf, [m, k], 'int8'), b, s, { outputDtype: 'float16' }))).toEqual(bits(npuQuantMatmulSync(a, b, s, { outputDtype: 'float16' })));
  });
});

describe('detached inputs are named in every op', () => {
  const cases: Array<[string, string, () => unknown]> = [
    ['npuQuantMatmulSync', 'scale', () => npuQuantMatmulSync(x1(), w(), detach(scale()))],
    ['npuQuantMatmul', 'x2', () => npuQuantMatmul(x1(), detach(w()), scale())],
    ['npuTransQuantParamSync', 'offset', () => npuTransQuantParamSync(scale(), detach(scale()))],
    ['npuTransQuantParam', 'scale', () => npuTransQuantParam(detach(scale()))],
    ['npuFormatCastSync', 'x', () => npuFormatCastSync(detach(w()), 29)],
    ['npuFormatCast', 'x', () => npuFormatCast(detach(npuFormatCastSync(w(), 29)), 2)],
    ['npuQuantizeSync', 'x', () => npuQuantizeSync(detach(act()), fromFloat32([1], [1], 'float16'))],
    ['npuQuantize', 'scale', () => npuQuantize(act(), detach(fromFloat32([1], [1], 'float16')))],
    ['npuDynamicQuantSync', 'x', () => npuDynamicQuantSync(detach(act()))],
    ['npuDynamicQuant', 'x', () => npuDynamicQuant(detach(act()))],
  ];
  for (const [op, argument, call] of cases) {
    it(`${op}: ${argument}`, async () => {
      let error: unknown;
      try {
        await call();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TypeError);
      expect((error as { code?: string }).code).toBe('ERR_INVALID_ARG_VALUE');
      expect((error as Error).message).toMatch(new RegExp(`^${argument}: its ArrayBuffer is detached`));
    });
  }
});
