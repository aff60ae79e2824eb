/**
 * Long reliability checks in child processes (the release tier): a soak for
 * leaks and event-loop responsiveness during long matmuls.
 * QMM_SOAK_CALLS raises the soak count (100000 for the full run).
 */

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { childScript, root } from '../support/paths';

function node(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 300_000, env: { ...process.env, ...env } });
  return { ...r, json: () => JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') };
}

describe('resources', () => {
  const calls = Number(process.env.QMM_SOAK_CALLS ?? 20000);
  it(`${calls} calls of each op keep RSS growth under 10 MB`, () => {
    const r = node(['--expose-gc', childScript('soak.cjs'), String(calls)]);
    expect(r.status, r.stderr).toBe(0);
    const s = r.json() as { growthMB: number };
    expect(s.growthMB).toBeLessThan(10);
  });

  it('the event loop stays responsive during long matmuls (max delay reported)', () => {
    const r = node([childScript('loop-delay.cjs')]);
    expect(r.status, r.stderr).toBe(0);
    const s = r.json() as { opMs: number; maxDelayMs: number };
    // the compute runs off the loop: the loop's worst stall is a small fraction of the op time
    expect(s.maxDelayMs).toBeLessThan(Math.max(50, s.opMs / 4));
  });
});
