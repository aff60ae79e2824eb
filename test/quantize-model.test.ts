/**
 * quantizeModel (`qmm quantize`) on generated float checkpoints: the int8
 * weights and float32 scales equal the independent reference of the
 * per-channel rule (test/reference-per-channel.ts) bit for bit; the output is
 * msModelSlim's W8A8_DYNAMIC layout, which prepareModel accepts and
 * QuantLinear runs within the quantization error bound of the float layer;
 * bad inputs give ERR_QMM_FILE naming file and tensor and leave nothing;
 * identical inputs give identical bytes.
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fromFloat32,
  prepareModel,
  QmmError,
  QuantLinear,
  quantizationReport,
  quantizeModel,
  SafetensorsFile,
  type QuantizeOptions,
  type QuantizeResult,
} from '../lib/index';
import { rng, unlessUnsupportedOnCann } from './helpers';
import { buildFloatModel, storeValues, writeFloatModel, type FloatModel, type FloatModelDtype, type FloatTensor } from './float-model-fixtures';
import { bf16BitsToValue, f16BitsToValue } from './reference';
import { refPerChannel } from './reference-per-channel';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-quantize-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
let counter = 0;
const fresh = (label: string) => path.join(work, `${label}-${++counter}`);

function writeFixture(m: FloatModel, shards = 1): string {
  const dir = fresh('float');
  writeFloatModel(m, dir, shards);
  return dir;
}

interface Opened {
  files: Map<string, SafetensorsFile>;
  fileOf: Map<string, string>;
}

async function openOutput(dir: string): Promise<Opened> {
  const files = new Map<string, SafetensorsFile>();
  const fileOf = new Map<string, string>();
  for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.safetensors')).sort()) {
    const st = await SafetensorsFile.open(path.join(dir, f));
    files.set(f, st);
    for (const n of st.names()) fileOf.set(n, f);
  }
  return { files, fileOf };
}

async function closeOutput(o: Opened): Promise<void> {
  for (const f of o.files.values()) await f.close();
}

async function read(o: Opened, name: string): Promise<{ dtype: string; shape: number[]; data: ArrayLike<number> }> {
  const f = o.files.get(o.fileOf.get(name) as string) as SafetensorsFile;
  const info = f.info(name);
  return { dtype: info.dtype, shape: [...info.shape], data: (await f.readTyped(name)) as unknown as ArrayLike<number> };
}

const bitsOf = (v: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(v).buffer));

function dirDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir).sort()) out[f] = createHash('sha256').update(fs.readFileSync(path.join(dir, f))).digest('hex');
  return out;
}

// ------------------------------------------------------------------ the bound

/**
 * y = x·Wᵀ + b in float64 from the float weights, and the bound on the
 * quantized layer's error. With x̂ = xq·xs (per-token scale xs = max|x_t|/127,
 * |x̂ − x| ≤ xs/2) and ŵ = q·ws (|ŵ − w| ≤ ws/2 by the rounding of the rule):
 *   |x̂·ŵ − x·w| ≤ |x̂ − x|·|ŵ| + |x|·|ŵ − w| ≤ (xs/2)·|ŵ| + |x|·(ws/2),
 * summed over k: E = Σ_c (xs/2)·|q_c·ws| + |x_c|·ws/2. The float32 scale
 * arithmetic adds a relative 2^-22 (covered by the factor 1.001), and the
 * result is rounded to the output dtype: u·|y_q| ≤ u·(|y| + E), u = 2^-8
 * (bfloat16) or 2^-10 (float16), with a 1e-6 absolute floor.
 */
