/**
 * Each check npuQuantMatmul makes (docs/semantics.md §1.3–§1.5, §2.1): a bad call throws
 * the right error code and names the argument, the expectation and the value.
 */

import { describe, expect, it } from 'vitest';
import { fromFloat32, npuFormatCastSync, npuQuantMatmul, npuQuantMatmulSync, QmmError, Tensor, tensor, type QuantMatmulOptions } from '../lib/index';

const i8 = (shape: number[]) => tensor(new Int8Array(shape.reduce((a, b) => a * b, 1)).fill(1), shape, 'int8');
const i32 = (shape: number[]) => tensor(new Int32Array(shape.reduce((a, b) => a * b, 1)), shape, 'int32');
const f32 = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape, 'float32');
const bf16 = (shape: number[]) => fromFloat32(new Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape, 'bfloat16');
const f16 = (shape: number[]) => fromFloat32(new Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape, 'float16');
const i64 = (shape: number[]) => tensor(new BigInt64Array(shape.reduce((a, b) => a * b, 1)).fill(0x40003f800000n), shape, 'int64');

interface Case {
  name: string;
  call: () => unknown;
  code: string;
  /** a fragment the message must contain */
  text?: string;
  /** a fragment the message must not contain */
  notText?: string;
  argument?: string;
  /** Node's `code` of a TypeError / RangeError */
  nodeCode?: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';
}

/** `t`, after its buffer was transferred away (as postMessage(…, [buffer]) does). */
function detach(t: Tensor): Tensor {
  const buffer = t.storage.host?.buffer as ArrayBuffer;
  structuredClone(buffer, { transfer: [buffer] });
  return t;
}

const mm = (x1: Tensor, x2: Tensor, scale: Tensor, o?: QuantMatmulOptions) => () => npuQuantMatmulSync(x1, x2, scale, o);

