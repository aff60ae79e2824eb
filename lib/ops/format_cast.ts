/** npuFormatCast: ND <-> FRACTAL_NZ (docs/semantics.md §5). */

import type { Tensor } from '../tensor';
import { planFormatCast, type AclFormat, type FormatCastOptions } from '../validate/format_cast';
import { defineOp } from './define';

const formatCast = defineOp({
  native: 'formatCast',
  plan: (x: Tensor, aclFormat: AclFormat, options?: FormatCastOptions) => {
    const plan = planFormatCast(x, aclFormat, options);
    return Object.assign(plan, { device: plan.src.device });
  },
  // same format: torch returns the tensor itself
  shortcut: (p) => (p.src.format === p.target ? p.src : undefined),
  inputs: (p) => ({ src: [p.src, 'x'] }),
  outputs: (p) => ({ dst: { shape: p.src.shape, dtype: p.src.dtype, nz: p.target === 'FRACTAL_NZ' ? p.storageShape : undefined } }),
  result: (o) => o.dst,
});

/**
 * Casts to FRACTAL_NZ (29) with zero padding, or back to ND (2). The NZ tensor
 * keeps the logical shape; `.cpu().data` holds the NZ storage bytes, as on the
 * device. Its `.t()` is a transposed-weight view npuQuantMatmul understands.
 */
export const npuFormatCast = formatCast.async;

/** Synchronous form of npuFormatCast. */
export const npuFormatCastSync = formatCast.sync;
