#!/usr/bin/env node
// Builds the release binaries shipped in the npm package (run by `npm pack`
// through prepack, and by `npm run test:release`):
//   prebuilds/linux-x64/ascend_quant_matmul.napi.node     (native build)
//   prebuilds/linux-arm64/ascend_quant_matmul.napi.node   (cross build, when the
//     aarch64 toolchain of Debian's crossbuild-essential-arm64 is installed)
// The core is compiled for the baseline ISA of each architecture; faster
// kernels are chosen at run time (binding/emulator/kernels). No test option:
// no mock CANN, no test hooks. Incremental: build/prebuild-<arch> stays
// configured, and a binary is copied only when it changed.
// Usage: node scripts/dev/build-prebuilds.cjs [--arch x64|arm64|all]
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { cmakeBuild, root } = require('./cmake-build.cjs');

const argArch = (() => {
  const i = process.argv.indexOf('--arch');
  return i > 0 ? process.argv[i + 1] : 'all';
})();

function toolchainFor(arch) {
  const file = path.join(root, 'cmake', `toolchain-${arch === 'arm64' ? 'aarch64' : arch}.cmake`);
  if (!fs.existsSync(file)) throw new Error(`no toolchain file ${file}`);
  return file;
}

function build(arch) {
  const dir = path.join(root, 'build', `prebuild-${arch}`);
  const defs = { QMM_BUILD_TESTS: 'OFF', QMM_STATIC_RUNTIME: 'ON' };
  const cross = arch !== process.arch;
  if (cross) defs.CMAKE_TOOLCHAIN_FILE = toolchainFor(arch);
  console.log(`prebuild: ${arch}`);
  cmakeBuild({ dir, defs, arch: cross ? arch : undefined, quiet: true });
  const built = path.join(dir, 'Release', 'ascend_quant_matmul.node');
  const shipped = path.join(root, 'prebuilds', `linux-${arch}`, 'ascend_quant_matmul.napi.node');
  const same = fs.existsSync(shipped) && fs.readFileSync(shipped).equals(fs.readFileSync(built));
  if (same) {
    console.log(`prebuild: ${path.relative(root, shipped)} is up to date`);
  } else {
    fs.mkdirSync(path.dirname(shipped), { recursive: true });
    fs.copyFileSync(built, shipped);
    console.log(`prebuild: wrote ${path.relative(root, shipped)}`);
  }
}

const hasCross = spawnSync('sh', ['-c', 'command -v aarch64-linux-gnu-g++'], { encoding: 'utf8' }).status === 0;
const wanted = argArch === 'all' ? ['x64', 'arm64'] : [argArch];
try {
  if (process.platform !== 'linux') throw new Error('prebuilds are made on Linux');
  for (const arch of wanted) {
    if (arch === 'arm64' && process.arch !== 'arm64' && !hasCross) {
      if (argArch === 'arm64') throw new Error('the arm64 cross build needs aarch64-linux-gnu-g++ (apt-get install crossbuild-essential-arm64)');
      console.log('prebuild: arm64 skipped (install crossbuild-essential-arm64 to cross-build it)');
      continue;
    }
    build(arch);
  }
} catch (e) {
  console.error(`prebuild: ${e.message}`);
  process.exit(1);
}