function checkForward(yq: Float32Array, x: Float64Array, m: number, w: FloatTensor, bias: FloatTensor | undefined, q: Int8Array, ws: Float32Array, out: 'bfloat16' | 'float16', label: string): number {
  const [n, k] = w.shape;
  const u = out === 'bfloat16' ? 2 ** -8 : 2 ** -10;
  let se = 0;
  let sy = 0;
  for (let t = 0; t < m; t++) {
    let amax = 0;
    for (let c = 0; c < k; c++) amax = Math.max(amax, Math.abs(x[t * k + c]));
    const xs = amax / 127;
    for (let j = 0; j < n; j++) {
      let y = bias ? bias.values[j] : 0;
      let e = 0;
      for (let c = 0; c < k; c++) {
        const xv = x[t * k + c];
        y += xv * w.values[j * k + c];
        e += (xs / 2) * Math.abs(q[j * k + c] * ws[j]) + (Math.abs(xv) * ws[j]) / 2;
      }
      const bound = 1.001 * e + u * (Math.abs(y) + e) + 1e-6;
      const err = Math.abs(yq[t * n + j] - y);
      if (!(err <= bound)) expect.fail(`${label}: y[${t}, ${j}] = ${yq[t * n + j]}, the float layer gives ${y}; |error| ${err} exceeds the bound ${bound}`);
      se += err * err;
      sy += y * y;
    }
  }
  return Math.sqrt(se / sy);
}

/** Activations with two outlier channels (6× and 8×), stored in the activation dtype; returns the exact values too. */
function activations(m: number, k: number, dtype: 'bfloat16' | 'float16', seed: number) {
  const r = rng(seed);
  const v = Array.from({ length: m * k }, (_, i) => (i % k === 3 ? 6 : i % k === 17 ? -8 : 1) * (r() * 4 - 2));
  const t = fromFloat32(v, [m, k], dtype);
  const dec = dtype === 'float16' ? f16BitsToValue : bf16BitsToValue;
  return { t, values: Float64Array.from(t.data as Uint16Array, dec) };
}

// ------------------------------------------------------------------ round trips

const CASES: Array<{ dtype: FloatModelDtype; shards: number; outShards?: number }> = [
  { dtype: 'bfloat16', shards: 1 },
  { dtype: 'float16', shards: 3 },
  { dtype: 'float32', shards: 2, outShards: 40_000 },
];

