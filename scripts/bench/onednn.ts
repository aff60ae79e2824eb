/**
 * The oneDNN peer of `qmm bench`: a small C++ harness (scripts/dev/onednn-bench.cc)
 * compiled on first use when Debian's libdnnl-dev headers are installed, run
 * once per shape in its own process. Never a dependency of the package: from
 * an installed package (no scripts/dev) or without the headers the column is n/a.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../../lib/native';

const HEADER = '/usr/include/oneapi/dnnl/dnnl.hpp';

export interface OneDnn {
  version: string;
  /** Median ms of x1 @ x2 (s8 × s8 → s32, weight prepacked), or null when the harness fails. */
  time(x1: number[], x2: number[], budgetMs: number, maxReps: number): number | null;
}

function build(src: string, exe: string): string | null {
  if (fs.existsSync(exe) && fs.statSync(exe).mtimeMs >= fs.statSync(src).mtimeMs) return null;
  fs.mkdirSync(path.dirname(exe), { recursive: true });
  const r = spawnSync('g++', ['-O2', '-std=c++17', src, '-o', exe, '-ldnnl'], { encoding: 'utf8' });
  return r.status === 0 ? null : `g++ failed: ${(r.stderr || String(r.error)).split('\n')[0]}`;
}

export function oneDnnRunner(threads: number, log: (s: string) => void): OneDnn | null {
  const src = path.join(packageRoot(), 'scripts', 'dev', 'onednn-bench.cc');
  if (!fs.existsSync(src) || !fs.existsSync(HEADER)) {
    log('oneDNN column: n/a (needs a source checkout and Debian\'s libdnnl-dev: apt-get install libdnnl-dev)');
    return null;
  }
  const exe = path.join(packageRoot(), 'build', 'onednn-bench', 'onednn-bench');
  const err = build(src, exe);
  if (err) {
    log(`oneDNN column: n/a (${err})`);
    return null;
  }
  const env = { ...process.env, OMP_NUM_THREADS: String(threads) };
  const run = (x1: number[], x2: number[], budgetMs: number, maxReps: number): { ms: number; version: string } | null => {
    const r = spawnSync(exe, [x1.join(','), x2.join(','), String(budgetMs), String(maxReps)], { encoding: 'utf8', env });
    if (r.status !== 0) {
      log(`oneDNN on (${x1})@(${x2}): ${(r.stderr || String(r.error)).split('\n')[0]}`);
      return null;
    }
    return JSON.parse(r.stdout) as { ms: number; version: string };
  };
  const probe = run([1, 64], [64, 64], 1, 1);
  if (!probe) return null;
  return { version: probe.version, time: (x1, x2, budgetMs, maxReps) => run(x1, x2, budgetMs, maxReps)?.ms ?? null };
}
