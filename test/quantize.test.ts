/**
 * npuQuantize / npuDynamicQuant against the independent reference
 * (test/reference-quantize.ts), bit for bit: rounding ties, saturation, NaN,
 * zero rows, views, devices, sync and async, and every argument check.
 * On the cann backend the device ops are not wired yet: a call may answer
 * ERR_QMM_UNSUPPORTED there (and only there); when it succeeds it must match.
 */

import { describe, expect, it } from 'vitest';
import {
  backendInfo,
  fromFloat32,
  npuDynamicQuant,
  npuDynamicQuantSync,
  npuQuantize,
  npuQuantizeSync,
  QmmError,
  tensor,
  type Tensor,
} from '../lib/index';
import { floatTensor, prod, randFloats, rng } from './helpers';
import { dynamicQuantScaleForm, refDynamicQuant, refQuantize } from './reference-quantize';

type FloatDType = 'float32' | 'float16' | 'bfloat16';

const UNSUPPORTED = Symbol('unsupported');

/** Runs a device call; ERR_QMM_UNSUPPORTED is accepted on the cann backend only. */
async function attempt<T>(fn: () => T | Promise<T>): Promise<T | typeof UNSUPPORTED> {
  try {
    return await fn();
  } catch (e) {
    if (backendInfo().backend === 'cann' && e instanceof QmmError && e.code === 'ERR_QMM_UNSUPPORTED') return UNSUPPORTED;
    throw e;
  }
}

function int8Values(t: Tensor): number[] {
  expect(t.dtype).toBe('int8');
  return Array.from(t.cpu().data as Int8Array);
}

/** Values that hit rounding ties, saturation and signed zero once scaled. */
function trickyValues(count: number, seed: number): number[] {
  const r = rng(seed);
  const special = [0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -127.5, 127.49, 1000, -1000, 3.25, -3.75];
  const out = randFloats(r, count, -150, 150);
  for (let i = 0; i < out.length; i += 3) out[i] = special[(i / 3) % special.length];
  return out;
}

