/** npuQuantMatmul: the quantized matmul of torch_npu.npu_quant_matmul (SPEC §1–§3). */

import type { NativeQuantMatmulArgs } from '../native';
import type { Tensor } from '../tensor';
import { planQuantMatmul, type QuantMatmulOptions, type QuantMatmulPlan } from '../validate/quant_matmul';
import { allocOutput, currentBackend, describeTensor, releaseOutputs, runAsync, runSync } from './run';
import { npuTransQuantParam, npuTransQuantParamSync } from './trans_quant_param';

function prepare(plan: QuantMatmulPlan, scale: Tensor): { args: NativeQuantMatmulArgs; out: Tensor } {
  const backend = currentBackend();
  const out = allocOutput(backend, plan.outShape, plan.outputDtype, plan.device);
  const args: NativeQuantMatmulArgs = {
    x1: describeTensor(plan.x1, backend, 'x1'),
    x2: describeTensor(plan.x2, backend, 'x2'),
    scale: describeTensor(scale, backend, 'scale'),
    out: describeTensor(out, backend, 'out'),
  };
  if (plan.offset) args.offset = describeTensor(plan.offset, backend, 'options.offset');
  if (plan.pertokenScale) args.pertokenScale = describeTensor(plan.pertokenScale, backend, 'options.pertokenScale');
  if (plan.bias) args.bias = describeTensor(plan.bias, backend, 'options.bias');
  return { args, out };
}

/**
 * Synchronous npuQuantMatmul. Blocks the event loop while it computes; prefer
 * the Promise form in servers.
 */
export function npuQuantMatmulSync(x1: Tensor, x2: Tensor, scale: Tensor, options?: QuantMatmulOptions): Tensor {
  const plan = planQuantMatmul(x1, x2, scale, options);
  // torch packs a float32 scale for int8/float16 output without pertoken (SPEC §2.2)
  const s = plan.packScale ? npuTransQuantParamSync(plan.scale, plan.offset) : plan.scale;
  try {
    const { args, out } = prepare(plan, s);
    runSync(() => currentBackend().handle.quantMatmulSync(args), [out]);
    return out;
  } finally {
    if (s !== plan.scale) releaseOutputs([s]); // the packed scale is ours: free its device memory now
  }
}

/**
 * x1 (…, m, k) @ x2 (…, k, n) with int8 (or int4-in-int32) inputs, dequantized
 * per SPEC §3. Runs off the event loop on the shared compute pool.
 */
export async function npuQuantMatmul(x1: Tensor, x2: Tensor, scale: Tensor, options?: QuantMatmulOptions): Promise<Tensor> {
  const plan = planQuantMatmul(x1, x2, scale, options);
  if (plan.signal?.aborted) await runAsync(plan.signal, async () => undefined);
  const s = plan.packScale ? await npuTransQuantParam(plan.scale, plan.offset) : plan.scale;
  try {
    const { args, out } = prepare(plan, s);
    await runAsync(plan.signal, (cancel) => {
      if (cancel) args.cancel = cancel;
      return currentBackend().handle.quantMatmul(args);
    }, [out]);
    return out;
  } finally {
    if (s !== plan.scale) releaseOutputs([s]);
  }
}
