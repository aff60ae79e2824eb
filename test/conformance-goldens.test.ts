/**
 * Cases derived from the upstream goldens and tests of the ops around the
 * matmul. The shapes, dtypes and value ranges come from them; the code is
 * ours:
 *  - hicann/ops-nn quant/trans_quant_param_v2: the aclnnTransQuantParamV2 ST
 *    cases (tests/st, atk json and its executor's golden), the kernel UT data
 *    generator, the aclnnTransQuantParamV3 doc example;
 *  - hicann/ops-nn quant/dynamic_quant: the aclnnDynamicQuant ST cases, the
 *    tests/assets golden, the tiling UT shapes, the aclnn example;
 *  - hicann/ops-nn quant/ascend_quant_v2: the aclnnAscendQuantV3 example;
 *  - Ascend/op-plugin test_npu_trans_quant_param.py, test_npu_dynamic_quant.py,
 *    test_npu_quantize.py.
 * Every case is compared bit for bit with the package's reference, and with
 * the upstream golden's own formula: exactly where that formula is exact, and
 * within the tolerance the upstream test allows where it is not (the
 * dynamic-quant goldens divide by the scale; the kernels multiply by 127/max).
 */

import { describe, expect, it } from 'vitest';
import { npuDynamicQuant, npuQuantize, npuTransQuantParam, tensor } from '../lib/index';
import { floatTensor, prod, rng, type Rng } from './helpers';
import { bitsFromF32, f32, refTransQuantParam, refTransQuantParamShape } from './reference';
import { dynamicQuantScaleForm, refDynamicQuant, refQuantize, rne } from './reference-quantize';

type FloatDType = 'float16' | 'bfloat16' | 'float32';

const uniform = (r: Rng, n: number, lo: number, hi: number) => Array.from({ length: n }, () => lo + (hi - lo) * r());

/** Normal samples (Box–Muller), as the ST generator's "nd" ranges ask. */
function normal(r: Rng, n: number, mean: number, std: number): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const u = Math.max(r(), 1e-12);
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u));
    out.push(mean + std * m * Math.cos(2 * Math.PI * v), mean + std * m * Math.sin(2 * Math.PI * v));
  }
  return out.slice(0, n);
}

const ulpDistance = (a: number, b: number) => Math.abs(bitsFromF32(a) - bitsFromF32(b));

// ------------------------------------------------------------ npuTransQuantParam

interface TqpCase {
  source: string;
  scale: { shape: number[]; range: [number, number] };
  offset?: { shape: number[]; range: [number, number] };
}

const TQP_CASES: TqpCase[] = [
  { source: 'ops-nn TransQuantParamV2 ST, (1, 1) and (1, 1)', scale: { shape: [1, 1], range: [-5, 5] }, offset: { shape: [1, 1], range: [-5, 5] } },
  { source: 'ops-nn TransQuantParamV2 ST, (1,) and (1,)', scale: { shape: [1], range: [-5, 5] }, offset: { shape: [1], range: [-5, 5] } },
  { source: 'ops-nn TransQuantParamV2 ST, (1, 100) and (1, 100)', scale: { shape: [1, 100], range: [-5, 5] }, offset: { shape: [1, 100], range: [-5, 5] } },
  { source: 'ops-nn TransQuantParamV2 ST, (100,) and (100,)', scale: { shape: [100], range: [-5, 5] }, offset: { shape: [100], range: [-5, 5] } },
  { source: 'ops-nn TransQuantParamV2 kernel UT data, (2,) and (2,)', scale: { shape: [2], range: [-1, 1] }, offset: { shape: [2], range: [-5, 5] } },
  { source: 'op-plugin test_npu_transquantparam, scale (1,) from U(2, 3)', scale: { shape: [1], range: [2, 3] } },
  { source: 'op-plugin test_npu_transquantparam, scale (1,) with offset (4,)', scale: { shape: [1], range: [-3, 3] }, offset: { shape: [4], range: [-3, 3] } },
];

/**
 * The ST executor's golden, in our words: the scale's bits masked to the top
 * 19, bit 46 set, the offset clipped to [-256, 255], rounded half to even,
 * clipped again, its low 9 bits at 37; both broadcast to the common shape.
 */
function goldenTransQuantParam(scale: number[], offset?: number[]): bigint[] {
  const n = Math.max(scale.length, offset ? offset.length : 0);
  return Array.from({ length: n }, (_, i) => {
    const s = BigInt((bitsFromF32(f32(scale[scale.length === 1 ? 0 : i])) & 0xffffe000) >>> 0);
    let q = (s | (1n << 46n)) & 0x4000ffffffffn;
    if (offset) {
      const o = Math.min(255, Math.max(-256, rne(Math.min(255, Math.max(-256, f32(offset[offset.length === 1 ? 0 : i]))))));
      q |= (BigInt(o) & 0x1ffn) << 37n;
    }
    return BigInt.asIntN(64, q);
  });
}

