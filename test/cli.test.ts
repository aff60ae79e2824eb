/** The `qmm` command line as a user runs it (the compiled dist/, which npm test and vitest build). */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, standardSpec, writeModel } from './model-fixtures';

const root = path.resolve(__dirname, '..');
const qmm = path.join(root, 'dist', 'cjs', 'scripts', 'qmm.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-cli-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function run(args: string[], script = qmm): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [script, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!fs.existsSync(qmm)) throw new Error(`${qmm} is missing: run \`npm run build\` first (npm test and vitest build it)`);
});

describe('qmm', () => {
  it('--help lists info, demo, bench and prepare', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['info', 'demo', 'bench', 'prepare']) expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
  });

  it('prepare --help shows the options and examples', () => {
    const r = run(['prepare', '--help']);
    expect(r.status).toBe(0);
    for (const s of ['--out <dir>', '--no-nz', '--output-dtype <dtype>', '--fuse', '--json', 'Examples:', 'qmm prepare ./Qwen2.5-7B-w8a8 --out']) expect(r.stdout).toContain(s);
  });

  it('info --json prints the backend as JSON', () => {
    const r = run(['info', '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(['cpu', 'cann']).toContain(j.backend);
    expect(typeof j.reason).toBe('string');
  });
});

describe('qmm prepare', () => {
  let model: string;
  beforeAll(async () => {
    model = path.join(work, 'model');
    await writeModel(buildModel(standardSpec('bfloat16')), model, 2);
  });

  it('--json prints the manifest summary; without a TTY progress is plain lines', () => {
    const out = path.join(work, 'out-json');
    const r = run(['prepare', model, '--out', out, '--fuse', '--json']);
    expect(r.stderr).not.toMatch(/\u001b\[/);
    expect(r.status, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ out, layers: 5, byQuantType: { W8A8: 2, W8A8_DYNAMIC: 2, W4A4_DYNAMIC: 1 }, floatTensors: 3, outputDtype: 'bfloat16', paramsDtype: 'bfloat16', nz: true, fuse: true });
    expect(j.fused.map((f: { name: string }) => f.name).sort()).toEqual(['model.layers.0.mlp.gate_up_proj', 'model.layers.0.self_attn.qkv_proj']);
    expect(j.fused.find((f: { name: string }) => f.name.endsWith('qkv_proj')).splits).toEqual([0, 64, 96, 128]);
    expect(fs.existsSync(path.join(out, 'qmm-manifest.json'))).toBe(true);
  });

  it('plain output: a summary on stdout, phases on stderr; --no-nz and --output-dtype are honoured', () => {
    const out = path.join(work, 'out-plain');
    const r = run(['prepare', model, '--out', out, '--no-nz', '--output-dtype', 'float16']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^prepared 8 layers \(4 W8A8, 3 W8A8_DYNAMIC, 1 W4A4_DYNAMIC\) and 3 float tensors/);
    expect(r.stdout).toContain('output dtype float16 (model bfloat16), NZ weights no');
    expect(r.stderr).toContain('checking layers: 8 layers');
    expect(r.stderr).toMatch(/converting: [\d.]+ MiB\n/);
    expect(r.stderr).toMatch(/ 100% /);
  });

  it('errors: a QmmError code and message, exit status 1, nothing written', () => {
    const out = path.join(work, 'out-missing');
    const r = run(['prepare', path.join(work, 'no-such-model'), '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^qmm: ERR_QMM_FILE: .*no-such-model/m);
    expect(fs.existsSync(out)).toBe(false);
    const again = run(['prepare', model, '--out', path.join(work, 'out-json')]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('already exists');
    expect(run(['prepare', model]).stderr).toContain("required option '-o, --out <dir>' not specified");
    expect(run(['prepare', model, '--out', out, '--output-dtype', 'float32']).stderr).toContain('Allowed choices are float16, bfloat16');
  });

  it('the README workflow example runs on a generated model', () => {
    const r = run([], path.join(root, 'scripts', 'dev', 'quant-linear-example.cjs'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/model\.layers\.0\.mlp\.up_proj: W8A8_DYNAMIC, weight FRACTAL_NZ, x \[4,512\] bfloat16 -> y \[4,256\] bfloat16/);
  });
});
