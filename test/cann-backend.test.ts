/**
 * The CANN backend over the strict mock runtime (test/mock-cann). The backend
 * choice and aclInit are per process, so every scenario runs in a child
 * process (test/children/cann-child.cjs) with its own ASCEND_HOME_PATH and
 * compares its results, bit for bit, with the cpu backend in that same child.
 * Harness (children, paths): test/cann-harness.ts.
 */

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { binding, expectInjectedFault, expectNoLeaks, haveMock, mockHooks, mockRoot, runChild as runScript, variant, type Json } from './cann-harness';
import { childScript } from './support/paths';

const defaultRootsAbsent = !fs.existsSync('/usr/local/Ascend/ascend-toolkit/latest') && !fs.existsSync('/usr/local/Ascend/cann');

const runChild = (scenario: string, env: Record<string, string>): Json => runScript(childScript('cann-child.cjs'), scenario, env);

describe('CANN is never linked', () => {
  it('the core .node has no NEEDED entry for a CANN library', () => {
    const dyn = execFileSync('readelf', ['-d', binding], { encoding: 'utf8' });
    const needed = dyn.split('\n').filter((l) => l.includes('(NEEDED)'));
    expect(needed.length).toBeGreaterThan(0);
    expect(needed.join('\n')).not.toMatch(/libascendcl|libopapi|libnnopbase/);
  });

  it('the mock hooks answer null/false while CANN is not loaded', () => {
    const mock = mockHooks();
    expect(mock.stats()).toBeNull();
    expect(mock.setFault('aclrtMalloc', 1)).toBe(false);
    expect(mock.clearFaults()).toBe(false);
    expect(mock.lastViolation()).toBe('');
  });
});

describe('CANN loader', () => {
  it.skipIf(!defaultRootsAbsent)('without CANN, auto falls back to the cpu and cann fails with the paths tried', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-no-cann-'));
    try {
      const r = runChild('info', { ASCEND_HOME_PATH: empty });
      expect(r.info.backend).toBe('cpu');
      expect(r.info.cannError).toContain(path.join(empty, 'lib64', 'libascendcl.so'));
      expect(r.info.cannError).toContain('/usr/local/Ascend/ascend-toolkit/latest/lib64/libascendcl.so');
      expect(r.cann.ok).toBe(false);
      expect(r.cann.isQmmError).toBe(true);
      expect(r.cann.error.code).toBe('ERR_QMM_BACKEND');
      expect(r.cann.error.tried).toEqual([
        `${path.join(empty, 'lib64', 'libascendcl.so')} (not found)`,
        '/usr/local/Ascend/ascend-toolkit/latest/lib64/libascendcl.so (not found)',
        '/usr/local/Ascend/cann/lib64/libascendcl.so (not found)',
      ]);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });

  it.skipIf(!haveMock)('a CANN without aclrtMemcpy is refused, naming the symbol', () => {
    const r = runChild('info', variant('broken'));
    expect(r.info.backend).toBe('cpu');
    expect(r.info.cannError).toMatch(/missing symbol\(s\) aclrtMemcpy/);
    expect(r.cann.error.code).toBe('ERR_QMM_BACKEND');
    expect(r.cann.error.tried.some((t: string) => t.includes('aclrtMemcpy'))).toBe(true);
  });

  it.skipIf(!haveMock)('a CANN that sees no device is refused with ERR_QMM_BACKEND, and aclInit runs once', () => {
    const r = runChild('info', { ...variant('full'), MOCK_CANN_DEVICE_COUNT: '0' });
    expect(r.info.backend).toBe('cpu');
    expect(r.info.cannError).toMatch(/no device/);
    for (const attempt of [r.cann, r.again]) {
      expect(attempt.ok).toBe(false);
      expect(attempt.error.code).toBe('ERR_QMM_BACKEND');
      expect(attempt.error.message).toMatch(/no device/);
    }
    expect(r.stats).toMatchObject({ initialized: 1, violations: 0 });
  });

  it.skipIf(!haveMock)('a failed start-up falls back to the cpu and is retried by the next request', () => {
    // MOCK_CANN_FAULT counts from aclInit: the first aclrtGetDeviceCount fails
    const r = runChild('info', { ...variant('full'), MOCK_CANN_FAULT: 'aclrtGetDeviceCount:1' });
    expect(r.info.backend).toBe('cpu');
    expect(r.info.cannError).toMatch(/aclrtGetDeviceCount failed with status 507899/);
    expect(r.cann.ok).toBe(true);
    expect(r.cann.info.backend).toBe('cann');
  });

  it.skipIf(!haveMock)('the split packaging (libopapi_nn.so + libopapi_math.so) loads and runs', () => {
    const r = runChild('entryPoints', variant('split'));
    expect(r.info.backend).toBe('cann');
    expect(r.info.detail).toMatch(/libopapi_nn\.so/);
    expect(r.info.detail).toMatch(/libopapi_math\.so/);
    expect(r.info.detail).toContain('8.2.RC1.mock');
    expect(r.cann).toEqual(r.cpu);
    expectNoLeaks(r.stats, '');
  });

  it.skipIf(!haveMock)('without V5/V3 entry points: QuantMatmulV4 and TransQuantParamV2, round_mode 1 unsupported', () => {
    const r = runChild('entryPoints', variant('v4only'));
    expect(r.info.detail).not.toMatch(/QuantMatmulV5|TransQuantParamV3/);
    expect(r.matmul).toMatchObject({ code: 'ERR_QMM_DEVICE', call: 'aclnnQuantMatmulV4' });
    expect(r.tqp).toMatchObject({ code: 'ERR_QMM_DEVICE', call: 'aclnnTransQuantParamV2' });
    expect(r.roundMode1.code).toBe('ERR_QMM_UNSUPPORTED');
    expect(r.roundMode1.message).toContain("aclnnTransQuantParamV2 can't support round_mode, please upgrade CANN.");
    expect(r.roundMode0).toBe('0000c03f00400000'); // 1.5 -> fp19 bits | 1<<46, little endian
    expect(r.cann).toEqual(r.cpu);
    expectNoLeaks(r.stats, '');
  });

  it.skipIf(!haveMock)('with every entry point: QuantMatmulV5 and TransQuantParamV3', () => {
    const r = runChild('entryPoints', variant('full'));
    expect(r.matmul).toMatchObject({ code: 'ERR_QMM_DEVICE', call: 'aclnnQuantMatmulV5' });
    expect(r.tqp).toMatchObject({ code: 'ERR_QMM_DEVICE', call: 'aclnnTransQuantParamV3' });
    expect(r.roundMode1).toEqual({ failed: false });
    expect(r.cann).toEqual(r.cpu);
  });
});

