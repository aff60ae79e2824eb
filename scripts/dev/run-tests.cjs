#!/usr/bin/env node
// The test tiers. Each ends with one plain line: "N passed, N failed".
//
//   unit     (`npm test`): the native self-tests (ctest in build/: mock CANN,
//            kernels), then vitest on the CPU emulator, then the backend-neutral
//            suites again on the CANN backend over the mock runtime.
//   release  (`npm run test:release`): the release binaries (prebuilds/, built
//            incrementally), the arm64 kernel self-test cross-built and run under
//            qemu, then test/release/ (npm pack and install without a compiler,
//            the arm64 binary under qemu, soak) on the CPU emulator and, where the
//            backend matters, on the CANN backend over the mock.
//
// Usage: node scripts/dev/run-tests.cjs [--tier unit|release] [vitest args, e.g. a file filter]
// With vitest arguments only vitest runs. CI=true turns a part that cannot run
// here (no cross toolchain) into a failure. QMM_TEST_SUMMARY=<file>: also write
// { tier, passed, failed } there and name the tier on the last line (.ci/run
// prints the sum of the tiers).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { buildArm64Selftest, missing } = require('./arm64-selftest.cjs');
const { root } = require('./cmake-build.cjs');

const argv = process.argv.slice(2);
const tierAt = argv.indexOf('--tier');
const tier = tierAt >= 0 ? argv[tierAt + 1] : 'unit';
const extra = tierAt >= 0 ? [...argv.slice(0, tierAt), ...argv.slice(tierAt + 2)] : argv;
if (tier !== 'unit' && tier !== 'release') {
  console.error(`run-tests: unknown tier '${tier}' (unit or release)`);
  process.exit(2);
}
const inCi = process.env.CI === 'true';
const vitest = path.join(path.dirname(require.resolve('vitest/package.json', { paths: [root] })), 'vitest.mjs');
const mockRoot = path.join(root, 'build', 'mock-cann', 'full');
// suites whose results do not depend on the backend run once, on the cpu
const CPU_ONLY = [
  'test/safetensors.test.ts',
  'test/cann-backend.test.ts',
  'test/cann-quantize.test.ts',
  'test/cann-abi-check.test.ts',
  'test/kernels.test.ts',
  'test/release/pack.test.ts',
  'test/release/arm64.test.ts',
  'test/types/**',
];

function vitestRun(name, env, exclude) {
  const out = path.join(root, 'build', `vitest-${tier}-${name}.json`);
  fs.rmSync(out, { force: true });
  const args = [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`];
  for (const e of exclude) args.push('--exclude', e);
  console.log(`\n=== ${tier} ${name}: vitest ${extra.join(' ')}`);
  const r = spawnSync(process.execPath, [...args, ...extra], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, QMM_TEST_TIER: tier, ...env },
  });
  let passed = 0;
  let failed = 0;
  try {
    const j = JSON.parse(fs.readFileSync(out, 'utf8'));
    passed = j.numPassedTests;
    failed = j.numFailedTests + (j.numFailedTestSuites || 0);
  } catch {
    failed += 1; // no report: the run itself broke
  }
  if (r.status !== 0 && failed === 0) failed = 1;
  console.log(`=== ${tier} ${name}: ${passed} passed, ${failed} failed`);
  return { passed, failed };
}

/** ctest in `dir`; each CTest test counts as one test. */
function ctest(name, dir, filter) {
  console.log(`\n=== ${tier} ${name}: ctest${filter ? ` -R ${filter}` : ''}`);
  const r = spawnSync('ctest', ['--test-dir', dir, '--output-on-failure', ...(filter ? ['-R', filter] : [])], { cwd: root, encoding: 'utf8' });
  process.stdout.write((r.stdout ?? '') + (r.stderr ?? ''));
  const m = /(\d+)% tests passed, (\d+) tests? failed out of (\d+)/.exec(r.stdout ?? '');
  const res = m && Number(m[3]) > 0 ? { passed: Number(m[3]) - Number(m[2]), failed: Number(m[2]) } : { passed: 0, failed: 1 };
  if (r.status !== 0 && res.failed === 0) res.failed = 1;
  console.log(`=== ${tier} ${name}: ${res.passed} passed, ${res.failed} failed`);
  return res;
}

/** A part that cannot run here: a failure in CI, or when `needed`. */
function skipped(name, why, needed = inCi) {
  console.log(`\n=== ${tier} ${name}: ${needed ? 'FAILED' : 'skipped'} (${why})`);
  return { passed: 0, failed: needed ? 1 : 0 };
}

/** A step the rest of the tier needs (a build): one failure when it throws. */
function step(name, fn) {
  console.log(`\n=== ${tier} ${name}`);
  try {
    fn();
    return { passed: 0, failed: 0 };
  } catch (e) {
    console.log(`=== ${tier} ${name}: FAILED: ${e.message}`);
    return { passed: 0, failed: 1 };
  }
}

function releaseBinaries() {
  return step('release binaries (prebuilds/)', () => {
    const r = spawnSync(process.execPath, [path.join(__dirname, 'build-prebuilds.cjs')], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('scripts/dev/build-prebuilds.cjs failed');
  });
}

function arm64KernelSelftest() {
  const absent = missing();
  if (absent.length) return skipped('arm64 kernel self-test', `${absent.join(', ')} not found: scripts/dev/arm64-env.sh installs them`);
  let dir = '';
  const built = step('arm64 kernel self-test: cross build', () => {
    dir = buildArm64Selftest().dir;
  });
  return built.failed ? built : ctest('arm64 kernel self-test under qemu', dir, '^kernel_selftest');
}

const results = [];
if (extra.length === 0) {
  if (tier === 'unit') {
    results.push(ctest('native self-tests', path.join(root, 'build')));
  } else {
    results.push(releaseBinaries());
    results.push(arm64KernelSelftest());
  }
}
results.push(vitestRun('cpu', { QMM_BACKEND: 'cpu' }, []));
if (fs.existsSync(path.join(mockRoot, 'lib64', 'libascendcl.so'))) {
  results.push(vitestRun('cann-mock', { QMM_BACKEND: 'cann', ASCEND_HOME_PATH: mockRoot, MOCK_CANN_DEVICE_COUNT: '2' }, CPU_ONLY));
} else {
  results.push(skipped('cann-mock', 'the mock CANN runtime is not built: npm run build', true));
}

const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
const summary = process.env.QMM_TEST_SUMMARY;
if (summary) fs.writeFileSync(summary, JSON.stringify({ tier, passed, failed }));
console.log(`\n${summary ? `${tier} tier: ` : ''}${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
