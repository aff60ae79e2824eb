/** npuTransQuantParam: float32 scale (+ offset) -> int64 quant param (docs/semantics.md §4). */

import type { Tensor } from '../tensor';
import { planTransQuantParam, type TransQuantParamOptions } from '../validate/trans_quant_param';
import { defineOp } from './define';

export const transQuantParam = defineOp({
  native: 'transQuantParam',
  plan: (scale: Tensor, offsetOrOptions?: Tensor | TransQuantParamOptions | null, options?: TransQuantParamOptions) => planTransQuantParam(scale, offsetOrOptions, options),
  inputs: (p) => ({ scale: [p.scale, 'scale'], offset: [p.offset, 'offset'] }),
  scalars: (p) => ({ roundMode: p.roundMode }),
  outputs: (p) => ({ out: { shape: p.outShape, dtype: 'int64' } }),
  result: (o) => o.out,
});

/** The call forms: `(scale, options?)` and `(scale, offset?, options?)`. */
export interface TransQuantParamFunction<R> {
  (scale: Tensor, options?: TransQuantParamOptions): R;
  (scale: Tensor, offset?: Tensor | null, options?: TransQuantParamOptions): R;
}

/**
 * Packs a float32 scale (and optional offset) into the int64 quant param the
 * fixpipe reads: fp19 scale in bits 0–31, 9-bit offset in bits 37–45, bit 46 set.
 */
export const npuTransQuantParam: TransQuantParamFunction<Promise<Tensor>> = transQuantParam.async;

/** Synchronous form of npuTransQuantParam (blocks the event loop for the call). */
export const npuTransQuantParamSync: TransQuantParamFunction<Tensor> = transQuantParam.sync;
