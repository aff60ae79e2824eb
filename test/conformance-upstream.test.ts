/**
 * The upstream torch cases of docs/semantics.md §7.1 (m reduced where large) and the
 * suggested extra conformance cases of §7.3, the latter with hand-computed
 * expectations as well as the reference.
 */

import { describe, expect, it } from 'vitest';
import { fromFloat32, npuFormatCastSync, npuQuantMatmul, npuQuantMatmulSync, npuTransQuantParamSync, tensor, type Tensor } from '../lib/index';
import { expectMatches, floatTensor, makeX1, makeX2, randFloats, randInts, rng } from './helpers';
import { f32FromBits, refQuantMatmul, refTransQuantParam, type RefQuantMatmulInput } from './reference';

const f32t = (v: number[]) => tensor(Float32Array.from(v), [v.length], 'float32');
const i64t = (v: bigint[]) => tensor(BigInt64Array.from(v), [v.length], 'int64');

describe('docs/semantics.md §7.1 torch cases (test_npu_quant_matmul.py), m reduced to 64', () => {
  const r = rng(71);
  const M = 64;
  const K = 320;
  const N = 2560;
  const x1v = randInts(r, M * K, -5, 4);
  const x2v = randInts(r, K * N, -5, 4);
  const scaleV = randFloats(r, 1, -1.5, 1.5);
  const pertoken = randFloats(r, M, 0.1, 2);
  const base = (out: RefQuantMatmulInput['out']): RefQuantMatmulInput => ({
    x1: { shape: [M, K], values: x1v },
    x2: { shape: [K, N], values: x2v },
    scale: { dtype: 'float32', values: scaleV },
    out,
  });

  it('a8w8: trans_quant_param scale, fp16 out', () => {
    const qp = npuTransQuantParamSync(f32t(scaleV));
    const out = npuQuantMatmulSync(makeX1(x1v, [M, K]), makeX2(x2v, [K, N]), qp, { outputDtype: 'float16' });
    expectMatches(out, refQuantMatmul({ ...base('float16'), scale: { dtype: 'int64', values: refTransQuantParam(scaleV, undefined) } }));
  });

  it('a4w4: int4 packed (m, 40) and (320, 320), fp16 out', () => {
    const qp = npuTransQuantParamSync(f32t(scaleV));
    const x1 = makeX1(x1v, [M, K], { int4: true });
    const x2 = makeX2(x2v, [K, N], { int4: true });
    expect(x1.shape).toEqual([M, 40]);
    expect(x2.shape).toEqual([K, 320]);
    const out = npuQuantMatmulSync(x1, x2, qp, { outputDtype: 'float16' });
    expectMatches(out, refQuantMatmul({ ...base('float16'), scale: { dtype: 'int64', values: refTransQuantParam(scaleV, undefined) } }));
  });

  for (const od of ['bfloat16', 'float16'] as const) {
    it(`a4w4_pertoken: fp32 scale (1,) not converted, pertoken (m,), ${od} out`, async () => {
      const out = await npuQuantMatmul(makeX1(x1v, [M, K], { int4: true }), makeX2(x2v, [K, N], { int4: true }), f32t(scaleV), {
        pertokenScale: f32t(pertoken),
        outputDtype: od,
      });
      expectMatches(out, refQuantMatmul({ ...base(od), pertoken }));
    });
  }

  it('continuous_x2_tensor: int4 x1 (5, 20) @ (80, 20).t(), output (5, 80)', () => {
    const a = randInts(r, 5 * 160, -5, 4);
    const w = randInts(r, 80 * 160, -5, 4); // logical (k=160, n=80) stored (80, 160)
    const x2 = makeX2(w, [160, 80], { int4: true, transposed: true });
    expect(x2.shape).toEqual([20, 80]);
    const qp = npuTransQuantParamSync(f32t(scaleV));
    const out = npuQuantMatmulSync(makeX1(a, [5, 160], { int4: true }), x2, qp, { outputDtype: 'float16' });
    expect(out.shape).toEqual([5, 80]);
    expectMatches(out, refQuantMatmul({ x1: { shape: [5, 160], values: a }, x2: { shape: [160, 80], values: w }, scale: { dtype: 'int64', values: refTransQuantParam(scaleV, undefined) }, out: 'float16' }));
  });

  it('bf16: fp32 scale (1,), bf16 out', () => {
    const out = npuQuantMatmulSync(makeX1(x1v, [M, K]), makeX2(x2v, [K, N]), f32t(scaleV), { outputDtype: 'bfloat16' });
    expectMatches(out, refQuantMatmul(base('bfloat16')));
  });

  it('bf16_nz and fp16_nz: x2 = npu_format_cast(x2, 29)', () => {
    const nz = makeX2(x2v, [K, N], { nz: true });
    expect(nz.storageShape).toEqual([N / 32, K / 16, 16, 32]);
    const bf = npuQuantMatmulSync(makeX1(x1v, [M, K]), nz, f32t(scaleV), { outputDtype: 'bfloat16' });
    expectMatches(bf, refQuantMatmul(base('bfloat16')));
    const fp = npuQuantMatmulSync(makeX1(x1v, [M, K]), nz, f32t(scaleV), { outputDtype: 'float16' });
    expectMatches(fp, refQuantMatmul(base('float16')));
  });

  it('int32: (16, 6656) @ (6656, n) with n reduced to 256, scale ignored', () => {
    const a = randInts(r, 16 * 6656, -128, 127);
    const b = randInts(r, 6656 * 256, -128, 127);
    const out = npuQuantMatmulSync(makeX1(a, [16, 6656]), makeX2(b, [6656, 256]), f32t(scaleV), { outputDtype: 'int32' });
    expectMatches(out, refQuantMatmul({ x1: { shape: [16, 6656], values: a }, x2: { shape: [6656, 256], values: b }, scale: { dtype: 'float32', values: scaleV }, out: 'int32' }));
  });
});

