/** npuTransQuantParam bit for bit against docs/semantics.md §4, plus its checks. */

import { describe, expect, it } from 'vitest';
import { npuTransQuantParam, npuTransQuantParamSync, QmmError, tensor, type Tensor, type TransQuantParamOptions } from '../lib/index';
import { errorCode, randFloats, rng } from './helpers';
import { bitsFromF32, f32FromBits, refTransQuantParam, refTransQuantParamShape } from './reference';

const f32t = (v: number[], shape = [v.length]) => tensor(Float32Array.from(v), shape, 'float32');

describe('npuTransQuantParam', () => {
  it('matches the documented example 0x40203F85E000 (scale 1.0459, offset 1)', async () => {
    // docs/semantics.md §4: 70507248869376 = 0x40203F85E000 decodes to scale ≈1.0459, offset +1, bit 46
    const q = await npuTransQuantParam(f32t([1.0459]), f32t([1]));
    expect(q.dtype).toBe('int64');
    expect(q.shape).toEqual([1]);
    const bits = (q.data as BigInt64Array)[0];
    expect(bits & 0xffffffffn).toBe(0x3f85e000n);
    expect((bits >> 37n) & 0x1ffn).toBe(1n);
    expect((bits >> 46n) & 1n).toBe(1n);
    expect(bits).toBe(0x40203f85e000n);
  });

  it('truncates to fp19 with round mode 0 and rounds to nearest even with mode 1', () => {
    const r = rng(7);
    const scales = [...randFloats(r, 200, -10, 10), 1, -1, 0, -0, 3.4e38, 1e-40, 2 ** -126, f32FromBits(0x3f801000), f32FromBits(0x3f803000), f32FromBits(0x3f800fff), f32FromBits(0x7f7ff000), f32FromBits(0x3fffffff)];
    for (const mode of [0, 1] as const) {
      const q = npuTransQuantParamSync(f32t(scales), null, { roundMode: mode });
      expect(Array.from(q.data as BigInt64Array)).toEqual(refTransQuantParam(scales, undefined, mode));
    }
  });

  it('round mode 1: ties to even, carry into the exponent and up to inf, denormals flush to zero', () => {
    const cases: Array<[number, number]> = [
      [0x3f801000, 0x3f800000], // tie, even stays
      [0x3f803000, 0x3f804000], // tie, odd rounds up
      [0x3f801001, 0x3f802000], // above half
      [0x3fffffff, 0x40000000], // carry into exponent
      [0x7f7fffff, 0x7f800000], // carry to inf
      [0x00400000, 0x00000000], // denormal flushes
      [0x80400000, 0x80000000],
    ];
    for (const [inBits, outBits] of cases) {
      const q = npuTransQuantParamSync(f32t([f32FromBits(inBits)]), null, { roundMode: 1 });
      expect((q.data as BigInt64Array)[0] & 0xffffffffn, inBits.toString(16)).toBe(BigInt(outBits >>> 0));
    }
    // mode 0 keeps denormal bits (masked)
    const q0 = npuTransQuantParamSync(f32t([f32FromBits(0x00402fff)]));
    expect((q0.data as BigInt64Array)[0] & 0xffffffffn).toBe(0x00402000n);
    expect(bitsFromF32(1)).toBe(0x3f800000);
  });

  it('offsets: RNE, clamp to [-256, 255], 9-bit two\'s complement', () => {
    const offsets = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 255.4, 255.5, 256, 1000, -256.5, -257, -1e9, 0, -0, 3.49];
    const q = npuTransQuantParamSync(f32t([2.25]), f32t(offsets));
    expect(q.shape).toEqual([offsets.length]);
    expect(Array.from(q.data as BigInt64Array)).toEqual(refTransQuantParam([2.25], offsets, 0));
    const decoded = Array.from(q.data as BigInt64Array, (b) => {
      const o = Number((b >> 37n) & 0x1ffn);
      return o >= 256 ? o - 512 : o;
    });
    expect(decoded).toEqual([0, 2, 2, 0, -2, -2, 255, 255, 255, 255, -256, -256, -256, 0, 0, 3]);
  });

  it('broadcasts a length-1 scale or offset and keeps (1, n) shapes', () => {
    const q1 = npuTransQuantParamSync(f32t([1.5]), f32t([1, 2, 3, 4]));
    expect(q1.shape).toEqual([4]);
    expect(Array.from(q1.data as BigInt64Array)).toEqual(refTransQuantParam([1.5], [1, 2, 3, 4]));
    const q2 = npuTransQuantParamSync(f32t([1, 2, 3], [3]), f32t([7]));
    expect(Array.from(q2.data as BigInt64Array)).toEqual(refTransQuantParam([1, 2, 3], [7]));
    const q3 = npuTransQuantParamSync(f32t([1, 2, 3], [1, 3]), f32t([4, 5, 6], [1, 3]));
    expect(q3.shape).toEqual([1, 3]);
    expect(Array.from(q3.data as BigInt64Array)).toEqual(refTransQuantParam([1, 2, 3], [4, 5, 6]));
    const q4 = npuTransQuantParamSync(f32t([1, 2, 3], [1, 3]));
    expect(q4.shape).toEqual([1, 3]);
  });

  it('works on npu tensors and returns an npu tensor', async () => {
    const q = await npuTransQuantParam(f32t([0.5, 0.25]).npu());
    expect(q.device).toBe('npu:0');
    expect(Array.from(q.cpu().data as BigInt64Array)).toEqual(refTransQuantParam([0.5, 0.25], undefined));
  });

  it('rejects bad input with typed errors', () => {
    const code = errorCode;
    expect(code(() => npuTransQuantParamSync(f32t([1]), null, { roundMode: 2 as 0 }))).toBe('RangeError');
    expect(code(() => npuTransQuantParamSync(f32t([1]), null, { roundMode: '1' as unknown as 0 }))).toBe('TypeError');
    expect(code(() => npuTransQuantParamSync(f32t([1]), null, { round: 1 } as never))).toBe('TypeError');
    expect(code(() => npuTransQuantParamSync(tensor(new Int32Array(2), [2], 'int32')))).toBe('ERR_QMM_DTYPE');
    expect(code(() => npuTransQuantParamSync(f32t([1, 2, 3, 4], [2, 2])))).toBe('ERR_QMM_SHAPE');
    expect(code(() => npuTransQuantParamSync(f32t([], [0])))).toBe('ERR_QMM_SHAPE');
    expect(code(() => npuTransQuantParamSync(f32t([1, 2, 3]), f32t([1, 2])))).toBe('ERR_QMM_SHAPE');
    expect(code(() => npuTransQuantParamSync(f32t([1, 2], [1, 2]), f32t([1, 2, 3])))).toBe('ERR_QMM_SHAPE');
    expect(code(() => npuTransQuantParamSync(f32t([1]), tensor(new Int8Array(1), [1], 'int8')))).toBe('ERR_QMM_DTYPE');
    expect(code(() => npuTransQuantParamSync([1] as never))).toBe('TypeError');
    const e = (() => {
      try {
        npuTransQuantParamSync(f32t([1, 2, 3, 4], [2, 2]));
      } catch (err) {
        return err as QmmError;
      }
    })();
    expect(e?.message).toContain('shape of scale only support (n, ) and (1, n), but current is (2, 2)');
    expect(e?.argument).toBe('scale');
  });

  describe('shapes as torch_npu runs them eagerly (aclnn CheckShape, not the graph-mode meta check)', () => {
    const values = (n: number, base: number) => Array.from({ length: n }, (_, i) => base + 0.25 * i);
    // [scale shape, offset shape]
    const accepted: Array<[number[], number[]]> = [
      [[1], [1, 5]],
      [[1], [5]],
      [[5], [1]],
      [[5], [1, 1]],
      [[5], [5]],
      [[5], [1, 5]],
      [[1], [1, 1]],
      [[1, 1], [1]],
      [[1, 5], [5]],
      [[1, 5], [1]],
      [[1, 5], [1, 1]],
      [[1, 5], [1, 5]],
    ];
    for (const [ss, os] of accepted) {
      it(`scale ${JSON.stringify(ss)} with offset ${JSON.stringify(os)}`, () => {
        const sv = values(ss.reduce((a, b) => a * b, 1), 0.5);
        const ov = values(os.reduce((a, b) => a * b, 1), -3);
        const q = npuTransQuantParamSync(f32t(sv, ss), f32t(ov, os));
        expect(q.shape).toEqual(refTransQuantParamShape(ss, os));
        expect(Array.from(q.data as BigInt64Array)).toEqual(refTransQuantParam(sv, ov));
      });
    }

    it('scale (1,) with offset (1, 5) gives (1, 5); scale (5,) with offset (1, 5) gives (5,)', async () => {
      expect(npuTransQuantParamSync(f32t([2]), f32t([1, 2, 3, 4, 5], [1, 5])).shape).toEqual([1, 5]);
      expect((await npuTransQuantParam(f32t([2]), f32t([1, 2, 3, 4, 5], [1, 5]))).shape).toEqual([1, 5]);
      expect(npuTransQuantParamSync(f32t([1, 2, 3, 4, 5]), f32t([1, 2, 3, 4, 5], [1, 5])).shape).toEqual([5]);
      expect(npuTransQuantParamSync(f32t([2], [1, 1]), f32t([3])).shape).toEqual([1, 1]);
    });

    it('a (1, n) scale takes an (n,) or (1,) offset', () => {
      const q = npuTransQuantParamSync(f32t([1, 2, 3], [1, 3]), f32t([4, 5, 6]));
      expect(q.shape).toEqual([1, 3]);
      expect(Array.from(q.data as BigInt64Array)).toEqual(refTransQuantParam([1, 2, 3], [4, 5, 6]));
      const q1 = npuTransQuantParamSync(f32t([1, 2, 3], [1, 3]), f32t([-7]));
      expect(q1.shape).toEqual([1, 3]);
      expect(Array.from(q1.data as BigInt64Array)).toEqual(refTransQuantParam([1, 2, 3], [-7]));
    });

    it('refuses lengths the kernel would read or write past, naming both shapes', () => {
      const rejected: Array<[number[], number[], string]> = [
        [[3], [2], 'scale and offset should be same when both greater than 1, but scale is 3, offset is 2'],
        [[1, 3], [2], 'must have the same number of elements'],
        [[3], [1, 5], 'must have the same number of elements'],
        [[1, 3], [1, 2], 'must have the same number of elements'],
        [[1, 1], [4], 'the result takes the scale\'s shape (1, 1) but the device would write 4 values'],
        [[1, 1], [1, 4], 'the device would write 4 values'],
      ];
      for (const [ss, os, text] of rejected) {
        let err: unknown;
        try {
          npuTransQuantParamSync(f32t(new Array(ss.reduce((a, b) => a * b, 1)).fill(1), ss), f32t(new Array(os.reduce((a, b) => a * b, 1)).fill(1), os));
        } catch (e) {
          err = e;
        }
        const where = `${JSON.stringify(ss)} ${JSON.stringify(os)}`;
        expect(err, where).toBeInstanceOf(QmmError);
        expect((err as QmmError).code, where).toBe('ERR_QMM_SHAPE');
        expect((err as QmmError).argument, where).toBe('offset');
        expect((err as QmmError).message, where).toContain(text);
      }
    });
  });

  describe('the options object as the second argument', () => {
    // lib/ops declares only (scale, offset?, options?); this is the runtime form.
    const syncWithOptions = npuTransQuantParamSync as unknown as (scale: Tensor, options?: unknown, extra?: unknown) => Tensor;
    const asyncWithOptions = npuTransQuantParam as unknown as (scale: Tensor, options?: unknown) => Promise<Tensor>;
    const scales = [1.000732421875, 2.99, -2.51];

    it('(scale, { roundMode: 1 }) is (scale, null, { roundMode: 1 })', async () => {
      const want = refTransQuantParam(scales, undefined, 1);
      expect(want).not.toEqual(refTransQuantParam(scales, undefined, 0));
      expect(Array.from(syncWithOptions(f32t(scales), { roundMode: 1 }).data as BigInt64Array)).toEqual(want);
      expect(Array.from((await asyncWithOptions(f32t(scales), { roundMode: 1 })).data as BigInt64Array)).toEqual(want);
      expect(Array.from(syncWithOptions(f32t(scales), {}).data as BigInt64Array)).toEqual(refTransQuantParam(scales, undefined, 0));
      expect(Array.from(npuTransQuantParamSync(f32t(scales), null, { roundMode: 1 } as TransQuantParamOptions).data as BigInt64Array)).toEqual(want);
    });

    it('anything else in second place is a TypeError naming offset', () => {
      const cases: Array<[unknown, unknown, RegExp]> = [
        [5, undefined, /offset must be a Tensor, null or undefined \(or pass the options \{ roundMode \} as the second argument\), got/],
        [[1, 2], undefined, /offset must be a Tensor/],
        [new Float32Array(2), undefined, /offset must be a Tensor/],
        ['1', undefined, /offset must be a Tensor/],
        [{ roundMode: 1 }, { roundMode: 1 }, /offset must be a Tensor, null or undefined when options are passed as the third argument/],
      ];
      for (const [second, third, text] of cases) {
        expect(() => syncWithOptions(f32t([1]), second, third)).toThrow(TypeError);
        expect(() => syncWithOptions(f32t([1]), second, third)).toThrow(text);
      }
      expect(() => syncWithOptions(f32t([1]), { roundMode: 2 })).toThrow(RangeError);
      expect(() => syncWithOptions(f32t([1]), { round: 1 })).toThrow(/options\.round is not a known option/);
    });
  });
});
