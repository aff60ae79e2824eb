#!/usr/bin/env node
// `npm test`: the vitest suite on the CPU emulator, then the backend-neutral
// suites again on the CANN backend over the mock runtime (test/mock-cann),
// when it is built. Ends with one plain line: "N passed, N failed".
// Extra arguments are passed to vitest (e.g. a file filter).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const vitest = path.join(path.dirname(require.resolve('vitest/package.json', { paths: [root] })), 'vitest.mjs');
const extra = process.argv.slice(2);
// suites whose results do not depend on the backend run once
const CPU_ONLY = ['test/safetensors.test.ts', 'test/cann-backend.test.ts', 'test/cann-quantize.test.ts', 'test/cann-abi-check.test.ts', 'test/kernels.test.ts', 'test/pack.test.ts', 'test/arm64.test.ts', 'test/types/**'];
const mockRoot = path.join(root, 'build', 'mock-cann', 'full');

function run(name, env, exclude) {
  const out = path.join(root, 'build', `vitest-${name}.json`);
  fs.rmSync(out, { force: true });
  const args = [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`];
  for (const e of exclude) args.push('--exclude', e);
  console.log(`\n=== ${name}: vitest ${extra.join(' ')}`);
  const r = spawnSync(process.execPath, [...args, ...extra], { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
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
  console.log(`=== ${name}: ${passed} passed, ${failed} failed`);
  return { passed, failed };
}

const results = [run('cpu', { QMM_BACKEND: 'cpu' }, [])];
if (fs.existsSync(path.join(mockRoot, 'lib64', 'libascendcl.so'))) {
  results.push(run('cann-mock', { QMM_BACKEND: 'cann', ASCEND_HOME_PATH: mockRoot, MOCK_CANN_DEVICE_COUNT: '2' }, CPU_ONLY));
} else {
  console.log('\n=== cann-mock: skipped (the mock CANN runtime is not built; run `npm run build:native`)');
  results.push({ passed: 0, failed: 1 });
}
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
console.log(`\n${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
