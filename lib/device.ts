/** Device strings: 'cpu' or 'npu:N' (N a small non-negative integer). */

import { invalidArgType, invalidArgValue, outOfRange } from './arg_errors';
import { describe } from './errors';

export type Device = 'cpu' | `npu:${number}`;

export function parseDevice(v: unknown, argument = 'device'): { kind: 'cpu' } | { kind: 'npu'; index: number } {
  if (v === 'cpu') return { kind: 'cpu' };
  if (v === 'npu') return { kind: 'npu', index: 0 };
  if (typeof v === 'string') {
    const m = /^npu:(\d{1,4})$/.exec(v);
    if (m) return { kind: 'npu', index: Number(m[1]) };
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 10000) return { kind: 'npu', index: v };
  const msg = `${argument} must be 'cpu', 'npu' or 'npu:N', got ${describe(v)}`;
  if (typeof v === 'number') throw outOfRange(`${argument} must be 'cpu', 'npu', 'npu:N' or a device index N in [0, 9999], got ${v}`);
  throw typeof v === 'string' ? invalidArgValue(msg) : invalidArgType(msg);
}

export function deviceString(kind: 'cpu' | 'npu', index = 0): Device {
  return kind === 'cpu' ? 'cpu' : `npu:${index}`;
}
