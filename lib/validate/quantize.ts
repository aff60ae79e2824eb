/**
 * Checks of npuQuantize (torch_npu.npu_quantize with div_mode=False, axis=-1,
 * dtype=qint8) and npuDynamicQuant (torch_npu.npu_dynamic_quant, int8), from
 * the op-plugin docs: npu_quantize takes float32/float16/bfloat16 input and a
 * 1-D scale of the last dim's size or 1, with zero_points of the same shape and
 * dtype; npu_dynamic_quant takes float16/bfloat16 input of rank > 1.
 */

import type { Device } from '../device';
import type { DType } from '../dtypes';
import { fmtShape, type Tensor } from '../tensor';
import { commonDevice, fail, optionalTensor, requireND, requireOptions, requireSignal, requireTensor } from './common';

export interface QuantizeOptions {
  /** Cancels the call while it is queued (Promise form). */
  signal?: AbortSignal | null;
}

export type DynamicQuantOptions = QuantizeOptions;

export interface QuantizePlan {
  x: Tensor;
  scale: Tensor;
  offset?: Tensor;
  device: Device;
  signal?: AbortSignal;
}

export interface DynamicQuantPlan {
  x: Tensor;
  /** x.shape without its last dim: the per-row scale's shape. */
  scaleShape: number[];
  device: Device;
  signal?: AbortSignal;
}

const QUANTIZE_X: readonly DType[] = ['float32', 'float16', 'bfloat16'];
const DYNAMIC_X: readonly DType[] = ['float16', 'bfloat16'];
const MAX_RANK = 8;

function checkChannelVector(t: Tensor, argument: string, x: Tensor): void {
  requireND(t, argument);
  // aclnnAscendQuantV3 (A2/A3) takes a float16/bfloat16 x only with scales of
  // that same dtype; the torch_npu docs say scales match the input's dtype.
  if (t.dtype !== x.dtype) {
    fail('ERR_QMM_DTYPE', argument, `must have x's dtype ${x.dtype} (scales and zero_points match the input's dtype), got ${t.dtype}`);
  }
  const cols = x.shape[x.ndim - 1];
  if (t.ndim !== 1 || (t.shape[0] !== 1 && t.shape[0] !== cols)) {
    fail('ERR_QMM_SHAPE', argument, `must have shape (1,) or (${cols},) (x's last dim, axis=-1), got ${fmtShape(t.shape)}`);
  }
}

export function planQuantize(xv: unknown, scalev: unknown, offsetv: unknown, optionsv: unknown): QuantizePlan {
  const x = requireTensor(xv, 'x');
  const scale = requireTensor(scalev, 'scale');
  const offset = optionalTensor(offsetv, 'offset');
  const opts = requireOptions(optionsv, 'options', ['signal'] as const);
  const signal = requireSignal(opts.signal, 'options.signal');
  const device = commonDevice([['x', x], ['scale', scale], ['offset', offset]]);
  requireND(x, 'x');
  if (!QUANTIZE_X.includes(x.dtype)) fail('ERR_QMM_DTYPE', 'x', `must be float32, float16 or bfloat16, got ${x.dtype}`);
  if (x.ndim < 1 || x.ndim > MAX_RANK) fail('ERR_QMM_SHAPE', 'x', `must have 1 to ${MAX_RANK} dims, got shape ${fmtShape(x.shape)}`);
  checkChannelVector(scale, 'scale', x);
  if (offset) {
    checkChannelVector(offset, 'offset', x);
    if (offset.dtype !== scale.dtype) fail('ERR_QMM_DTYPE', 'offset', `must have scale's dtype ${scale.dtype} (zero_points and scales agree), got ${offset.dtype}`);
    if (offset.shape[0] !== scale.shape[0]) {
      fail('ERR_QMM_SHAPE', 'offset', `must have scale's shape ${fmtShape(scale.shape)} (zero_points and scales agree), got ${fmtShape(offset.shape)}`);
    }
  }
  return signal ? { x, scale, offset, device, signal } : { x, scale, offset, device };
}

export function planDynamicQuant(xv: unknown, optionsv: unknown): DynamicQuantPlan {
  const x = requireTensor(xv, 'x');
  const opts = requireOptions(optionsv, 'options', ['signal'] as const);
  const signal = requireSignal(opts.signal, 'options.signal');
  const device = commonDevice([['x', x]]);
  requireND(x, 'x');
  if (!DYNAMIC_X.includes(x.dtype)) fail('ERR_QMM_DTYPE', 'x', `must be float16 or bfloat16, got ${x.dtype}`);
  if (x.ndim < 2 || x.ndim > MAX_RANK) fail('ERR_QMM_SHAPE', 'x', `must have 2 to ${MAX_RANK} dims (npu_dynamic_quant needs rank > 1), got shape ${fmtShape(x.shape)}`);
  const scaleShape = x.shape.slice(0, -1);
  return signal ? { x, scaleShape, device, signal } : { x, scaleShape, device };
}
