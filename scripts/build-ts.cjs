#!/usr/bin/env node
// Compiles lib/ and scripts/ to dist/cjs with tsc, then writes the ESM entry
// (dist/esm/index.mjs) as a thin re-export of the CommonJS build, so `import`
// and `require` share one module instance (one QmmError class, one backend).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const tsc = path.join(path.dirname(require.resolve('typescript/package.json', { paths: [root] })), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });

const cjsEntry = path.join(root, 'dist', 'cjs', 'lib', 'index.js');
const names = Object.keys(require(cjsEntry)).filter((n) => n !== 'default' && n !== '__esModule').sort();
const esmDir = path.join(root, 'dist', 'esm');
fs.mkdirSync(esmDir, { recursive: true });
fs.writeFileSync(
  path.join(esmDir, 'index.mjs'),
  `import cjs from '../cjs/lib/index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`,
);
fs.writeFileSync(
  path.join(esmDir, 'index.d.mts'),
  "import * as cjs from '../cjs/lib/index.js';\nexport * from '../cjs/lib/index.js';\nexport default cjs;\n",
);
