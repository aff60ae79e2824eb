/**
 * Activation quantization: npuQuantize (torch_npu.npu_quantize with
 * div_mode=False, axis=-1, qint8) and npuDynamicQuant (torch_npu.npu_dynamic_quant,
 * per-row symmetric int8). Arithmetic: binding/emulator/quantize.cc.
 */

import type { Tensor } from '../tensor';
import { planDynamicQuant, planQuantize, type DynamicQuantOptions, type QuantizeOptions } from '../validate/quantize';
import { defineOp } from './define';

export interface DynamicQuantResult {
  /** int8, x's shape. */
  y: Tensor;
  /** float32, x.shape without the last dim: the per-row dequantization scale (docs/semantics.md §9.2). */
  scale: Tensor;
}

const quantize = defineOp({
  native: 'quantize',
  plan: (x: Tensor, scale: Tensor, offset?: Tensor | null, options?: QuantizeOptions) => planQuantize(x, scale, offset, options),
  inputs: (p) => ({ x: [p.x, 'x'], scale: [p.scale, 'scale'], offset: [p.offset, 'offset'] }),
  outputs: (p) => ({ out: { shape: p.x.shape, dtype: 'int8' } }),
  result: (o) => o.out,
});

const dynamicQuant = defineOp({
  native: 'dynamicQuant',
  plan: (x: Tensor, options?: DynamicQuantOptions) => planDynamicQuant(x, options),
  inputs: (p) => ({ x: [p.x, 'x'] }),
  outputs: (p) => ({ out: { shape: p.x.shape, dtype: 'int8' }, scaleOut: { shape: p.scaleShape, dtype: 'float32' } }),
  result: (o): DynamicQuantResult => ({ y: o.out, scale: o.scaleOut }),
});

/**
 * Static activation quantization to int8 along the last dim (vllm-ascend's
 * W8A8 input path): `y = sat_int8(rne(f32(f32(x) * scale[c]) + offset[c]))`,
 * x float32/float16/bfloat16, `scale`/`offset` of x's dtype (ERR_QMM_DTYPE
 * otherwise) with shape (1,) or (x.shape[-1],). Runs off the event loop.
 */
export const npuQuantize = quantize.async;

/** Synchronous form of npuQuantize (blocks the event loop for the call). */
export const npuQuantizeSync = quantize.sync;

/**
 * Per-row symmetric int8 quantization of float16/bfloat16 x (rank ≥ 2):
 * `q = f32(127 / max|x[row]|)`, `y = sat_int8(rne(f32(x · q)))`, `scale[row] = max · f32(1/127)`
 * (or `1 / q` for the rows the A2/A3 kernels treat that way, docs/semantics.md §9.2);
 * an all-zero row gives scale 0 and y 0.
 */
export const npuDynamicQuant = dynamicQuant.async;

/** Synchronous form of npuDynamicQuant (blocks the event loop for the call). */
export const npuDynamicQuantSync = dynamicQuant.sync;
