#!/usr/bin/env node
// npm install hook. In a git checkout (scripts/dev/ present): the development
// build of the addon, with the test targets. Installed from the registry or a
// tarball: the prebuilt binary when one loads on this machine, else a build
// from source with cmake-js.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const devBuild = path.join(root, 'scripts', 'dev', 'build.cjs');

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

function buildFromSource() {
  const checkout = fs.existsSync(devBuild);
  const args = checkout
    ? [devBuild, '--native']
    : [require.resolve('cmake-js/bin/cmake-js', { paths: [root] }), 'build', '--out', path.join(root, 'build')];
  console.log(`ascend-quant-matmul: building the native addon from source (cmake-js${checkout ? ', with the test targets' : ''})`);
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(
      'ascend-quant-matmul: the build from source failed. It needs cmake >= 3.15 and a C++17 compiler ' +
        '(Debian/Ubuntu: apt-get install -y cmake g++). Or set QMM_BINDING_PATH to a built .node file.',
    );
    process.exit(r.status || 1);
  }
}

if (fs.existsSync(devBuild) || !prebuiltLoads()) buildFromSource();
