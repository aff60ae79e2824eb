/** npuQuantMatmul: the quantized matmul of torch_npu.npu_quant_matmul (docs/semantics.md §1–§3). */

import type { Tensor } from '../tensor';
import { planQuantMatmul, type QuantMatmulOptions } from '../validate/quant_matmul';
import { defineOp } from './define';
import { transQuantParam } from './trans_quant_param';

const quantMatmul = defineOp({
  native: 'quantMatmul',
  plan: (x1: Tensor, x2: Tensor, scale: Tensor, options?: QuantMatmulOptions) => planQuantMatmul(x1, x2, scale, options),
  // torch packs a float32 scale for int8/float16 output without pertoken (docs/semantics.md §2.2)
  stage: (p) => (p.packScale ? { op: transQuantParam, args: [p.scale, p.offset] } : undefined),
  inputs: (p, packedScale) => ({
    x1: [p.x1, 'x1'],
    x2: [p.x2, 'x2'],
    scale: [packedScale ?? p.scale, 'scale'],
    offset: [p.offset, 'options.offset'],
    pertokenScale: [p.pertokenScale, 'options.pertokenScale'],
    bias: [p.bias, 'options.bias'],
  }),
  outputs: (p) => ({ out: { shape: p.outShape, dtype: p.outputDtype, overwritten: true } }),
  result: (o) => o.out,
});

/**
 * x1 (…, m, k) @ x2 (…, k, n) with int8 (or int4-in-int32) inputs, dequantized
 * per docs/semantics.md §3. Runs off the event loop on the shared compute pool.
 */
export const npuQuantMatmul = quantMatmul.async;

/**
 * Synchronous npuQuantMatmul. Blocks the event loop while it computes; prefer
 * the Promise form in servers.
 */
export const npuQuantMatmulSync = quantMatmul.sync;
