/**
 * Every check npuQuantMatmul makes before it computes: what an Atlas A2/A3
 * device rejects (docs/semantics.md §1.3–§1.5 and the dtype table of §2.1), with the
 * upstream message text quoted so CI on the emulator catches what would fail
 * on the device.
 */

import type { Device } from '../device';
import type { DType, OutputDType } from '../dtypes';
import { checkDType, isDType } from '../dtypes';
import { QmmError } from '../errors';
import { nzStorageShape } from '../nz';
import { fmtShape, isTransposedNzView, type Tensor } from '../tensor';
import { commonDevice, fail, optionalTensor, requireND, requireOptions, requireSignal, requireTensor } from './common';

export interface QuantMatmulOptions {
  /** float32 (1,) or (n,); int8 output only (docs/semantics.md §1.4). */
  offset?: Tensor | null;
  /** float32 (m,), shared by every batch (docs/semantics.md §1.1). */
  pertokenScale?: Tensor | null;
  /** int32 / bfloat16 / float16 / float32, (n,) or (B, 1, n) for 3-D outputs. */
  bias?: Tensor | null;
  /** 'int8' (default), 'float16', 'bfloat16' or 'int32'. */
  outputDtype?: OutputDType | null;
  /** Cancels the call while it is queued or between tiles (Promise form). */
  signal?: AbortSignal | null;
}

const OPTION_KEYS = ['offset', 'pertokenScale', 'bias', 'outputDtype', 'signal'] as const;
const OUTPUT_DTYPES: readonly OutputDType[] = ['int8', 'float16', 'bfloat16', 'int32'];
const MAX_LAST_DIM = 65535;

export interface QuantMatmulPlan {
  x1: Tensor;
  x2: Tensor;
  scale: Tensor;
  offset?: Tensor;
  pertokenScale?: Tensor;
  bias?: Tensor;
  outputDtype: OutputDType;
  outShape: number[];
  m: number;
  k: number;
  n: number;
  int4: boolean;
  /** float32 scale that torch packs with npu_trans_quant_param first (docs/semantics.md §2.2). */
  packScale: boolean;
  device: Device;
  signal?: AbortSignal;
}

/** aclnn's IsTransposeLastTwoDims (docs/semantics.md §1.2). */
export function isTransposeLastTwoDims(t: Tensor): boolean {
  const nd = t.ndim;
  if (nd < 2 || nd > 6) return false;
  const d1 = nd - 1;
  const d2 = nd - 2;
  if (t.strides[d2] !== 1 || t.strides[d1] !== t.shape[d2]) return false;
  let acc = t.shape[d1] * t.shape[d2];
  for (let b = nd - 3; b >= 0; b--) {
    if (t.strides[b] !== acc) return false;
    acc *= t.shape[b];
  }
  return !(t.shape[d1] === 1 && t.shape[d2] === 1);
}

function dtypeError(argument: string, message: string): never {
  fail('ERR_QMM_DTYPE', argument, message);
}

/** numpy-style right-aligned broadcast of the batch dims, with torch's error text (docs/semantics.md §1.1). */
export function broadcastBatch(x1: Tensor, x2: Tensor): number[] {
  const b1 = x1.shape.slice(0, -2);
  const b2 = x2.shape.slice(0, -2);
  const long = b1.length >= b2.length ? b1 : b2;
  const short = b1.length >= b2.length ? b2 : b1;
  const out: number[] = [];
  for (let i = 0; i < long.length; i++) {
    const j = i - (long.length - short.length);
    const s = j >= 0 ? short[j] : 1;
    const l = long[i];
    if (s !== l && s !== 1 && l !== 1) {
      throw new QmmError(
        'ERR_QMM_BROADCAST',
        `x2: x1 ${fmtShape(x1.shape)} and x2 ${fmtShape(x2.shape)}: the x1 shape and x2 shape not supported for broadcast, the short_dim is ${s} and  the long_dim is ${l}`,
        { argument: 'x2' },
      );
    }
    out.push(Math.max(s, l));
  }
  return out;
}

