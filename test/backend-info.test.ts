/**
 * backendInfo() and `qmm info` never throw: when the requested backend cannot
 * be loaded they say why (child processes: the backend is chosen once per
 * process; they load the compiled dist/, which `npm test` builds).
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const index = path.join(root, 'dist', 'cjs', 'lib', 'index.js');
const qmm = path.join(root, 'dist', 'cjs', 'scripts', 'qmm.js');
const noCann = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-no-cann-'));
afterAll(() => fs.rmSync(noCann, { recursive: true, force: true }));
// with a real CANN in its default place the cann backend would load
const defaultRootsAbsent = !fs.existsSync('/usr/local/Ascend/ascend-toolkit/latest') && !fs.existsSync('/usr/local/Ascend/cann');

function run(args: string[], backend: string): { status: number | null; stdout: string; stderr: string } {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('ASCEND_') || k.startsWith('MOCK_CANN_')) delete env[k];
  const r = spawnSync(process.execPath, args, { env: { ...env, QMM_BACKEND: backend, ASCEND_HOME_PATH: noCann }, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const PROBE = `
  const q = require(process.argv[1]);
  const info = q.backendInfo();
  let op;
  try { q.npuTransQuantParamSync(q.tensor(new Float32Array([1]), [1], 'float32')); op = 'ran'; } catch (e) { op = e.code; }
  console.log(JSON.stringify({ info, op }));
`;

describe.skipIf(!defaultRootsAbsent)('when the requested backend cannot be loaded', () => {
  it('backendInfo() says why instead of throwing; ops still throw ERR_QMM_BACKEND', () => {
    const r = run(['-e', PROBE, index], 'cann');
    expect(r.status, r.stderr).toBe(0);
    const { info, op } = JSON.parse(r.stdout);
    expect(info).toMatchObject({ backend: 'cann', requested: 'cann', available: false, deviceCount: 0 });
    expect(info.reason).toMatch(/^CANN was requested but cannot be used: /);
    expect(info.reason).toContain(path.join(noCann, 'lib64', 'libascendcl.so'));
    expect(op).toBe('ERR_QMM_BACKEND');
  });

  it('an unknown QMM_BACKEND is reported the same way', () => {
    const r = run(['-e', PROBE, index], 'tpu');
    expect(r.status, r.stderr).toBe(0);
    const { info, op } = JSON.parse(r.stdout);
    expect(info.available).toBe(false);
    expect(info.reason).toBe(`QMM_BACKEND must be 'auto', 'cpu' or 'cann', got "tpu"`);
    expect(op).toBe('ERR_QMM_BACKEND');
  });

  it('qmm info exits 0 and prints the reason', () => {
    const r = run([qmm, 'info'], 'cann');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backend: +cann \(requested cann\) — not available$/m);
    expect(r.stdout).toMatch(/^reason: +CANN was requested but cannot be used: .*libascendcl\.so \(not found\)/m);
    const j = run([qmm, 'info', '--json'], 'cann');
    expect(j.status).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ backend: 'cann', available: false });
  });

  it('a loadable backend is reported available', () => {
    const r = run(['-e', PROBE, index], 'cpu');
    const { info, op } = JSON.parse(r.stdout);
    expect(info).toMatchObject({ backend: 'cpu', available: true });
    expect(op).toBe('ran');
  });
});
