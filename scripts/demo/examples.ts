/**
 * The seed's five examples (issue "core package", item 7) as Node code.
 * Each returns its results plus the logical inputs, so the test suite can
 * check them against the reference.
 */

import {
  fromFloat32,
  npuFormatCast,
  npuQuantMatmul,
  npuTransQuantParam,
  tensor,
  type Tensor,
} from '../../lib/index';
import { randomFloats, randomInt32, randomInt8, seeded } from './random';

export interface LogicalInputs {
  x1: { shape: number[]; values: Int8Array };
  /** logical (…, k, n) */
  x2: { shape: number[]; values: Int8Array };
  scale: { dtype: 'int64' | 'float32' | 'bfloat16'; values: number[] | bigint[] };
  offset?: number[];
  pertoken?: number[];
  bias?: { dtype: 'int32' | 'bfloat16'; shape: number[]; values: number[] };
  out: 'int8' | 'float16' | 'bfloat16';
}

export interface ExampleResult {
  label: string;
  out: Tensor;
  ms: number;
  logical: LogicalInputs;
}

export interface Example {
  id: string;
  title: string;
  run(): Promise<ExampleResult[]>;
}

async function timed(fn: () => Promise<Tensor>): Promise<{ out: Tensor; ms: number }> {
  const t0 = process.hrtime.bigint();
  const out = await fn();
  return { out, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

/** (…, a, b) -> (…, b, a) for int8 data. */
export function transposeLast2(values: Int8Array, shape: number[]): Int8Array {
  const a = shape[shape.length - 2];
  const b = shape[shape.length - 1];
  const batch = values.length / (a * b);
  const out = new Int8Array(values.length);
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < a; i++) {
      const src = (t * a + i) * b;
      for (let j = 0; j < b; j++) out[(t * b + j) * a + i] = values[src + j];
    }
  return out;
}

const bf16Values = (t: Tensor) => Array.from(t.toFloat32Array());

/** (a) (1,256,768) @ (31,768,16), fp32 scale/offset (16,), int32 bias (31,1,16), int8 out; direct and trans_quant_param first. */
const exampleA: Example = {
  id: 'a',
  title: '(1,256,768) @ (31,768,16) int8 out, fp32 scale+offset, 3-D int32 bias',
  async run() {
    const r = seeded(101);
    const x1v = randomInt8(r, 256 * 768);
    const x2v = randomInt8(r, 31 * 768 * 16);
    const scale = randomFloats(r, 16, 1e-4, 6e-4);
    const offset = randomFloats(r, 16, -20, 20);
    const bias = randomInt32(r, 31 * 16, -20000, 20000);
    const x1 = tensor(x1v, [1, 256, 768], 'int8');
    const x2 = tensor(x2v, [31, 768, 16], 'int8');
    const s = tensor(scale, [16], 'float32');
    const o = tensor(offset, [16], 'float32');
    const b = tensor(bias, [31, 1, 16], 'int32');
    const logical: LogicalInputs = {
      x1: { shape: [1, 256, 768], values: x1v },
      x2: { shape: [31, 768, 16], values: x2v },
      scale: { dtype: 'float32', values: Array.from(scale) },
      offset: Array.from(offset),
      bias: { dtype: 'int32', shape: [31, 1, 16], values: Array.from(bias) },
      out: 'int8',
    };
    const direct = await timed(() => npuQuantMatmul(x1, x2, s, { offset: o, bias: b }));
    const viaQp = await timed(async () => npuQuantMatmul(x1, x2, await npuTransQuantParam(s, o), { offset: o, bias: b }));
    return [
      { label: 'direct (fp32 scale packed automatically)', ...direct, logical },
      { label: 'npuTransQuantParam(scale, offset) first', ...viaQp, logical },
    ];
  },
};

/** (b) (15,1,512) @ (15,512,128), int64 scale from a (1,) fp32 scale, bias (15,1,128), fp16 out. */
const exampleB: Example = {
  id: 'b',
  title: '(15,1,512) @ (15,512,128) fp16 out, int64 scale, 3-D int32 bias',
  async run() {
    const r = seeded(102);
    const x1v = randomInt8(r, 15 * 512);
    const x2v = randomInt8(r, 15 * 512 * 128);
    const bias = randomInt32(r, 15 * 128, -10000, 10000);
    const qp = await npuTransQuantParam(tensor(Float32Array.of(0.0021), [1], 'float32'));
    const res = await timed(() =>
      npuQuantMatmul(tensor(x1v, [15, 1, 512], 'int8'), tensor(x2v, [15, 512, 128], 'int8'), qp, {
        bias: tensor(bias, [15, 1, 128], 'int32'),
        outputDtype: 'float16',
      }),
    );
    const logical: LogicalInputs = {
      x1: { shape: [15, 1, 512], values: x1v },
      x2: { shape: [15, 512, 128], values: x2v },
      scale: { dtype: 'int64', values: Array.from(qp.cpu().data as BigInt64Array) },
      bias: { dtype: 'int32', shape: [15, 1, 128], values: Array.from(bias) },
      out: 'float16',
    };
    return [{ label: 'fp16', ...res, logical }];
  },
};

interface BigProblem {
  x1v: Int8Array;
  w: Int8Array; // (n, k)
  m: number;
  k: number;
  n: number;
  scale: Tensor;
  pertoken: Tensor;
  bias: Tensor;
}

let bigCache: BigProblem | undefined;
function bigProblem(): BigProblem {
  if (bigCache) return bigCache;
  const m = 15;
  const k = 11264;
  const n = 6912;
  const r = seeded(103);
  bigCache = {
    m,
    k,
    n,
    x1v: randomInt8(r, m * k),
    w: randomInt8(r, n * k),
    scale: fromFloat32(randomFloats(r, n, 1e-5, 1e-4), [n], 'bfloat16'),
    pertoken: tensor(randomFloats(r, m, 0.01, 0.1), [m], 'float32'),
    bias: fromFloat32(randomFloats(r, n, -1, 1), [n], 'bfloat16'),
  };
  return bigCache;
}

function bigLogical(p: BigProblem, withBias: boolean, x2Logical: Int8Array): LogicalInputs {
  const l: LogicalInputs = {
    x1: { shape: [p.m, p.k], values: p.x1v },
    x2: { shape: [p.k, p.n], values: x2Logical },
    scale: { dtype: 'bfloat16', values: bf16Values(p.scale) },
    pertoken: Array.from(p.pertoken.data as Float32Array),
    out: 'bfloat16',
  };
  if (withBias) l.bias = { dtype: 'bfloat16', shape: [p.n], values: bf16Values(p.bias) };
  return l;
}

/** (c) m=15 k=11264 n=6912, x2 = w.t(), bf16 scale (n,), pertoken (m,), bf16 bias, bf16 out. */
const exampleC: Example = {
  id: 'c',
  title: '(15,11264) @ w(6912,11264).t() bf16 out, pertoken, bf16 scale and bias',
  async run() {
    const p = bigProblem();
    const x1 = tensor(p.x1v, [p.m, p.k], 'int8');
    const w = tensor(p.w, [p.n, p.k], 'int8');
    const withBias = await timed(() => npuQuantMatmul(x1, w.t(), p.scale, { pertokenScale: p.pertoken, bias: p.bias, outputDtype: 'bfloat16' }));
    const noBias = await timed(() => npuQuantMatmul(x1, w.t(), p.scale, { pertokenScale: p.pertoken, outputDtype: 'bfloat16' }));
    const x2Logical = transposeLast2(p.w, [p.n, p.k]);
    return [
      { label: 'with bias', ...withBias, logical: bigLogical(p, true, x2Logical) },
      { label: 'without bias', ...noBias, logical: bigLogical(p, false, x2Logical) },
    ];
  },
};

/** (d) (15,1,512) @ NZ-cast x2.transpose(2,1).contiguous(), trans_quant_param(scale, offset), int32 bias (128,). */
const exampleD: Example = {
  id: 'd',
  title: '(15,1,512) @ FRACTAL_NZ weight (15,128,512) viewed .transpose(2,1), int8 out',
  async run() {
    const r = seeded(104);
    const x1v = randomInt8(r, 15 * 512);
    const x2v = randomInt8(r, 15 * 512 * 128);
    const scale = randomFloats(r, 128, 1e-4, 8e-4);
    const offset = randomFloats(r, 128, -10, 10);
    const bias = randomInt32(r, 128, -5000, 5000);
    const x2 = tensor(x2v, [15, 512, 128], 'int8');
    const wNz = await npuFormatCast(x2.transpose(2, 1).contiguous(), 29);
    const qp = await npuTransQuantParam(tensor(scale, [128], 'float32'), tensor(offset, [128], 'float32'));
    const res = await timed(() => npuQuantMatmul(tensor(x1v, [15, 1, 512], 'int8'), wNz.transpose(2, 1), qp, { bias: tensor(bias, [128], 'int32') }));
    const logical: LogicalInputs = {
      x1: { shape: [15, 1, 512], values: x1v },
      x2: { shape: [15, 512, 128], values: x2v },
      scale: { dtype: 'int64', values: Array.from(qp.cpu().data as BigInt64Array) },
      bias: { dtype: 'int32', shape: [128], values: Array.from(bias) },
      out: 'int8',
    };
    return [{ label: 'int8', ...res, logical }];
  },
};

/** (e) problem (c) with an NZ-cast non-transposed x2 (k, n). */
const exampleE: Example = {
  id: 'e',
  title: '(15,11264) @ FRACTAL_NZ x2 (11264,6912) bf16 out, pertoken, bf16 scale and bias',
  async run() {
    const p = bigProblem();
    const x2Logical = transposeLast2(p.w, [p.n, p.k]);
    const x2Nz = await npuFormatCast(tensor(x2Logical, [p.k, p.n], 'int8'), 29);
    const x1 = tensor(p.x1v, [p.m, p.k], 'int8');
    const withBias = await timed(() => npuQuantMatmul(x1, x2Nz, p.scale, { pertokenScale: p.pertoken, bias: p.bias, outputDtype: 'bfloat16' }));
    const noBias = await timed(() => npuQuantMatmul(x1, x2Nz, p.scale, { pertokenScale: p.pertoken, outputDtype: 'bfloat16' }));
    return [
      { label: 'with bias', ...withBias, logical: bigLogical(p, true, x2Logical) },
      { label: 'without bias', ...noBias, logical: bigLogical(p, false, x2Logical) },
    ];
  },
};

export const EXAMPLES: readonly Example[] = [exampleA, exampleB, exampleC, exampleD, exampleE];

/** FNV-1a over the raw output bytes: a checksum that changes with any bit. */
export function checksum(t: Tensor): string {
  const data = t.cpu().data;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