const CASES: Case[] = [
  // JS types
  { name: 'x1 not a tensor', call: () => npuQuantMatmulSync(new Int8Array(4) as never, i8([2, 2]), f32([1])), code: 'TypeError', nodeCode: 'ERR_INVALID_ARG_TYPE', text: 'x1 must be a Tensor' },
  { name: 'unknown option', call: mm(i8([2, 2]), i8([2, 2]), f32([1]), { pertoken_scale: f32([2]) } as never), code: 'TypeError', nodeCode: 'ERR_INVALID_ARG_VALUE', text: 'options.pertoken_scale is not a known option' },
  { name: 'options not an object', call: mm(i8([2, 2]), i8([2, 2]), f32([1]), 5 as never), code: 'TypeError', nodeCode: 'ERR_INVALID_ARG_TYPE' },
  { name: 'outputDtype not a dtype', call: mm(i8([2, 2]), i8([2, 2]), f32([1]), { outputDtype: 'float64' as never }), code: 'TypeError', nodeCode: 'ERR_INVALID_ARG_VALUE', text: "options.outputDtype must be one of" },
  {
    name: "outputDtype 'fp16' lists only the output dtypes",
    call: mm(i8([2, 2]), i8([2, 2]), f32([1]), { outputDtype: 'fp16' as never }),
    code: 'TypeError',
    nodeCode: 'ERR_INVALID_ARG_VALUE',
    text: `options.outputDtype must be one of 'int8', 'float16', 'bfloat16', 'int32', got "fp16"`,
  },
  { name: 'outputDtype not a string', call: mm(i8([2, 2]), i8([2, 2]), f32([1]), { outputDtype: 5 as never }), code: 'TypeError', nodeCode: 'ERR_INVALID_ARG_TYPE', notText: 'float32' },
  { name: 'outputDtype float32', call: mm(i8([2, 2]), i8([2, 2]), f32([1]), { outputDtype: 'float32' as never }), code: 'ERR_QMM_DTYPE', text: 'Not supported output dtype is float32' },
  { name: 'signal not an AbortSignal', call: mm(i8([2, 2]), i8([2, 2]), f32([1]), { signal: {} as never }), code: 'TypeError', nodeCode: 'ERR_INVALID_ARG_TYPE' },
  // detached buffers
  { name: 'detached x1', call: () => npuQuantMatmulSync(detach(i8([2, 2])), i8([2, 2]), f32([1])), code: 'TypeError', nodeCode: 'ERR_INVALID_ARG_VALUE', text: 'x1: its ArrayBuffer is detached' },
  { name: 'detached transposed x2', call: () => npuQuantMatmulSync(i8([2, 2]), detach(i8([3, 2])).t(), f32([1])), code: 'TypeError', nodeCode: 'ERR_INVALID_ARG_VALUE', text: 'x2: its ArrayBuffer is detached' },
  { name: 'detached bias', call: () => npuQuantMatmulSync(i8([2, 2]), i8([2, 3]), f32([3]), { bias: detach(i32([3])), outputDtype: 'bfloat16' }), code: 'TypeError', nodeCode: 'ERR_INVALID_ARG_VALUE', text: 'options.bias: its ArrayBuffer is detached' },
  // dtypes of x1/x2
  { name: 'x1 float16', call: mm(f16([2, 2]), i8([2, 2]), f32([1])), code: 'ERR_QMM_DTYPE', argument: 'x1' },
  { name: 'A8W4 needs group_sizes', call: mm(i8([2, 16]), i32([16, 1]), f32([1])), code: 'ERR_QMM_UNSUPPORTED', text: 'A8W4' },
  { name: 'x2 dtype differs', call: mm(i32([2, 2]), i8([16, 2]), f32([1])), code: 'ERR_QMM_DTYPE', text: 'x1 and x2 dtype should be same' },
  // formats
  { name: 'x1 NZ', call: () => npuQuantMatmulSync(npuFormatCastSync(i8([4, 4]), 29), i8([4, 4]), f32([1])), code: 'ERR_QMM_FORMAT', argument: 'x1' },
  { name: 'NZ x2 with n = 1', call: () => npuQuantMatmulSync(i8([4, 4]), npuFormatCastSync(i8([4, 1]), 29), f32([1])), code: 'ERR_QMM_FORMAT', text: 'can not be 1' },
  { name: 'int4 NZ x2 with C0 16', call: () => npuQuantMatmulSync(i32([4, 2]), npuFormatCastSync(i32([16, 2]), 29), f32([1]), { outputDtype: 'float16' }), code: 'ERR_QMM_FORMAT', text: 'C0 = 8' },
  { name: 'NZ scale', call: () => npuQuantMatmulSync(i8([4, 4]), i8([4, 4]), npuFormatCastSync(f32([2, 4]), 29)), code: 'ERR_QMM_FORMAT', argument: 'scale' },
  {
    name: 'NZ storage dims that only match in element count',
    call: () => {
      const nz = npuFormatCastSync(i8([16, 96]), 29); // storage (3, 1, 16, 32)
      const liar = new Tensor({ dtype: 'int8', shape: [16, 96], strides: [96, 1], offset: 0, format: 'FRACTAL_NZ', storageShape: [1, 3, 16, 32], device: 'cpu', storage: nz.storage });
      return npuQuantMatmulSync(i8([2, 16]), liar, f32([1]));
    },
    code: 'ERR_QMM_FORMAT',
    text: 'does not match (3, 1, 16, 32)',
  },
  // ranks and empties
  { name: 'x1 rank 1', call: mm(i8([4]), i8([4, 4]), f32([1])), code: 'ERR_QMM_SHAPE', text: 'x1 dim num should be 2 ~ 6' },
  { name: 'x1 rank 7', call: mm(i8([1, 1, 1, 1, 1, 2, 2]), i8([2, 2]), f32([1])), code: 'ERR_QMM_SHAPE', text: 'x1 dim num should be 2 ~ 6' },
  { name: 'x2 rank 7', call: mm(i8([2, 2]), i8([1, 1, 1, 1, 1, 2, 2]), f32([1])), code: 'ERR_QMM_SHAPE', text: 'x2 dim num should be 2 ~ 6' },
  { name: 'int4 x2 3-D', call: mm(i32([2, 1]), i32([1, 8, 1]), f32([1]), { outputDtype: 'float16' }), code: 'ERR_QMM_SHAPE', text: 'x2 should be 2-d in a4w4/a8w4' },
  { name: 'empty x1', call: mm(i8([0, 4]), i8([4, 4]), f32([1])), code: 'ERR_QMM_SHAPE', text: 'QuantMatmul not support to process empty tensor currently' },
  { name: 'empty x2', call: mm(i8([2, 4]), i8([4, 0]), f32([1])), code: 'ERR_QMM_SHAPE', text: 'empty tensor' },
  // k, transposition, 65535
  { name: 'k mismatch', call: mm(i8([2, 5]), i8([6, 3]), f32([1])), code: 'ERR_QMM_SHAPE', text: 'x1 k dim and x2 k dim should be same, but x1 is 5, x2 is 6', notText: '.t()' },
  { name: 'an (n, k) weight where (k, n) is needed', call: mm(i8([2, 5]), i8([3, 5]), f32([1])), code: 'ERR_QMM_SHAPE', argument: 'x2', text: 'but x1 is 5, x2 is 3; x2 (3, 5) looks like an (n, k) weight: pass x2.t()' },
  { name: 'a transposed (k, n) weight where (k, n) is needed', call: mm(i8([2, 5]), i8([5, 3]).t(), f32([1])), code: 'ERR_QMM_SHAPE', text: 'pass x2.t()' },
  { name: 'int4 k mismatch', call: mm(i32([2, 2]), i32([8, 1]), f32([1]), { outputDtype: 'float16' }), code: 'ERR_QMM_SHAPE', text: 'x1 is 16, x2 is 8', notText: '.t()' },
  { name: 'an int4 (n, k/8) weight where (k, n/8) is needed', call: mm(i32([2, 2]), i32([8, 2]), f32([1]), { outputDtype: 'float16' }), code: 'ERR_QMM_SHAPE', text: 'x1 is 16, x2 is 8; x2 (8, 2) looks like an (n, k) weight: pass x2.t()' },
  { name: 'int4 transposed x1', call: mm(i32([1, 2]).t(), i32([16, 1]), f32([1]), { outputDtype: 'float16' }), code: 'ERR_QMM_SHAPE', text: 'TransposeX1 should be false' },
  { name: 'last dim > 65535', call: mm(i8([1, 65536]), i8([65536, 1]), f32([1])), code: 'ERR_QMM_SHAPE', text: 'larger than 65535, x1 is 65536, x2 is 1' },
  { name: 'x2 last dim > 65535', call: mm(i8([1, 2]), i8([2, 65536]), f32([1]), { outputDtype: 'bfloat16' }), code: 'ERR_QMM_SHAPE', text: 'x2 is 65536' },
  // broadcast
  { name: 'batch not broadcastable', call: mm(i8([2, 3, 2, 2]), i8([4, 2, 2]), f32([1])), code: 'ERR_QMM_BROADCAST', text: 'the short_dim is 4 and  the long_dim is 3' },
  // scale
  { name: 'scale int32', call: mm(i8([2, 2]), i8([2, 3]), i32([3])), code: 'ERR_QMM_DTYPE', argument: 'scale' },
  { name: 'scale 2-D', call: mm(i8([2, 2]), i8([2, 3]), f32([1, 3])), code: 'ERR_QMM_SHAPE', text: 'the scale dim num must be 1' },
  { name: 'scale length', call: mm(i8([2, 2]), i8([2, 3]), f32([2])), code: 'ERR_QMM_SHAPE', text: 'must be 1 or x2 n dim value 3, got 2' },
  // offset
  { name: 'offset with fp16 out', call: mm(i8([2, 2]), i8([2, 3]), i64([3]), { offset: f32([3]), outputDtype: 'float16' }), code: 'ERR_QMM_DTYPE', text: 'Offset only exists when out dtype is INT8, actual dtype is float16' },
  { name: 'offset int32', call: mm(i8([2, 2]), i8([2, 3]), i64([3]), { offset: i32([3]) }), code: 'ERR_QMM_DTYPE', text: "offset's type supported for float32" },
  { name: 'offset length', call: mm(i8([2, 2]), i8([2, 3]), i64([3]), { offset: f32([2]) }), code: 'ERR_QMM_SHAPE', argument: 'options.offset' },
  { name: 'offset 2-D', call: mm(i8([2, 2]), i8([2, 3]), i64([3]), { offset: f32([1, 3]) }), code: 'ERR_QMM_SHAPE', text: 'the offset dim num must be 1' },
  // pertoken
  { name: 'pertoken with int8 out', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { pertokenScale: f32([2]) }), code: 'ERR_QMM_DTYPE', argument: 'options.pertokenScale' },
  { name: 'pertoken with int32 out', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { pertokenScale: f32([2]), outputDtype: 'int32' }), code: 'ERR_QMM_DTYPE' },
  { name: 'pertoken bf16', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { pertokenScale: bf16([2]), outputDtype: 'bfloat16' }), code: 'ERR_QMM_DTYPE', text: 'must be float32' },
  { name: 'pertoken length', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { pertokenScale: f32([1]), outputDtype: 'bfloat16' }), code: 'ERR_QMM_SHAPE', text: 'should be equal to x1 m dim 2, but actually is 1' },
  { name: 'pertoken 2-D', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { pertokenScale: f32([2, 1]), outputDtype: 'bfloat16' }), code: 'ERR_QMM_SHAPE', text: 'the pertoken_scale dim num must be 1' },
  { name: 'pertoken fp16 out with bf16 scale', call: mm(i8([2, 2]), i8([2, 3]), bf16([3]), { pertokenScale: f32([2]), outputDtype: 'float16' }), code: 'ERR_QMM_DTYPE', argument: 'scale' },
  { name: 'pertoken with int64 scale', call: mm(i8([2, 2]), i8([2, 3]), i64([3]), { pertokenScale: f32([2]), outputDtype: 'bfloat16' }), code: 'ERR_QMM_DTYPE', argument: 'scale' },
  // bias
  { name: 'bias int8', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { bias: i8([3]) }), code: 'ERR_QMM_DTYPE', text: "bias's type supported for int32, bfloat16, float16 and float32, but bias.dtype is int8" },
  { name: 'bias length', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { bias: i32([2]) }), code: 'ERR_QMM_SHAPE', text: 'bias_first_dim is 2 and x2_n_dim is 3' },
  { name: 'bias 2-D', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { bias: i32([1, 3]) }), code: 'ERR_QMM_SHAPE', text: 'bias dim num should be 1 or 3' },
  { name: '3-D bias with a 4-D output', call: mm(i8([2, 2, 2, 2]), i8([2, 3]), f32([3]), { bias: i32([2, 1, 3]) }), code: 'ERR_QMM_SHAPE', text: 'when bias dim is 3, out dim need to be 3' },
  { name: '3-D bias with a 2-D output', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { bias: i32([1, 1, 3]) }), code: 'ERR_QMM_SHAPE', text: 'out dim need to be 3' },
  { name: '3-D bias batch', call: mm(i8([4, 2, 2]), i8([2, 3]), f32([3]), { bias: i32([2, 1, 3]) }), code: 'ERR_QMM_SHAPE', text: 'infered batch value should be equal to bias batch dim value' },
  { name: '3-D bias second dim', call: mm(i8([2, 2, 2]), i8([2, 3]), f32([3]), { bias: i32([2, 2, 3]) }), code: 'ERR_QMM_SHAPE', text: 'second dim of bias should be 1' },
  { name: '3-D bias last dim', call: mm(i8([2, 2, 2]), i8([2, 3]), f32([3]), { bias: i32([2, 1, 4]) }), code: 'ERR_QMM_SHAPE', text: 'third dim should be equal to n' },
  { name: 'int4 with 3-D bias', call: mm(i32([2, 2, 1]), i32([8, 1]), f32([8]), { bias: i32([2, 1, 8]), outputDtype: 'float16' }), code: 'ERR_QMM_SHAPE', text: 'Bias should be 1-d in a4w4/a8w4' },
  // the dtype table (docs/semantics.md §2.1)
  { name: 'fp16 bias without pertoken', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { bias: f16([3]), outputDtype: 'bfloat16' }), code: 'ERR_QMM_DTYPE', text: 'When pertokenScaleOptional is nullptr, bias dtype should not be FLOAT16.' },
  { name: 'bf16 bias with fp16 out', call: mm(i8([2, 2]), i8([2, 3]), i64([3]), { bias: bf16([3]), outputDtype: 'float16' }), code: 'ERR_QMM_DTYPE', text: 'When bias dtype is BFLOAT16, out dtype should be BFLOAT16' },
  { name: 'fp32 bias with int8 out', call: mm(i8([2, 2]), i8([2, 3]), i64([3]), { bias: f32([3]) }), code: 'ERR_QMM_DTYPE', text: 'needs bfloat16 output' },
  { name: 'bf16 scale with int8 out', call: mm(i8([2, 2]), i8([2, 3]), bf16([3])), code: 'ERR_QMM_DTYPE', text: 'When scale dtype is BFLOAT16, out dtype should be BFLOAT16 or INT32' },
  { name: 'bf16 scale with fp16 out', call: mm(i8([2, 2]), i8([2, 3]), bf16([3]), { outputDtype: 'float16' }), code: 'ERR_QMM_DTYPE' },
  { name: 'int64 scale with bf16 out', call: mm(i8([2, 2]), i8([2, 3]), i64([3]), { outputDtype: 'bfloat16' }), code: 'ERR_QMM_DTYPE', text: 'not supported on A2/A3' },
  { name: 'int64 scale with int32 out', call: mm(i8([2, 2]), i8([2, 3]), i64([3]), { outputDtype: 'int32' }), code: 'ERR_QMM_DTYPE', text: "When output_dtype is int32, scale's dtype must be bfloat16 or float32" },
  { name: 'bf16 bias with int32 out', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { bias: bf16([3]), outputDtype: 'int32' }), code: 'ERR_QMM_DTYPE', text: 'When output_dtype dtype is int32, bias_dtype must be int32' },
  { name: 'int4 without pertoken to bf16', call: mm(i32([2, 1]), i32([8, 1]), f32([8]), { outputDtype: 'bfloat16' }), code: 'ERR_QMM_DTYPE', text: "When input's dtype is int32, output_dtype must be float16" },
  { name: 'int4 without pertoken to int8', call: mm(i32([2, 1]), i32([8, 1]), i64([8])), code: 'ERR_QMM_DTYPE' },
  { name: 'fp16 bias with pertoken and bf16 out', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { pertokenScale: f32([2]), bias: f16([3]), outputDtype: 'bfloat16' }), code: 'ERR_QMM_DTYPE', text: 'When bias dtype is float16 and pertoken is given, output_dtype must be float16' },
  { name: 'bf16 bias with pertoken and fp16 out', call: mm(i8([2, 2]), i8([2, 3]), f32([3]), { pertokenScale: f32([2]), bias: bf16([3]), outputDtype: 'float16' }), code: 'ERR_QMM_DTYPE', text: 'When bias dtype is BFLOAT16' },
  // devices
  { name: 'mixed npu devices', call: () => npuQuantMatmulSync(i8([2, 2]).npu(0), i8([2, 3]).npu(1), f32([3])), code: 'ERR_QMM_DEVICE', text: 'all tensors of one call must be on one device' },
  { name: 'device that does not exist', call: () => i8([2, 2]).npu(99), code: 'ERR_QMM_DEVICE', text: 'npu:99 does not exist' },
];

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('npuQuantMatmul rejects what the device rejects', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const e = thrown(c.call);
      expect(e, 'expected an error').toBeInstanceOf(Error);
      const code = e instanceof QmmError ? e.code : (e as Error).constructor.name;
      expect(code, (e as Error).message).toBe(c.code);
      if (c.text) expect((e as Error).message).toContain(c.text);
      if (c.notText) expect((e as Error).message).not.toContain(c.notText);
      if (!(e instanceof QmmError)) expect((e as { code?: string }).code).toBe(c.nodeCode);
      if (c.argument) expect((e as QmmError).argument).toBe(c.argument);
      if (e instanceof QmmError && e.argument) expect(e.message.startsWith(e.argument)).toBe(true);
    });
  }

  it('the Promise form rejects (never throws synchronously)', async () => {
    const p = npuQuantMatmul(i8([2, 5]), i8([6, 3]), f32([1]));
    await expect(p).rejects.toMatchObject({ code: 'ERR_QMM_SHAPE' });
  });

  it('the 65535 rule is waived with int8 inputs, a float scale and a pertoken scale (docs/semantics.md §1.3)', () => {
    const out = npuQuantMatmulSync(i8([1, 65536]), i8([65536, 2]), f32([2]), { pertokenScale: f32([1]), outputDtype: 'bfloat16' });
    expect(out.shape).toEqual([1, 2]);
    expect(Array.from(out.toFloat32Array())).toEqual([16384, 16384]);
  });

  it('accepts the cross broadcast that numpy allows (documented device caveat, docs/semantics.md §1.1)', () => {
    const out = npuQuantMatmulSync(i8([2, 1, 3, 4]), i8([1, 3, 4, 5]), f32([5]), { outputDtype: 'int32' });
    expect(out.shape).toEqual([2, 3, 3, 5]);
  });
});
