/**
 * The native layer checks what it is given on its own (docs/architecture.md, decision 5):
 * descriptors that bypass the TypeScript validation get typed errors.
 */

import { describe, expect, it } from 'vitest';
import { loadNative, type NativeTensorDesc } from '../lib/native';

const cpu = () => loadNative().openBackend('cpu');

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
    expect(errorOf(() => cpu().quantMatmulSync({ x1, x2, scale, out })).name).toBe('none');
  });

  it('a view reaching outside its buffer', () => {
    const e = errorOf(() => cpu().quantMatmulSync({ x1: desc(new Int8Array(8), 2, [2, 4], { strides: [5, 1] }), x2, scale, out }));
    expect(e.code).toBe('ERR_QMM_SHAPE');
    expect(e.message).toContain('outside storage');
  });

  it('storage dims larger than the buffer, negative offsets and strides', () => {
    expect(errorOf(() => cpu().quantMatmulSync({ x1: { ...x1, storageShape: [9] }, x2, scale, out })).code).toBe('ERR_QMM_SHAPE');
    expect(errorOf(() => cpu().quantMatmulSync({ x1: { ...x1, offset: -1 }, x2, scale, out })).code).toBe('ERR_QMM_SHAPE');
    expect(errorOf(() => cpu().quantMatmulSync({ x1: { ...x1, strides: [-4, 1] }, x2, scale, out })).code).toBe('ERR_QMM_SHAPE');
  });

  it('an output of the wrong shape or too small', () => {
    expect(errorOf(() => cpu().quantMatmulSync({ x1, x2, scale, out: desc(new Int32Array(4), 3, [2, 2]) })).code).toBe('ERR_QMM_SHAPE');
    expect(errorOf(() => cpu().quantMatmulSync({ x1, x2, scale, out: { ...out, storageShape: [6], data: new Int32Array(2) } })).code).toBe('ERR_QMM_SHAPE');
  });

  it('NZ storage that matches only in element count', () => {
    const nzx2 = { ...desc(new Int8Array(3 * 16 * 32), 2, [16, 96]), format: 29, storageShape: [1, 3, 16, 32] };
    const o = desc(new Int32Array(2 * 96), 3, [2, 96]);
    const e = errorOf(() => cpu().quantMatmulSync({ x1: desc(new Int8Array(32), 2, [2, 16]), x2: nzx2, scale: desc(new Float32Array(1), 0, [1]), out: o }));
    expect(e.code).toBe('ERR_QMM_FORMAT');
  });

  it('wrong JS types are TypeErrors', () => {
    expect(errorOf(() => cpu().quantMatmulSync(undefined as never)).name).toBe('TypeError');
    expect(errorOf(() => cpu().quantMatmulSync({ x1: { ...x1, data: [1, 2] as never }, x2, scale, out })).name).toBe('TypeError');
    expect(errorOf(() => cpu().quantMatmulSync({ x1: { ...x1, dtype: 99 }, x2, scale, out })).name).toBe('TypeError');
    expect(errorOf(() => cpu().quantMatmulSync({ x1: { ...x1, shape: [2, 4.5] }, x2, scale, out })).name).toBe('TypeError');
    expect(errorOf(() => cpu().quantMatmulSync({ x1: { ...x1, shape: [1, 1, 1, 1, 1, 1, 1, 1, 2, 4] }, x2, scale, out })).name).toBe('TypeError');
    expect(errorOf(() => loadNative().openBackend('gpu' as never)).name).toBe('TypeError');
  });

  it('a detached buffer is rejected, not read', () => {
    const data = new Int8Array(8);
    structuredClone(data.buffer, { transfer: [data.buffer] });
    expect(errorOf(() => cpu().quantMatmulSync({ x1: { ...x1, data }, x2, scale, out })).code).toBe('ERR_QMM_SHAPE');
  });

  it('format cast and trans_quant_param check their descriptors too', () => {
    const e = errorOf(() => cpu().formatCastSync({ src: desc(new Int8Array(6), 2, [2, 3]), dst: { ...desc(new Int8Array(10), 2, [2, 3]), format: 29, storageShape: [1, 1, 16, 32] } }));
    expect(e.code).toBe('ERR_QMM_SHAPE');
    const t = errorOf(() => cpu().transQuantParamSync({ scale: desc(new Float32Array(3), 0, [3]), roundMode: 0, out: desc(new BigInt64Array(2), 9, [2]) }));
    expect(t.code).toBe('ERR_QMM_SHAPE');
  });
});
