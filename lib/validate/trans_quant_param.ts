/**
 * Checks of npuTransQuantParam (docs/semantics.md §4): the shape rules of
 * aclnnTransQuantParamV2/V3's own CheckShape (what eager torch_npu runs on the
 * device), not the stricter graph-mode meta function, and torch_npu's eager
 * output shape.
 */

import type { Device } from '../device';
import { invalidArgType, outOfRange } from '../arg_errors';
import { describe } from '../errors';
import { fmtShape, Tensor } from '../tensor';
import { commonDevice, fail, requireND, requireOptions, requireTensor } from './common';

export interface TransQuantParamOptions {
  /** 0 (default): truncate the scale to fp19; 1: round it to nearest even (docs/semantics.md §4). */
  roundMode?: 0 | 1;
}

export interface TransQuantParamPlan {
  scale: Tensor;
  offset?: Tensor;
  roundMode: 0 | 1;
  outShape: number[];
  device: Device;
}

/**
 * The call forms `(scale, offset?, options?)` and `(scale, options)`: the
 * second argument is the offset when it is a Tensor (or null/undefined), and
 * the options when it is a plain object and no third argument follows.
 */
function splitOffsetAndOptions(second: unknown, third: unknown): { offset?: Tensor; options: unknown } {
  if (second === undefined || second === null) return { options: third };
  if (second instanceof Tensor) return { offset: requireTensor(second, 'offset'), options: third };
  const plainObject = typeof second === 'object' && !Array.isArray(second) && !ArrayBuffer.isView(second);
  if (plainObject && third === undefined) return { options: second };
  if (plainObject) {
    throw invalidArgType(`offset must be a Tensor, null or undefined when options are passed as the third argument, got ${describe(second)}`);
  }
  throw invalidArgType(`offset must be a Tensor, null or undefined (or pass the options { roundMode } as the second argument), got ${describe(second)}`);
}

function parseRoundMode(optionsv: unknown): 0 | 1 {
  const opts = requireOptions(optionsv, 'options', ['roundMode'] as const);
  if (opts.roundMode === undefined) return 0;
  if (typeof opts.roundMode !== 'number') throw invalidArgType(`options.roundMode must be 0 or 1, got ${describe(opts.roundMode)}`);
  if (opts.roundMode !== 0 && opts.roundMode !== 1) throw outOfRange(`options.roundMode: round_mode must be 0 or 1. but now is ${opts.roundMode}`);
  return opts.roundMode;
}

/** (n,) or (1, n) with n > 0, float32 ND: the rule aclnn applies to both scale and offset on A2/A3. */
function checkVector(t: Tensor, argument: 'scale' | 'offset'): void {
  requireND(t, argument);
  if (t.dtype !== 'float32') fail('ERR_QMM_DTYPE', argument, `must be float32, got ${t.dtype}`);
  const ok = t.ndim === 1 || (t.ndim === 2 && t.shape[0] === 1);
  if (!ok) fail('ERR_QMM_SHAPE', argument, `shape of ${argument} only support (n, ) and (1, n), but current is ${fmtShape(t.shape)}`);
  if (t.numel === 0) fail('ERR_QMM_SHAPE', argument, `${argument} can not be empty, got ${fmtShape(t.shape)}`);
}

/**
 * torch_npu's eager output shape (op-plugin TransQuantParamKernelNpuOpApi):
 * the scale's shape, except that a 1-D scale with an offset gives the
 * offset's shape unless scale.size(0) > offset.size(0).
 */
function outputShape(scale: Tensor, offset: Tensor | undefined): number[] {
  if (scale.ndim === 1 && offset && !(scale.shape[0] > offset.shape[0])) return [...offset.shape];
  return [...scale.shape];
}

function checkLengths(scale: Tensor, offset: Tensor, outShape: number[]): void {
  const both = `scale ${fmtShape(scale.shape)} and offset ${fmtShape(offset.shape)}`;
  // aclnn's own comparison: first dims, for a 1-D offset only.
  if (offset.ndim === 1 && scale.shape[0] > 1 && offset.shape[0] > 1 && scale.shape[0] !== offset.shape[0]) {
    fail('ERR_QMM_SHAPE', 'offset', `scale and offset should be same when both greater than 1, but scale is ${scale.shape[0]}, offset is ${offset.shape[0]} (${both})`);
  }
  // The kernel reads and writes max(len) values: two lengths above one that
  // differ would read past one input, and a result with fewer elements would
  // be written past its end. aclnn does not check either; we refuse.
  const ls = scale.numel;
  const lo = offset.numel;
  if (ls > 1 && lo > 1 && ls !== lo) {
    fail('ERR_QMM_SHAPE', 'offset', `scale and offset must have the same number of elements when both have more than one, got ${both}`);
  }
  const len = Math.max(ls, lo);
  const outLen = outShape.reduce((a, b) => a * b, 1);
  if (outLen !== len) {
    fail('ERR_QMM_SHAPE', 'offset', `the result takes the scale's shape ${fmtShape(outShape)} but the device would write ${len} values (${both}); pass the scale as (1,) or (${len},)`);
  }
}

export function planTransQuantParam(scalev: unknown, secondv: unknown, thirdv: unknown): TransQuantParamPlan {
  const scale = requireTensor(scalev, 'scale');
  const { offset, options } = splitOffsetAndOptions(secondv, thirdv);
  const roundMode = parseRoundMode(options);
  const device = commonDevice([['scale', scale], ['offset', offset]]);
  checkVector(scale, 'scale');
  if (offset) checkVector(offset, 'offset');
  const outShape = outputShape(scale, offset);
  if (offset) checkLengths(scale, offset, outShape);
  return { scale, offset, roundMode, outShape, device };
}
