/**
 * npuQuantize / npuDynamicQuant on the CANN backend (aclnnAscendQuantV3,
 * aclnnDynamicQuant) over the strict mock runtime, compared bit for bit with
 * the cpu backend in the same child process (test/children/cann-quantize-child.cjs).
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { expectInjectedFault, expectNoLeaks, haveMock, runChild as runScript, variant, type Json } from './cann-harness';
import { childScript } from './support/paths';

const runChild = (scenario: string, env: Record<string, string>): Json => runScript(childScript('cann-quantize-child.cjs'), scenario, env);

describe.skipIf(!haveMock)('quantize ops over the mock match the cpu backend bit for bit', () => {
  let r: Json;
  beforeAll(() => {
    r = runChild('ops', variant('full'));
  });

  const names = [
    'q_f32_per_channel_offset', 'q_f32_per_tensor', 'q_f16_f16_scale_offset', 'q_bf16_per_tensor_offset', 'q_special_values',
    'q_transposed_view', 'd_f16', 'd_bf16_3d', 'd_special_rows', 'd_transposed_view', 'd_empty_rows',
  ];
  it.each(names)('%s (host tensors, npu tensors sync and async)', (name) => {
    expect(r.cpu[name]).toMatch(/^[0-9a-f:]+$/);
    expect(r.host[name]).toBe(r.cpu[name]);
    expect(r.npu[name]).toBe(r.cpu[name]);
    expect(r.npuAsync[name]).toBe(r.cpu[name]);
  });

  it('the cases cover every case the fixture defines', () => {
    expect(Object.keys(r.cpu).sort()).toEqual([...names].sort());
  });

  it('backendInfo lists AscendQuantV3 and DynamicQuant', () => {
    expect(r.info.backend).toBe('cann');
    expect(r.info.detail).toMatch(/AscendQuantV3, DynamicQuant/);
  });

  it('a float32 scale for a float16 x is rejected as ERR_QMM_DTYPE on both backends (the aclnn rule)', () => {
    expect(r.mixedScale.code).toBe('ERR_QMM_DTYPE');
    expect(r.mixedScale.message).toMatch(/scale: must have x's dtype float16/);
    expect(r.mixedScaleCpu.code).toBe('ERR_QMM_DTYPE');
  });

  it('leaves no device memory, descriptor or executor behind and breaks no rule', () => {
    expectNoLeaks(r.stats, r.violation);
  });
});

describe.skipIf(!haveMock)('quantize ops: fault injection', () => {
  let results: Json[];
  beforeAll(() => {
    results = runChild('faults', variant('full'));
  });

  const faults = ['aclnnAscendQuantV3GetWorkspaceSize', 'aclnnAscendQuantV3', 'aclnnDynamicQuantGetWorkspaceSize', 'aclnnDynamicQuant'];
  it.each(faults)('%s: ERR_QMM_DEVICE naming the call, then the next call succeeds, nothing leaks', (fault) => {
    const mine = results.filter((x) => x.fault === fault);
    expect(mine.length).toBe(4); // host/npu x sync/async
    for (const x of mine) expectInjectedFault(x, fault, 561103);
  });
});

describe.skipIf(!haveMock)('a CANN without aclnnAscendQuantV3 / aclnnDynamicQuant (mock v4only)', () => {
  it('both ops fail with ERR_QMM_UNSUPPORTED naming the missing symbols, nothing leaks', () => {
    const r = runChild('missing', variant('v4only'));
    expect(r.info.backend).toBe('cann');
    expect(r.info.detail).not.toMatch(/AscendQuantV3|DynamicQuant/);
    expect(r.quantize.code).toBe('ERR_QMM_UNSUPPORTED');
    expect(r.quantize.message).toContain('npuQuantize needs aclnnAscendQuantV3GetWorkspaceSize and aclnnAscendQuantV3');
    expect(r.quantize.message).toContain('please upgrade CANN');
    for (const d of [r.dynamic, r.dynamicAsync]) {
      expect(d.code).toBe('ERR_QMM_UNSUPPORTED');
      expect(d.message).toContain('npuDynamicQuant needs aclnnDynamicQuantGetWorkspaceSize and aclnnDynamicQuant');
      expect(d.message).toContain('please upgrade CANN');
    }
    expectNoLeaks(r.stats, r.violation);
  });
});