describe('npuQuantize (div_mode=False, axis=-1)', () => {
  const cases: Array<{ x: FloatDType; shape: number[]; perChannel: boolean; scaleDtype: 'float32' | 'x'; offset: boolean }> = [
    { x: 'float16', shape: [7, 40], perChannel: false, scaleDtype: 'x', offset: true },
    { x: 'float16', shape: [3, 5, 33], perChannel: true, scaleDtype: 'x', offset: true },
    { x: 'bfloat16', shape: [9, 64], perChannel: true, scaleDtype: 'x', offset: false },
    { x: 'bfloat16', shape: [2, 2, 2, 17], perChannel: false, scaleDtype: 'x', offset: true },
    { x: 'float32', shape: [50], perChannel: true, scaleDtype: 'float32', offset: true },
    { x: 'float32', shape: [4, 31], perChannel: false, scaleDtype: 'x', offset: false },
  ];
  for (const c of cases) {
    const label = `${c.x} ${JSON.stringify(c.shape)} ${c.perChannel ? 'per-channel' : 'per-tensor'} scale ${c.scaleDtype === 'x' ? c.x : 'float32'}${c.offset ? ' + offset' : ''}`;
    it(label, async () => {
      const cols = c.shape[c.shape.length - 1];
      const seed = prod(c.shape) + cols;
      const x = floatTensor(trickyValues(prod(c.shape), seed), c.shape, c.x);
      const sDtype: FloatDType = c.scaleDtype === 'x' ? c.x : 'float32';
      const len = c.perChannel ? cols : 1;
      const r = rng(seed + 1);
      // scales 1, 0.5 and 2 keep ties exact; the others exercise the f32 product
      const scaleVals = Array.from({ length: len }, (_, i) => [1, 0.5, 2, 0.37, 1.9][i % 5] * (r() < 0.2 ? -1 : 1));
      const s = floatTensor(scaleVals, [len], sDtype);
      const o = c.offset ? floatTensor(Array.from({ length: len }, (_, i) => [0, 3, -7, 0.5, 12][i % 5]), [len], sDtype) : undefined;
      const expected = refQuantize(x.values, cols, s.values, o?.values);

      const got = await attempt(() => npuQuantize(x.t, s.t, o?.t));
      if (got === UNSUPPORTED) return;
      expect(got.shape).toEqual(c.shape);
      expect(got.device).toBe('cpu');
      expect(int8Values(got)).toEqual(expected);
      const sync = await attempt(() => npuQuantizeSync(x.t, s.t, o?.t ?? null));
      if (sync === UNSUPPORTED) return;
      expect(int8Values(sync)).toEqual(expected);
    });
  }

  it('NaN gives 0, ±inf saturates', async () => {
    const vals = [NaN, Infinity, -Infinity, 1, -1, 300];
    const x = tensor(Float32Array.from(vals), [1, 6], 'float32');
    const got = await attempt(() => npuQuantize(x, tensor(Float32Array.of(1), [1], 'float32')));
    if (got === UNSUPPORTED) return;
    expect(int8Values(got)).toEqual([0, 127, -128, 1, -1, 127]);
  });

  it('rounds the product to float32 before adding the offset (no fused multiply-add)', async () => {
    // x·s = 100 + 9.5e-7 exactly, which rounds to 100 in float32; 100 - 99.5 = 0.5 ties to 0.
    // A fused x·s + o would see 0.5 + 9.5e-7 and give 1.
    const x = tensor(Float32Array.of(100 - 3 * 2 ** -17), [1], 'float32');
    const s = tensor(Float32Array.of(1 + 2 * 2 ** -23), [1], 'float32');
    const o = tensor(Float32Array.of(-99.5), [1], 'float32');
    expect(refQuantize(Array.from(x.data as Float32Array), 1, Array.from(s.data as Float32Array), [-99.5])).toEqual([0]);
    const got = await attempt(() => npuQuantize(x, s, o));
    if (got === UNSUPPORTED) return;
    expect(int8Values(got)).toEqual([0]);
  });

  it('reads strided views (a transposed x) and npu:0 tensors', async () => {
    const base = floatTensor(trickyValues(6 * 10, 11), [10, 6], 'float16');
    const xt = base.t.t(); // (6, 10) view with strides (1, 6)
    const logical: number[] = [];
    for (let i = 0; i < 6; i++) for (let j = 0; j < 10; j++) logical.push(base.values[j * 6 + i]);
    const s = floatTensor([0.5, 1, 2, 1, 1, 1, 1, 0.25, 4, 1], [10], 'float16');
    const expected = refQuantize(logical, 10, s.values);
    const got = await attempt(() => npuQuantize(xt, s.t));
    if (got === UNSUPPORTED) return;
    expect(int8Values(got)).toEqual(expected);
    const onNpu = await attempt(() => npuQuantize(xt.contiguous().npu(0), s.t.npu(0)));
    if (onNpu === UNSUPPORTED) return;
    expect(onNpu.device).toBe('npu:0');
    expect(int8Values(onNpu)).toEqual(expected);
  });

  it('an empty x gives an empty int8 tensor', async () => {
    const got = await attempt(() => npuQuantize(tensor(new Uint16Array(0), [0, 4], 'float16'), fromFloat32([1], [1], 'float16')));
    if (got === UNSUPPORTED) return;
    expect(got.shape).toEqual([0, 4]);
    expect(got.dtype).toBe('int8');
  });
});

