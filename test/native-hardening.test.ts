/**
 * The native layer checks what it is given on its own (docs/architecture.md, decision 5):
 * descriptors that bypass the TypeScript validation get typed errors.
 */

import { describe, expect, it } from 'vitest';
import { loadNative, type NativeOpArgs, type NativeOpName, type NativeTensorDesc } from '../lib/native';
import { encodeOpArgs } from '../lib/ops/encode';

const cpu = () => loadNative().openBackend('cpu');

/** Calls the sync native op with `args` in the wire form lib/ops/encode.ts writes. */
function callSync(op: NativeOpName, args: NativeOpArgs): void {
  const { meta, data } = encodeOpArgs(op, args);
  cpu()[`${op}Sync`](meta, data);
}

function desc(data: ArrayBufferView, dtype: number, shape: number[], over: Partial<NativeTensorDesc> = {}): NativeTensorDesc {
  const strides: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides.unshift(acc);
    acc *= shape[i];
  }
  return { data, dtype, format: 2, shape, strides, offset: 0, storageShape: [(data as Int8Array).length], ...over };
}

function errorOf(fn: () => unknown): { code?: string; name: string; message: string } {
  try {
    fn();
  } catch (e) {
    return { code: (e as { code?: string }).code, name: (e as Error).constructor.name, message: (e as Error).message };
  }
  return { name: 'none', message: '' };
}

describe('native argument checks', () => {
  const x1 = desc(new Int8Array(8), 2, [2, 4]);
  const x2 = desc(new Int8Array(12), 2, [4, 3]);
  const scale = desc(new Float32Array(3), 0, [3]);
  const out = desc(new Int32Array(6), 3, [2, 3]);

  it('accepts a well-formed call', () => {
    expect(errorOf(() => callSync('quantMatmul', { x1, x2, scale, out })).name).toBe('none');
  });

  it('a view reaching outside its buffer', () => {
    const e = errorOf(() => callSync('quantMatmul', { x1: desc(new Int8Array(8), 2, [2, 4], { strides: [5, 1] }), x2, scale, out }));
    expect(e.code).toBe('ERR_QMM_SHAPE');
    expect(e.message).toContain('outside storage');
  });

  it('storage dims larger than the buffer, negative offsets and strides', () => {
    expect(errorOf(() => callSync('quantMatmul', { x1: { ...x1, storageShape: [9] }, x2, scale, out })).code).toBe('ERR_QMM_SHAPE');
    expect(errorOf(() => callSync('quantMatmul', { x1: { ...x1, offset: -1 }, x2, scale, out })).code).toBe('ERR_QMM_SHAPE');
    expect(errorOf(() => callSync('quantMatmul', { x1: { ...x1, strides: [-4, 1] }, x2, scale, out })).code).toBe('ERR_QMM_SHAPE');
  });

  it('an output of the wrong shape or too small', () => {
    expect(errorOf(() => callSync('quantMatmul', { x1, x2, scale, out: desc(new Int32Array(4), 3, [2, 2]) })).code).toBe('ERR_QMM_SHAPE');
    expect(errorOf(() => callSync('quantMatmul', { x1, x2, scale, out: { ...out, storageShape: [6], data: new Int32Array(2) } })).code).toBe('ERR_QMM_SHAPE');
  });

  it('NZ storage that matches only in element count', () => {
    const nzx2 = { ...desc(new Int8Array(3 * 16 * 32), 2, [16, 96]), format: 29, storageShape: [1, 3, 16, 32] };
    const o = desc(new Int32Array(2 * 96), 3, [2, 96]);
    const e = errorOf(() => callSync('quantMatmul', { x1: desc(new Int8Array(32), 2, [2, 16]), x2: nzx2, scale: desc(new Float32Array(1), 0, [1]), out: o }));
    expect(e.code).toBe('ERR_QMM_FORMAT');
  });

  it('wrong JS types are TypeErrors', () => {
    expect(errorOf(() => callSync('quantMatmul', { x1: { ...x1, data: [1, 2] as never }, x2, scale, out })).name).toBe('TypeError');
    expect(errorOf(() => callSync('quantMatmul', { x1: { ...x1, dtype: 99 }, x2, scale, out })).name).toBe('TypeError');
    expect(errorOf(() => callSync('quantMatmul', { x1: { ...x1, shape: [2, 4.5] }, x2, scale, out })).name).toBe('TypeError');
    expect(errorOf(() => callSync('quantMatmul', { x1: { ...x1, shape: [1, 1, 1, 1, 1, 1, 1, 1, 2, 4] }, x2, scale, out })).name).toBe('TypeError');
    expect(errorOf(() => loadNative().openBackend('gpu' as never)).name).toBe('TypeError');
  });

  it('a malformed wire form is a TypeError, never a read past its end', () => {
    const { meta, data } = encodeOpArgs('quantMatmul', { x1, x2, scale, out });
    const good = Float64Array.from(meta);
    const sync = cpu().quantMatmulSync;
    const call = (m: unknown, d: unknown = data, c?: unknown) => errorOf(() => sync.call(cpu(), m as Float64Array, d as never, c as never));
    expect(call(good).name).toBe('none');
    expect(call(undefined).name).toBe('TypeError');
    expect(call(new Float32Array(good)).name).toBe('TypeError');
    expect(call(good, {}).name).toBe('TypeError');
    expect(call(good.subarray(0, 9)).message).toContain('ends early');
    expect(call(new Float64Array(0)).message).toContain('ends early');
    const edit = (i: number, v: number) => {
      const m = Float64Array.from(good);
      m[i] = v;
      return call(m);
    };
    expect(edit(0, 2).name).toBe('TypeError'); // x1's presence flag
    expect(edit(0, 0).message).toContain('x1 must be a tensor');
    expect(edit(4, 9).message).toContain('0 to 8 entries'); // x1's rank
    expect(edit(5, Number.NaN).message).toContain('x1.shape[0] must be a safe integer');
    expect(edit(3, 2 ** 60).name).toBe('TypeError'); // offset beyond 2^53
    expect(call(good, data, {}).message).toContain('cancel must be a CancelToken');
  });

  it('a detached buffer is rejected, not read', () => {
    const data = new Int8Array(8);
    structuredClone(data.buffer, { transfer: [data.buffer] });
    expect(errorOf(() => callSync('quantMatmul', { x1: { ...x1, data }, x2, scale, out })).code).toBe('ERR_QMM_SHAPE');
  });

  it('format cast and trans_quant_param check their descriptors too', () => {
    const e = errorOf(() => callSync('formatCast', { src: desc(new Int8Array(6), 2, [2, 3]), dst: { ...desc(new Int8Array(10), 2, [2, 3]), format: 29, storageShape: [1, 1, 16, 32] } }));
    expect(e.code).toBe('ERR_QMM_SHAPE');
    const t = errorOf(() => callSync('transQuantParam', { scale: desc(new Float32Array(3), 0, [3]), roundMode: 0, out: desc(new BigInt64Array(2), 9, [2]) }));
    expect(t.code).toBe('ERR_QMM_SHAPE');
  });
});
