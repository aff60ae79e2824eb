/**
 * linux-arm64: the cross-built binary (prebuilds/linux-arm64, NEON kernels)
 * runs under qemu-aarch64 with Debian's arm64 Node.js and gives the same bits
 * as the native build on a fixed set of ops (whose native results the
 * reference suites check). `npm run test:release` builds the arm64 binary when
 * the cross toolchain is there (scripts/dev/arm64-env.sh installs it and the
 * arm64 Node.js); outside CI the test is skipped when they are absent.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childScript, root } from '../support/paths';

const armRoot = path.join(root, 'build', 'arm64-root');
const armBinary = path.join(root, 'prebuilds', 'linux-arm64', 'ascend_quant_matmul.napi.node');
const script = childScript('arch-check.cjs');
const ready = fs.existsSync(path.join(armRoot, 'usr', 'bin', 'node')) && fs.existsSync(armBinary);
const required = process.env.CI === 'true';

describe.skipIf(!ready && !required)('linux-arm64 under qemu', () => {
  it('gives the same results as the native build, bit for bit, with the NEON kernels', () => {
    expect(ready, 'run scripts/dev/arm64-env.sh and npm run build:prebuilds first').toBe(true);
    const env = { ...process.env, QMM_BACKEND: 'cpu' };
    const native = spawnSync(process.execPath, [script], { encoding: 'utf8', env, timeout: 300_000 });
    expect(native.status, native.stderr).toBe(0);
    const arm = spawnSync('qemu-aarch64', ['-L', armRoot, path.join(armRoot, 'usr', 'bin', 'node'), script], {
      encoding: 'utf8',
      env: { ...env, QMM_BINDING_PATH: armBinary },
      timeout: 600_000,
    });
    expect(arm.status, arm.stderr).toBe(0);
    const a = JSON.parse(native.stdout);
    const b = JSON.parse(arm.stdout);
    expect(b.arch).toBe('arm64');
    expect(b.hashes.length).toBeGreaterThan(20);
    expect(b.hashes).toEqual(a.hashes);
  });
});