describe('npuDynamicQuant (per-row symmetric int8)', () => {
  const cases: Array<[FloatDType, number[]]> = [
    ['float16', [6, 48]],
    ['bfloat16', [2, 3, 64]],
    ['float16', [1, 1]],
    ['bfloat16', [5, 129]],
  ];
  for (const [dtype, shape] of cases) {
    it(`${dtype} ${JSON.stringify(shape)}`, async () => {
      const cols = shape[shape.length - 1];
      const vals = randFloats(rng(prod(shape)), prod(shape), -20, 20);
      if (shape[0] > 1) for (let c = 0; c < cols; c++) vals[c] = 0; // an all-zero first row
      const x = floatTensor(vals, shape, dtype);
      const ref = refDynamicQuant(x.values, cols);
      const got = await attempt(() => npuDynamicQuant(x.t));
      if (got === UNSUPPORTED) return;
      expect(got.y.shape).toEqual(shape);
      expect(got.scale.shape).toEqual(shape.slice(0, -1));
      expect(got.scale.dtype).toBe('float32');
      expect(int8Values(got.y)).toEqual(ref.y);
      expect(Array.from(got.scale.cpu().data as Float32Array)).toEqual(ref.scale);
      if (shape[0] > 1) expect(ref.scale[0]).toBe(0);
      const sync = await attempt(() => npuDynamicQuantSync(x.t));
      if (sync === UNSUPPORTED) return;
      expect(int8Values(sync.y)).toEqual(ref.y);
    });
  }

  it('the row maximum maps to ±127 and NaN / inf rows give y = 0', async () => {
    const vals = [1, -2, 0.5, 2, /* */ NaN, 1, 2, 3, /* */ Infinity, 1, -1, 0];
    const x = fromFloat32(vals, [3, 4], 'float16');
    const decoded = Array.from(x.toFloat32Array());
    const ref = refDynamicQuant(decoded, 4);
    const got = await attempt(() => npuDynamicQuant(x));
    if (got === UNSUPPORTED) return;
    expect(int8Values(got.y)).toEqual(ref.y);
    expect(int8Values(got.y).slice(0, 4)).toEqual([64, -127, 32, 127]);
    expect(int8Values(got.y).slice(4)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const scale = Array.from(got.scale.cpu().data as Float32Array);
    expect(scale[0]).toBe(Math.fround(2 / 127));
    expect(scale[1]).toBeNaN();
    expect(scale[2]).toBe(Infinity);
  });

  it('reads a transposed view and keeps npu:0 results on npu:0', async () => {
    const base = floatTensor(randFloats(rng(5), 8 * 3, -4, 4), [8, 3], 'bfloat16');
    const logical: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 8; j++) logical.push(base.values[j * 3 + i]);
    const ref = refDynamicQuant(logical, 8);
    const got = await attempt(() => npuDynamicQuant(base.t.t()));
    if (got === UNSUPPORTED) return;
    expect(int8Values(got.y)).toEqual(ref.y);
    const dev = await attempt(() => npuDynamicQuant(base.t.t().contiguous().npu(0)));
    if (dev === UNSUPPORTED) return;
    expect(dev.y.device).toBe('npu:0');
    expect(dev.scale.device).toBe('npu:0');
    expect(Array.from(dev.scale.cpu().data as Float32Array)).toEqual(ref.scale);
  });
});

