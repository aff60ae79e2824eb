/**
 * Reliability in child processes: worker_threads, termination and exit with
 * work in flight, load failures that explain themselves, and the public types
 * under `tsc --strict`. The soak and the event-loop check are in the release
 * tier (test/release/soak.test.ts).
 */

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childScript, root } from './support/paths';

const script = childScript;

function node(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
  return { ...r, json: () => JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') };
}

describe('worker_threads and teardown', () => {
  it('loads in 4 workers at once and computes the same results as the main thread', () => {
    const r = node([script('workers.cjs'), 'run']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.json().ok).toBe(true);
  });

  it('terminating workers while their ops are queued neither crashes nor breaks the main thread (5 runs)', () => {
    for (let i = 0; i < 5; i++) {
      const r = node([script('workers.cjs'), 'terminate']);
      expect(r.signal, r.stderr).toBeNull();
      expect(r.status, r.stderr).toBe(0);
      expect(r.json().ok).toBe(true);
    }
  });

  it('process.exit with work in flight exits cleanly', () => {
    const r = node([script('workers.cjs'), 'exit']);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
  });
});

describe('loading', () => {
  it('a missing binary gives one ERR_QMM_BACKEND error listing what was tried and what to do', () => {
    // backendInfo() reports it without throwing (test/backend-info.test.ts); an op throws it
    const r = node(['-e', "const q = require('./dist/cjs/lib/index.js'); try { q.npuTransQuantParamSync(q.tensor(new Float32Array(1), [1], 'float32')) } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, tried: e.tried })) }"], {
      QMM_BINDING_PATH: '/nonexistent/qmm.node',
    });
    const e = r.json() as { code: string; message: string; tried: string[] };
    expect(e.code).toBe('ERR_QMM_BACKEND');
    expect(e.tried).toEqual(['/nonexistent/qmm.node']);
    expect(e.message).toContain('/nonexistent/qmm.node');
    expect(e.message).toContain('Fix:');
  });

  it('an invalid QMM_BACKEND is a typed error, not a crash', () => {
    const r = node(['-e', "const q = require('./dist/cjs/lib/index.js'); try { q.npuTransQuantParamSync(q.tensor(new Float32Array(1), [1], 'float32')) } catch (e) { console.log(JSON.stringify({ code: e.code })) }"], { QMM_BACKEND: 'gpu' });
    expect(r.json().code).toBe('ERR_QMM_BACKEND');
  });

  it('ESM import and CJS require give the same module instance', () => {
    const r = node(['--input-type=module', '-e', "import * as esm from 'ascend-quant-matmul'; import { createRequire } from 'node:module'; const cjs = createRequire(process.cwd() + '/x.js')('ascend-quant-matmul'); console.log(JSON.stringify({ same: esm.QmmError === cjs.QmmError && esm.tensor === cjs.tensor }))"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.json().same).toBe(true);
  });
});

describe('types', () => {
  it('a consumer type-checks under tsc --strict and wrong calls fail to type-check', () => {
    const tsc = path.join(path.dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
    const r = node([tsc, '-p', path.join(__dirname, 'types', 'tsconfig.json')]);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
