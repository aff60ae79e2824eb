// Compiles lib/ and the CLI (scripts/, without scripts/dev) to dist/cjs with tsc
// (tsconfig.json), then writes the ESM entry (dist/esm/index.mjs) as a thin
// re-export of the CommonJS build, so `import` and `require` share one module
// instance (one QmmError class, one backend). Incremental: nothing is written
// when no source changed since the last build (build/ts-build.json records
// the sources and their mtimes); a rebuild starts from an empty dist/.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const dist = path.join(root, 'dist');
const stampFile = path.join(root, 'build', 'ts-build.json');

function walk(dir, keep, out) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, keep, out);
    else if (keep(p)) out.push(p);
  }
  return out;
}

/** Every input of the TypeScript build, with its mtime. */
function sources() {
  const dev = path.join(root, 'scripts', 'dev') + path.sep;
  const ts = (p) => p.endsWith('.ts') && !p.startsWith(dev);
  const files = [...walk(path.join(root, 'lib'), ts, []), ...walk(path.join(root, 'scripts'), ts, []), path.join(root, 'tsconfig.json'), __filename];
  const out = {};
  for (const f of files.sort()) out[path.relative(root, f)] = fs.statSync(f).mtimeMs;
  return out;
}

/** Why dist/ must be rebuilt, or null when it matches the sources. */
function staleReason() {
  if (!fs.existsSync(path.join(dist, 'esm', 'index.mjs'))) return 'dist/ is not built';
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(stampFile, 'utf8'));
  } catch {
    return 'no record of the last build';
  }
  const now = sources();
  for (const [f, t] of Object.entries(now)) if (stamp[f] !== t) return `${f} ${f in stamp ? 'changed' : 'is new'}`;
  for (const f of Object.keys(stamp)) if (!(f in now)) return `${f} was removed`;
  return null;
}

function buildTs() {
  const reason = staleReason();
  if (reason === null) return false;
  console.log(`build:ts: ${reason}: compiling lib/ and scripts/ to dist/`);
  const before = sources();
  fs.rmSync(dist, { recursive: true, force: true });
  fs.rmSync(stampFile, { force: true });
  const tsc = path.join(path.dirname(require.resolve('typescript/package.json', { paths: [root] })), 'bin', 'tsc');
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });

  const cjsEntry = path.join(dist, 'cjs', 'lib', 'index.js');
  const names = Object.keys(require(cjsEntry)).filter((n) => n !== 'default' && n !== '__esModule').sort();
  const esmDir = path.join(dist, 'esm');
  fs.mkdirSync(esmDir, { recursive: true });
  fs.writeFileSync(
    path.join(esmDir, 'index.mjs'),
    `import cjs from '../cjs/lib/index.js';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`,
  );
  fs.writeFileSync(
    path.join(esmDir, 'index.d.mts'),
    "import * as cjs from '../cjs/lib/index.js';\nexport * from '../cjs/lib/index.js';\nexport default cjs;\n",
  );
  fs.mkdirSync(path.dirname(stampFile), { recursive: true });
  fs.writeFileSync(stampFile, JSON.stringify(before, null, 1));
  return true;
}

module.exports = { buildTs, staleReason };

if (require.main === module) buildTs();
