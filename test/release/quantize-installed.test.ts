/**
 * The README's float-model workflow from an installed package: the tarball
 * (`npm pack --ignore-scripts`: today's dist/, no binary build) installed into
 * an empty app, then `qmm example --float` → `qmm quantize` → `qmm prepare` →
 * QuantLinear.load through require and import. The native binding is the
 * repo's build (QMM_BINDING_PATH); test/pack.test.ts covers the prebuilt one.
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..', '..');
const npmCli = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
const binding = path.join(root, 'build', 'Release', 'ascend_quant_matmul.node');

describe('qmm quantize from an installed package', () => {
  it('example --float → quantize → prepare → QuantLinear.load', () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-installed-'));
    try {
      const pack = spawnSync(process.execPath, [npmCli, 'pack', '--ignore-scripts', '--pack-destination', work, '--silent'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
      expect(pack.status, pack.stderr).toBe(0);
      const tgz = path.join(work, fs.readdirSync(work).find((f) => f.endsWith('.tgz')) as string);
      const app = path.join(work, 'app');
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}');
      const env = { ...process.env, QMM_BACKEND: 'cpu', ...(fs.existsSync(binding) ? { QMM_BINDING_PATH: binding } : {}) };
      const install = spawnSync(process.execPath, [npmCli, 'install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tgz], { cwd: app, env, encoding: 'utf8', timeout: 300_000 });
      expect(install.status, install.stderr).toBe(0);
      const qmm = path.join(app, 'node_modules', 'ascend-quant-matmul', 'dist', 'cjs', 'scripts', 'qmm.js');
      const run = (args: string[]) => {
        const r = spawnSync(process.execPath, [qmm, ...args], { cwd: app, env, encoding: 'utf8', timeout: 120_000 });
        expect(r.status, `qmm ${args.join(' ')}: ${r.stderr}`).toBe(0);
        return r.stdout;
      };
      run(['example', '--float', 'float']);
      const q = JSON.parse(run(['quantize', 'float', '--out', 'w8a8', '--json', '--report', '--report-tokens', '2']));
      expect(q.layers.length).toBe(14);
      expect(q.report.overall.relError).toBeLessThan(0.08);
      run(['prepare', 'w8a8', '--out', 'prepared']);
      const program = `const l = await q.QuantLinear.load('./prepared', 'model.layers.0.mlp.down_proj');
        const y = await l.forward(q.fromFloat32(new Array(2 * 704).fill(0.5), [2, 704], 'bfloat16'));
        console.log(JSON.stringify([l.quantType, l.inFeatures, l.outFeatures, y.shape]));`;
      const want = JSON.stringify(['W8A8_DYNAMIC', 704, 256, [2, 256]]);
      const cjs = spawnSync(process.execPath, ['-e', `const q = require('ascend-quant-matmul'); (async () => { ${program} })()`], { cwd: app, env, encoding: 'utf8' });
      expect(cjs.status, cjs.stderr).toBe(0);
      expect(cjs.stdout.trim()).toBe(want);
      const esm = spawnSync(process.execPath, ['--input-type=module', '-e', `import * as q from 'ascend-quant-matmul'; ${program}`], { cwd: app, env, encoding: 'utf8' });
      expect(esm.status, esm.stderr).toBe(0);
      expect(esm.stdout.trim()).toBe(want);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