describe('npuTransQuantParam: upstream golden cases', () => {
  TQP_CASES.forEach((c, idx) => {
    it(c.source, async () => {
      const r = rng(1000 + idx);
      const sv = uniform(r, prod(c.scale.shape), ...c.scale.range).map(f32);
      const ov = c.offset ? uniform(r, prod(c.offset.shape), ...c.offset.range).map(f32) : undefined;
      const scale = tensor(Float32Array.from(sv), c.scale.shape, 'float32');
      const offset = ov && c.offset ? tensor(Float32Array.from(ov), c.offset.shape, 'float32') : null;
      const q = await npuTransQuantParam(scale, offset);
      expect(q.shape).toEqual(refTransQuantParamShape(c.scale.shape, c.offset?.shape));
      const got = Array.from(q.cpu().data as BigInt64Array);
      expect(got).toEqual(refTransQuantParam(sv, ov, 0));
      expect(got).toEqual(goldenTransQuantParam(sv, ov));
    });
  });

  it('the aclnnTransQuantParamV3 doc example: scale {1, 1, 1}, offset {1, 1, 1}', async () => {
    const ones = tensor(Float32Array.of(1, 1, 1), [3], 'float32');
    const q = await npuTransQuantParam(ones, ones, { roundMode: 0 });
    const want = 0x3f800000n | (1n << 46n) | (1n << 37n);
    expect(Array.from(q.cpu().data as BigInt64Array)).toEqual([want, want, want]);
  });
});

// ------------------------------------------------------------ npuDynamicQuant

interface DqCase {
  source: string;
  dtype: 'float16' | 'bfloat16';
  shape: number[];
  values: { kind: 'normal'; mean: [number, number]; std: [number, number] } | { kind: 'randn' } | { kind: 'ramp' };
}

// The ST cases run 32 to 25856 rows; 8 rows keep the row lengths (which pick
// the kernel) at a fraction of the time.
const ST_VALUES = { kind: 'normal', mean: [-100, 100], std: [1, 25] } as const;
const DQ_CASES: DqCase[] = [
  { source: 'ops-nn DynamicQuant ST, (32, 2048) float16', dtype: 'float16', shape: [8, 2048], values: ST_VALUES },
  { source: 'ops-nn DynamicQuant ST, (32, 7168) float16', dtype: 'float16', shape: [8, 7168], values: ST_VALUES },
  { source: 'ops-nn DynamicQuant ST, (32, 18432) float16', dtype: 'float16', shape: [8, 18432], values: ST_VALUES },
  { source: 'op-plugin test_npu_dynamic_quant_fp16_input, (2, 32, 256)', dtype: 'float16', shape: [2, 32, 256], values: { kind: 'randn' } },
  { source: 'op-plugin test_npu_dynamic_quant_bf16_input, (2, 32, 256)', dtype: 'bfloat16', shape: [2, 32, 256], values: { kind: 'randn' } },
  { source: 'ops-nn DynamicQuant tiling UT, (1, 128, 1023) float16', dtype: 'float16', shape: [1, 128, 1023], values: { kind: 'randn' } },
  { source: 'ops-nn DynamicQuant tiling UT, (1, 1, 11263) bfloat16', dtype: 'bfloat16', shape: [1, 1, 11263], values: { kind: 'randn' } },
  { source: 'ops-nn DynamicQuant tiling UT, (1, 1, 15360) bfloat16', dtype: 'bfloat16', shape: [1, 1, 15360], values: { kind: 'randn' } },
  { source: 'ops-nn aclnnDynamicQuant example, (4, 32) of i * 32 + j', dtype: 'float16', shape: [4, 32], values: { kind: 'ramp' } },
];

function dqValues(c: DqCase, r: Rng): number[] {
  const n = prod(c.shape);
  const cols = c.shape[c.shape.length - 1];
  if (c.values.kind === 'ramp') return Array.from({ length: n }, (_, i) => i);
  if (c.values.kind === 'randn') return normal(r, n, 0, 1);
  const { mean, std } = c.values;
  const out: number[] = [];
  for (let row = 0; row < n / cols; row++) out.push(...normal(r, cols, mean[0] + (mean[1] - mean[0]) * r(), std[0] + (std[1] - std[0]) * r()));
  return out;
}

/**
 * The goldens' formulas, in our words: ops-nn tests/assets scales by
 * max · f32(1/127) and divides, op-plugin's test scales by max / 127 and
 * divides; both round half to even.
 */
function goldenDynamicQuant(x: number[], cols: number) {
  const inv127 = f32(1 / 127);
  const y: number[] = [];
  const opsNnScale: number[] = [];
  const opPluginScale: number[] = [];
  for (let row = 0; row < x.length / cols; row++) {
    let max = 0;
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(x[row * cols + c]));
    const s = f32(max * inv127);
    opsNnScale.push(s);
    opPluginScale.push(f32(max / 127));
    for (let c = 0; c < cols; c++) y.push(Math.max(-128, Math.min(127, rne(f32(x[row * cols + c] / s)))));
  }
  return { y, opsNnScale, opPluginScale };
}

