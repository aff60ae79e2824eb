/**
 * Runs once before any test file: brings the one build the tests load up to
 * date with the sources (scripts/dev/build.cjs: the native addon with its test
 * targets in build/, then dist/ from lib/ and scripts/), so that the in-process
 * suites (which run lib/ through vitest) and the child processes (which load
 * dist/) test the same code, and `npx vitest run` never tests a stale dist/.
 * A no-change check takes about a second. With QMM_BINDING_PATH set, the
 * native build is the caller's and only dist/ is checked.
 */

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export default function setup(): void {
  const root = path.resolve(__dirname, '..', '..');
  const what = process.env.QMM_BINDING_PATH ? ['--ts'] : [];
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'dev', 'build.cjs'), '--quiet', ...what], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('the build failed (scripts/dev/build.cjs): the tests would run against a stale or missing build');
}