describe('npuDynamicQuant is bit-exact with the A2/A3 kernels', () => {
  const f32Bits = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0];
  const scaleBits = (t: Tensor) => Array.from(new Uint32Array((t.cpu().data as Float32Array).slice().buffer));

  it('y = rne(x · f32(127/max)): float16 [55.5625, 50.96875] quantizes to [127, 117]', async () => {
    const x = fromFloat32([55.5625, 50.96875], [1, 2], 'float16');
    const got = await attempt(() => npuDynamicQuant(x));
    if (got === UNSUPPORTED) return;
    expect(int8Values(got.y)).toEqual([127, 117]); // x / (max/127) would give 116.5 -> 116
    expect(int8Values(npuDynamicQuantSync(x).y)).toEqual([127, 117]);
  });

  it('a short row takes the scale as max · f32(1/127): float16 [72, 64.625] gives 0x3F112244', async () => {
    const got = await attempt(() => npuDynamicQuant(fromFloat32([72, 64.625], [1, 2], 'float16')));
    if (got === UNSUPPORTED) return;
    expect(scaleBits(got.scale)).toEqual([0x3f112244]); // max/127 and 1/f32(127/max) give 0x3F112245
  });

  // Row lengths on each side of the tiling's kernel choice (192 KiB UB):
  // [cols, rows, scale bits of a row whose max is 72, kernel the tiling picks]
  const lengths: Array<[number, number, number, string]> = [
    [2, 3, 0x3f112244, 'double-buffered'],
    [127, 2, 0x3f112244, 'double-buffered (too short for MultiRow)'],
    [128, 2, 0x3f112244, 'MultiRow'],
    [1023, 2, 0x3f112244, 'double-buffered'],
    [4096, 4, 0x3f112244, 'SingleRow'],
    [7168, 2, 0x3f112244, 'MultiRow'],
    [15039, 1, 0x3f112244, 'double-buffered'],
    [15040, 1, 0x3f112244, 'MultiRow'],
    [15041, 1, 0x3f112245, 'plain'],
    [15047, 1, 0x3f112245, 'plain'],
    [15048, 1, 0x3f112244, 'MultiRow'],
    [16320, 1, 0x3f112244, 'MultiRow'],
    [16321, 1, 0x3f112245, 'plain'],
    [16328, 1, 0x3f112245, 'plain (too long for MultiRow)'],
    [17777, 1, 0x3f112245, 'large-shape'],
    [18432, 2, 0x3f112245, 'large-shape'],
  ];
  for (const [cols, rows, bits, kernel] of lengths) {
    it(`rows of ${cols} (${kernel} kernel): scale 0x${bits.toString(16)}, y as the reference`, async () => {
      const r = rng(cols);
      const vals = randFloats(r, rows * cols, -70, 70);
      for (let i = 0; i < rows; i++) vals[i * cols + ((i * 7) % cols)] = i % 2 ? -72 : 72;
      const x = floatTensor(vals, [rows, cols], cols % 2 ? 'bfloat16' : 'float16');
      const ref = refDynamicQuant(x.values, cols);
      expect(ref.scale.map(f32Bits)).toEqual(new Array(rows).fill(bits));
      expect(dynamicQuantScaleForm(cols)).toBe(bits === 0x3f112244 ? 'product' : 'reciprocal');
      const got = await attempt(() => npuDynamicQuant(x.t));
      if (got === UNSUPPORTED) return;
      expect(scaleBits(got.scale)).toEqual(new Array(rows).fill(bits));
      expect(int8Values(got.y)).toEqual(ref.y);
    });
  }

  it('near-ties of x · q round as the kernel does across random float16 and bfloat16 rows', async () => {
    // Rows whose max makes 127/max inexact; many elements land within an ulp of k + 0.5.
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const r = rng(dtype === 'float16' ? 11 : 12);
      const rows = 64;
      const cols = 40;
      const vals: number[] = [];
      for (let i = 0; i < rows; i++) {
        const max = 1 + 200 * r();
        for (let c = 0; c < cols; c++) vals.push(c === 0 ? max : ((Math.floor(r() * 254) - 127 + 0.5) * max) / 127);
      }
      const x = floatTensor(vals, [rows, cols], dtype);
      const ref = refDynamicQuant(x.values, cols);
      const got = await attempt(() => npuDynamicQuant(x.t));
      if (got === UNSUPPORTED) return;
      expect(int8Values(got.y)).toEqual(ref.y);
      expect(Array.from(got.scale.cpu().data as Float32Array)).toEqual(ref.scale);
    }
  });
});