describe.each(CASES)('quantizeModel: $dtype model in $shards shard(s)', ({ dtype, shards, outShards }) => {
  let model: FloatModel;
  let src: string;
  let out: string;
  let result: QuantizeResult;
  let o: Opened;
  const outputDtype = dtype === 'float16' ? 'float16' : 'bfloat16';

  beforeAll(async () => {
    // bfloat16: intermediate 1280, so down_proj rows (k = 1280) take the kernel's lookup-table path
    model = buildFloatModel({ dtype, bias: dtype !== 'float16', router: dtype === 'bfloat16', seed: shards * 11, ...(dtype === 'bfloat16' ? { intermediate: 1280 } : {}) });
    src = writeFixture(model, shards);
    out = fresh('out');
    result = await quantizeModel(src, out, outShards ? { shardBytes: outShards } : {});
    o = await openOutput(out);
  });
  afterAll(() => closeOutput(o));

  it('quantizes exactly the linear layers; embeddings, norms, lm_head and routers stay float', () => {
    expect(result.layers.map((l) => l.name).sort()).toEqual([...model.linear].sort());
    expect(result.modelQuantType).toBe('W8A8_DYNAMIC');
    const reasons = Object.fromEntries(result.floatTensors.map((t) => [t.name, t.reason]));
    expect(reasons['model.embed_tokens.weight']).toBe('embedding');
    expect(reasons['lm_head.weight']).toBe('lm_head');
    expect(reasons['model.norm.weight']).toBe('norm');
    expect(reasons['model.layers.1.input_layernorm.weight']).toBe('norm');
    if (dtype === 'bfloat16') expect(reasons['model.layers.0.mlp.gate.weight']).toBe('not-linear');
    expect(result.rule.tensors).toContain('q_proj');
    expect(result.rule.weights).toContain('max|w_row| / 127');
    expect(result.inputBytes).toBe([...model.tensors.values()].reduce((a, t) => a + t.data.byteLength, 0));
  });

  it('weights and scales equal the independent per-channel reference bit for bit; offsets zero; bias widened to F32', async () => {
    for (const name of model.linear) {
      const w = model.tensors.get(`${name}.weight`) as FloatTensor;
      const [n, k] = w.shape;
      const ref = refPerChannel(w.values, n, k);
      const q = await read(o, `${name}.weight`);
      expect(q.dtype).toBe('I8');
      expect(q.shape).toEqual([n, k]);
      const firstBad = Array.from(q.data).findIndex((v, i) => v !== ref.q[i]);
      expect(firstBad, `${name}.weight: first difference at (${Math.floor(firstBad / k)}, ${firstBad % k}): got ${q.data[firstBad]}, want ${ref.q[firstBad]}`).toBe(-1);
      const s = await read(o, `${name}.weight_scale`);
      expect([s.dtype, s.shape]).toEqual(['F32', [n, 1]]);
      expect(bitsOf(s.data)).toEqual(bitsOf(ref.scale));
      const off = await read(o, `${name}.weight_offset`);
      expect([off.dtype, off.shape]).toEqual(['F32', [n, 1]]);
      expect(Array.from(off.data).every((v) => Object.is(v, 0))).toBe(true);
      const bias = model.tensors.get(`${name}.bias`);
      if (bias) {
        const b = await read(o, `${name}.bias`);
        expect([b.dtype, b.shape]).toEqual(['F32', [n]]);
        expect(Array.from(b.data)).toEqual(Array.from(bias.values));
      } else {
        expect(o.fileOf.has(`${name}.bias`)).toBe(false);
      }
    }
  });

  it('the rule at its edges: an all-zero row has scale 1, ties round to even, a negative maximum gives -127', async () => {
    const name = model.linear[0];
    const w = model.tensors.get(`${name}.weight`) as FloatTensor;
    const k = w.shape[1];
    const q = Array.from((await read(o, `${name}.weight`)).data);
    const s = Array.from((await read(o, `${name}.weight_scale`)).data);
    expect(s[0]).toBe(1);
    expect(q.slice(0, k).every((v) => v === 0)).toBe(true);
    expect(s[1]).toBe(1);
    expect(q.slice(k, k + 8)).toEqual([127, 2, 4, -2, 0, 0, 126, 2]);
    expect(q[2 * k + 3]).toBe(127);
    expect(q[3 * k + 5]).toBe(-127);
  });

  it('float tensors are copied byte for byte; headers carry no __metadata__, as msModelSlim writes them', async () => {
    for (const t of result.floatTensors) {
      const got = await read(o, t.name);
      const want = model.tensors.get(t.name) as FloatTensor;
      expect([got.dtype, got.shape]).toEqual([want.dtype, want.shape]);
      expect(Array.from(got.data)).toEqual(Array.from(want.data));
    }
    for (const f of o.files.values()) expect(f.metadata()).toBeUndefined();
  });

  it('writes quant_model_description.json (model_quant_type, one entry per tensor), the index when sharded, and the other files', () => {
    const desc = JSON.parse(fs.readFileSync(path.join(out, 'quant_model_description.json'), 'utf8')) as Record<string, string>;
    expect(desc.model_quant_type).toBe('W8A8_DYNAMIC');
    expect(desc.version).toBe('1.0.0');
    const tensorKeys = Object.keys(desc).filter((key) => key !== 'model_quant_type' && key !== 'version');
    expect(tensorKeys.sort()).toEqual([...o.fileOf.keys()].sort());
    for (const name of model.linear) {
      for (const s of ['weight', 'weight_scale', 'weight_offset']) expect(desc[`${name}.${s}`]).toBe('W8A8_DYNAMIC');
      if (model.tensors.has(`${name}.bias`)) expect(desc[`${name}.bias`]).toBe('FLOAT');
    }
    expect(desc['lm_head.weight']).toBe('FLOAT');
    const files = fs.readdirSync(out).sort();
    if (outShards) {
      expect(result.files.length).toBeGreaterThan(1);
      expect(files.filter((f) => f.endsWith('.safetensors'))).toEqual(result.files.map((f) => f.file));
      expect(result.files[0].file).toBe(`quant_model_weights-00001-of-${String(result.files.length).padStart(5, '0')}.safetensors`);
      const index = JSON.parse(fs.readFileSync(path.join(out, 'quant_model_weights.safetensors.index.json'), 'utf8'));
      expect(Object.keys(index.weight_map).sort()).toEqual([...o.fileOf.keys()].sort());
      for (const [n, f] of Object.entries(index.weight_map)) expect(f).toBe(o.fileOf.get(n));
      let total = 0;
      for (const f of o.files.values()) total += f.header.dataLength;
      expect(index.metadata.total_size).toBe(total);
    } else {
      expect(files).toEqual(['chat_template.jinja', 'config.json', 'generation_config.json', 'quant_model_description.json', 'quant_model_weights.safetensors', 'tokenizer.json']);
    }
    for (const f of ['config.json', 'tokenizer.json', 'generation_config.json', 'chat_template.jinja']) {
      expect(fs.readFileSync(path.join(out, f), 'utf8'), f).toBe(fs.readFileSync(path.join(src, f), 'utf8'));
    }
    expect(fs.readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('prepareModel accepts the output unchanged; QuantLinear runs every layer within the quantization bound of the float layer', async () => {
    const prepared = fresh('prepared');
    const manifest = await prepareModel(out, prepared, dtype === 'float32' ? { outputDtype: 'bfloat16' } : {});
    expect(manifest.summary.byQuantType).toEqual({ W8A8_DYNAMIC: model.linear.length });
    expect(manifest.floatTensors.length).toBe(result.floatTensors.length);
    let worst = 0;
    for (const name of model.linear) {
      const w = model.tensors.get(`${name}.weight`) as FloatTensor;
      const [n, k] = w.shape;
      const l = manifest.layers.find((x) => x.name === name);
      expect([l?.quantType, l?.n, l?.k]).toEqual(['W8A8_DYNAMIC', n, k]);
      const lin = await QuantLinear.load(prepared, name);
      const m = 6;
      const x = activations(m, k, outputDtype, n + k);
      const y = await unlessUnsupportedOnCann(() => lin.forward(x.t));
      if (y === undefined) return;
      const ref = refPerChannel(w.values, n, k);
      const rel = checkForward(y.toFloat32Array(), x.values, m, w, model.tensors.get(`${name}.bias`), ref.q, ref.scale, outputDtype, name);
      worst = Math.max(worst, rel);
    }
    // the relative error ‖y_q − y‖/‖y‖ of each layer: measured 4.6–5.0 % here (k = 64, outlier channels
    // of 8×); a wrong scale or a transposed weight gives tens of percent
    expect(worst).toBeLessThan(0.06);
  });
});

describe('quantizationReport', () => {
  it.each(['float16', 'float32'] as const)('runs every quantized layer of a %s model through QuantLinear against its float original', async (dtype) => {
    const m = buildFloatModel({ dtype, bias: true, seed: 4, edgeRows: false });
    const src = writeFixture(m, 2);
    const out = fresh('out');
    await quantizeModel(src, out);
    const rep = await unlessUnsupportedOnCann(() => quantizationReport(src, out, { tokens: 3, seed: 7 }));
    if (rep === undefined) return;
    expect(rep.outputDtype).toBe(dtype === 'float16' ? 'float16' : 'bfloat16');
    expect(rep.layers.map((l) => l.name).sort()).toEqual([...m.linear].sort());
    for (const l of rep.layers) {
      expect(l.relError, l.name).toBeGreaterThan(1e-4);
      expect(l.relError, l.name).toBeLessThan(0.1);
      expect(l.maxRelError, l.name).toBeLessThan(0.2);
    }
    expect(rep.overall.relError).toBeGreaterThan(0);
    expect(rep.overall.worstRelError).toBe(Math.max(...rep.layers.map((l) => l.relError)));
    // same seed, same numbers; and the temporary prepared copy is gone
    expect((await quantizationReport(src, out, { tokens: 3, seed: 7 })).layers).toEqual(rep.layers);
    expect(fs.readdirSync(work).filter((f) => f.includes('qmm-report'))).toEqual([]);
    // a float directory that is not the model's source
    const other = writeFixture(buildFloatModel({ dtype, layers: 1 }));
    await expect(quantizationReport(other, out)).rejects.toMatchObject({ code: 'ERR_QMM_FILE', message: expect.stringContaining('model.layers.1') });
  });
});

// ------------------------------------------------------------------ options, rule, files

describe('quantizeModel: --skip, copied files, determinism', () => {
  it('--skip globs match tensor or module names; unmatched globs are reported', async () => {
    const m = buildFloatModel({ dtype: 'bfloat16' });
    const src = writeFixture(m);
    const r = await quantizeModel(src, fresh('out'), { skip: ['model.layers.1.*', '*.down_proj', 'no.such.*'] });
    const quantized = r.layers.map((l) => l.name);
    expect(quantized.some((n) => n.startsWith('model.layers.1.'))).toBe(false);
    expect(quantized.some((n) => n.endsWith('down_proj'))).toBe(false);
    expect(quantized.sort()).toEqual(m.linear.filter((n) => n.startsWith('model.layers.0.') && !n.endsWith('down_proj')).sort());
    const down = r.floatTensors.find((t) => t.name === 'model.layers.0.mlp.down_proj.weight');
    expect(down).toMatchObject({ reason: 'skip', skip: '*.down_proj', dtype: 'BF16' });
    expect(r.rule.unusedSkip).toEqual(['no.such.*']);
  });

  it('removes quantization_config from config.json (as msModelSlim), copies other files, skips other weight formats and directories', async () => {
    const m = buildFloatModel({ dtype: 'bfloat16' });
    m.config.quantization_config = { quant_method: 'fp8' };
    const src = writeFixture(m);
    fs.writeFileSync(path.join(src, 'pytorch_model.bin'), 'x');
    fs.mkdirSync(path.join(src, 'original'));
    const out = fresh('out');
    const r = await quantizeModel(src, out);
    expect(r.configRemoved).toEqual(['quantization_config']);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(cfg.quantization_config).toBeUndefined();
    expect(cfg.torch_dtype).toBe('bfloat16');
    expect(r.copiedFiles).toEqual(['chat_template.jinja', 'config.json', 'generation_config.json', 'tokenizer.json']);
    expect(r.skippedFiles.map((f) => f.file)).toEqual(['original', 'pytorch_model.bin']);
    expect(fs.existsSync(path.join(out, 'pytorch_model.bin'))).toBe(false);
  });

  it('same input, same bytes: whatever the chunk size, and from a sharded copy of the same model', async () => {
    const m = buildFloatModel({ dtype: 'float16', bias: true, seed: 3 });
    const src = writeFixture(m);
    const a = fresh('out');
    const b = fresh('out');
    const c = fresh('out');
    await quantizeModel(src, a);
    await quantizeModel(src, b, { chunkBytes: 1 });
    await quantizeModel(writeFixture(m, 4), c, { chunkBytes: 700 });
    const da = dirDigest(a);
    expect(dirDigest(b)).toEqual(da);
    expect(dirDigest(c).quant_model_weights_safetensors ?? dirDigest(c)['quant_model_weights.safetensors']).toBe(da['quant_model_weights.safetensors']);
    expect(dirDigest(c)['quant_model_description.json']).toBe(da['quant_model_description.json']);
  });

  it('progress reports every input byte; an existing output needs overwrite; bad options are typed errors', async () => {
    const src = writeFixture(buildFloatModel({ dtype: 'bfloat16' }));
    const out = fresh('out');
    let last = 0;
    let total = -1;
    const r = await quantizeModel(src, out, { chunkBytes: 4096, onProgress: (p) => p.phase === 'quantize' && ((last = p.done), (total = p.total)) });
    expect(total).toBe(r.inputBytes);
    expect(last).toBe(r.inputBytes);
    await expect(quantizeModel(src, out)).rejects.toMatchObject({ code: 'ERR_QMM_FILE', message: expect.stringContaining('already exists') });
    await expect(quantizeModel(src, out, { overwrite: true })).resolves.toMatchObject({ modelQuantType: 'W8A8_DYNAMIC' });
    await expect(quantizeModel(src, fresh('x'), { scheme: 'w4a4' } as never)).rejects.toThrow(/options.scheme must be one of 'w8a8-dynamic'/);
    await expect(quantizeModel(src, fresh('x'), { skip: 'q_proj' } as never)).rejects.toThrow(TypeError);
    await expect(quantizeModel(src, fresh('x'), { chunkBytes: 0 })).rejects.toThrow(RangeError);
    await expect(quantizeModel(src, fresh('x'), { nz: true } as never)).rejects.toThrow(/options.nz is not a known option/);
    await expect(quantizeModel(src, src)).rejects.toMatchObject({ code: 'ERR_QMM_FILE', message: expect.stringContaining('must differ') });
  });
});

// ------------------------------------------------------------------ bad inputs

async function expectRejected(src: string, options: QuantizeOptions, code: string, fragments: string[], tensor?: string): Promise<QmmError> {
  const out = fresh('bad');
  let err: unknown;
  try {
    await quantizeModel(src, out, options);
  } catch (e) {
    err = e;
  }
  expect(err, 'quantizeModel must reject').toBeInstanceOf(QmmError);
  const q = err as QmmError;
  expect(q.code).toBe(code);
  for (const f of fragments) expect(q.message).toContain(f);
  if (tensor !== undefined) {
    expect(q.argument).toBe(tensor);
    expect(q.message).toContain(JSON.stringify(tensor));
  }
  expect(fs.existsSync(out), 'no output directory').toBe(false);
  expect(fs.readdirSync(work).filter((f) => f.startsWith(`${path.basename(out)}.`)), 'no temp directory either').toEqual([]);
  return q;
}

describe('quantizeModel: bad inputs fail with ERR_QMM_FILE naming file and tensor, and leave no output', () => {
  const q0 = 'model.layers.0.self_attn.q_proj';

  it('a NaN or an infinity in a weight', async () => {
    const m = buildFloatModel({ dtype: 'bfloat16' });
    const w = m.tensors.get(`${q0}.weight`) as FloatTensor;
    (w.data as Uint16Array)[5 * 64 + 9] = 0x7fc0; // NaN at (5, 9)
    await expectRejected(writeFixture(m), {}, 'ERR_QMM_FILE', ['model.safetensors', 'row 5, column 9 is NaN', 'must be finite'], `${q0}.weight`);
    const m2 = buildFloatModel({ dtype: 'float16' });
    const name = 'model.layers.1.mlp.down_proj.weight';
    (m2.tensors.get(name)!.data as Uint16Array)[96 * 7 + 95] = 0xfc00; // -Inf at (7, 95) (k = intermediate = 96)
    await expectRejected(writeFixture(m2, 2), {}, 'ERR_QMM_FILE', ['.safetensors', 'row 7, column 95 is -Infinity'], name);
  });

  it('a truncated shard names the file and the tensor cut off', async () => {
    const src = writeFixture(buildFloatModel({ dtype: 'bfloat16' }), 2);
    const shard = path.join(src, 'model-00002-of-00002.safetensors');
    const st = await SafetensorsFile.open(shard);
    const last = st.header.tensors[st.header.tensors.length - 1];
    await st.close();
    fs.truncateSync(shard, fs.statSync(shard).size - 3);
    const e = await expectRejected(src, {}, 'ERR_QMM_FILE', ['model-00002-of-00002.safetensors', 'truncated'], last.name);
    expect(e.file).toBe(shard);
  });

  it('a corrupt header, an index naming a missing shard', async () => {
    const src = writeFixture(buildFloatModel({ dtype: 'bfloat16' }));
    const f = path.join(src, 'model.safetensors');
    const bytes = fs.readFileSync(f);
    bytes[9] = 0x78; // 'x' for the quote opening the first key: no longer JSON
    fs.writeFileSync(f, bytes);
    await expectRejected(src, {}, 'ERR_QMM_FILE', ['model.safetensors', 'safetensors']);
    const src2 = writeFixture(buildFloatModel({ dtype: 'bfloat16' }), 2);
    fs.rmSync(path.join(src2, 'model-00001-of-00002.safetensors'));
    await expectRejected(src2, {}, 'ERR_QMM_FILE', ['model.safetensors.index.json', 'model-00001-of-00002.safetensors']);
  });

  it('an already-quantized weight or layer, an msModelSlim export', async () => {
    const m = buildFloatModel({ dtype: 'bfloat16' });
    const w = m.tensors.get(`${q0}.weight`) as FloatTensor;
    m.tensors.set(`${q0}.weight`, { ...w, dtype: 'I8', data: new Int8Array(w.values.length) as never });
    await expectRejected(writeFixture(m), {}, 'ERR_QMM_FILE', ['is I8', 'already quantized', `--skip '${q0}.weight'`], `${q0}.weight`);
    const m2 = buildFloatModel({ dtype: 'bfloat16' });
    m2.tensors.set(`${q0}.weight_scale`, storeValues(new Array(64).fill(1), [64, 1], 'F32'));
    await expectRejected(writeFixture(m2), {}, 'ERR_QMM_FILE', [`sits beside ${q0}.weight`], `${q0}.weight_scale`);
    // with the layer skipped it is copied as it is
    const ok = await quantizeModel(writeFixture(m2), fresh('out'), { skip: [q0] });
    expect(ok.floatTensors.filter((t) => t.name.startsWith(q0)).map((t) => t.name).sort()).toEqual([`${q0}.weight`, `${q0}.weight_scale`]);
    const src3 = writeFixture(buildFloatModel({ dtype: 'bfloat16' }));
    fs.writeFileSync(path.join(src3, 'quant_model_description.json'), '{}');
    await expectRejected(src3, {}, 'ERR_QMM_FILE', ['already quantized', 'qmm prepare']);
  });

  it('a bias of the wrong length, no config.json, nothing to quantize', async () => {
    const m = buildFloatModel({ dtype: 'bfloat16', bias: true });
    m.tensors.set(`${q0}.bias`, storeValues(new Array(63).fill(0), [63], 'bfloat16'));
    await expectRejected(writeFixture(m), {}, 'ERR_QMM_FILE', ['shape must be (64,)', 'got (63,)'], `${q0}.bias`);
    const src = writeFixture(buildFloatModel({ dtype: 'bfloat16' }));
    fs.rmSync(path.join(src, 'config.json'));
    await expectRejected(src, {}, 'ERR_QMM_FILE', ['config.json', 'is missing']);
    await expectRejected(writeFixture(buildFloatModel({ dtype: 'bfloat16' })), { skip: ['*'] }, 'ERR_QMM_FILE', ['no tensor matches the quantization rule']);
  });

  it('an abort stops it with ERR_QMM_ABORTED and no output', async () => {
    const src = writeFixture(buildFloatModel({ dtype: 'bfloat16' }));
    const ac = new AbortController();
    await expectRejected(src, { chunkBytes: 256, signal: ac.signal, onProgress: (p) => p.phase === 'quantize' && p.done > 10_000 && ac.abort() }, 'ERR_QMM_ABORTED', ['aborted']);
  });
});
