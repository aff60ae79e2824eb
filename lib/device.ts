/** Device strings: 'cpu' or 'npu:N' (N a small non-negative integer). */

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
  throw new TypeError(`${argument} must be 'cpu', 'npu' or 'npu:N', got ${describe(v)}`);
}

export function deviceString(kind: 'cpu' | 'npu', index = 0): Device {
  return kind === 'cpu' ? 'cpu' : `npu:${index}`;
}