describe('argument checks', () => {
  const f16 = (shape: number[]) => fromFloat32(new Array(prod(shape)).fill(0.5), shape, 'float16');
  const f32t = (shape: number[]) => fromFloat32(new Array(prod(shape)).fill(0.5), shape, 'float32');
  const bad: Array<{ name: string; call: () => unknown; code: string; text: string }> = [
    { name: 'x not a tensor', call: () => npuQuantizeSync([1, 2] as never, f32t([1])), code: 'TypeError', text: 'x must be a Tensor' },
    { name: 'x int8', call: () => npuQuantizeSync(tensor(new Int8Array(4), [4], 'int8'), f32t([1])), code: 'ERR_QMM_DTYPE', text: 'x: must be float32, float16 or bfloat16, got int8' },
    { name: 'scale float32 for float16 x', call: () => npuQuantizeSync(f16([2, 4]), f32t([4])), code: 'ERR_QMM_DTYPE', text: "scale: must have x's dtype float16" },
    { name: 'scale 2-D', call: () => npuQuantizeSync(f16([2, 4]), f16([1, 4])), code: 'ERR_QMM_SHAPE', text: 'scale: must have shape (1,) or (4,)' },
    { name: 'scale wrong length', call: () => npuQuantizeSync(f16([2, 4]), f16([3])), code: 'ERR_QMM_SHAPE', text: 'got (3,)' },
    { name: 'scale bfloat16 for float16 x', call: () => npuQuantizeSync(f16([2, 4]), fromFloat32([1], [1], 'bfloat16')), code: 'ERR_QMM_DTYPE', text: "scale: must have x's dtype float16 (scales and zero_points match the input's dtype), got bfloat16" },
    { name: 'offset dtype differs from x', call: () => npuQuantizeSync(f16([2, 4]), f16([4]), f32t([4])), code: 'ERR_QMM_DTYPE', text: "offset: must have x's dtype float16" },
    { name: 'offset length differs from scale', call: () => npuQuantizeSync(f16([2, 4]), f16([4]), f16([1])), code: 'ERR_QMM_SHAPE', text: "offset: must have scale's shape (4,)" },
    { name: 'x FRACTAL_NZ', call: () => npuQuantizeSync(tensor(new Uint16Array(16 * 16), [16, 16], 'float16', { format: 'FRACTAL_NZ' }), f32t([1])), code: 'ERR_QMM_FORMAT', text: 'x: must be in ND format' },
    { name: 'unknown option', call: () => npuQuantizeSync(f16([2, 4]), f16([1]), null, { axis: -1 } as never), code: 'TypeError', text: 'options.axis is not a known option' },
    { name: 'dynamic: x float32', call: () => npuDynamicQuantSync(f32t([2, 4])), code: 'ERR_QMM_DTYPE', text: 'x: must be float16 or bfloat16, got float32' },
    { name: 'dynamic: x rank 1', call: () => npuDynamicQuantSync(f16([4])), code: 'ERR_QMM_SHAPE', text: 'needs rank > 1' },
    { name: 'dynamic: signal not an AbortSignal', call: () => npuDynamicQuantSync(f16([2, 4]), { signal: 1 as never }), code: 'TypeError', text: 'options.signal must be an AbortSignal' },
  ];
  for (const b of bad) {
    it(b.name, () => {
      let err: unknown;
      try {
        b.call();
      } catch (e) {
        err = e;
      }
      expect(err, 'it must throw').toBeInstanceOf(Error);
      if (b.code === 'TypeError') expect(err).toBeInstanceOf(TypeError);
      else expect((err as QmmError).code).toBe(b.code);
      expect((err as Error).message).toContain(b.text);
    });
  }

  it('tensors on two devices', () => {
    if (backendInfo().deviceCount < 2) return;
    expect(() => npuQuantizeSync(f16([2, 4]).npu(0), f32t([1]).npu(1))).toThrow(/is on npu:1 but x is on npu:0/);
  });

  it('an aborted signal rejects with ERR_QMM_ABORTED', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(npuQuantize(f16([2, 4]), f16([1]), null, { signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_QMM_ABORTED' });
    await expect(npuDynamicQuant(f16([2, 4]), { signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_QMM_ABORTED' });
  });
});
