/** npuFormatCast: FRACTAL_NZ storage bytes against docs/semantics.md §5.1, round trips, options, checks. */

import { describe, expect, it } from 'vitest';
import { fromFloat32, npuFormatCast, npuFormatCastSync, QmmError, tensor, type DType, type Tensor } from '../lib/index';
import { errorCode, prod, randInts, rng, swapLast2 } from './helpers';
import { refNdToNz } from './reference';

function make(dtype: DType, shape: number[], seed: number): { t: Tensor; values: number[] } {
  const r = rng(seed);
  const n = prod(shape);
  switch (dtype) {
    case 'int8':
      return (() => { const v = randInts(r, n, -128, 127); return { t: tensor(Int8Array.from(v), shape, dtype), values: v }; })();
    case 'uint8':
      return (() => { const v = randInts(r, n, 0, 255); return { t: tensor(Uint8Array.from(v), shape, dtype), values: v }; })();
    case 'int32':
      return (() => { const v = randInts(r, n, -(2 ** 31), 2 ** 31 - 1); return { t: tensor(Int32Array.from(v), shape, dtype), values: v }; })();
    case 'float32':
      return (() => { const v = Array.from(Float32Array.from(randInts(r, n, -1000, 1000), (x) => x / 7)); return { t: tensor(Float32Array.from(v), shape, dtype), values: v }; })();
    default: {
      const bits = randInts(r, n, 0, 0xffff);
      return { t: tensor(Uint16Array.from(bits), shape, dtype), values: bits };
    }
  }
}

describe('npuFormatCast', () => {
  const cases: Array<[DType, number[], number]> = [
    ['int8', [40, 70], 32],
    ['int8', [3, 17, 33], 32],
    ['uint8', [16, 32], 32],
    ['float16', [33, 20], 16],
    ['bfloat16', [2, 2, 5, 18], 16],
    ['float32', [17, 19], 16],
    ['int32', [9, 40], 16],
  ];
  for (const [dtype, shape, c0] of cases) {
    it(`${dtype} ${JSON.stringify(shape)} -> NZ with C0 ${c0}, zero padded, and back`, async () => {
      const { t, values } = make(dtype, shape, shape[0] * 31 + c0);
      const nz = await npuFormatCast(t, 29);
      expect(nz.format).toBe('FRACTAL_NZ');
      expect(nz.shape).toEqual(shape);
      const r = shape.length;
      expect(nz.storageShape).toEqual([...shape.slice(0, -2), Math.ceil(shape[r - 1] / c0), Math.ceil(shape[r - 2] / 16), 16, c0]);
      expect(Array.from(nz.data as ArrayLike<number>)).toEqual(refNdToNz(values, shape, c0));
      const back = npuFormatCastSync(nz, 'ND');
      expect(back.format).toBe('ND');
      expect(Array.from(back.data as ArrayLike<number>)).toEqual(values);
      // logical reads decode the NZ storage
      if (dtype === 'int8') expect(Array.from(nz.toFloat32Array())).toEqual(values);
    });
  }

  it("customizeDtype 'int32' gives C0 = 8 for int4-in-int32 weights", () => {
    const { t, values } = make('int32', [20, 12], 3);
    const nz = npuFormatCastSync(t, 'FRACTAL_NZ', { customizeDtype: 'int32' });
    expect(nz.storageShape).toEqual([2, 2, 16, 8]);
    expect(Array.from(nz.data as Int32Array)).toEqual(refNdToNz(values, [20, 12], 8));
  });

  it('casts a non-contiguous ND view by its logical values', () => {
    const { t, values } = make('int8', [24, 40], 9);
    const nz = npuFormatCastSync(t.t(), 29);
    expect(Array.from(nz.data as Int8Array)).toEqual(refNdToNz(swapLast2(values, [24, 40]), [40, 24], 32));
  });

  it('the .t() of an NZ tensor reads as the transposed matrix', () => {
    const { t, values } = make('int8', [20, 36], 11);
    const view = npuFormatCastSync(t, 29).t();
    expect(view.shape).toEqual([36, 20]);
    expect(Array.from(view.toFloat32Array())).toEqual(swapLast2(values, [20, 36]));
  });

  it('works on npu tensors; a same-format cast returns the tensor itself', async () => {
    const t = fromFloat32([1, 2, 3, 4, 5, 6], [2, 3], 'float16').npu();
    const nz = await npuFormatCast(t, 29);
    expect(nz.device).toBe('npu:0');
    expect(Array.from(nz.toFloat32Array())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(npuFormatCastSync(nz, 29)).toBe(nz);
  });

  it('rejects bad input with typed errors', () => {
    const code = errorCode;
    const i8 = tensor(new Int8Array(6), [2, 3], 'int8');
    expect(code(() => npuFormatCastSync(i8, 3 as 29))).toBe('RangeError');
    expect(code(() => npuFormatCastSync(i8, 'NZ' as 29))).toBe('TypeError');
    expect(code(() => npuFormatCastSync(tensor(new BigInt64Array(4), [2, 2], 'int64'), 29))).toBe('ERR_QMM_DTYPE');
    expect(code(() => npuFormatCastSync(tensor(new Int8Array(4), [4], 'int8'), 29))).toBe('ERR_QMM_SHAPE');
    expect(code(() => npuFormatCastSync(tensor(new Int8Array(0), [0, 4], 'int8'), 29))).toBe('ERR_QMM_SHAPE');
    expect(code(() => npuFormatCastSync(i8, 29, { customizeDtype: 'int64' }))).toBe('ERR_QMM_DTYPE');
    expect(code(() => npuFormatCastSync(i8, 29, { customizeDtype: 'float64' as DType }))).toBe('TypeError');
    expect(code(() => npuFormatCastSync(i8, 2, { customizeDtype: 'int8' }))).toBe('TypeError');
    expect(code(() => npuFormatCastSync(npuFormatCastSync(i8, 29).t(), 2))).toBe('ERR_QMM_FORMAT');
    expect(code(() => npuFormatCastSync({} as Tensor, 29))).toBe('TypeError');
  });
});