/** 1×k @ k×n with x1 = ones: the accumulator of column j is the column sum of x2. */
function columnSums(sums: number[]): { x1: Tensor; x2: Tensor; k: number } {
  // build x2 (k, n) whose column j sums to sums[j], with |entries| ≤ 127
  const k = Math.max(1, ...sums.map((s) => Math.ceil(Math.abs(s) / 127)));
  const n = sums.length;
  const x2 = new Int8Array(k * n);
  for (let j = 0; j < n; j++) {
    let rest = sums[j];
    for (let i = 0; i < k; i++) {
      const v = Math.max(-127, Math.min(127, rest));
      x2[i * n + j] = v;
      rest -= v;
    }
  }
  return { x1: tensor(new Int8Array(k).fill(1), [1, k], 'int8'), x2: tensor(x2, [k, n], 'int8'), k };
}

describe('docs/semantics.md §7.3 extra conformance cases', () => {
  it('int8 output: saturation to 127 / -128 and RNE ties', () => {
    const { x1, x2 } = columnSums([5, 7, -5, -7, 1000, -1000, 1, 3]);
    // scale 0.5 (exact in fp19): 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, -3.5 -> -4, 500 -> s9 255 -> 127, -500 -> -256 -> -128, 0.5 -> 0, 1.5 -> 2
    const out = npuQuantMatmulSync(x1, x2, f32t([0.5]));
    expect(Array.from(out.data as Int8Array)).toEqual([2, 4, -2, -4, 127, -128, 0, 2]);
  });

  it('int8 output: offset added after the s9 clamp, then int8 saturation (docs/semantics.md §3.2)', () => {
    const { x1, x2 } = columnSums([1000, 1000, -1000, 10, 10]);
    const qp = npuTransQuantParamSync(f32t([1]), f32t([-200, -100, 200, 255.5, -256.5]));
    // 1000 -> s9 255, +(-200) = 55; 255-100 = 155 -> 127; -256+200 = -56; 10+255 -> 127 (offset clamps at 255); 10-256 -> -128
    const out = npuQuantMatmulSync(x1, x2, qp);
    expect(Array.from(out.data as Int8Array)).toEqual([55, 127, -56, 127, -128]);
  });

  it('offset ties round to even when a float32 scale is packed for int8 output', () => {
    const { x1, x2 } = columnSums([0, 0, 0, 0]);
    const out = npuQuantMatmulSync(x1, x2, f32t([1]), { offset: f32t([0.5, 1.5, 2.5, -2.5]) });
    expect(Array.from(out.data as Int8Array)).toEqual([0, 2, 2, -2]);
  });

  it('fp16 output through the fixpipe saturates at ±65504; the vector path overflows to ±inf', () => {
    const { x1, x2 } = columnSums([30000, -30000, 32760]);
    const fix = npuQuantMatmulSync(x1, x2, f32t([4]), { outputDtype: 'float16' });
    expect(Array.from(fix.data as Uint16Array)).toEqual([0x7bff, 0xfbff, 0x7bff]);
    const vec = npuQuantMatmulSync(x1, x2, f32t([4]), { outputDtype: 'float16', pertokenScale: f32t([1]) });
    expect(Array.from(vec.data as Uint16Array)).toEqual([0x7c00, 0xfc00, 0x7c00]);
    // 65519 rounds down to 65504 and 65520 rounds to inf on the vector path
    const edge = columnSums([65519, 65520]);
    const v2 = npuQuantMatmulSync(edge.x1, edge.x2, f32t([1]), { outputDtype: 'float16', pertokenScale: f32t([1]) });
    expect(Array.from(v2.data as Uint16Array)).toEqual([0x7bff, 0x7c00]);
  });

  it('scale truncation to fp19 is visible with int64/fp16 and int8 outputs but not with bf16 output', () => {
    const s = f32FromBits(0x3f801fff); // 1.000976…, low 13 bits set
    const { x1, x2 } = columnSums([2000, 100]);
    const fp16 = npuQuantMatmulSync(x1, x2, f32t([s]), { outputDtype: 'float16' });
    expect(Array.from(fp16.toFloat32Array())).toEqual([2000, 100]); // fp19 scale is exactly 1.0
    const bf = npuQuantMatmulSync(x1, x2, f32t([s]), { outputDtype: 'bfloat16' });
    expect(Array.from(bf.data as Uint16Array)).toEqual([0x44fa, 0x42c8]); // bf16(2001.95) = 2000, bf16(100.098) = 100
    const pt = npuQuantMatmulSync(x1, x2, f32t([s]), { outputDtype: 'float16', pertokenScale: f32t([1]) });
    expect(Array.from(pt.toFloat32Array())).toEqual([2002, 100.125]); // the vector path keeps all scale bits
    const i8 = npuQuantMatmulSync(columnSums([127]).x1, columnSums([127]).x2, f32t([f32FromBits(0x3f7fffff)]));
    expect(Array.from(i8.data as Int8Array)).toEqual([127]); // 127 * 0.99987793 (fp19) = 126.98 -> 127
  });

  it('pertoken (m,) is shared across batches', () => {
    const r = rng(73);
    const x1v = randInts(r, 3 * 4 * 8, -128, 127);
    const x2v = randInts(r, 8 * 5, -128, 127);
    const pt = randFloats(r, 4, 0.1, 3);
    const sc = floatTensor(randFloats(r, 5, -0.01, 0.01), [5], 'bfloat16');
    const out = npuQuantMatmulSync(makeX1(x1v, [3, 4, 8]), makeX2(x2v, [8, 5]), sc.t, { pertokenScale: f32t(pt), outputDtype: 'bfloat16' });
    expectMatches(out, refQuantMatmul({ x1: { shape: [3, 4, 8], values: x1v }, x2: { shape: [8, 5], values: x2v }, scale: { dtype: 'bfloat16', values: sc.values }, pertoken: pt, out: 'bfloat16' }));
  });

  it('transposed views: square, 1×1 and k = 1 edge cases read the logical matrix', () => {
    const r = rng(74);
    for (const [m, k, n] of [[4, 4, 4], [1, 1, 1], [3, 1, 5], [1, 7, 1], [5, 5, 1]]) {
      const a = randInts(r, m * k, -128, 127);
      const b = randInts(r, k * n, -128, 127);
      for (const x1T of [false, true])
        for (const x2T of [false, true]) {
          const out = npuQuantMatmulSync(makeX1(a, [m, k], { transposed: x1T }), makeX2(b, [k, n], { transposed: x2T }), f32t([1]), { outputDtype: 'int32' });
          expectMatches(out, refQuantMatmul({ x1: { shape: [m, k], values: a }, x2: { shape: [k, n], values: b }, scale: { dtype: 'float32', values: [1] }, out: 'int32' }), `${m}x${k}x${n} ${x1T} ${x2T}`);
        }
    }
  });

  it('non-contiguous views that are not transposes are read by value (aclnn copies them)', () => {
    const r = rng(75);
    const big = randInts(r, 6 * 10, -128, 127);
    const x2base = tensor(Int8Array.from(big), [2, 3, 10], 'int8'); // view batch 0..1 with strides of a (2,3,10)
    const x2 = x2base.transpose(0, 1); // (3, 2, 10): batch-strided, not a last-two transpose
    const x1v = randInts(r, 3 * 4 * 2, -128, 127);
    const out = npuQuantMatmulSync(makeX1(x1v, [3, 4, 2]), x2, f32t([1]), { outputDtype: 'int32' });
    const logical = Array.from(x2.contiguous().data as Int8Array);
    expectMatches(out, refQuantMatmul({ x1: { shape: [3, 4, 2], values: x1v }, x2: { shape: [3, 2, 10], values: logical }, scale: { dtype: 'float32', values: [1] }, out: 'int32' }));
  });

  it('int32 accumulation wraps (two\'s complement) and int32 bias wraps with it', () => {
    // k = 140000 products of 127*127 = 16129: 2258060000 > 2^31 - 1
    const k = 140000;
    // x1 as a transposed view so both physical last dims stay 1 (the 65535 rule, docs/semantics.md §1.3)
    const x1 = tensor(new Int8Array(k).fill(127), [k, 1], 'int8').t();
    const x2 = tensor(new Int8Array(k).fill(127), [k, 1], 'int8');
    const out = npuQuantMatmulSync(x1, x2, f32t([1]), { outputDtype: 'int32', bias: tensor(Int32Array.from([2 ** 31 - 1]), [1], 'int32') });
    expect((out.data as Int32Array)[0]).toBe(((k * 16129) | 0) + (2 ** 31 - 1) | 0);
  });

  it('NZ weights of fp16 (C0 16) are rejected for matmul while int8 NZ works', () => {
    const w = fromFloat32([1, 2, 3, 4], [2, 2], 'float16');
    const nz = npuFormatCastSync(w, 29);
    expect(() => npuQuantMatmulSync(tensor(new Int8Array(4), [2, 2], 'int8'), nz, f32t([1]))).toThrow(/x2 must have|x1 and x2 dtype should be same/);
    const i8nz = npuFormatCastSync(tensor(Int8Array.from([1, 2, 3, 4]), [2, 2], 'int8'), 29);
    const out = npuQuantMatmulSync(tensor(Int8Array.from([1, 1]), [1, 2], 'int8'), i8nz, i64t(refTransQuantParam([1], undefined)), { outputDtype: 'float16' });
    expect(Array.from(out.toFloat32Array())).toEqual([4, 6]);
  });
});
