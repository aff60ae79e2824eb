/**
 * Activation quantization: npuQuantize (torch_npu.npu_quantize with
 * div_mode=False, axis=-1, qint8) and npuDynamicQuant (torch_npu.npu_dynamic_quant,
 * per-row symmetric int8). Arithmetic: binding/emulator/quantize.cc.
 */

import type { NativeDynamicQuantArgs, NativeQuantizeArgs } from '../native';
import type { Tensor } from '../tensor';
import { planDynamicQuant, planQuantize, type DynamicQuantOptions, type DynamicQuantPlan, type QuantizeOptions, type QuantizePlan } from '../validate/quantize';
import { allocOutput, currentBackend, describeTensor, runAsync, runSync } from './run';

export interface DynamicQuantResult {
  /** int8, x's shape. */
  y: Tensor;
  /** float32, x.shape without the last dim: the per-row dequantization scale (rowmax|x| / 127). */
  scale: Tensor;
}

function prepareQuantize(plan: QuantizePlan): { args: NativeQuantizeArgs; out: Tensor } {
  const backend = currentBackend();
  const out = allocOutput(backend, [...plan.x.shape], 'int8', plan.device);
  const args: NativeQuantizeArgs = {
    x: describeTensor(plan.x, backend, 'x'),
    scale: describeTensor(plan.scale, backend, 'scale'),
    out: describeTensor(out, backend, 'out'),
  };
  if (plan.offset) args.offset = describeTensor(plan.offset, backend, 'offset');
  return { args, out };
}

function prepareDynamic(plan: DynamicQuantPlan): { args: NativeDynamicQuantArgs; result: DynamicQuantResult } {
  const backend = currentBackend();
  const y = allocOutput(backend, [...plan.x.shape], 'int8', plan.device);
  const scale = allocOutput(backend, plan.scaleShape, 'float32', plan.device);
  const args: NativeDynamicQuantArgs = {
    x: describeTensor(plan.x, backend, 'x'),
    out: describeTensor(y, backend, 'out'),
    scaleOut: describeTensor(scale, backend, 'scale'),
  };
  return { args, result: { y, scale } };
}

/**
 * Static activation quantization to int8 along the last dim (vllm-ascend's
 * W8A8 input path): `y = sat_int8(rne(f32(f32(x) * scale[c]) + offset[c]))`,
 * x float32/float16/bfloat16, `scale`/`offset` of x's dtype (ERR_QMM_DTYPE
 * otherwise) with shape (1,) or (x.shape[-1],). Runs off the event loop.
 */
export async function npuQuantize(x: Tensor, scale: Tensor, offset?: Tensor | null, options?: QuantizeOptions): Promise<Tensor> {
  const plan = planQuantize(x, scale, offset, options);
  const { args, out } = prepareQuantize(plan);
  await runAsync(plan.signal, (cancel) => {
    if (cancel) args.cancel = cancel;
    return currentBackend().handle.quantize(args);
  });
  return out;
}

/** Synchronous form of npuQuantize (blocks the event loop for the call). */
export function npuQuantizeSync(x: Tensor, scale: Tensor, offset?: Tensor | null, options?: QuantizeOptions): Tensor {
  const { args, out } = prepareQuantize(planQuantize(x, scale, offset, options));
  runSync(() => currentBackend().handle.quantizeSync(args));
  return out;
}

/**
 * Per-row symmetric int8 quantization of float16/bfloat16 x (rank ≥ 2):
 * `scale[row] = f32(max|x[row]| / 127)`, `y = sat_int8(rne(f32(x / scale[row])))`;
 * an all-zero row gives scale 0 and y 0.
 */
export async function npuDynamicQuant(x: Tensor, options?: DynamicQuantOptions): Promise<DynamicQuantResult> {
  const plan = planDynamicQuant(x, options);
  const { args, result } = prepareDynamic(plan);
  await runAsync(plan.signal, (cancel) => {
    if (cancel) args.cancel = cancel;
    return currentBackend().handle.dynamicQuant(args);
  });
  return result;
}

/** Synchronous form of npuDynamicQuant (blocks the event loop for the call). */
export function npuDynamicQuantSync(x: Tensor, options?: DynamicQuantOptions): DynamicQuantResult {
  const { args, result } = prepareDynamic(planDynamicQuant(x, options));
  runSync(() => currentBackend().handle.dynamicQuantSync(args));
  return result;
}
