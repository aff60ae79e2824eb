/**
 * Shared by the suites that run the CANN backend over the strict mock runtime
 * (test/mock-cann). The backend choice and aclInit are per process, so every
 * scenario runs in a child process (a test/children/*.cjs script, loading
 * dist/ like every child) with its own ASCEND_HOME_PATH and prints one JSON line.
 *
 * QMM_BINDING_PATH picks the addon (default build/Release); the mock variants
 * are expected next to it, in <build>/mock-cann/<variant>, or at QMM_MOCK_CANN_ROOT.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { loadNative, type NativeAddon } from '../lib/native';
import { root } from './support/paths';

export { root };
export const binding = path.resolve(process.env.QMM_BINDING_PATH ?? path.join(root, 'build', 'Release', 'ascend_quant_matmul.node'));
export const mockRoot = process.env.QMM_MOCK_CANN_ROOT ?? path.join(path.dirname(path.dirname(binding)), 'mock-cann');
export const haveMock = ['full', 'v4only', 'split', 'broken'].every((v) => fs.existsSync(path.join(mockRoot, v, 'lib64', 'libascendcl.so')));

export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The addon's mock CANN controls (`cannMock`): present in the test build (QMM_BUILD_TESTS) only. */
export function mockHooks(): NonNullable<NativeAddon['cannMock']> {
  const mock = loadNative().cannMock;
  if (!mock) throw new Error('this addon has no test hooks: build it with the test option (npm run build)');
  return mock;
}

/** Runs `node --expose-gc <script> <scenario>` with a clean CANN environment plus `env`. */
export function runChild(script: string, scenario: string, env: Record<string, string>): Json {
  const base = { ...process.env };
  for (const k of Object.keys(base)) if (k.startsWith('MOCK_CANN_') || k.startsWith('ASCEND_') || k === 'QMM_BACKEND') delete base[k];
  const r = spawnSync(process.execPath, ['--expose-gc', script, scenario], {
    env: { ...base, QMM_BINDING_PATH: binding, ...env },
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: Json;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new Error(`child '${scenario}' exited with ${r.status} ${r.signal ?? ''}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  if (parsed.fatal) throw new Error(`child '${scenario}' failed: ${JSON.stringify(parsed.fatal)}\n${parsed.stack}\nstderr: ${r.stderr}`);
  return parsed;
}

export const variant = (v: string): Record<string, string> => ({ ASCEND_HOME_PATH: path.join(mockRoot, v) });

export function expectNoLeaks(stats: Json, violation: string): void {
  expect(violation).toBe('');
  expect(stats).toMatchObject({ liveDeviceAllocs: 0, liveDeviceBytes: 0, liveHostAllocs: 0, liveTensors: 0, liveIntArrays: 0, liveExecutors: 0, violations: 0 });
}

/**
 * One result of a child's fault injection (the fault armed on one call, the
 * case run, then run again unarmed): ERR_QMM_DEVICE naming `call` with the
 * mock's message, the rerun gave the unfaulted bytes, nothing leaked.
 * `status`: the one expected (561103 for an aclnn fault), else any non-zero.
 */
export function expectInjectedFault(x: Json, call: string, status?: number): void {
  const where = `${x.fault} ${x.name} ${x.place} ${x.async ? 'async' : 'sync'}`;
  expect(x.error.code, where).toBe('ERR_QMM_DEVICE');
  expect(x.error.call, where).toBe(call);
  if (status !== undefined) expect(x.error.status, where).toBe(status);
  else {
    expect(typeof x.error.status, where).toBe('number');
    expect(x.error.status, where).not.toBe(0);
  }
  expect(x.error.message, where).toContain(call);
  expect(x.error.deviceMessage, where).toContain(`mock fault injected in ${x.fault}`);
  expect(x.again, where).toBe('same');
  expectNoLeaks(x.stats, x.violation);
}