export function planQuantMatmul(x1v: unknown, x2v: unknown, scalev: unknown, optionsv: unknown): QuantMatmulPlan {
  const x1 = requireTensor(x1v, 'x1');
  const x2 = requireTensor(x2v, 'x2');
  const scale = requireTensor(scalev, 'scale');
  const opts = requireOptions(optionsv, 'options', OPTION_KEYS);
  const offset = optionalTensor(opts.offset, 'options.offset');
  const pertokenScale = optionalTensor(opts.pertokenScale, 'options.pertokenScale');
  const bias = optionalTensor(opts.bias, 'options.bias');
  const signal = requireSignal(opts.signal, 'options.signal');
  let outputDtype: OutputDType = 'int8';
  if (opts.outputDtype !== undefined && opts.outputDtype !== null) {
    // a dtype A2/A3 cannot output is the device's rejection; any other value a wrong argument
    if (isDType(opts.outputDtype) && !(OUTPUT_DTYPES as readonly DType[]).includes(opts.outputDtype)) {
      dtypeError('options.outputDtype', `Not supported output dtype is ${opts.outputDtype}; A2/A3 outputs are int8, float16, bfloat16 and int32`);
    }
    outputDtype = checkDType(opts.outputDtype, 'options.outputDtype', OUTPUT_DTYPES);
  }
  const device = commonDevice([['x1', x1], ['x2', x2], ['scale', scale], ['options.offset', offset], ['options.pertokenScale', pertokenScale], ['options.bias', bias]]);

  // dtypes of x1/x2 (docs/semantics.md §1.5, §2.1)
  if (x1.dtype !== 'int8' && x1.dtype !== 'int32') dtypeError('x1', `must be int8, or int32 holding 8 int4 values each, got ${x1.dtype}`);
  if (x1.dtype === 'int8' && x2.dtype === 'int32') {
    fail('ERR_QMM_UNSUPPORTED', 'x2', 'int8 x1 with int32 (int4) x2 is the A8W4 mode, which needs group_sizes; it is not supported by this package (docs/semantics.md §2.1 row 10)');
  }
  if (x2.dtype !== x1.dtype) dtypeError('x2', `In non-A8W4 case, x1 and x2 dtype should be same, got x1 ${x1.dtype} and x2 ${x2.dtype}`);
  const int4 = x1.dtype === 'int32';

  // formats
  requireND(x1, 'x1');
  for (const [arg, t] of [['scale', scale], ['options.offset', offset], ['options.pertokenScale', pertokenScale], ['options.bias', bias]] as const) {
    if (t) requireND(t, arg);
  }
  const nz = x2.format === 'FRACTAL_NZ';

  // ranks
  if (x1.ndim < 2 || x1.ndim > 6) fail('ERR_QMM_SHAPE', 'x1', `x1 dim num should be 2 ~ 6, got shape ${fmtShape(x1.shape)}`);
  if (int4 && x2.ndim !== 2) fail('ERR_QMM_SHAPE', 'x2', `x2 should be 2-d in a4w4/a8w4, but is ${x2.ndim}-d ${fmtShape(x2.shape)}`);
  if (x2.ndim < 2 || x2.ndim > 6) fail('ERR_QMM_SHAPE', 'x2', `x2 dim num should be 2 ~ 6 when x1's dtype is int8, got shape ${fmtShape(x2.shape)}`);
  if (x1.numel === 0 || x2.numel === 0) {
    fail('ERR_QMM_SHAPE', x1.numel === 0 ? 'x1' : 'x2', `QuantMatmul not support to process empty tensor currently (x1 ${fmtShape(x1.shape)}, x2 ${fmtShape(x2.shape)})`);
  }

  // transposition from strides (docs/semantics.md §1.2, §5.3)
  const x1T = isTransposeLastTwoDims(x1);
  const x2T = nz ? isTransposedNzView(x2) : isTransposeLastTwoDims(x2);
  if (int4 && x1T) fail('ERR_QMM_SHAPE', 'x1', 'TransposeX1 should be false in a4w4/a8w4 scenario: an int32 (int4) x1 cannot be a transposed view');

  // m, k, n (docs/semantics.md §1.1, §1.3)
  const r1 = x1.ndim;
  const r2 = x2.ndim;
  const m = x1.shape[r1 - 2];
  let k: number;
  let n: number;
  let x2k: number;
  if (int4) {
    k = x1.shape[r1 - 1] * 8;
    x2k = x2T ? x2.shape[r2 - 2] * 8 : x2.shape[r2 - 2];
    n = x2T ? x2.shape[r2 - 1] : x2.shape[r2 - 1] * 8;
  } else {
    k = x1.shape[r1 - 1];
    x2k = x2.shape[r2 - 2];
    n = x2.shape[r2 - 1];
  }
  if (k !== x2k) {
    // the k x2 would have as x2.t(): a weight stored (n, k) needs its transposed view
    const x2kIfTransposed = int4 && !x2T ? x2.shape[r2 - 1] * 8 : x2.shape[r2 - 1];
    const hint = x2kIfTransposed === k ? `; x2 ${fmtShape(x2.shape)} looks like an (n, k) weight: pass x2.t() (a view, no copy)` : '';
    fail('ERR_QMM_SHAPE', 'x2', `x1 k dim and x2 k dim should be same, but x1 is ${k}, x2 is ${x2k}${hint}`);
  }

  if (nz) {
    if (!x2T && !x2.isContiguous()) fail('ERR_QMM_FORMAT', 'x2', 'a FRACTAL_NZ weight can be used as cast or as its .t() / .transpose(-1, -2) view, not as another view');
    if (k === 1 || n === 1) {
      fail('ERR_QMM_FORMAT', 'x2', `when the format of x2 is FRACTAL_NZ, the last two dimensions of x2 can not be 1, got k = ${k}, n = ${n}`);
    }
    const storage = x2.storageShape as readonly number[];
    const want = int4 ? 8 : 32;
    if (storage[storage.length - 1] !== want) {
      fail('ERR_QMM_FORMAT', 'x2', `a FRACTAL_NZ ${int4 ? "int32 (int4) weight needs C0 = 8 (npuFormatCast(w, 29, { customizeDtype: 'int32' }))" : 'int8 weight needs C0 = 32'}, got storage ${fmtShape(storage)}`);
    }
    const phys = x2T ? [...x2.shape.slice(0, -2), x2.shape[r2 - 1], x2.shape[r2 - 2]] : [...x2.shape];
    const expected = nzStorageShape(phys, want);
    if (expected.length !== storage.length || expected.some((d, i) => d !== storage[i])) {
      fail('ERR_QMM_FORMAT', 'x2', `FRACTAL_NZ storage ${fmtShape(storage)} does not match ${fmtShape(expected)} for the view ${fmtShape(x2.shape)}`);
    }
  }

  // the physical last dims (docs/semantics.md §1.3); exempt with int8 inputs, a float scale and a pertoken scale
  const x1Last = x1T ? m : k;
  const x2Last = x2T ? k : n;
  const exempt = !int4 && pertokenScale !== undefined && (scale.dtype === 'float32' || scale.dtype === 'bfloat16');
  if (!exempt && (x1Last > MAX_LAST_DIM || x2Last > MAX_LAST_DIM)) {
    fail('ERR_QMM_SHAPE', x1Last > MAX_LAST_DIM ? 'x1' : 'x2', `x1 last dim or x2 last dim is larger than 65535, x1 is ${x1Last}, x2 is ${x2Last}`);
  }

  const batch = broadcastBatch(x1, x2);
  const outShape = [...batch, m, n];

  // scale (docs/semantics.md §1.4)
  if (scale.dtype !== 'int64' && scale.dtype !== 'float32' && scale.dtype !== 'bfloat16') {
    dtypeError('scale', `must be int64 (from npuTransQuantParam), float32 or bfloat16, got ${scale.dtype}`);
  }
  if (scale.ndim !== 1) fail('ERR_QMM_SHAPE', 'scale', `the scale dim num must be 1, got shape ${fmtShape(scale.shape)}`);
  if (scale.shape[0] !== 1 && scale.shape[0] !== n) fail('ERR_QMM_SHAPE', 'scale', `the scale 1st dim value must be 1 or x2 n dim value ${n}, got ${scale.shape[0]}`);

  // offset
  if (offset) {
    if (offset.dtype !== 'float32') dtypeError('options.offset', `offset's type supported for float32, got ${offset.dtype}`);
    if (outputDtype !== 'int8') dtypeError('options.offset', `Offset only exists when out dtype is INT8, actual dtype is ${outputDtype}`);
    if (offset.ndim !== 1) fail('ERR_QMM_SHAPE', 'options.offset', `the offset dim num must be 1, got shape ${fmtShape(offset.shape)}`);
    if (offset.shape[0] !== 1 && offset.shape[0] !== n) fail('ERR_QMM_SHAPE', 'options.offset', `Offset 1st dim should equal to x2 n dim ${n} or 1, got ${offset.shape[0]}`);
  }

  // pertoken
  if (pertokenScale) {
    if (pertokenScale.dtype !== 'float32') dtypeError('options.pertokenScale', `must be float32, got ${pertokenScale.dtype}`);
    if (pertokenScale.ndim !== 1) fail('ERR_QMM_SHAPE', 'options.pertokenScale', `the pertoken_scale dim num must be 1, got shape ${fmtShape(pertokenScale.shape)}`);
    if (pertokenScale.shape[0] !== m) fail('ERR_QMM_SHAPE', 'options.pertokenScale', `PertokenScaleOptional 1st dim should be equal to x1 m dim ${m}, but actually is ${pertokenScale.shape[0]}`);
  }

  // bias (docs/semantics.md §1.4)
  if (bias) {
    if (!['int32', 'bfloat16', 'float16', 'float32'].includes(bias.dtype)) {
      dtypeError('options.bias', `bias's type supported for int32, bfloat16, float16 and float32, but bias.dtype is ${bias.dtype}`);
    }
    if (bias.ndim === 1) {
      if (bias.shape[0] !== n) fail('ERR_QMM_SHAPE', 'options.bias', `bias_first_dim should be equal to x2 n dim. bias_first_dim is ${bias.shape[0]} and x2_n_dim is ${n}`);
    } else if (bias.ndim === 3 && !int4) {
      if (outShape.length !== 3) fail('ERR_QMM_SHAPE', 'options.bias', `when bias dim is 3, out dim need to be 3, but out is ${fmtShape(outShape)}`);
      if (bias.shape[0] !== batch[0]) fail('ERR_QMM_SHAPE', 'options.bias', `infered batch value should be equal to bias batch dim value. batch is ${batch[0]}, bias batch dim is ${bias.shape[0]}`);
      if (bias.shape[1] !== 1) fail('ERR_QMM_SHAPE', 'options.bias', `second dim of bias should be 1, but bias_second_dim is ${bias.shape[1]}`);
      if (bias.shape[2] !== n) fail('ERR_QMM_SHAPE', 'options.bias', `third dim should be equal to n, but bias_third_dim is ${bias.shape[2]} and n dim is ${n}`);
    } else if (int4) {
      fail('ERR_QMM_SHAPE', 'options.bias', `Bias should be 1-d in a4w4/a8w4, got shape ${fmtShape(bias.shape)}`);
    } else {
      fail('ERR_QMM_SHAPE', 'options.bias', `bias dim num should be 1 or 3, but actual bias_dim_num is ${bias.ndim}`);
    }
  }

  checkDtypeCombination(int4, scale.dtype, outputDtype, pertokenScale !== undefined, bias?.dtype);

  const packScale = scale.dtype === 'float32' && pertokenScale === undefined && (outputDtype === 'int8' || outputDtype === 'float16');
  return { x1, x2, scale, offset, pertokenScale, bias, outputDtype, outShape, m, k, n, int4, packScale, device, signal };
}

