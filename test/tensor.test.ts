/** Tensor: construction checks, views sharing memory, devices, half conversions. */

import { describe, expect, it } from 'vitest';
import { bf16ToF32, decodeHalf, encodeHalf, f16ToF32, f32ToBf16, f32ToF16, fromFloat32, QmmError, Tensor, tensor, zeros } from '../lib/index';
import { bf16BitsToValue, f16BitsToValue, f32FromBits, toBf16Bits, toF16Bits } from './reference';
import { errorCode, rng } from './helpers';

const code = errorCode;

/** `Class:code` of a thrown error, e.g. 'RangeError:ERR_OUT_OF_RANGE'. */
function nodeCode(fn: () => unknown): string {
  const e = caught(fn) as Error & { code?: string };
  return `${e.constructor.name}:${e.code}`;
}

function caught(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (e) {
    return e;
  }
}

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
    expect(code(() => tensor(new Int8Array(4), [2.5, 2], 'int8'))).toBe('RangeError');
    expect(code(() => tensor(new Int8Array(4), [NaN], 'int8'))).toBe('RangeError');
    expect(code(() => tensor(new Int8Array(4), ['4'] as never, 'int8'))).toBe('TypeError');
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

describe('plain arrays are checked element by element', () => {
  it('integers out of the dtype range are a RangeError naming the index', () => {
    const e = caught(() => tensor([1, 2, 300, -500], [2, 2], 'int8')) as RangeError & { code: string };
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe('ERR_OUT_OF_RANGE');
    expect(e.message).toBe('data[2] must be an integer in [-128, 127] for int8, got 300');
    expect(nodeCode(() => tensor([0, 256], [2], 'uint8'))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(nodeCode(() => tensor([-1], [1], 'uint8'))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(nodeCode(() => tensor([2 ** 31], [1], 'int32'))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(tensor([-128, 127], [2], 'int8').toArray()).toEqual([-128, 127]);
    expect(tensor([0, 255], [2], 'uint8').toArray()).toEqual([0, 255]);
    expect(tensor([-(2 ** 31), 2 ** 31 - 1], [2], 'int32').toArray()).toEqual([-(2 ** 31), 2 ** 31 - 1]);
  });

  it('fractions, NaN and infinities are a RangeError for integer dtypes, int64 included', () => {
    for (const dtype of ['int8', 'uint8', 'int32', 'int64'] as const) {
      for (const v of [1.7, NaN, Infinity, -Infinity]) {
        const e = caught(() => tensor([0, v], [2], dtype)) as RangeError & { code: string };
        expect(e, `${dtype} ${v}`).toBeInstanceOf(RangeError);
        expect(e.code).toBe('ERR_OUT_OF_RANGE');
        expect(e.message).toContain('data[1]');
        expect(e.message).toContain(String(v));
      }
    }
    expect(nodeCode(() => tensor([2 ** 53], [1], 'int64'))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(nodeCode(() => tensor([2n ** 63n], [1], 'int64'))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(nodeCode(() => tensor([-(2n ** 63n) - 1n], [1], 'int64'))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(tensor([2n ** 63n - 1n, -(2n ** 63n)], [2], 'int64').toArray()).toEqual([2n ** 63n - 1n, -(2n ** 63n)]);
  });

  it('float dtypes take any number; non-numbers are a TypeError', () => {
    expect(tensor([1.7, NaN, Infinity, 1e300], [4], 'float32').toArray()).toEqual([Math.fround(1.7), NaN, Infinity, Infinity]);
    expect(fromFloat32([1.7, NaN, -Infinity], [3], 'bfloat16').toArray()).toEqual([bf16BitsToValue(toBf16Bits(1.7)), NaN, -Infinity]);
    expect(nodeCode(() => tensor([1, '2'] as never, [2], 'float32'))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(nodeCode(() => tensor([1, 2n] as never, [2], 'int32'))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(nodeCode(() => fromFloat32([1, '2'] as never, [2], 'float16'))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(nodeCode(() => fromFloat32([1, null] as never, [2], 'float32'))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(nodeCode(() => encodeHalf([{}] as never, 'float16'))).toBe('TypeError:ERR_INVALID_ARG_TYPE');
    expect(nodeCode(() => decodeHalf([70000], 'float16'))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(nodeCode(() => decodeHalf([0.5], 'bfloat16'))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(Array.from(decodeHalf([0x3c00], 'float16'))).toEqual([1]);
  });
});

describe('Buffer, SharedArrayBuffer and detached data', () => {
  it('a Node Buffer is uint8 data, and int8 data read from the same bytes', () => {
    const buf = Buffer.from([1, 2, 255, 128]);
    const u = tensor(buf, [4], 'uint8');
    expect(u.data).toBe(buf);
    const s = tensor(buf, [2, 2], 'int8');
    expect(s.data).toBeInstanceOf(Int8Array);
    expect(s.toArray()).toEqual([1, 2, -1, -128]);
    buf[0] = 7; // shared, not copied
    expect(s.toArray()[0]).toBe(7);
    const sub = Buffer.from([9, 9, 250, 5]).subarray(2);
    expect(tensor(sub, [2], 'int8').toArray()).toEqual([-6, 5]);
  });

  it('other arrays of the wrong kind say how to convert', () => {
    const e = caught(() => tensor(new Uint8Array(4), [4], 'int8')) as TypeError & { code: string };
    expect(e.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(e.message).toContain('new Int8Array(u8.buffer, u8.byteOffset, u8.length)');
    expect((caught(() => tensor(Buffer.alloc(8), [2], 'float32')) as Error).message).toContain('new Float32Array(u8.buffer, u8.byteOffset, u8.length / 4)');
    expect((caught(() => tensor(new Float64Array(2), [2], 'float32')) as Error).message).toContain('Float32Array.from(values)');
  });

  it('SharedArrayBuffer-backed arrays are shared like any other', () => {
    const mem = new Int8Array(new SharedArrayBuffer(6));
    const t = tensor(mem, [2, 3], 'int8');
    mem[4] = 5;
    expect(t.toArray()).toEqual([0, 0, 0, 0, 5, 0]);
    expect(t.data).toBe(mem);
    expect(t.npu().cpu().toArray()).toEqual([0, 0, 0, 0, 5, 0]);
  });

  it('a detached buffer is named as detached by tensor(), .data, toArray() and copies', () => {
    const mem = new Int8Array(6);
    const t = tensor(mem, [2, 3], 'int8');
    const v = t.t();
    structuredClone(mem.buffer, { transfer: [mem.buffer] });
    for (const [what, fn] of [
      ['data', () => tensor(mem, [2, 3], 'int8')],
      ['tensor.data', () => t.data],
      ['tensor', () => t.toArray()],
      ['tensor', () => t.toFloat32Array()],
      ['tensor', () => v.contiguous()],
      ['tensor', () => t.npu()],
    ] as const) {
      const e = caught(fn) as TypeError & { code: string };
      expect(e, what).toBeInstanceOf(TypeError);
      expect(e.code).toBe('ERR_INVALID_ARG_VALUE');
      expect(e.message).toMatch(new RegExp(`^${what.replace('.', '\\.')}: its ArrayBuffer is detached`));
    }
    // an empty array is not a detached one
    expect(tensor(new Int8Array(0), [0], 'int8').toArray()).toEqual([]);
  });
});

describe('shapes too large to allocate', () => {
  it('zeros() of (1e6, 1e6) is our RangeError naming the shape and the bytes', () => {
    const e = caught(() => zeros([1e6, 1e6], 'float32')) as RangeError & { code: string };
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe('ERR_OUT_OF_RANGE');
    expect(e.message).toContain('(1000000, 1000000)');
    expect(e.message).toContain('4000000000000 bytes');
    expect(nodeCode(() => zeros([1e6, 1e6], 'int8', { device: 'npu:0' }))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => tensor([1], [1e6, 1e6], 'int8'))).toBe('ERR_QMM_SHAPE');
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

describe('view() and reshape(), with torch semantics', () => {
  const t = tensor(Int8Array.from({ length: 24 }, (_, i) => i), [2, 3, 4], 'int8');
  const shares = (a: Tensor, b: Tensor) => a.storage === b.storage;

  it('infer one -1 dim', () => {
    expect(t.reshape([-1]).shape).toEqual([24]);
    expect(t.reshape([4, -1]).shape).toEqual([4, 6]);
    expect(t.view([-1, 2, 3]).shape).toEqual([4, 2, 3]);
    expect(t.reshape([-1, 4]).toArray()).toEqual(t.toArray());
    expect(tensor(new Int8Array(0), [0, 3], 'int8').reshape([3, -1, 1]).shape).toEqual([3, 0, 1]);
    expect(nodeCode(() => t.reshape([-1, -1]))).toBe('TypeError:ERR_INVALID_ARG_VALUE');
    expect(nodeCode(() => t.reshape([-2, 12]))).toBe('RangeError:ERR_OUT_OF_RANGE');
    expect(code(() => t.reshape([5, -1]))).toBe('ERR_QMM_SHAPE');
    expect(code(() => tensor(new Int8Array(0), [0, 3], 'int8').reshape([0, -1]))).toBe('ERR_QMM_SHAPE');
  });

  it('a contiguous tensor reshapes to a view with row-major strides', () => {
    const r = t.reshape([6, 4]);
    expect(shares(r, t)).toBe(true);
    expect(r.strides).toEqual([4, 1]);
    expect(t.view([1, 24, 1]).strides).toEqual([24, 1, 1]);
  });

  it('a non-contiguous view whose strides allow the new shape stays a view (no copy)', () => {
    const v = t.transpose(0, 1); // (3, 2, 4), strides (4, 12, 1)
    const split = v.reshape([3, 2, 2, 2]);
    expect(shares(split, t)).toBe(true);
    expect(split.strides).toEqual([4, 12, 2, 1]);
    expect(split.toArray()).toEqual(v.contiguous().reshape([3, 2, 2, 2]).toArray());
    const w = t.t(); // (2, 4, 3), strides (12, 1, 4)
    const batched = w.view([1, 2, 4, 3]);
    expect(shares(batched, t)).toBe(true);
    expect(batched.toArray()).toEqual(w.toArray());
    // a transposed 2-D weight keeps the batch stride aclnn's transpose check expects
    const wt = tensor(new Int8Array(12), [4, 3], 'int8').t();
    expect(wt.view([1, 3, 4]).strides).toEqual([12, 1, 3]);
  });

  it('view() refuses what needs a copy; reshape() copies then', () => {
    const v = t.t();
    const e = caught(() => v.view([24]));
    expect(e).toBeInstanceOf(QmmError);
    expect((e as QmmError).code).toBe('ERR_QMM_SHAPE');
    expect((e as QmmError).argument).toBe('shape');
    expect((e as QmmError).message).toContain('reshape()');
    const copy = v.reshape([24]);
    expect(shares(copy, t)).toBe(false);
    expect(copy.toArray()).toEqual(v.contiguous().toArray());
  });

  it('views keep their storage offset', () => {
    const big = tensor(Int8Array.from({ length: 8 }, (_, i) => i), [8], 'int8');
    const shifted = new Tensor({ dtype: 'int8', shape: [2, 3], strides: [3, 1], offset: 2, format: 'ND', device: 'cpu', storage: big.storage });
    expect(shifted.view([3, 2]).offset).toBe(2);
    expect(shifted.reshape([-1]).toArray()).toEqual([2, 3, 4, 5, 6, 7]);
  });

  it('view() succeeds exactly when a brute-force search finds strides (random views and shapes)', () => {
    const r = rng(11);
    let views = 0;
    let refusals = 0;
    for (let iter = 0; iter < 400; iter++) {
      const shape = Array.from({ length: 1 + Math.floor(r() * 4) }, () => 1 + Math.floor(r() * 3));
      const n = shape.reduce((a, b) => a * b, 1);
      let v: Tensor = tensor(Int32Array.from({ length: n }, (_, i) => i), shape, 'int32');
      for (let k = 0; k < 2 && shape.length >= 2; k++) v = v.transpose(Math.floor(r() * shape.length), Math.floor(r() * shape.length));
      const target = factorize(n, r);
      const want = bruteForceStrides(v, target);
      const viewed = caught(() => v.view(target));
      if (want) {
        expect(viewed, `${v.shape}/${v.strides} as ${target}`).toBeInstanceOf(Tensor);
        const got = viewed as Tensor;
        expect(got.storage).toBe(v.storage);
        target.forEach((d, j) => d > 1 && expect(got.strides[j]).toBe(want[j]));
        expect(got.toArray()).toEqual(v.toArray());
        views++;
      } else {
        expect((viewed as QmmError).code, `${v.shape}/${v.strides} as ${target}`).toBe('ERR_QMM_SHAPE');
        refusals++;
      }
      expect(v.reshape(target).toArray()).toEqual(v.toArray());
    }
    expect(views).toBeGreaterThan(50);
    expect(refusals).toBeGreaterThan(20);
  });

  it('FRACTAL_NZ tensors cannot be reshaped or viewed', () => {
    const nz = tensor(new Int8Array(16 * 32), [3, 5], 'int8', { format: 'FRACTAL_NZ' });
    expect(code(() => nz.reshape([15]))).toBe('ERR_QMM_FORMAT');
    expect(code(() => nz.view([15]))).toBe('ERR_QMM_FORMAT');
  });
});

/**
 * The strides under which `shape` addresses the same storage elements as the
 * view `v` in row-major order, found by trying: the stride of each dim is the
 * storage step of its first index, then every element is checked. undefined
 * when they do not fit (no view exists).
 */
function bruteForceStrides(v: Tensor, shape: number[]): number[] | undefined {
  const storageIndex: number[] = [];
  const idx = new Array<number>(v.shape.length).fill(0);
  for (let i = 0; i < v.numel; i++) {
    storageIndex.push(idx.reduce((acc, x, d) => acc + x * v.strides[d], v.offset));
    for (let d = v.shape.length - 1; d >= 0 && ++idx[d] === v.shape[d]; d--) idx[d] = 0;
  }
  const rowMajor = shape.map((_, j) => shape.slice(j + 1).reduce((a, b) => a * b, 1));
  const strides = shape.map((d, j) => (d > 1 ? storageIndex[rowMajor[j]] - storageIndex[0] : 0));
  for (let i = 0; i < storageIndex.length; i++) {
    let at = storageIndex[0];
    let rest = i;
    for (let j = 0; j < shape.length; j++) {
      at += Math.floor(rest / rowMajor[j]) * strides[j];
      rest %= rowMajor[j];
    }
    if (at !== storageIndex[i]) return undefined;
  }
  return strides;
}

/** A random shape with n elements. */
function factorize(n: number, r: () => number): number[] {
  const dims: number[] = [];
  let rest = n;
  for (let d = 2; d <= rest; d++) {
    while (rest % d === 0) {
      dims.push(d);
      rest /= d;
    }
  }
  const out: number[] = [];
  for (const d of dims) {
    if (out.length > 0 && r() < 0.5) out[out.length - 1] *= d;
    else out.push(d);
  }
  if (r() < 0.3) out.splice(Math.floor(r() * (out.length + 1)), 0, 1);
  return out.length === 0 ? [1] : out;
}

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
