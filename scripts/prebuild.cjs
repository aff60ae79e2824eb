#!/usr/bin/env node
// Builds the release binaries shipped in the npm package:
//   prebuilds/linux-x64/ascend_quant_matmul.napi.node     (native build)
//   prebuilds/linux-arm64/ascend_quant_matmul.napi.node   (cross build, when the
//     aarch64 toolchain of Debian's crossbuild-essential-arm64 is installed)
// The core is compiled for the baseline ISA of each architecture; faster
// kernels are chosen at run time (binding/emulator/kernels). No mock CANN.
// Usage: node scripts/prebuild.cjs [--arch x64|arm64|all]
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const argArch = (() => {
  const i = process.argv.indexOf('--arch');
  return i > 0 ? process.argv[i + 1] : 'all';
})();
const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });

function build(arch) {
  const out = path.join(root, 'build', `prebuild-${arch}`);
  const args = [cmakeJs, 'rebuild', '--out', out, '--CDQMM_BUILD_MOCK_CANN=OFF', '--CDQMM_STATIC_RUNTIME=ON'];
  if (arch !== process.arch) {
    const toolchain = path.join(root, 'cmake', `toolchain-${arch === 'arm64' ? 'aarch64' : arch}.cmake`);
    if (!fs.existsSync(toolchain)) throw new Error(`no toolchain file ${toolchain}`);
    args.push(`--CDCMAKE_TOOLCHAIN_FILE=${toolchain}`, '--arch', arch);
  }
  console.log(`prebuild: ${arch}`);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`the ${arch} build failed`);
  const dir = path.join(root, 'prebuilds', `linux-${arch}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(out, 'Release', 'ascend_quant_matmul.node'), path.join(dir, 'ascend_quant_matmul.napi.node'));
  return path.join(dir, 'ascend_quant_matmul.napi.node');
}

const hasCross =
  spawnSync('sh', ['-c', 'command -v aarch64-linux-gnu-g++'], { encoding: 'utf8' }).status === 0 &&
  fs.existsSync(path.join(root, 'cmake', 'toolchain-aarch64.cmake'));
const wanted = argArch === 'all' ? ['x64', 'arm64'] : [argArch];
for (const arch of wanted) {
  if (process.platform !== 'linux') throw new Error('prebuilds are made on Linux');
  if (arch === 'arm64' && process.arch !== 'arm64' && !hasCross) {
    console.log('prebuild: arm64 skipped (install crossbuild-essential-arm64 to cross-build it)');
    continue;
  }
  console.log(`prebuild: wrote ${path.relative(root, build(arch))}`);
}
