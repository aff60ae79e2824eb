#!/usr/bin/env node
// The development build (`npm run build`), incremental; a no-change run takes
// about a second:
//   native  build/Release: the addon built with the test option
//           (QMM_BUILD_TESTS=ON: its test hooks, the mock CANN runtime in
//           build/mock-cann, the self-tests run by `ctest --test-dir build`)
//   ts      dist/: lib/ and the CLI (scripts/dev/build-ts.cjs)
// Usage: node scripts/dev/build.cjs [--native | --ts] [--quiet]
// The release binaries are built by scripts/dev/build-prebuilds.cjs (npm pack).
'use strict';
const path = require('node:path');
const { cmakeBuild, root } = require('./cmake-build.cjs');
const { buildTs } = require('./build-ts.cjs');

const args = process.argv.slice(2);
const quiet = args.includes('--quiet');
const only = args.find((a) => a === '--native' || a === '--ts');

function buildNative() {
  return cmakeBuild({ dir: path.join(root, 'build'), defs: { QMM_BUILD_TESTS: 'ON' }, quiet });
}

module.exports = { buildNative };

if (require.main === module) {
  try {
    if (only !== '--ts') buildNative();
    if (only !== '--native') buildTs();
  } catch (e) {
    console.error(`build: ${e.message}`);
    process.exit(1);
  }
}
