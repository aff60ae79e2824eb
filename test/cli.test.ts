/** The `qmm` command line as a user runs it (the compiled dist/, which npm test and vitest build). */

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareModel, type PrepareProgress } from '../lib/index';
import { buildModel, standardSpec, writeModel, writeSyntheticModel } from './model-fixtures';

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

  it('usage errors exit non-zero with usage: unknown demo, unknown bench flag or shape, extra arguments', () => {
    const demo = run(['demo', 'z']);
    expect(demo.status).not.toBe(0);
    expect(demo.stderr).toContain("unknown example 'z'; choose from a b c d e");
    expect(demo.stderr).toContain('Usage: qmm demo');
    const flag = run(['bench', '--bogus']);
    expect(flag.status).not.toBe(0);
    expect(flag.stderr).toContain("unknown option '--bogus'");
    expect(flag.stderr).toContain('Usage: qmm bench');
    const shape = run(['bench', '--only', 'S99']);
    expect(shape.status).not.toBe(0);
    expect(shape.stderr).toMatch(/unknown shape id 'S99'; choose from S1 S2 S3 S4 S5 /);
    expect(run(['info', 'a', 'b']).status).not.toBe(0);
  });

  it('bench writes a file only when --write names one', () => {
    const r = run(['bench', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--write <file>');
    expect(run(['bench', '--write']).stderr).toContain("option '--write <file>' argument missing");
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

  it('info <prepared-dir> lists the layers: type, k, n and weight forms', () => {
    const out = path.join(work, 'out-json');
    const r = run(['info', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^.*out-json: 5 quantized layers \(2 W8A8, 2 W8A8_DYNAMIC, 1 W4A4_DYNAMIC\), 3 float tensors, output dtype bfloat16$/m);
    expect(r.stdout).toMatch(/^name\s+type\s+k\s+n\s+weight\s+parts\s+file$/m);
    expect(r.stdout).toMatch(/^model\.layers\.0\.self_attn\.qkv_proj\s+W8A8\S*\s+\d+\s+128\s+ND I8 \+ NZ I8\s+3\s+\S+\.safetensors$/m);
    const j = JSON.parse(run(['info', out, '--json']).stdout);
    expect(j.layers).toHaveLength(5);
    expect(j.layers.find((l: { name: string }) => l.name.endsWith('qkv_proj'))).toMatchObject({ n: 128, parts: 3 });
    const bad = run(['info', path.join(work, 'model')]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^qmm: ERR_QMM_FILE: .*qmm-manifest\.json/m);
  });

  it('an existing --out is refused before any input is hashed', async () => {
    const phases = new Set<PrepareProgress['phase']>();
    await expect(prepareModel(model, path.join(work, 'out-json'), { onProgress: (p) => phases.add(p.phase) })).rejects.toMatchObject({ code: 'ERR_QMM_FILE' });
    expect([...phases]).toEqual([]);
  });

  it('SIGINT stops prepare with exit status 130 and leaves no output', async () => {
    const big = path.join(work, 'big');
    await writeSyntheticModel(big, { layers: 4, n: 2048, k: 4096, floatBytes: 1 << 20 });
    const out = path.join(work, 'out-sigint');
    const child = spawn(process.execPath, [qmm, 'prepare', big, '--out', out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr === '') child.kill('SIGINT'); // the first progress line: the run is under way
      stderr += d.toString();
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    expect(status, stderr).toBe(130);
    expect(stderr).toContain('interrupted (SIGINT)');
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(work).filter((f) => f.startsWith('out-sigint'))).toEqual([]);
  });

  it('the README workflow example runs on a generated model', () => {
    const r = run([], path.join(root, 'scripts', 'dev', 'quant-linear-example.cjs'));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/model\.layers\.0\.mlp\.up_proj: W8A8_DYNAMIC, weight FRACTAL_NZ, x \[4,512\] bfloat16 -> y \[4,256\] bfloat16/);
  });
});
