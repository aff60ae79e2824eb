/** Checks of npuTransQuantParam (SPEC §4, §1.5 TransQuantParam). */

import type { Device } from '../device';
import { describe } from '../errors';
import { fmtShape, type Tensor } from '../tensor';
import { commonDevice, fail, optionalTensor, requireND, requireOptions, requireTensor } from './common';

export interface TransQuantParamOptions {
  /** 0 (default): truncate the scale to fp19; 1: round it to nearest even (SPEC §4). */
  roundMode?: 0 | 1;
}

export interface TransQuantParamPlan {
  scale: Tensor;
  offset?: Tensor;
  roundMode: 0 | 1;
  outShape: number[];
  device: Device;
}

function checkVectorShape(t: Tensor, argument: string): void {
  const ok = t.ndim === 1 || (t.ndim === 2 && t.shape[0] === 1);
  const what = argument === 'scale' ? 'scale' : 'offset';
  if (!ok) fail('ERR_QMM_SHAPE', argument, `shape of ${what} only support (n, ) and (1, n), but current is ${fmtShape(t.shape)}`);
  if (t.numel === 0) fail('ERR_QMM_SHAPE', argument, `${what} can not be empty, got ${fmtShape(t.shape)}`);
}

export function planTransQuantParam(scalev: unknown, offsetv: unknown, optionsv: unknown): TransQuantParamPlan {
  const scale = requireTensor(scalev, 'scale');
  const offset = optionalTensor(offsetv, 'offset');
  const opts = requireOptions(optionsv, 'options', ['roundMode'] as const);
  let roundMode: 0 | 1 = 0;
  if (opts.roundMode !== undefined) {
    if (typeof opts.roundMode !== 'number') throw new TypeError(`options.roundMode must be 0 or 1, got ${describe(opts.roundMode)}`);
    if (opts.roundMode !== 0 && opts.roundMode !== 1) throw new RangeError(`options.roundMode: round_mode must be 0 or 1. but now is ${opts.roundMode}`);
    roundMode = opts.roundMode;
  }
  const device = commonDevice([['scale', scale], ['offset', offset]]);
  requireND(scale, 'scale');
  if (scale.dtype !== 'float32') fail('ERR_QMM_DTYPE', 'scale', `must be float32, got ${scale.dtype}`);
  checkVectorShape(scale, 'scale');
  const ls = scale.numel;
  let outShape = [...scale.shape];
  if (offset) {
    requireND(offset, 'offset');
    if (offset.dtype !== 'float32') fail('ERR_QMM_DTYPE', 'offset', `must be float32, got ${offset.dtype}`);
    checkVectorShape(offset, 'offset');
    const lo = offset.numel;
    if (scale.ndim === 2 && (offset.ndim !== 2 || lo !== ls)) {
      fail('ERR_QMM_SHAPE', 'offset', `when the input shape of scale is (1, n), shape of scale and offset should be equal, got scale ${fmtShape(scale.shape)} and offset ${fmtShape(offset.shape)}`);
    }
    if (ls > 1 && lo > 1 && ls !== lo) {
      fail('ERR_QMM_SHAPE', 'offset', `offset first dim should be equal to scale first dim if none of them are equal to one, got scale ${fmtShape(scale.shape)} and offset ${fmtShape(offset.shape)}`);
    }
    if (scale.ndim === 1) outShape = [Math.max(ls, lo)];
  }
  return { scale, offset, roundMode, outShape, device };
}
