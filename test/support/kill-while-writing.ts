/** A `qmm` run killed mid-write, for the tests that a killed run leaves nothing that looks complete. */

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { qmmCli } from './paths';

/**
 * Starts `qmm <args…>` (whose output directory is `out`), SIGKILLs it once a
 * shard it stages in `<out>.tmp-<pid>` holds more than `minBytes`, and returns
 * that staging directory. Fails when the run ended first.
 */
export async function killWhileWriting(args: string[], out: string, minBytes: number, cwd: string): Promise<string> {
  const child = spawn(process.execPath, [qmmCli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const tmp = `${out}.tmp-${child.pid}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const writing = fs.existsSync(tmp) && fs.readdirSync(tmp).some((f) => f.includes('.safetensors.tmp-') && fs.statSync(path.join(tmp, f)).size > minBytes);
    if (writing || Date.now() > deadline || child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(child.exitCode, 'the child was still running').toBeNull();
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  return tmp;
}
