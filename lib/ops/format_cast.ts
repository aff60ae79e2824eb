/** npuFormatCast: ND <-> FRACTAL_NZ (SPEC §5). */

import type { NativeFormatCastArgs } from '../native';
import type { Tensor } from '../tensor';
import { planFormatCast, type AclFormat, type FormatCastOptions, type FormatCastPlan } from '../validate/format_cast';
import { allocOutput, currentBackend, describeTensor, runAsync, runSync } from './run';

function prepare(plan: FormatCastPlan): { args?: NativeFormatCastArgs; out: Tensor } {
  const { src, target } = plan;
  const backend = currentBackend();
  if (src.format === target) {
    // same format: torch returns the tensor itself
    return { out: src };
  }
  const shape = [...src.shape];
  const out = allocOutput(backend, shape, src.dtype, src.device, target === 'FRACTAL_NZ' ? plan.storageShape : undefined);
  return { args: { src: describeTensor(src, backend, 'x'), dst: describeTensor(out, backend, 'out') }, out };
}

/** Synchronous form of npuFormatCast. */
export function npuFormatCastSync(x: Tensor, aclFormat: AclFormat, options?: FormatCastOptions): Tensor {
  const { args, out } = prepare(planFormatCast(x, aclFormat, options));
  if (args) runSync(() => currentBackend().handle.formatCastSync(args), [out]);
  return out;
}

/**
 * Casts to FRACTAL_NZ (29) with zero padding, or back to ND (2). The NZ tensor
 * keeps the logical shape; `.cpu().data` holds the NZ storage bytes, as on the
 * device. Its `.t()` is a transposed-weight view npuQuantMatmul understands.
 */
export async function npuFormatCast(x: Tensor, aclFormat: AclFormat, options?: FormatCastOptions): Promise<Tensor> {
  const { args, out } = prepare(planFormatCast(x, aclFormat, options));
  if (args) await runAsync(undefined, () => currentBackend().handle.formatCast(args), [out]);
  return out;
}