describe('npuDynamicQuant: upstream golden cases', () => {
  DQ_CASES.forEach((c, idx) => {
    it(c.source, async () => {
      const cols = c.shape[c.shape.length - 1];
      const x = floatTensor(dqValues(c, rng(2000 + idx)), c.shape, c.dtype);
      const got = await npuDynamicQuant(x.t);
      const y = Array.from(got.y.cpu().data as Int8Array);
      const scale = Array.from(got.scale.cpu().data as Float32Array);
      expect(got.scale.shape).toEqual(c.shape.slice(0, -1));

      const ref = refDynamicQuant(x.values, cols);
      expect(y).toEqual(ref.y);
      expect(scale).toEqual(ref.scale);

      const golden = goldenDynamicQuant(x.values, cols);
      // op-plugin: y within 1 of the golden, the scale within rtol 1e-4.
      const worst = y.reduce((m, v, i) => Math.max(m, Math.abs(v - golden.y[i])), 0);
      expect(worst).toBeLessThanOrEqual(1);
      scale.forEach((s, i) => expect(Math.abs(s - golden.opPluginScale[i])).toBeLessThanOrEqual(1e-4 * golden.opPluginScale[i]));
      // ops-nn's golden scale is the "product" kernels' own formula, and one
      // ulp from the reciprocal kernels'.
      if (dynamicQuantScaleForm(cols) === 'product') expect(scale).toEqual(golden.opsNnScale);
      else scale.forEach((s, i) => expect(ulpDistance(s, golden.opsNnScale[i])).toBeLessThanOrEqual(1));
    });
  });

  it('the aclnnDynamicQuant example rows by hand: row 0 is 0..31, max 31, q = f32(127/31)', async () => {
    const x = floatTensor(Array.from({ length: 128 }, (_, i) => i), [4, 32], 'float16');
    const got = await npuDynamicQuant(x.t);
    const y = Array.from(got.y.cpu().data as Int8Array);
    // 127/31 = 4.096774…: 1 → 4, 16 → 65.548… → 66, 31 → 127; row 3 is 96..127, max 127, q = 1
    expect([y[1], y[16], y[31]]).toEqual([4, 66, 127]);
    expect(y.slice(96)).toEqual(Array.from({ length: 32 }, (_, j) => 96 + j));
    expect((got.scale.cpu().data as Float32Array)[3]).toBe(1);
  });
});

// ------------------------------------------------------------ npuQuantize

interface QCase {
  source: string;
  dtype: FloatDType;
  x: number[];
  channels: number[];
  range: [number, number];
}

const Q_CASES: QCase[] = [
  { source: 'op-plugin test_npu_quantize_ascend_quant_v2_perchannel, (16, 128) float16, scales (128,)', dtype: 'float16', x: [16, 128], channels: [128], range: [-1, 1] },
  { source: 'op-plugin test_npu_quantize_ascend_quant_v2_pertensor, (16, 128) float16, scales (1,)', dtype: 'float16', x: [16, 128], channels: [1], range: [-1, 1] },
];

/** op-plugin's cpu_op_exec_ascend_quant_v2, in our words: float32 x·s + zp, round half to even, clip. */
function goldenQuantize(x: number[], cols: number, s: number[], zp: number[]): number[] {
  return x.map((v, i) => {
    const c = i % cols;
    const r = f32(f32(v * s[s.length === 1 ? 0 : c]) + zp[zp.length === 1 ? 0 : c]);
    return Math.max(-128, Math.min(127, rne(r))) + 0;
  });
}

describe('npuQuantize: upstream golden cases', () => {
  Q_CASES.forEach((c, idx) => {
    it(c.source, async () => {
      const r = rng(3000 + idx);
      const cols = c.x[c.x.length - 1];
      const x = floatTensor(uniform(r, prod(c.x), ...c.range), c.x, c.dtype);
      const s = floatTensor(uniform(r, prod(c.channels), ...c.range), c.channels, c.dtype);
      const zp = floatTensor(uniform(r, prod(c.channels), ...c.range), c.channels, c.dtype);
      const got = Array.from((await npuQuantize(x.t, s.t, zp.t)).cpu().data as Int8Array);
      expect(got).toEqual(refQuantize(x.values, cols, s.values, zp.values));
      expect(got).toEqual(goldenQuantize(x.values, cols, s.values, zp.values));
    });
  });

  it('the aclnnAscendQuantV3 example: x 0..7 as (4, 2), scale {1, 2}, offset {1, 2}', async () => {
    const f = (v: number[], shape: number[]) => tensor(Float32Array.from(v), shape, 'float32');
    const y = await npuQuantize(f([0, 1, 2, 3, 4, 5, 6, 7], [4, 2]), f([1, 2], [2]), f([1, 2], [2]));
    expect(Array.from(y.cpu().data as Int8Array)).toEqual([1, 4, 3, 8, 5, 12, 7, 16]);
  });
});
