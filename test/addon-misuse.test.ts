/**
 * The raw addon never crashes either: its classes refuse construction from
 * JS, every method checks the class of `this`, and ops refuse device memory
 * of another backend. Each run is a child process (test/children/
 * addon-misuse-child.cjs), so a crash is a failed test naming the call, not
 * a dead runner. With the mock CANN built, device buffers of the cann backend
 * are part of the misuse.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../lib/native';
import { encodeOpArgs } from '../lib/ops/encode';

const root = path.resolve(__dirname, '..');
const binding = path.resolve(process.env.QMM_BINDING_PATH ?? path.join(root, 'build', 'Release', 'ascend_quant_matmul.node'));
const mockCann = path.join(path.dirname(path.dirname(binding)), 'mock-cann', 'full');
const haveMock = fs.existsSync(path.join(mockCann, 'lib64', 'libascendcl.so'));
const child = path.join(__dirname, 'children', 'addon-misuse-child.cjs');
const CALLS = Number(process.env.QMM_MISUSE_CALLS ?? 4000);

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('ASCEND_') || k.startsWith('MOCK_CANN_')) delete env[k];
  return haveMock ? { ...env, ASCEND_HOME_PATH: mockCann, MOCK_CANN_DEVICE_COUNT: '2' } : env;
}

function run(args: string[]): { status: number | null; signal: string | null; stdout: string; lastCall: string } {
  const r = spawnSync(process.execPath, args, { env: childEnv(), encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  const lastCall = r.stderr.trim().split('\n').pop() ?? '';
  return { status: r.status, signal: r.signal, stdout: r.stdout, lastCall };
}

describe('misuse of the raw addon', () => {
  for (const [family, seed] of [['construct', 11], ['receiver', 12], ['owner', 13], ['all', 14]] as const) {
    it(`${family}: ${CALLS} seeded calls end in a result or a typed error`, () => {
      const r = run([child, binding, family, String(CALLS), String(seed)]);
      expect(r.signal, `the child died at ${r.lastCall}`).toBeNull();
      const summary = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { calls: number; bad: string[]; mockViolations: number; violation: string; fatal?: string };
      expect(summary.fatal).toBeUndefined();
      expect(summary.bad).toEqual([]);
      expect(summary.calls).toBe(CALLS);
      expect(summary.violation).toBe('');
      expect(summary.mockViolations).toBe(0);
      expect(r.status).toBe(0);
    });
  }

  // the reproductions of the three crashes the fuzz found (all SIGSEGV before)
  const REPRO = `
    const addon = require(process.argv[1]);
    const out = {};
    const record = (name, fn) => {
      try { fn(); out[name] = 'returned'; } catch (e) { out[name] = { type: e.constructor.name, code: e.code, message: e.message }; }
    };
    record('construct', () => { const h = addon.openBackend('cpu'); new h.constructor().info(); });
    record('receiver', () => Object.getOwnPropertyDescriptor(addon.CancelToken.prototype, 'cancelled').get.call(new addon.DeviceBuffer()));
    record('receiverReal', () => Object.getOwnPropertyDescriptor(addon.CancelToken.prototype, 'cancelled').get.call(addon.openBackend('cpu')));
    if (process.env.ASCEND_HOME_PATH) record('owner', () => {
      const cann = addon.openBackend('cann');
      // src (7, 8) int8 ND in cann device memory, dst its FRACTAL_NZ, in the wire form of lib/ops/encode.ts
      const meta = Float64Array.from([1, 2, 2, 0, 2, 7, 8, 2, 8, 1, 1, 56, 1, 2, 29, 0, 2, 7, 8, 2, 8, 1, 4, 1, 1, 16, 32]);
      addon.openBackend('cpu').formatCastSync(meta, [cann.alloc(0, 56), new Int8Array(512)]);
    });
    console.log(JSON.stringify(out));
  `;

  it('the three reproductions from the issue are typed errors', () => {
    const r = run(['-e', REPRO, binding]);
    expect(r.signal, r.stdout).toBeNull();
    const out = JSON.parse(r.stdout.trim());
    expect(out.construct).toMatchObject({ type: 'TypeError', message: 'BackendHandle cannot be constructed from JavaScript' });
    expect(out.receiver).toMatchObject({ type: 'TypeError', message: 'DeviceBuffer cannot be constructed from JavaScript' });
    expect(out.receiverReal).toMatchObject({ type: 'TypeError', message: expect.stringContaining('is not a CancelToken') });
    if (haveMock) {
      expect(out.owner).toMatchObject({ type: 'Error', code: 'ERR_QMM_DEVICE', message: expect.stringContaining('src: its device memory belongs to the cann backend') });
    }
  });

  // a view of one element repeated 2^48 times along k: the emulator's packed copy cannot be allocated
  it('host memory running out is ERR_QMM_MEMORY, sync and async', async () => {
    const K = 2 ** 48;
    const args = {
      x1: { data: new Int8Array(1), dtype: 2, format: 2, shape: [1, K], strides: [0, 0], offset: 0, storageShape: [1] },
      x2: { data: new Int8Array(1), dtype: 2, format: 2, shape: [K, 1], strides: [0, 0], offset: 0, storageShape: [1] },
      scale: { data: new Float32Array(1), dtype: 0, format: 2, shape: [1], strides: [1], offset: 0, storageShape: [1] },
      out: { data: new Uint16Array(1), dtype: 1, format: 2, shape: [1, 1], strides: [1, 1], offset: 0, storageShape: [1] },
    };
    const cpu = loadNative().openBackend('cpu');
    const sync = encodeOpArgs('quantMatmul', args);
    expect(() => cpu.quantMatmulSync(sync.meta, sync.data)).toThrow(expect.objectContaining({ code: 'ERR_QMM_MEMORY', message: 'out of host memory for this operation' }));
    const async = encodeOpArgs('quantMatmul', args);
    await expect(cpu.quantMatmul(async.meta, async.data)).rejects.toMatchObject({ code: 'ERR_QMM_MEMORY' });
  });
});