describe.skipIf(!haveMock)('CANN ops over the mock match the cpu backend bit for bit', () => {
  let r: Json;
  let two: Json;
  beforeAll(() => {
    r = runChild('ops', variant('full'));
    two = runChild('ops', { ...variant('full'), MOCK_CANN_DEVICE_COUNT: '2' });
  });

  const names = [
    'fp16_int64_scale', 'bf16_pertoken_bf16_bias', 'int8_offset', 'int32_out', 'int4_x2_packed_along_n', 'int4_x2_transposed',
    'nz_cast', 'nz_x2', 'nz_x2_transposed_view', 'nz_round_trip', 'batch_x1_broadcast_x2', 'batch_3d_bias', 'trans_quant_param_round1',
    'trans_quant_param_offset',
  ];
  it.each(names)('%s (host tensors, npu tensors sync and async, npu:1)', (name) => {
    expect(r.cpu[name]).toMatch(/^[0-9a-f]+$/);
    expect(r.host[name]).toBe(r.cpu[name]);
    expect(r.npu[name]).toBe(r.cpu[name]);
    expect(r.npuAsync[name]).toBe(r.cpu[name]);
    expect(two.npu1[name]).toBe(two.cpu[name]);
    expect(two.cpu[name]).toBe(r.cpu[name]);
  });

  it('the cases cover every op the fixture defines', () => {
    expect(Object.keys(r.cpu).sort()).toEqual([...names].sort());
  });

  it('backendInfo names the libraries, the version and the entry points', () => {
    expect(r.info.backend).toBe('cann');
    expect(r.info.deviceCount).toBe(1);
    expect(two.info.deviceCount).toBe(2);
    expect(r.info.detail).toContain(path.join(mockRoot, 'full', 'lib64', 'libopapi.so'));
    expect(r.info.detail).toContain('8.2.RC1.mock');
    expect(r.info.detail).toMatch(/QuantMatmulV5.*QuantMatmulWeightNz.*TransQuantParamV3.*NpuFormatCast/);
  });

  it('leaves no device memory, descriptor or executor behind and breaks no rule', () => {
    expectNoLeaks(r.stats, r.violation);
    expectNoLeaks(two.stats, two.violation);
    expect(r.stats.liveStreams).toBe(1);
    expect(two.stats.liveStreams).toBe(2);
  });
});

