/** npuTransQuantParam: float32 scale (+ offset) -> int64 quant param (SPEC §4). */

import type { NativeTransQuantParamArgs } from '../native';
import type { Tensor } from '../tensor';
import { planTransQuantParam, type TransQuantParamOptions, type TransQuantParamPlan } from '../validate/trans_quant_param';
import { allocOutput, currentBackend, describeTensor, runAsync, runSync } from './run';

function prepare(plan: TransQuantParamPlan): { args: NativeTransQuantParamArgs; out: Tensor } {
  const backend = currentBackend();
  const out = allocOutput(backend, plan.outShape, 'int64', plan.device);
  const args: NativeTransQuantParamArgs = {
    scale: describeTensor(plan.scale, backend, 'scale'),
    roundMode: plan.roundMode,
    out: describeTensor(out, backend, 'out'),
  };
  if (plan.offset) args.offset = describeTensor(plan.offset, backend, 'offset');
  return { args, out };
}

/** Synchronous form of npuTransQuantParam (blocks the event loop for the call). */
export function npuTransQuantParamSync(scale: Tensor, offset?: Tensor | null, options?: TransQuantParamOptions): Tensor {
  const { args, out } = prepare(planTransQuantParam(scale, offset, options));
  runSync(() => currentBackend().handle.transQuantParamSync(args), [out]);
  return out;
}

/**
 * Packs a float32 scale (and optional offset) into the int64 quant param the
 * fixpipe reads: fp19 scale in bits 0–31, 9-bit offset in bits 37–45, bit 46 set.
 */
export async function npuTransQuantParam(scale: Tensor, offset?: Tensor | null, options?: TransQuantParamOptions): Promise<Tensor> {
  const { args, out } = prepare(planTransQuantParam(scale, offset, options));
  await runAsync(undefined, () => currentBackend().handle.transQuantParam(args), [out]);
  return out;
}
