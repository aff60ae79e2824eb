// Incremental cmake-js builds into a kept build directory. The directory is
// configured once (again only when one of the wanted cache values differs),
// then built with `cmake-js build`, which is a no-op when nothing changed.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });

/** The values of `keys` in <dir>/CMakeCache.txt, or null when it is not configured. */
function cacheValues(dir, keys) {
  let text;
  try {
    text = fs.readFileSync(path.join(dir, 'CMakeCache.txt'), 'utf8');
  } catch {
    return null;
  }
  const out = {};
  for (const key of keys) {
    const m = text.match(new RegExp(`^${key}:[A-Z]+=(.*)$`, 'm'));
    out[key] = m ? m[1] : undefined;
  }
  return out;
}

const truthy = (v) => /^(ON|1|TRUE|YES|Y)$/i.test(String(v));
const sameValue = (a, b) => (/^(ON|OFF)$/.test(b) ? truthy(a) === truthy(b) : a === b);

function run(args, { quiet }) {
  const r = spawnSync(process.execPath, [cmakeJs, ...args], { cwd: root, encoding: 'utf8', stdio: quiet ? 'pipe' : 'inherit' });
  if (r.status !== 0) {
    if (quiet) process.stderr.write(r.stdout + r.stderr);
    throw new Error(`cmake-js ${args[0]} failed (${r.status ?? r.signal})`);
  }
  return quiet ? r.stdout : '';
}

/**
 * Configures (when needed) and builds `dir`.
 * defs: cache values, e.g. { QMM_BUILD_TESTS: 'ON' }; arch: cmake-js --arch
 * (cross builds: with the toolchain file in defs); target: one target only.
 * quiet: print the tool output only when something was rebuilt or failed.
 * Returns true when something was (re)configured or rebuilt.
 */
function cmakeBuild({ dir, defs, arch, target, quiet = false }) {
  const common = ['--out', dir, ...(arch ? ['--arch', arch] : [])];
  const defArgs = Object.entries(defs).map(([k, v]) => `--CD${k}=${v}`);
  const cached = cacheValues(dir, Object.keys(defs));
  const stale = cached === null || Object.entries(defs).some(([k, v]) => !sameValue(cached[k], v));
  let log = '';
  if (stale) log += run(['configure', ...common, ...defArgs], { quiet });
  log += run(['build', ...common, ...(target ? ['--target', target] : [])], { quiet });
  const worked = stale || !/ninja: no work to do|make(\[\d+\])?: Nothing to be done/.test(log);
  if (quiet && worked) process.stdout.write(log);
  return worked;
}

module.exports = { root, cmakeBuild, cacheValues };
