/** Argument checks shared by the ops: JS types, devices, option objects. */

import { invalidArgType, invalidArgValue } from '../arg_errors';
import type { Device } from '../device';
import { describe, QmmError, type QmmErrorCode } from '../errors';
import { fmtShape, Tensor } from '../tensor';

export function fail(code: QmmErrorCode, argument: string, message: string): never {
  throw new QmmError(code, `${argument}: ${message}`, { argument });
}

/** A Tensor whose host memory (if any) is still there: a detached buffer is named here, not by the native bounds check. */
export function requireTensor(v: unknown, argument: string): Tensor {
  if (!(v instanceof Tensor)) throw invalidArgType(`${argument} must be a Tensor (make one with tensor()), got ${describe(v)}`);
  v.liveHost(argument);
  return v;
}

export function optionalTensor(v: unknown, argument: string): Tensor | undefined {
  if (v === undefined || v === null) return undefined;
  return requireTensor(v, argument);
}

export function requireOptions<K extends string>(v: unknown, argument: string, allowed: readonly K[]): Partial<Record<K, unknown>> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidArgType(`${argument} must be an object, got ${describe(v)}`);
  for (const key of Object.keys(v)) {
    if (!(allowed as readonly string[]).includes(key)) {
      throw invalidArgValue(`${argument}.${key} is not a known option; expected one of ${allowed.join(', ')}`);
    }
  }
  return v as Partial<Record<K, unknown>>;
}

export function requireSignal(v: unknown, argument: string): AbortSignal | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof AbortSignal === 'undefined' || !(v instanceof AbortSignal)) throw invalidArgType(`${argument} must be an AbortSignal, got ${describe(v)}`);
  return v;
}

/** Every tensor on the cpu or on one npu device; returns where the result goes. */
export function commonDevice(tensors: ReadonlyArray<[string, Tensor | undefined]>): Device {
  let found: Device = 'cpu';
  let foundArg = '';
  for (const [arg, t] of tensors) {
    if (!t || t.device === 'cpu') continue;
    if (found !== 'cpu' && t.device !== found) {
      fail('ERR_QMM_DEVICE', arg, `is on ${t.device} but ${foundArg} is on ${found}; all tensors of one call must be on one device (or on the cpu)`);
    }
    found = t.device;
    foundArg = arg;
  }
  return found;
}

export function requireND(t: Tensor, argument: string): void {
  if (t.format !== 'ND') fail('ERR_QMM_FORMAT', argument, `must be in ND format, got ${t.format}`);
}

export function shapeStr(t: Tensor): string {
  return fmtShape(t.shape);
}