describe.skipIf(!haveMock)('fault injection', () => {
  let results: Json[];
  beforeAll(() => {
    results = runChild('faults', variant('full'));
  });

  const faults = [
    'aclrtMalloc', 'aclrtMemcpy', 'aclCreateTensor', 'aclnnQuantMatmulV5GetWorkspaceSize', 'aclnnQuantMatmulV5',
    'aclrtSynchronizeStream', 'aclnnTransQuantParamV3', 'aclnnNpuFormatCast', 'aclnnQuantMatmulWeightNz',
  ];
  it.each(faults)('%s: ERR_QMM_DEVICE naming the call, then the next call succeeds, nothing leaks', (fault) => {
    const mine = results.filter((x) => x.fault === fault);
    expect(mine.length).toBeGreaterThanOrEqual(2);
    for (const x of mine) expectInjectedFault(x, fault);
  });

  it('after a failed aclrtSynchronizeStream the stream is force-destroyed and replaced', () => {
    // The mock counts aclrtDestroyStream of a stream whose synchronization
    // failed as a violation: it would wait for work that never finishes.
    const mine = results.filter((x) => x.fault === 'aclrtSynchronizeStream');
    expect(mine.length).toBe(4);
    for (const x of mine) {
      expect(x.violation).toBe('');
      expect(x.stats).toMatchObject({ violations: 0, liveStreams: 1 });
    }
  });

  it('a failed workspace allocation reports aclrtMalloc and destroys the executor it never launched', () => {
    const r = runChild('workspaceFault', variant('full'));
    expect(r.error).toMatchObject({ code: 'ERR_QMM_DEVICE', call: 'aclrtMalloc' });
    expect(r.again.int32_out).toMatch(/^[0-9a-f]+$/);
    expectNoLeaks(r.stats, r.violation);
  });
});

describe.skipIf(!haveMock)('a launch that fails after queueing part of the op', () => {
  let results: Json[];
  beforeAll(() => {
    results = runChild('partialLaunches', variant('full'));
  });

  // The mock's <op>@partial fault: the launch returns an error with work still
  // queued that reads and writes every buffer of the op (inputs, outputs and
  // workspace); freeing one of them before the stream is synchronized is a violation.
  const faults = ['aclnnQuantMatmulV5@partial', 'aclnnTransQuantParamV3@partial', 'aclnnNpuFormatCast@partial', 'aclnnQuantMatmulWeightNz@partial'];
  it.each(faults)('%s: synchronized before anything is freed, ERR_QMM_DEVICE naming the launch, the next call succeeds', (fault) => {
    const mine = results.filter((x) => x.fault === fault);
    expect(mine.length).toBeGreaterThanOrEqual(2);
    for (const x of mine) expectInjectedFault(x, fault.replace('@partial', ''), 561103);
  });
});

describe.skipIf(!haveMock)('npuFormatCast where aclnnNpuFormatCast cannot run: host packing, as on the cpu backend', () => {
  const chips = [
    { soc: 'Ascend310P3', device: false },
    { soc: 'Ascend910B', device: false }, // the first Ascend 910, not an Atlas A2 (910B1..B4)
    { soc: 'Ascend910_9391', device: true },
    { soc: 'Ascend950PR_9599', device: true },
  ];
  it.each(chips)('on $soc the device op runs: $device', ({ soc, device }) => {
    const r = runChild('castChip', { ...variant('full'), MOCK_CANN_SOC: soc });
    expect(r.info.backend).toBe('cann');
    expect(r.info.detail).toContain(`; SoC ${soc}`);
    for (const name of Object.keys(r.cpu)) {
      expect(r.cpu[name], name).toMatch(/^[0-9a-f]+$/);
      expect(r.host[name], name).toBe(r.cpu[name]);
      expect(r.npu[name], name).toBe(r.cpu[name]);
    }
    // a fault armed on aclnnNpuFormatCast fires only when the device op runs
    if (device) expect(r.probe.nz_cast).toMatch(/^error ERR_QMM_DEVICE: aclnnNpuFormatCast failed/);
    else expect(r.probe.nz_cast).toBe(r.cpu.nz_cast);
    expectNoLeaks(r.stats, r.violation);
  });

  it.each(['Ascend910B1', 'Ascend950PR_9599'])(
    'on %s: empty sources, FRACTAL_NZ views, int64 and rank 1 give the cpu backend\'s result or error',
    (soc) => {
      const r = runChild('castEdges', { ...variant('full'), MOCK_CANN_SOC: soc });
      expect(Object.keys(r.cpu).length).toBe(6);
      expect(r.cpu.int64_to_nz).toMatch(/^[0-9a-f]+$/);
      expect(r.cpu.nz_view_to_nd).toBe('error ERR_QMM_FORMAT');
      expect(r.host).toEqual(r.cpu);
      expect(r.npu).toEqual(r.cpu);
      expectNoLeaks(r.stats, r.violation);
    },
  );
});

describe.skipIf(!haveMock)('threads', () => {
  it('ops from libuv workers, the main thread and a worker_thread at once agree with the cpu and leak nothing', () => {
    const r = runChild('leaks', variant('full'));
    for (const round of [...r.rounds, r.worker]) expect(round).toEqual(r.cpu);
    expectNoLeaks(r.stats, r.violation);
  });
});
