#!/usr/bin/env node
// The kernel self-test for linux-arm64 (the NEON sdot and i8mm kernels against
// the portable one, bit for bit): cross-built with Debian's crossbuild-essential-arm64
// through cmake/toolchain-aarch64.cmake into build/cross-arm64 (the test
// option on, only the kernel_selftest target), run under qemu-aarch64.
// `npm run test:release` runs it through CTest; by hand, with self-test
// arguments: node scripts/dev/arm64-selftest.cjs [--iters N] [--exhaustive]
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { cmakeBuild, root } = require('./cmake-build.cjs');

const dir = path.join(root, 'build', 'cross-arm64');
const binary = path.join(dir, 'binding', 'emulator', 'kernels', 'selftest', 'kernel_selftest');

/** The tools this needs that are not on PATH. */
const missing = () => ['aarch64-linux-gnu-g++', 'qemu-aarch64'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);

/** Cross-builds the self-test; throws unless the result is an aarch64 executable. */
function buildArm64Selftest() {
  const absent = missing();
  if (absent.length) throw new Error(`${absent.join(', ')} not found: run scripts/dev/arm64-env.sh (crossbuild-essential-arm64, qemu-user)`);
  cmakeBuild({
    dir,
    arch: 'arm64',
    target: 'kernel_selftest',
    defs: { QMM_BUILD_TESTS: 'ON', CMAKE_TOOLCHAIN_FILE: path.join(root, 'cmake', 'toolchain-aarch64.cmake') },
    quiet: true,
  });
  const elf = fs.readFileSync(binary).subarray(0, 20);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf.readUInt16LE(18) !== 0xb7) throw new Error(`${binary} is not an aarch64 executable`);
  return { dir, binary };
}

module.exports = { buildArm64Selftest, missing };

if (require.main === module) {
  try {
    buildArm64Selftest();
  } catch (e) {
    console.error(`arm64-selftest: ${e.message}`);
    process.exit(2);
  }
  // qemu's "max" CPU has SDOT and SMMLA (dispatch must pick i8mm); a Cortex-A76 has SDOT only (neon)
  let status = 0;
  for (const [cpu, kernel] of [['max', 'i8mm'], ['cortex-a76', 'neon']]) {
    console.log(`== qemu-aarch64 -cpu ${cpu} (expect dispatch: ${kernel})`);
    const r = spawnSync('qemu-aarch64', ['-cpu', cpu, '-L', '/usr/aarch64-linux-gnu', binary, ...process.argv.slice(2), '--expect-active', kernel], { stdio: 'inherit' });
    if (r.status !== 0) status = r.status ?? 1;
  }
  process.exit(status);
}
