/**
 * `qmm example` and `qmm quantize` as a user runs them (the built CLI in
 * dist/): example --float → quantize (--report, --json) → prepare →
 * QuantLinear.load; the example is deterministic and equals quantize of its
 * float form; an interrupted run (SIGKILL, SIGINT) leaves nothing that looks
 * complete; peak memory stays near one chunk, not the model.
 */

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendInfo, fromFloat32, prepareModel, QmmError, QuantLinear, quantizeModel, writeExampleModel } from '../lib/index';
import { buildFloatModel, writeFloatModel } from './float-model-fixtures';
import { killWhileWriting } from './support/kill-while-writing';

const root = path.resolve(__dirname, '..');
const qmmJs = path.join(root, 'dist', 'cjs', 'scripts', 'qmm.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-quantize-cli-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const at = (name: string) => path.join(work, name);

function qmm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [qmmJs, ...args], { cwd: work, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) out[f] = createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex');
  return out;
}

beforeAll(() => {
  if (!fs.existsSync(qmmJs)) throw new Error(`${qmmJs} is missing: run \`node scripts/build-ts.cjs\` (npm test builds it)`);
});

describe('qmm example → qmm quantize → qmm prepare → QuantLinear.load', () => {
  it('runs end to end, with the accuracy report in --json', async () => {
    const ex = qmm(['example', '--float', 'float']);
    expect(ex.status, ex.stderr).toBe(0);
    expect(ex.stdout).toContain('bfloat16 float example model');
    expect(fs.readdirSync(at('float')).sort()).toEqual(['README.md', 'config.json', 'model.safetensors']);

    const q = qmm(['quantize', 'float', '--out', 'w8a8', '--report', '--report-tokens', '4', '--json']);
    expect(q.status, q.stderr).toBe(0);
    const r = JSON.parse(q.stdout);
    expect(r.modelQuantType).toBe('W8A8_DYNAMIC');
    expect(r.layers.length).toBe(14);
    expect(r.rule.tensors).toContain('gate_proj');
    expect(r.report.tokens).toBe(4);
    expect(r.report.layers.map((l: { name: string }) => l.name).sort()).toEqual(r.layers.map((l: { name: string }) => l.name).sort());
    for (const l of r.report.layers) {
      // measured ≈ 3.5 %: per-token int8 activations with 20–60× outlier channels dominate
      expect(l.relError, l.name).toBeGreaterThan(0.001);
      expect(l.relError, l.name).toBeLessThan(0.08);
    }
    expect(r.report.overall.relError).toBeLessThan(0.08);
    expect(fs.readdirSync(work).filter((f) => f.includes('qmm-report') || f.includes('.tmp-'))).toEqual([]);

    const p = qmm(['prepare', 'w8a8', '--out', 'prepared']);
    expect(p.status, p.stderr).toBe(0);
    const lin = await QuantLinear.load(at('prepared'), 'model.layers.1.mlp.down_proj');
    expect([lin.quantType, lin.inFeatures, lin.outFeatures, lin.outputDtype]).toEqual(['W8A8_DYNAMIC', 704, 256, 'bfloat16']);
    try {
      const y = await lin.forward(fromFloat32(new Array(2 * 704).fill(0.5), [2, 704], 'bfloat16'));
      expect(y.shape).toEqual([2, 256]);
    } catch (e) {
      if (!(backendInfo().backend === 'cann' && e instanceof QmmError && e.code === 'ERR_QMM_UNSUPPORTED')) throw e;
    }

    // the text summary and the report table
    const t = qmm(['quantize', 'float', '--out', 'w8a8', '--force', '--report', '--report-tokens', '2', '--skip', '*.down_proj', 'nothing.*']);
    expect(t.status, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/quantized 12 linear layers to W8A8_DYNAMIC and kept 9 tensors float/);
    expect(t.stdout).toContain("warning: --skip 'nothing.*' matched no tensor");
    expect(t.stdout).toMatch(/model\.layers\.0\.self_attn\.q_proj +256 x 256 +\d+\.\d\d % +\d+\.\d\d %/);
    expect(t.stdout).toMatch(/overall \d+\.\d\d %/);
  });

  it('qmm example writes the same bytes every time, and equals qmm quantize of qmm example --float', async () => {
    expect(qmm(['example', 'ex1']).status).toBe(0);
    expect(qmm(['example', 'ex2']).status).toBe(0);
    expect(qmm(['example', '--float', 'exf']).status).toBe(0);
    await writeExampleModel(at('exf2'), { float: true });
    expect(digest(at('exf2'))).toEqual(digest(at('exf')));
    const d1 = digest(at('ex1'));
    expect(Object.keys(d1)).toEqual(['README.md', 'config.json', 'quant_model_description.json', 'quant_model_weights.safetensors']);
    expect(digest(at('ex2'))).toEqual(d1);
    await quantizeModel(at('exf'), at('exq'));
    expect(digest(at('exq'))).toEqual(d1);
    // and qmm prepare takes it as it is
    const m = await prepareModel(at('ex1'), at('ex1-prepared'));
    expect(m.summary.byQuantType).toEqual({ W8A8_DYNAMIC: 14 });
    const again = qmm(['example', 'ex1']);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('ERR_QMM_FILE');
    expect(again.stderr).toContain('already exists');
    expect(qmm(['example', 'ex1', '--force']).status).toBe(0);
  });

  it('usage errors exit non-zero with a message', () => {
    const noOut = qmm(['quantize', 'float']);
    expect(noOut.status).not.toBe(0);
    expect(noOut.stderr).toContain("required option '-o, --out <dir>' not specified");
    const scheme = qmm(['quantize', 'float', '--out', 'x', '--scheme', 'w4a16']);
    expect(scheme.status).not.toBe(0);
    expect(scheme.stderr).toContain('w8a8-dynamic');
    const missing = qmm(['quantize', 'no-such-dir', '--out', 'x']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('ERR_QMM_FILE');
    expect(fs.existsSync(at('x'))).toBe(false);
  });
});

describe('quantizing on worker threads (the compiled package)', () => {
  const lib = path.join(root, 'dist', 'cjs', 'lib', 'index.js');
  const run = (src: string, out: string, options: object) =>
    spawnSync(process.execPath, ['-e', `require(${JSON.stringify(lib)}).quantizeModel(process.argv[1], process.argv[2], ${JSON.stringify(options)}).catch((e) => { console.error(e.code, e.message); process.exit(3); })`, src, out], { encoding: 'utf8', timeout: 120_000 });

  it('gives the bytes of the single-threaded run, whatever the split', async () => {
    const m = buildFloatModel({ dtype: 'bfloat16', hidden: 256, intermediate: 1280, bias: true, seed: 9 });
    const src = at('threads-float');
    writeFloatModel(m, src, 2);
    await quantizeModel(src, at('threads-1'), { threads: 1 });
    for (const [threads, chunkBytes] of [[2, 8 << 20], [3, 300_000]]) {
      const out = at(`threads-${threads}`);
      const r = run(src, out, { threads, chunkBytes });
      expect(r.status, r.stderr).toBe(0);
      expect(digest(out)).toEqual(digest(at('threads-1')));
    }
  });

  it('reports a NaN found by a worker with its row and column', () => {
    const m = buildFloatModel({ dtype: 'bfloat16', hidden: 256, seed: 9 });
    const name = 'model.layers.0.self_attn.q_proj.weight';
    (m.tensors.get(name)!.data as Uint16Array)[5 * 256 + 9] = 0x7fc0; // row 5: in the first half, the worker's
    const src = at('threads-nan');
    writeFloatModel(m, src);
    const r = run(src, at('threads-nan-out'), { threads: 2 });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain(`ERR_QMM_FILE`);
    expect(r.stderr).toContain(`tensor "${name}": the value at row 5, column 9 is NaN`);
    expect(fs.existsSync(at('threads-nan-out'))).toBe(false);
  });
});

describe('qmm quantize as a process: interruption and memory', () => {
  let big: string;
  let largest = 0;
  let inputBytes = 0;
  beforeAll(async () => {
    big = at('big');
    // 2 layers of hidden 1536, intermediate 4096: ≈ 138 MB of bfloat16, largest tensor 12 MiB
    const r = await writeExampleModel(big, { float: true, hiddenSize: 1536, intermediateSize: 4096, layers: 2, heads: 12, kvHeads: 12, vocabSize: 4096 });
    largest = 4096 * 1536 * 2;
    inputBytes = r.bytes;
  });

  it('SIGKILL while writing leaves no output directory and no description; the next run cleans up and succeeds', async () => {
    const out = at('killed');
    const tmp = await killWhileWriting(['quantize', big, '--out', out], out, 16 << 20, work);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(tmp)).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'quant_model_description.json'))).toBe(false);
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.safetensors'))).toEqual([]);
    // qmm prepare refuses the interrupted directory: it is no msModelSlim export
    await expect(prepareModel(tmp, at('never'))).rejects.toMatchObject({ code: 'ERR_QMM_FILE', message: expect.stringContaining('quant_model_description') });
    const r = await quantizeModel(big, out);
    expect(r.layers.length).toBe(14);
    expect(fs.existsSync(tmp)).toBe(false);
  });

  it.each([['SIGINT', 130], ['SIGTERM', 143]] as const)('%s stops it with exit code %i and no output', async (signal, status) => {
    const out = at(`interrupted-${signal}`);
    const child = spawn(process.execPath, [qmmJs, 'quantize', big, '--out', out], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const tmp = `${out}.tmp-${child.pid}`;
    const deadline = Date.now() + 60_000;
    while (!(fs.existsSync(tmp) && fs.readdirSync(tmp).some((f) => f.includes('.safetensors.tmp-'))) && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 5));
    }
    child.kill(signal);
    const code = await new Promise((r) => child.once('exit', (c) => r(c)));
    expect(code, stderr).toBe(status);
    expect(stderr).toContain(`qmm quantize: interrupted (${signal}); nothing was written to ${out}`);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(tmp)).toBe(false);
  });

  it('peak RSS stays under the largest tensor + 112 MiB with one worker thread (the model is ≈ 132 MiB; measured 79–91 MiB)', () => {
    const out = at('rss');
    const lib = path.join(root, 'dist', 'cjs', 'lib', 'index.js');
    const script = `require(${JSON.stringify(lib)}).quantizeModel(process.argv[1], process.argv[2], { threads: 2 }).then(() => console.log(JSON.stringify(process.resourceUsage())))`;
    const r = spawnSync(process.execPath, ['-e', script, big, out], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const peak = JSON.parse(r.stdout.trim().split('\n').pop() as string).maxRSS * 1024;
    const limit = largest + 112 * 2 ** 20;
    console.log(`quantize peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB for ${(inputBytes / 2 ** 20).toFixed(0)} MiB of float weights (largest tensor ${(largest / 2 ** 20).toFixed(0)} MiB, limit ${(limit / 2 ** 20).toFixed(0)} MiB)`);
    expect(peak).toBeLessThan(limit);
  });
});
