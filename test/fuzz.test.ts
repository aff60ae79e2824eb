/**
 * fast-check over every public function (and the raw native entry points),
 * in a child process so a crash is a failure, not a lost run. At least
 * 10 000 cases; QMM_FUZZ_RUNS raises the count.
 */

import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { childScript } from './support/paths';

const RUNS = Number(process.env.QMM_FUZZ_RUNS ?? 12000);

describe('fuzzing', () => {
  it(`${RUNS} random calls end in a result or a typed error, never a crash`, () => {
    const child = spawnSync(process.execPath, [childScript('fuzz-child.cjs'), String(RUNS), '20261125'], {
      encoding: 'utf8',
      timeout: 300_000,
      env: process.env,
    });
    expect(child.signal, `child died: ${child.stderr}`).toBeNull();
    const last = child.stdout.trim().split('\n').pop() ?? '';
    const summary = JSON.parse(last) as { total: number; ok: number; rejected: number; bad: string[]; badCount: number; fatal?: string };
    expect(summary.fatal).toBeUndefined();
    expect(summary.bad).toEqual([]);
    expect(summary.total).toBeGreaterThanOrEqual(RUNS);
    expect(summary.ok).toBeGreaterThan(0);
    expect(child.status).toBe(0);
  });
});
