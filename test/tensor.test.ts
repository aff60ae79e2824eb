/** Tensor: construction checks, views sharing memory, devices, half conversions. */

import { describe, expect, it } from 'vitest';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16, fromFloat32, QmmError, Tensor, tensor, zeros } from '../lib/index';
import { bf16BitsToValue, f16BitsToValue, f32FromBits, toBf16Bits, toF16Bits } from './reference';
import { errorCode, rng } from './helpers';

const code = errorCode;

describe('tensor()', () => {
  it('wraps the typed array without copying and reports its geometry', () => {
    const data = new Int8Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(data, [2, 3], 'int8');
    expect(t.shape).toEqual([2, 3]);
    expect(t.strides).toEqual([3, 1]);
    expect(t.offset).toBe(0);
    expect(t.format).toBe('ND');
    expect(t.device).toBe('cpu');
    expect(t.data).toBe(data);
    data[0] = 9;
    expect(t.toArray()[0]).toBe(9);
  });

  it('accepts plain arrays (copied) for integer dtypes and bigints for int64', () => {
    expect(Array.from(tensor([1, -2], [2], 'int32').data as Int32Array)).toEqual([1, -2]);
    expect(Array.from(tensor([1n, -(2n ** 40n)], [2], 'int64').data as BigInt64Array)).toEqual([1n, -(2n ** 40n)]);
  });

  it('rejects wrong JS types and inconsistent sizes', () => {
    expect(code(() => tensor(new Float32Array(4), [4], 'int8'))).toBe('TypeError');
    expect(code(() => tensor([1, 2], [2], 'float16'))).toBe('TypeError');
    expect(code(() => tensor(new Int8Array(4), [4], 'int4' as never))).toBe('TypeError');
    expect(code(() => tensor(new Int8Array(4), [2, 3], 'int8'))).toBe('ERR_QMM_SHAPE');
    expect(code(() => tensor(new Int8Array(4), [2, -2], 'int8'))).toBe('RangeError');
    expect(code(() => tensor(new Int8Array(4), [2.5, 2], 'int8'))).toBe('TypeError');
    expect(code(() => tensor(new Int8Array(4), [NaN], 'int8'))).toBe('TypeError');
    expect(code(() => tensor(new Int8Array(4), 'x' as never, 'int8'))).toBe('TypeError');
    expect(code(() => tensor(new Int8Array(1), [1, 1, 1, 1, 1, 1, 1, 1, 1], 'int8'))).toBe('RangeError');
    expect(code(() => tensor(new Int8Array(4), [4], 'int8', { device: 'gpu' as never }))).toBe('TypeError');
    expect(code(() => tensor(new Int8Array(4), [4], 'int8', { c0: 8 }))).toBe('TypeError');
  });

  it('makes FRACTAL_NZ tensors from NZ storage bytes', () => {
    const t = tensor(new Int8Array(1 * 1 * 16 * 32), [3, 5], 'int8', { format: 'FRACTAL_NZ' });
    expect(t.storageShape).toEqual([1, 1, 16, 32]);
    expect(code(() => tensor(new Int8Array(15), [3, 5], 'int8', { format: 'FRACTAL_NZ' }))).toBe('ERR_QMM_SHAPE');
    const i4 = tensor(new Int32Array(2 * 1 * 16 * 8), [9, 16], 'int32', { format: 'FRACTAL_NZ', c0: 8 });
    expect(i4.storageShape).toEqual([2, 1, 16, 8]);
  });
});

