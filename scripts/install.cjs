#!/usr/bin/env node
// npm install hook: use a prebuilt binary when one loads on this machine,
// else build the addon from source with cmake-js. In a git checkout (test/
// present) the mock CANN runtime used by the tests is built too.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

function prebuiltLoads() {
  if (process.env.QMM_BUILD_FROM_SOURCE === '1') return false;
  try {
    const file = require('node-gyp-build').resolve(root);
    if (!file.includes(`${path.sep}prebuilds${path.sep}`)) return false;
    require(file);
    console.log(`ascend-quant-matmul: using prebuilt ${path.relative(root, file)}`);
    return true;
  } catch {
    return false;
  }
}

if (!prebuiltLoads()) {
  const checkout = fs.existsSync(path.join(root, 'test', 'mock-cann', 'CMakeLists.txt'));
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const args = [cmakeJs, 'build', '--out', path.join(root, 'build')];
  if (checkout) args.push('--CDQMM_BUILD_MOCK_CANN=ON');
  console.log('ascend-quant-matmul: building the native addon from source (cmake-js)');
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(
      'ascend-quant-matmul: the build from source failed. It needs cmake >= 3.15 and a C++17 compiler ' +
        '(Debian/Ubuntu: apt-get install -y cmake g++). Or set QMM_BINDING_PATH to a built .node file.',
    );
    process.exit(r.status || 1);
  }
}