/** The A2/A3 dtype table (docs/semantics.md §2.1, the aclnn checkers of §1.5). */
function checkDtypeCombination(int4: boolean, scale: DType, out: OutputDType, pertoken: boolean, bias: DType | undefined): void {
  const biasIn = (allowed: DType[]) => bias === undefined || allowed.includes(bias);
  if (pertoken) {
    if (out === 'int8' || out === 'int32') {
      dtypeError('options.pertokenScale', `a pertoken scale needs float16 or bfloat16 output on A2/A3, got outputDtype ${out}`);
    }
    if (out === 'float16' && scale !== 'float32') {
      dtypeError('scale', `with a pertoken scale and float16 output the scale dtype must be float32, got ${scale}`);
    }
    if (out === 'bfloat16' && scale !== 'float32' && scale !== 'bfloat16') {
      dtypeError('scale', `with a pertoken scale and bfloat16 output the scale dtype must be float32 or bfloat16, got ${scale}`);
    }
    if (bias === 'bfloat16' && out !== 'bfloat16') dtypeError('options.bias', `When bias dtype is BFLOAT16, out dtype should be BFLOAT16, got ${out}`);
    if (bias === 'float16' && out !== 'float16') dtypeError('options.bias', `When bias dtype is float16 and pertoken is given, output_dtype must be float16, got ${out}`);
    return;
  }
  if (int4 && out !== 'float16') {
    dtypeError('options.outputDtype', `When input's dtype is int32, output_dtype must be float16 (int4 without a pertoken scale), got ${out}`);
  }
  if (bias === 'float16') dtypeError('options.bias', 'When pertokenScaleOptional is nullptr, bias dtype should not be FLOAT16.');
  switch (out) {
    case 'int8':
    case 'float16':
      if (scale === 'bfloat16') dtypeError('scale', `When scale dtype is BFLOAT16, out dtype should be BFLOAT16 or INT32, got ${out}`);
      if (!biasIn(['int32'])) {
        dtypeError('options.bias', bias === 'bfloat16' ? `When bias dtype is BFLOAT16, out dtype should be BFLOAT16, got ${out}` : `a ${bias} bias needs bfloat16 output when there is no pertoken scale, got ${out}`);
      }
      return;
    case 'bfloat16':
      if (scale === 'int64') dtypeError('scale', 'an int64 scale with bfloat16 output is not supported on A2/A3 (use a float32 or bfloat16 scale)');
      return;
    case 'int32':
      if (scale !== 'float32' && scale !== 'bfloat16') dtypeError('scale', `When output_dtype is int32, scale's dtype must be bfloat16 or float32, got ${scale}`);
      if (!biasIn(['int32'])) dtypeError('options.bias', `When output_dtype dtype is int32, bias_dtype must be int32, but it is ${bias}`);
      return;
  }
}

