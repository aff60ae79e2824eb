import { configDefaults, defineConfig } from 'vitest/config';

// Two tiers (scripts/dev/run-tests.cjs): `npm test` runs test/ without
// test/release/; `npm run test:release` (QMM_TEST_TIER=release) runs test/release/.
const release = process.env.QMM_TEST_TIER === 'release';

export default defineConfig({
  test: {
    include: release ? ['test/release/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: release ? configDefaults.exclude : [...configDefaults.exclude, 'test/release/**'],
    // brings build/ and dist/ up to date first: every test and child process loads that one build
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