describe('views', () => {
  const t = tensor(Int8Array.from({ length: 24 }, (_, i) => i), [2, 3, 4], 'int8');

  it('t() and transpose() share memory and swap strides', () => {
    const v = t.transpose(-1, -2);
    expect(v.shape).toEqual([2, 4, 3]);
    expect(v.strides).toEqual([12, 1, 4]);
    expect(v.storage).toBe(t.storage);
    expect(v.isContiguous()).toBe(false);
    expect(t.transpose(0, 2).shape).toEqual([4, 3, 2]);
    expect(code(() => tensor(new Int8Array(2), [2], 'int8').t())).toBe('ERR_QMM_SHAPE');
    expect(code(() => t.transpose(0, 3))).toBe('RangeError');
  });

  it('contiguous() materializes in logical order; .data needs a contiguous tensor', () => {
    const v = t.t();
    expect(code(() => v.data)).toBe('ERR_QMM_SHAPE');
    const c = v.contiguous();
    expect(Array.from(c.data as Int8Array).slice(0, 6)).toEqual([0, 4, 8, 1, 5, 9]);
    expect(t.contiguous()).toBe(t);
  });

  it('reshape() keeps the elements', () => {
    expect(t.reshape([6, 4]).toArray()).toEqual(t.toArray());
    expect(code(() => t.reshape([5, 5]))).toBe('ERR_QMM_SHAPE');
    expect(t.t().reshape([24]).toArray().slice(0, 3)).toEqual([0, 4, 8]);
  });
});

describe('devices', () => {
  it('npu() and cpu() copy; npu tensors have no host .data', () => {
    const t = tensor(Int32Array.from([1, 2, 3, 4]), [2, 2], 'int32');
    const d = t.npu();
    expect(d.device).toBe('npu:0');
    expect(code(() => d.data)).toBe('ERR_QMM_DEVICE');
    const back = d.cpu();
    expect(back.device).toBe('cpu');
    expect(Array.from(back.data as Int32Array)).toEqual([1, 2, 3, 4]);
    (t.data as Int32Array)[0] = 7;
    expect((d.cpu().data as Int32Array)[0]).toBe(1);
    expect(t.t().npu(1).cpu().toArray()).toEqual([7, 3, 2, 4]);
    expect(zeros([2], 'float32', { device: 'npu:0' }).device).toBe('npu:0');
  });
});

describe('float16 / bfloat16 helpers', () => {
  it('decode every float16 and bfloat16 bit pattern like the reference', () => {
    for (let h = 0; h < 0x10000; h++) {
      const a = f16ToF32(h);
      const b = f16BitsToValue(h);
      if (Number.isNaN(b)) expect(Number.isNaN(a)).toBe(true);
      else expect(Object.is(a, b)).toBe(true);
      const c = bf16ToF32(h);
      const d = bf16BitsToValue(h);
      if (Number.isNaN(d)) expect(Number.isNaN(c)).toBe(true);
      else expect(Object.is(c, d)).toBe(true);
    }
  });

  it('encode with round-to-nearest-even like the reference (random, halfway and boundary values)', () => {
    const r = rng(5);
    const values: number[] = [0, -0, 65504, 65519, 65520, -65520, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14, 1e-8, 1e38, Infinity, -Infinity];
    for (let i = 0; i < 20000; i++) values.push(f32FromBits((r() * 2 ** 32) >>> 0));
    for (let h = 0; h < 0x10000; h += 7) {
      const v = f16BitsToValue(h);
      if (Number.isFinite(v)) values.push(v, v + 2 ** -30 * Math.abs(v));
    }
    for (const v0 of values) {
      const v = Math.fround(v0);
      if (Number.isNaN(v)) continue;
      expect(f32ToF16(v), `f16 ${v}`).toBe(toF16Bits(v));
      expect(f32ToBf16(v), `bf16 ${v}`).toBe(toBf16Bits(v));
    }
  });

  it('fromFloat32 / toFloat32Array round trip representable values', () => {
    const t = fromFloat32([1.5, -2, 0.25, 65504], [4], 'float16');
    expect(t.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(t.toFloat32Array())).toEqual([1.5, -2, 0.25, 65504]);
    expect(Array.from(fromFloat32([1 / 3], [1], 'bfloat16').data as Uint16Array)).toEqual([0x3eab]);
    expect(code(() => fromFloat32([1], [1], 'int8' as never))).toBe('TypeError');
  });

  it('Tensor is the exported class', () => {
    expect(tensor(new Int8Array(1), [1], 'int8')).toBeInstanceOf(Tensor);
  });
});
