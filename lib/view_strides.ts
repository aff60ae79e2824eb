/**
 * The geometry of Tensor.view()/reshape(): the requested shape with its -1
 * resolved, and the strides that present that shape over the same memory.
 */

import { invalidArgType, invalidArgValue, outOfRange } from './arg_errors';
import { describe, QmmError } from './errors';

const MAX_RANK = 8;

function fmt(s: readonly number[]): string {
  return s.length === 1 ? `(${s[0]},)` : `(${s.join(', ')})`;
}

/** `shape` checked, with at most one -1 replaced by what makes `numel` elements. */
export function resolveShape(shape: unknown, numel: number, argument: string, from: string): number[] {
  if (!Array.isArray(shape)) throw invalidArgType(`${argument} must be an array of integers (one may be -1), got ${describe(shape)}`);
  if (shape.length > MAX_RANK) throw outOfRange(`${argument} has rank ${shape.length}; at most ${MAX_RANK} dims are supported`);
  const out: number[] = [];
  let inferAt = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number') throw invalidArgType(`${argument}[${i}] must be an integer, got ${describe(d)}`);
    if (d === -1) {
      if (inferAt >= 0) throw invalidArgValue(`${argument}: only one dim can be -1, got dims ${inferAt} and ${i}`);
      inferAt = i;
    } else if (!Number.isInteger(d) || d < 0 || d > 0x7fffffff) {
      throw outOfRange(`${argument}[${i}] must be -1 or an integer in [0, 2147483647], got ${d}`);
    } else {
      known *= d;
    }
    out.push(d);
  }
  if (inferAt >= 0) {
    if (known === 0 || numel % known !== 0) {
      throw new QmmError('ERR_QMM_SHAPE', `${argument} [${out.join(', ')}] is invalid for a tensor ${from} of ${numel} elements`, { argument: 'shape' });
    }
    out[inferAt] = numel / known;
  } else if (known !== numel) {
    throw new QmmError('ERR_QMM_SHAPE', `${argument} ${fmt(out)} has ${known} elements but the tensor ${from} has ${numel}`, { argument: 'shape' });
  }
  return out;
}

/**
 * Strides that lay `shape` over the memory of the view (oldShape, oldStrides),
 * or undefined when none can (the elements would have to be copied).
 *
 * Old dims whose strides chain (stride[i] == stride[i+1] * size[i+1]) walk
 * memory as one evenly strided run; size-1 dims take no part. Every new dim
 * must lie inside one run: walking the new dims from the innermost, their
 * sizes multiply up to exactly each run's size in turn.
 */
export function viewStrides(oldShape: readonly number[], oldStrides: readonly number[], shape: readonly number[]): number[] | undefined {
  const runs: Array<{ size: number; stride: number }> = [];
  for (let i = oldShape.length - 1; i >= 0; i--) {
    if (oldShape[i] === 1) continue;
    const inner = runs[runs.length - 1];
    if (inner && oldStrides[i] === inner.stride * inner.size) inner.size *= oldShape[i];
    else runs.push({ size: oldShape[i], stride: oldStrides[i] });
  }
  // nothing to address (0 or 1 element, or all runs empty): any strides do; give the row-major ones
  if (runs.length === 0 || runs.some((r) => r.size === 0)) {
    const out = new Array<number>(shape.length);
    let acc = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      out[i] = acc;
      acc *= Math.max(shape[i], 1);
    }
    return out;
  }
  // outer size-1 dims step over the whole view, so batch strides stay what aclnn expects
  const span = Math.max(...runs.map((r) => r.stride * r.size));
  const out = new Array<number>(shape.length);
  let r = 0;
  let filled = 1; // product of the new dims placed in runs[r] so far
  for (let j = shape.length - 1; j >= 0; j--) {
    const d = shape[j];
    if (r === runs.length) {
      if (d !== 1) return undefined;
      out[j] = span;
      continue;
    }
    out[j] = runs[r].stride * filled;
    filled *= d;
    if (filled === runs[r].size) {
      r++;
      filled = 1;
    } else if (runs[r].size % filled !== 0) {
      return undefined; // this dim would straddle two runs
    }
  }
  return r === runs.length ? out : undefined;
}
