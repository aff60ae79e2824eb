/**
 * The npm package as users get it: `npm pack` (whose prepack builds the
 * prebuilt binaries and dist/ only when they are out of date), installed into
 * an empty directory with no compiler on PATH, then a matmul through both
 * `require` and `import`.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { npmCommand } from '../support/npm';
import { root } from '../support/paths';

const npm = npmCommand();
const prebuilt = path.join(root, 'prebuilds', 'linux-x64', 'ascend_quant_matmul.napi.node');
const distEntry = path.join(root, 'dist', 'cjs', 'lib', 'index.js');
const mtime = (f: string) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : undefined);

describe('npm package', () => {
  it('npm reads the project configuration without warnings (no unknown .npmrc keys)', () => {
    const r = spawnSync(npm.file, [...npm.args, 'config', 'get', 'registry'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/npm warn/i);
  });

  it('installs from the tarball without a compiler and runs from require and import', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-pack-'));
    try {
      const before = { prebuilt: mtime(prebuilt), dist: mtime(distEntry) };
      execFileSync(npm.file, [...npm.args, 'pack', '--pack-destination', work, '--silent'], { cwd: root, stdio: 'pipe', timeout: 600_000 });
      // what was already built for this target is not built again
      if (before.prebuilt !== undefined) expect(mtime(prebuilt), 'npm pack rewrote an up-to-date prebuilt binary').toBe(before.prebuilt);
      if (before.dist !== undefined) expect(mtime(distEntry), 'npm pack rewrote an up-to-date dist/').toBe(before.dist);

      const tgz = fs.readdirSync(work).find((f) => f.endsWith('.tgz'));
      expect(tgz).toBeDefined();
      const listing = execFileSync('tar', ['-tzf', path.join(work, tgz as string)], { encoding: 'utf8' }).split('\n');
      expect(listing).toContain('package/prebuilds/linux-x64/ascend_quant_matmul.napi.node');
      expect(listing).toContain('package/dist/cjs/lib/index.js');
      expect(listing).toContain('package/dist/cjs/scripts/qmm.js');
      expect(listing).toContain('package/scripts/install.cjs');
      // every top-level document the package lists, where the repo has it
      const files = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).files as string[];
      for (const f of files.filter((f) => /^[\w.-]+$/.test(f) && fs.existsSync(path.join(root, f)))) expect(listing).toContain(`package/${f}`);
      // nothing test- or dev-only
      const testOnly = listing.filter((f) => /^package\/(test|scripts\/dev|dist\/cjs\/test|build)\/|kernel_selftest|mock-cann|\/selftest\//.test(f));
      expect(testOnly).toEqual([]);

      // a PATH with node and a shell only: no cmake, no compiler
      const bin = path.join(work, 'bin');
      fs.mkdirSync(bin);
      for (const tool of ['sh', 'env', 'tar', 'gzip']) {
        const where = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
        if (where) fs.symlinkSync(where, path.join(bin, tool));
      }
      fs.symlinkSync(process.execPath, path.join(bin, 'node'));
      const app = path.join(work, 'app');
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
      const env = { ...process.env, PATH: bin, QMM_BACKEND: 'cpu' };
      expect(spawnSync('sh', ['-c', 'command -v cmake || command -v g++ || command -v cc'], { env, encoding: 'utf8' }).stdout).toBe('');
      const install = spawnSync(npm.file, [...npm.args, 'install', '--no-audit', '--no-fund', '--prefer-offline', path.join(work, tgz as string)], {
        cwd: app,
        env,
        encoding: 'utf8',
        timeout: 600_000,
      });
      expect(install.status, install.stderr).toBe(0);

      const program = `const x1 = q.tensor(new Int8Array([1,2,3,4]), [2,2], 'int8');
        const w = q.tensor(new Int8Array([1,0,0,1]), [2,2], 'int8');
        const out = q.npuQuantMatmulSync(x1, w.t(), q.tensor(new Float32Array([1,1]), [2], 'float32'), { outputDtype: 'int32' });
        console.log(JSON.stringify({ v: Array.from(out.data), binding: q.backendInfo().binding }));`;
      const cjs = spawnSync(process.execPath, ['-e', `const q = require('ascend-quant-matmul'); ${program}`], { cwd: app, env, encoding: 'utf8' });
      expect(cjs.status, cjs.stderr).toBe(0);
      const r1 = JSON.parse(cjs.stdout);
      expect(r1.v).toEqual([1, 2, 3, 4]);
      expect(r1.binding).toContain(`prebuilds${path.sep}linux-x64`);
      const esm = spawnSync(process.execPath, ['--input-type=module', '-e', `import * as q from 'ascend-quant-matmul'; ${program}`], { cwd: app, env, encoding: 'utf8' });
      expect(esm.status, esm.stderr).toBe(0);
      expect(JSON.parse(esm.stdout).v).toEqual([1, 2, 3, 4]);

      // the shipped binary has no test hooks (mock CANN controls, bench probes)
      const hooks = spawnSync(
        process.execPath,
        ['-e', `const a = require(process.argv[1]); console.log(JSON.stringify({ mock: 'cannMock' in a, probe: 'probeKernelPeakGops' in a.emulator, kernel: typeof a.emulator.kernelName }))`, r1.binding],
        { cwd: app, env, encoding: 'utf8' },
      );
      expect(hooks.status, hooks.stderr).toBe(0);
      expect(JSON.parse(hooks.stdout)).toEqual({ mock: false, probe: false, kernel: 'function' });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
