// The one build every child process loads: dist/ (the library and the CLI,
// compiled from lib/ and scripts/). The test runner's global setup
// (test/support/global-setup.ts) rebuilds it first when lib/ or scripts/ is newer.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.resolve(__dirname, '..', '..', 'dist', 'cjs');
if (!fs.existsSync(path.join(dist, 'lib', 'index.js'))) {
  throw new Error(`${dist} is not built: run \`npm run build\` (npm test and vitest build it)`);
}

module.exports = {
  dist,
  /** require() of a compiled module of lib/, e.g. lib('index'), lib('native'). */
  lib: (name) => require(path.join(dist, 'lib', `${name}.js`)),
  /** require() of a compiled module of scripts/, e.g. scripts('demo/random'). */
  scripts: (name) => require(path.join(dist, 'scripts', `${name}.js`)),
};
