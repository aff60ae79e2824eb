/**
 * prepareModel and QuantLinear on generated msModelSlim-style models:
 * the prepared tensors (transposes, NZ bytes = npuFormatCast's, deq_scale bits,
 * int4 packing, pass-through), forward bit-exact against the quantized
 * reference and within quantization error of the float layer, inconsistent
 * inputs (ERR_QMM_FILE, no output), interruption (SIGKILL leaves nothing that
 * looks complete) and peak memory.
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fromFloat32,
  loadModel,
  npuFormatCastSync,
  prepareModel,
  QmmError,
  QuantLinear,
  readManifest,
  SafetensorsFile,
  tensor,
  type ManifestLayer,
  type PreparedManifest,
  type PrepareOptions,
  type Tensor,
} from '../lib/index';
import { randFloats, rng, unlessUnsupportedOnCann } from './helpers';
import { buildModel, standardSpec, writeModel, writeSyntheticModel, type BuiltModel, type FixtureLayer, type ModelDtype } from './model-fixtures';
import { bf16BitsToValue, bitsFromF32, f16BitsToValue, f32, refNdToNz, refPackInt4 } from './reference';
import { refFloatForward, refForward, refLayer } from './reference-linear';
import { killWhileWriting } from './support/kill-while-writing';

const root = path.resolve(__dirname, '..');
const qmmJs = path.join(root, 'dist', 'cjs', 'scripts', 'qmm.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-prepare-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

let counter = 0;
const fresh = (label: string) => path.join(work, `${label}-${++counter}`);

async function writeFixture(m: BuiltModel, shards = 1): Promise<string> {
  const dir = fresh('model');
  await writeModel(m, dir, shards);
  return dir;
}

async function prepared(m: BuiltModel, options: PrepareOptions = {}, shards = 1): Promise<{ dir: string; manifest: PreparedManifest }> {
  const src = await writeFixture(m, shards);
  const dir = fresh('out');
  const manifest = await prepareModel(src, dir, options);
  return { dir, manifest };
}

async function readTensor(dir: string, file: string, name: string): Promise<ArrayLike<number | bigint>> {
  const f = await SafetensorsFile.open(path.join(dir, file));
  try {
    return (await f.readTyped(name)) as unknown as ArrayLike<number | bigint>;
  } finally {
    await f.close();
  }
}

const layerOf = (m: PreparedManifest, name: string) => m.layers.find((l) => l.name === name) as ManifestLayer;

function transposeValues(v: ArrayLike<number>, rows: number, cols: number): number[] {
  const out = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = v[i * cols + j];
  return out;
}

const PREFIX = 'model.layers.0';

describe('prepareModel: the prepared tensors (fp16 model, two shards + index)', () => {
  let model: BuiltModel;
  let dir: string;
  let manifest: PreparedManifest;
  let src: string;
  beforeAll(async () => {
    model = buildModel(standardSpec('float16'));
    src = await writeFixture(model, 2);
    dir = fresh('out');
    manifest = await prepareModel(src, dir);
  });

  it('writes a manifest describing every layer and float tensor', () => {
    expect(manifest.format).toBe('ascend-quant-matmul/prepared-model');
    expect(manifest.paramsDtype).toBe('float16');
    expect(manifest.outputDtype).toBe('float16');
    expect(manifest.options).toEqual({ nz: true, fuse: false, outputDtype: 'float16' });
    expect(manifest.summary.byQuantType).toEqual({ W8A8: 4, W8A8_DYNAMIC: 3, W4A4_DYNAMIC: 1 });
    expect(manifest.floatTensors.map((f) => f.name).sort()).toEqual(['lm_head.bias', 'lm_head.weight', 'model.embed_tokens.weight']);
    expect(manifest.source.index).toBe('quant_model_weights.safetensors.index.json');
    expect(fs.existsSync(path.join(dir, 'qmm-manifest.json'))).toBe(true);
    expect(fs.readdirSync(work).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const o = layerOf(manifest, `${PREFIX}.self_attn.o_proj`);
    expect(o.dropped).toEqual([`${PREFIX}.self_attn.o_proj.bias: already folded into quant_bias (msModelSlim)`]);
    expect(o.splits).toEqual([0, 64]);
    expect(o.tensors.weight).toMatchObject({ dtype: 'I8', shape: [64, 64], format: 2, layout: 'ND_KN' });
    expect(o.tensors.weight_nz).toMatchObject({ dtype: 'I8', shape: [2, 4, 16, 32], format: 29, logicalShape: [64, 64], storageShape: [2, 4, 16, 32], layout: 'NZ_KN' });
    expect(o.tensors.deq_scale).toMatchObject({ dtype: 'I64', shape: [64], encoding: 'fp32bits_i64' });
  });

  it('records a sha256 for every input shard', () => {
    const shards = fs.readdirSync(src).filter((f) => f.endsWith('.safetensors')).sort();
    expect(manifest.source.shards.map((s) => s.file)).toEqual(shards);
    for (const s of manifest.source.shards) {
      const bytes = fs.readFileSync(path.join(src, s.file));
      expect(s.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(s.bytes).toBe(bytes.length);
    }
  });

  it('W8A8: weight transposed to (k, n), NZ bytes equal npuFormatCast, deq_scale bits and quant_bias kept, activation params', async () => {
    for (const leaf of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) {
      const fl = model.layers.get(`${PREFIX}.self_attn.${leaf}`) as FixtureLayer;
      const l = layerOf(manifest, fl.prefix);
      const nd = await readTensor(dir, l.tensors.weight!.file, l.tensors.weight!.name);
      expect(Array.from(nd as Int8Array)).toEqual(transposeValues(fl.wq as Int8Array, fl.n, fl.k));
      const viaCast = npuFormatCastSync(tensor(Int8Array.from(nd as Int8Array), [fl.k, fl.n], 'int8'), 29);
      const nz = await readTensor(dir, l.tensors.weight_nz!.file, l.tensors.weight_nz!.name);
      expect(Array.from(nz as Int8Array)).toEqual(Array.from(viaCast.cpu().data as Int8Array));
      expect(Array.from(nz as Int8Array)).toEqual(refNdToNz(transposeValues(fl.wq as Int8Array, fl.n, fl.k), [fl.k, fl.n], 32));
      const deq = (await readTensor(dir, l.tensors.deq_scale!.file, l.tensors.deq_scale!.name)) as BigInt64Array;
      expect(Array.from(deq)).toEqual(Array.from(model.tensors.get(`${fl.prefix}.deq_scale`)!.data as BigInt64Array));
      expect(Array.from((await readTensor(dir, l.tensors.quant_bias!.file, l.tensors.quant_bias!.name)) as Int32Array)).toEqual(Array.from(fl.quantBias!));
      expect(Array.from((await readTensor(dir, l.tensors.act_scale_recip!.file, l.tensors.act_scale_recip!.name)) as Float32Array)).toEqual([f32(1 / fl.inputScale!)]);
      expect(Array.from((await readTensor(dir, l.tensors.act_offset!.file, l.tensors.act_offset!.name)) as Float32Array)).toEqual([fl.inputOffset]);
    }
  });

  it('W8A8_DYNAMIC: (n, 1) weight_scale flattened to (n,) F32, weight_offset dropped, float bias kept', async () => {
    const fl = model.layers.get(`${PREFIX}.mlp.gate_proj`) as FixtureLayer;
    const l = layerOf(manifest, fl.prefix);
    expect(Object.keys(l.tensors).sort()).toEqual(['bias', 'weight', 'weight_nz', 'weight_scale']);
    expect(l.tensors.weight_scale).toMatchObject({ dtype: 'F32', shape: [96] });
    expect(Array.from((await readTensor(dir, l.tensors.weight_scale!.file, l.tensors.weight_scale!.name)) as Float32Array)).toEqual(Array.from(fl.weightScale!));
    expect(Array.from((await readTensor(dir, l.tensors.bias!.file, l.tensors.bias!.name)) as Float32Array)).toEqual(Array.from(fl.biasValues!));
    expect(l.dropped).toEqual([`${fl.prefix}.weight_offset: checked to be all zero (symmetric)`]);
  });

  it('W4A4_DYNAMIC: int4 values packed LSB-first into int32 (n, k/8)', async () => {
    const fl = model.layers.get('model.layers.1.mlp.down_proj') as FixtureLayer;
    const l = layerOf(manifest, fl.prefix);
    expect(l.tensors.weight).toMatchObject({ dtype: 'I32', shape: [48, 12], layout: 'INT4PACK_NK' });
    expect(l.tensors.weight_nz).toBeUndefined();
    const packed = await readTensor(dir, l.tensors.weight!.file, l.tensors.weight!.name);
    expect(Array.from(packed as Int32Array)).toEqual(Array.from(refPackInt4(fl.wq!, [fl.n, fl.k]).data));
  });

  it('FLOAT tensors pass through byte for byte; the files carry string metadata', async () => {
    for (const f of manifest.floatTensors) {
      const got = await readTensor(dir, f.file, f.name);
      expect(Array.from(got as ArrayLike<number>)).toEqual(Array.from(model.tensors.get(f.name)!.data as ArrayLike<number>));
    }
    const file = await SafetensorsFile.open(path.join(dir, manifest.files[0].file));
    const md = file.metadata() as Record<string, string>;
    await file.close();
    expect(md.format).toBe('ascend-preprocessed');
    expect(md[`quant.${PREFIX}.self_attn.q_proj`]).toBe('W8A8');
    expect(md[`layout.${PREFIX}.self_attn.q_proj.weight_nz`]).toBe('NZ_KN');
    expect(md[`encoding.${PREFIX}.self_attn.q_proj.deq_scale`]).toBe('fp32bits_i64');
  });

  it('--no-nz writes only the ND weight; tiny chunks and shard limits change nothing but the file split', async () => {
    const other = fresh('out');
    const m2 = await prepareModel(src, other, { nz: false, chunkBytes: 1024, shardBytes: 20_000 });
    expect(m2.files.length).toBeGreaterThan(1);
    expect(m2.files[0].file).toMatch(/^qmm-prepared-00001-of-\d{5}\.safetensors$/);
    for (const l of m2.layers) {
      expect(l.tensors.weight_nz).toBeUndefined();
      const a = await readTensor(other, l.tensors.weight!.file, l.tensors.weight!.name);
      const ref = layerOf(manifest, l.name).tensors.weight!;
      expect(Array.from(a as ArrayLike<number>)).toEqual(Array.from((await readTensor(dir, ref.file, ref.name)) as ArrayLike<number>));
    }
  });

  it('NZ slabs across a tiny chunk equal one whole-matrix npuFormatCast', async () => {
    const other = fresh('out');
    const m2 = await prepareModel(src, other, { chunkBytes: 1024 });
    for (const l of m2.layers.filter((x) => x.tensors.weight_nz)) {
      const a = await readTensor(other, l.tensors.weight_nz!.file, l.tensors.weight_nz!.name);
      const ref = layerOf(manifest, l.name).tensors.weight_nz!;
      expect(Array.from(a as ArrayLike<number>), l.name).toEqual(Array.from((await readTensor(dir, ref.file, ref.name)) as ArrayLike<number>));
    }
  });
});

describe('prepareModel: deq_scale re-encoding is by bits', () => {
  it('bf16 model: F32 deq_scale kept; text_config.torch_dtype is found', async () => {
    const m = buildModel({ ...standardSpec('bfloat16'), textConfig: true });
    const { dir, manifest } = await prepared(m);
    expect(manifest.paramsDtype).toBe('bfloat16');
    expect(manifest.source.dtypeKey).toBe('text_config.torch_dtype');
    const l = layerOf(manifest, `${PREFIX}.self_attn.q_proj`);
    expect(l.tensors.deq_scale).toMatchObject({ dtype: 'F32', encoding: 'float32' });
    const got = (await readTensor(dir, l.tensors.deq_scale!.file, l.tensors.deq_scale!.name)) as Float32Array;
    expect(Array.from(got)).toEqual(Array.from(m.layers.get(l.name)!.deqScale!));
  });

  it('bf16 model prepared for float16 output: F32 → I64 holding the same fp32 bits', async () => {
    const m = buildModel(standardSpec('bfloat16'));
    const { dir, manifest } = await prepared(m, { outputDtype: 'float16' });
    const l = layerOf(manifest, `${PREFIX}.self_attn.k_proj`);
    const got = (await readTensor(dir, l.tensors.deq_scale!.file, l.tensors.deq_scale!.name)) as BigInt64Array;
    expect(Array.from(got)).toEqual(Array.from(m.layers.get(l.name)!.deqScale!, (d) => BigInt(bitsFromF32(d))));
  });

  it('fp16 model prepared for bfloat16 output: I64 → F32 from the low 32 bits (never a numeric cast)', async () => {
    const m = buildModel(standardSpec('float16'));
    const { dir, manifest } = await prepared(m, { outputDtype: 'bfloat16' });
    expect(manifest.outputDtype).toBe('bfloat16');
    const l = layerOf(manifest, `${PREFIX}.self_attn.v_proj`);
    const got = (await readTensor(dir, l.tensors.deq_scale!.file, l.tensors.deq_scale!.name)) as Float32Array;
    expect(Array.from(got, bitsFromF32)).toEqual(Array.from(m.layers.get(l.name)!.deqScale!, bitsFromF32));
  });
});

describe('prepareModel: description details', () => {
  it('a legacy description name, non-tensor keys, non-string values and C8 kv-cache tensors', async () => {
    const m = buildModel(standardSpec('float16'));
    const kv = `${PREFIX}.self_attn.k_proj.kv_cache_scale`;
    m.tensors.set(kv, { dtype: 'F32', shape: [32], data: new Float32Array(32).fill(0.5) });
    Object.assign(m.description, { [kv]: 'C8', kv_cache_type: 'C8', [`${PREFIX}.self_attn.quant_type`]: 'FAQuant', reduce_quant_type: 'per_channel', some_count: 3 });
    const src = await writeFixture(m);
    fs.renameSync(path.join(src, 'quant_model_description.json'), path.join(src, 'quant_model_description_w8a8.json'));
    const out = fresh('out');
    const manifest = await prepareModel(src, out, { fuse: true });
    expect(manifest.source.description).toBe('quant_model_description_w8a8.json');
    expect(manifest.source.legacyDescriptionName).toBe(true);
    expect(manifest.source.modelQuantType).toBe('W8A8');
    expect(manifest.layers.length).toBe(5);
    const f = manifest.floatTensors.find((t) => t.name === kv);
    expect(f).toMatchObject({ tag: 'C8', dtype: 'F32', shape: [32] });
    expect(Array.from((await readTensor(out, f!.file, kv)) as Float32Array)).toEqual(new Array(32).fill(0.5));
  });
});

describe('prepareModel: odd shapes (k not a multiple of 16, n not of 32), fused parts straddling NZ column blocks', () => {
  const spec = {
    dtype: 'bfloat16' as const,
    seed: 5,
    layers: [
      { prefix: `${PREFIX}.self_attn.q_proj`, type: 'W8A8_DYNAMIC' as const, n: 40, k: 72 },
      { prefix: `${PREFIX}.self_attn.k_proj`, type: 'W8A8_DYNAMIC' as const, n: 24, k: 72 },
      { prefix: `${PREFIX}.self_attn.v_proj`, type: 'W8A8_DYNAMIC' as const, n: 25, k: 72 },
      { prefix: `${PREFIX}.mlp.down_proj`, type: 'W8A8' as const, n: 33, k: 17 },
      { prefix: `${PREFIX}.mlp.up_proj`, type: 'W4A4_DYNAMIC' as const, n: 7, k: 40 },
      { prefix: 'lm_head', type: 'FLOAT' as const, n: 5, k: 9 },
    ],
  };

  /** The parts' (n_i, k) weights stacked along n, transposed to (k, n). */
  function expectedKn(m: BuiltModel, l: ManifestLayer): number[] {
    const rows: number[] = [];
    for (const p of l.parts) rows.push(...Array.from((m.layers.get(p.source) as FixtureLayer).wq as Int8Array));
    return transposeValues(rows, l.n, l.k);
  }

  it.each([
    ['unfused, default chunks', {}],
    ['fused, 1 KiB chunks, 3 input shards', { fuse: true, chunkBytes: 1024 }],
  ] as Array<[string, PrepareOptions]>)('%s: ND = the transpose, NZ = the reference tiling = npuFormatCast, int4 packed; input sha256 of whole files', async (_label, opts) => {
    const m = buildModel(spec);
    const src = await writeFixture(m, opts.fuse ? 3 : 1);
    const dir = fresh('out');
    const manifest = await prepareModel(src, dir, opts);
    expect(manifest.layers.length).toBe(opts.fuse ? 3 : 5);
    for (const l of manifest.layers) {
      if (l.quantType === 'W4A4_DYNAMIC') {
        const fl = m.layers.get(l.name) as FixtureLayer;
        expect(Array.from((await readTensor(dir, l.tensors.weight!.file, l.tensors.weight!.name)) as Int32Array)).toEqual(Array.from(refPackInt4(fl.wq!, [fl.n, fl.k]).data));
        continue;
      }
      const kn = expectedKn(m, l);
      expect(Array.from((await readTensor(dir, l.tensors.weight!.file, l.tensors.weight!.name)) as Int8Array), l.name).toEqual(kn);
      const nz = Array.from((await readTensor(dir, l.tensors.weight_nz!.file, l.tensors.weight_nz!.name)) as Int8Array);
      expect(nz, l.name).toEqual(refNdToNz(kn, [l.k, l.n], 32));
      expect(nz, l.name).toEqual(Array.from(npuFormatCastSync(tensor(Int8Array.from(kn), [l.k, l.n], 'int8'), 29).cpu().data as Int8Array));
    }
    // hashed from the conversion's reads, out of file order when fused, plus the bytes conversion skips
    expect(manifest.source.shards.map((s) => s.file)).toEqual(fs.readdirSync(src).filter((f) => f.endsWith('.safetensors')).sort());
    for (const s of manifest.source.shards) {
      const bytes = fs.readFileSync(path.join(src, s.file));
      expect(s).toEqual({ file: s.file, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
  });
});

// ------------------------------------------------------------------ forward

function activations(m: number, k: number, dtype: ModelDtype, seed: number): { t: Tensor; values: number[] } {
  const t = fromFloat32(randFloats(rng(seed), m * k, -2, 2), [m, k], dtype);
  const dec = dtype === 'float16' ? f16BitsToValue : bf16BitsToValue;
  return { t, values: Array.from(t.data as Uint16Array, dec) };
}

function checkForward(y: Tensor, parts: FixtureLayer[], x: number[], m: number, dtype: ModelDtype, label: string): void {
  const l = refLayer(parts);
  const ref = refForward(l, x, m, dtype);
  expect(y.dtype, label).toBe(dtype);
  const bits = Array.from(y.cpu().data as Uint16Array);
  const firstBad = bits.findIndex((b, i) => b !== ref.values[i]);
  expect(firstBad, `${label}: first mismatch with the quantized reference at ${firstBad}: got 0x${bits[firstBad]?.toString(16)}, want 0x${ref.values[firstBad]?.toString(16)}`).toBe(-1);
  const dec = dtype === 'float16' ? f16BitsToValue : bf16BitsToValue;
  const fl = refFloatForward(l, x, m, dtype);
  let worst = 0;
  for (let i = 0; i < bits.length; i++) {
    const err = Math.abs(dec(bits[i]) - fl.y[i]);
    worst = Math.max(worst, err / fl.bound[i]);
    if (err > fl.bound[i]) expect.fail(`${label}: element ${i} is ${dec(bits[i])}, the float layer gives ${fl.y[i]}; |error| ${err} exceeds the quantization bound ${fl.bound[i]}`);
  }
  expect(worst, `${label} error/bound`).toBeLessThanOrEqual(1);
  // and on average far below the worst case: relative RMS error under 2 % (int4: 20 %); measured ~0.7 % and ~12 %
  let se = 0;
  let sy = 0;
  for (let i = 0; i < bits.length; i++) {
    se += (dec(bits[i]) - fl.y[i]) ** 2;
    sy += fl.y[i] ** 2;
  }
  const relRms = Math.sqrt(se / sy);
  expect(relRms, `${label} relative RMS error`).toBeLessThan(parts[0].type === 'W4A4_DYNAMIC' ? 0.2 : 0.02);
}

describe.each(['float16', 'bfloat16'] as const)('QuantLinear.forward on a %s model', (dtype) => {
  let model: BuiltModel;
  let dir: string;
  let fusedDir: string;
  beforeAll(async () => {
    model = buildModel(standardSpec(dtype, dtype === 'float16' ? 11 : 12));
    dir = (await prepared(model)).dir;
    fusedDir = (await prepared(model, { fuse: true })).dir;
  });

  const layers = [
    `${PREFIX}.self_attn.q_proj`,
    `${PREFIX}.self_attn.o_proj`,
    `${PREFIX}.mlp.gate_proj`,
    `${PREFIX}.mlp.down_proj`,
    'model.layers.1.mlp.down_proj',
  ];
  for (const name of layers) {
    for (const preferNz of [true, false]) {
      it(`${name.replace('model.layers.', 'L')} (${preferNz ? 'NZ' : 'ND'} weight): bit-exact to the quantized reference, within error of the float layer`, async () => {
        const fl = model.layers.get(name) as FixtureLayer;
        const lin = await QuantLinear.load(dir, name, { preferNz });
        expect(lin.inFeatures).toBe(fl.k);
        expect(lin.outFeatures).toBe(fl.n);
        expect(lin.weightFormat).toBe(preferNz && fl.type !== 'W4A4_DYNAMIC' ? 'FRACTAL_NZ' : 'ND');
        const m = 5;
        const x = activations(m, fl.k, dtype, fl.n + fl.k);
        const y = await unlessUnsupportedOnCann(() => lin.forward(x.t));
        if (y === undefined) return;
        expect(y.shape).toEqual([m, fl.n]);
        checkForward(y, [fl], x.values, m, dtype, name);
        const ys = lin.forwardSync(x.t);
        expect(Array.from(ys.data as Uint16Array)).toEqual(Array.from(y.cpu().data as Uint16Array));
      });
    }
  }

  it('keeps leading dims: (2, 3, k) → (2, 3, n), rows as the reference computes them', async () => {
    const name = `${PREFIX}.mlp.gate_proj`;
    const fl = model.layers.get(name) as FixtureLayer;
    const lin = await QuantLinear.load(dir, name);
    const x = activations(6, fl.k, dtype, 99);
    const y = await unlessUnsupportedOnCann(() => lin.forward(x.t.reshape([2, 3, fl.k])));
    if (y === undefined) return;
    expect(y.shape).toEqual([2, 3, fl.n]);
    checkForward(y.reshape([6, fl.n]), [fl], x.values, 6, dtype, name);
  });

  it('fused qkv_proj and gate_up_proj equal their parts concatenated', async () => {
    const model2 = await loadModel(fusedDir);
    expect([...model2.layers.keys()].sort()).toEqual([
      `${PREFIX}.mlp.down_proj`,
      `${PREFIX}.mlp.gate_up_proj`,
      `${PREFIX}.self_attn.o_proj`,
      `${PREFIX}.self_attn.qkv_proj`,
      'model.layers.1.mlp.down_proj',
    ]);
    for (const [fusedName, leaves] of [
      [`${PREFIX}.self_attn.qkv_proj`, ['q_proj', 'k_proj', 'v_proj']],
      [`${PREFIX}.mlp.gate_up_proj`, ['gate_proj', 'up_proj']],
    ] as const) {
      const lin = model2.layers.get(fusedName) as QuantLinear;
      const parent = fusedName.slice(0, fusedName.lastIndexOf('.'));
      const parts = leaves.map((l) => model.layers.get(`${parent}.${l}`) as FixtureLayer);
      expect(lin.parts.map((p) => p.source)).toEqual(parts.map((p) => p.prefix));
      expect(lin.outFeatures).toBe(parts.reduce((a, p) => a + p.n, 0));
      const x = activations(4, parts[0].k, dtype, 5);
      const y = await unlessUnsupportedOnCann(() => lin.forward(x.t));
      if (y === undefined) return;
      checkForward(y, parts, x.values, 4, dtype, fusedName);
    }
    const emb = await model2.floatTensor('model.embed_tokens.weight');
    expect(emb.shape).toEqual([16, 64]);
  });

  it('weights on npu:0 give the same bits', async () => {
    const name = `${PREFIX}.self_attn.o_proj`;
    const fl = model.layers.get(name) as FixtureLayer;
    const lin = await QuantLinear.load(dir, name, { device: 'npu:0' });
    const x = activations(3, fl.k, dtype, 8);
    const y = await unlessUnsupportedOnCann(() => lin.forward(x.t.npu(0)));
    if (y === undefined) return;
    expect(y.device).toBe('npu:0');
    checkForward(y, [fl], x.values, 3, dtype, name);
  });

  it('rejects activations of the wrong dtype, width or format', async () => {
    const lin = await QuantLinear.load(dir, `${PREFIX}.self_attn.q_proj`);
    const other = dtype === 'float16' ? 'bfloat16' : 'float16';
    await expect(lin.forward(fromFloat32([1, 2], [1, 2], dtype))).rejects.toMatchObject({ code: 'ERR_QMM_SHAPE', message: expect.stringContaining('in_features 64') });
    expect(() => lin.forwardSync(fromFloat32(new Array(64).fill(1), [1, 64], other))).toThrow(expect.objectContaining({ code: 'ERR_QMM_DTYPE', message: expect.stringContaining(`takes ${dtype} activations`) }));
    expect(() => lin.forwardSync([1, 2] as never)).toThrow(TypeError);
    await expect(QuantLinear.load(dir, 'model.layers.9.nothing')).rejects.toMatchObject({ code: 'ERR_QMM_FILE', argument: 'layerName' });
    await expect(QuantLinear.load(dir, `${PREFIX}.self_attn.q_proj`, { preferNZ: true } as never)).rejects.toThrow(/options.preferNZ is not a known option/);
  });
});

// ------------------------------------------------------------------ bad inputs

async function expectRejected(m: BuiltModel, options: PrepareOptions, code: string, fragments: string[], shards = 1): Promise<void> {
  const src = await writeFixture(m, shards);
  const out = fresh('bad');
  let err: unknown;
  try {
    await prepareModel(src, out, options);
  } catch (e) {
    err = e;
  }
  expect(err, 'prepareModel must reject').toBeInstanceOf(QmmError);
  expect((err as QmmError).code).toBe(code);
  for (const f of fragments) expect((err as QmmError).message).toContain(f);
  expect(fs.existsSync(out), 'no output directory').toBe(false);
  expect(fs.readdirSync(path.dirname(out)).filter((f) => f.startsWith(path.basename(out))), 'no temp directory either').toEqual([]);
}

describe('prepareModel: inconsistent inputs fail with ERR_QMM_FILE and leave no output', () => {
  const std = () => buildModel(standardSpec('float16'));
  const o = `${PREFIX}.self_attn.o_proj`;

  it('a layer tensor missing from the shards and the description', async () => {
    const m = std();
    m.tensors.delete(`${o}.deq_scale`);
    delete m.description[`${o}.deq_scale`];
    await expectRejected(m, {}, 'ERR_QMM_FILE', [`W8A8 layer ${o} lacks its .deq_scale tensor`, 'quant_model_description.json']);
  });

  it('a described tensor no shard holds', async () => {
    const m = std();
    m.tensors.delete(`${o}.quant_bias`);
    await expectRejected(m, {}, 'ERR_QMM_FILE', [`"${o}.quant_bias"`, 'lists a tensor that no shard holds'], 2);
  });

  it('a weight of the wrong dtype', async () => {
    const m = std();
    const w = m.tensors.get(`${o}.weight`)!;
    m.tensors.set(`${o}.weight`, { dtype: 'U8', shape: w.shape, data: new Uint8Array(w.data.buffer) as never });
    await expectRejected(m, {}, 'ERR_QMM_FILE', [`"${o}.weight"`, 'dtype must be I8, got U8', 'quant_model_weights.safetensors']);
  });

  it('a deq_scale of the wrong length', async () => {
    const m = std();
    m.tensors.set(`${o}.deq_scale`, { dtype: 'I64', shape: [65], data: new BigInt64Array(65) });
    await expectRejected(m, {}, 'ERR_QMM_FILE', [`"${o}.deq_scale"`, 'shape must be (64,) or (64, 1)', 'got (65,)']);
  });

  it('a non-zero weight_offset of a W8A8_DYNAMIC layer', async () => {
    const m = std();
    const name = `${PREFIX}.mlp.down_proj.weight_offset`;
    const off = new Float32Array(64);
    off[17] = 1;
    m.tensors.set(name, { dtype: 'F32', shape: [64, 1], data: off });
    await expectRejected(m, {}, 'ERR_QMM_FILE', [`"${name}"`, 'must be all zero for W8A8_DYNAMIC', 'element 17']);
  });

  it('fused q/k/v with different input scales (unfused it is fine)', async () => {
    const m = std();
    m.tensors.set(`${PREFIX}.self_attn.k_proj.input_scale`, { dtype: 'F32', shape: [1], data: Float32Array.of(0.05) });
    await expectRejected(m, { fuse: true }, 'ERR_QMM_FILE', [`"${PREFIX}.self_attn.k_proj.input_scale"`, `fusing into ${PREFIX}.self_attn.qkv_proj needs equal input_scale/input_offset`]);
    const ok = await prepared(m, { fuse: false });
    expect(ok.manifest.layers.length).toBe(8);
  });

  it('fused parts of different quant types', async () => {
    const spec = standardSpec('float16');
    spec.layers = spec.layers.map((l) => (l.prefix.endsWith('up_proj') ? { ...l, type: 'W8A8' as const } : l));
    await expectRejected(buildModel(spec), { fuse: true }, 'ERR_QMM_FILE', [`${PREFIX}.mlp.up_proj is W8A8 but ${PREFIX}.mlp.gate_proj is W8A8_DYNAMIC`]);
  });

  it('a W4A4 weight value outside [-8, 7] (found while writing)', async () => {
    const m = std();
    const name = 'model.layers.1.mlp.down_proj.weight';
    (m.tensors.get(name)!.data as Int8Array)[100] = 9;
    await expectRejected(m, {}, 'ERR_QMM_FILE', [`"${name}"`, 'holds 9 at (1, 4)', 'int4 values in [-8, 7]']);
  });

  it('a non-integer input_offset and a zero input_scale', async () => {
    const m = std();
    m.tensors.set(`${o}.input_offset`, { dtype: 'F32', shape: [1], data: Float32Array.of(2.5) });
    await expectRejected(m, {}, 'ERR_QMM_FILE', [`"${o}.input_offset"`, 'must be an integer in [-128, 127]']);
    const m2 = std();
    m2.tensors.set(`${o}.input_scale`, { dtype: 'F32', shape: [1], data: Float32Array.of(0) });
    await expectRejected(m2, {}, 'ERR_QMM_FILE', [`"${o}.input_scale"`, 'finite positive']);
  });

  it('an I64 deq_scale that is not a sign-extended fp32 pattern (npu_trans_quant_param form)', async () => {
    const m = std();
    const d = Array.from(m.tensors.get(`${o}.deq_scale`)!.data as BigInt64Array, (v) => v | (1n << 46n));
    m.tensors.set(`${o}.deq_scale`, { dtype: 'I64', shape: [64], data: BigInt64Array.from(d) });
    await expectRejected(m, {}, 'ERR_QMM_FILE', [`"${o}.deq_scale"`, 'not an fp32 bit pattern sign-extended to int64']);
  });

  it('a tensor tagged with a quant type outside any quantized layer, and an unexpected layer tensor', async () => {
    const m = std();
    m.description['lm_head.weight'] = 'FLOAT';
    m.description['lm_head.bias'] = 'W8A8';
    await expectRejected(m, {}, 'ERR_QMM_FILE', ['"lm_head.bias"', 'belongs to no quantized layer']);
    const m2 = std();
    m2.tensors.set(`${o}.smooth_scale`, { dtype: 'F32', shape: [64], data: new Float32Array(64) });
    m2.description[`${o}.smooth_scale`] = 'W8A8';
    await expectRejected(m2, {}, 'ERR_QMM_FILE', [`"${o}.smooth_scale"`, 'is not a tensor a W8A8 layer has']);
  });

  it('an unsupported quant type', async () => {
    const m = std();
    m.description[`${o}.weight`] = 'W8A16';
    await expectRejected(m, {}, 'ERR_QMM_UNSUPPORTED', [`"${o}.weight"`, 'quant type "W8A16" is not supported']);
  });

  it('no dtype in config.json, or float32, without outputDtype', async () => {
    const m = std();
    m.config = { architectures: ['X'] };
    await expectRejected(m, {}, 'ERR_QMM_FILE', ['config.json', 'names no torch_dtype', '--output-dtype']);
    const m2 = std();
    m2.config = { torch_dtype: 'float32' };
    await expectRejected(m2, {}, 'ERR_QMM_FILE', ['torch_dtype is float32']);
    const ok = await prepared(m2, { outputDtype: 'float16' });
    expect(ok.manifest.paramsDtype).toBe('float32');
  });

  it('a truncated shard and duplicate keys in the description', async () => {
    const m = std();
    const src = await writeFixture(m, 2);
    const shard = path.join(src, fs.readdirSync(src).find((f) => f.endsWith('00002-of-00002.safetensors')) as string);
    fs.truncateSync(shard, fs.statSync(shard).size - 10);
    const out = fresh('bad');
    await expect(prepareModel(src, out)).rejects.toMatchObject({ code: 'ERR_QMM_FILE', message: expect.stringContaining('00002-of-00002.safetensors') });
    expect(fs.existsSync(out)).toBe(false);
    const src2 = await writeFixture(std());
    const descFile = path.join(src2, 'quant_model_description.json');
    fs.writeFileSync(descFile, fs.readFileSync(descFile, 'utf8').replace('{', '{"lm_head.weight": "FLOAT", '));
    await expect(prepareModel(src2, fresh('bad'))).rejects.toMatchObject({ code: 'ERR_QMM_FILE', message: expect.stringContaining('duplicate') });
  });

  it('an existing output directory (unless overwrite) and bad options', async () => {
    const src = await writeFixture(std());
    const out = fresh('exists');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'x');
    await expect(prepareModel(src, out)).rejects.toMatchObject({ code: 'ERR_QMM_FILE', message: expect.stringContaining('already exists') });
    expect(fs.readdirSync(out)).toEqual(['keep.txt']);
    const m = await prepareModel(src, out, { overwrite: true });
    expect(fs.readdirSync(out).sort()).toEqual(['qmm-manifest.json', 'qmm-prepared.safetensors']);
    expect(m.layers.length).toBe(8);
    await expect(prepareModel(src, fresh('x'), { nz: 'yes' } as never)).rejects.toThrow(TypeError);
    await expect(prepareModel(src, fresh('x'), { outputDtype: 'float32' } as never)).rejects.toThrow(/options.outputDtype must be 'float16' or 'bfloat16'/);
    await expect(prepareModel(src, fresh('x'), { shardBytes: 0 })).rejects.toThrow(RangeError);
    await expect(prepareModel(path.join(work, 'nope'), fresh('x'))).rejects.toMatchObject({ code: 'ERR_QMM_FILE' });
  });

  it('an abort signal stops it with ERR_QMM_ABORTED and no output', async () => {
    const src = await writeFixture(std());
    const out = fresh('aborted');
    const ac = new AbortController();
    const p = prepareModel(src, out, { onProgress: (pr) => pr.phase === 'convert' && pr.done > 0 && ac.abort(), signal: ac.signal, chunkBytes: 1024 });
    await expect(p).rejects.toMatchObject({ code: 'ERR_QMM_ABORTED' });
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(work).filter((f) => f.startsWith(path.basename(out)))).toEqual([]);
  });

  it('readManifest rejects a damaged manifest naming the field', async () => {
    const { dir } = await prepared(std());
    const file = path.join(dir, 'qmm-manifest.json');
    const j = JSON.parse(fs.readFileSync(file, 'utf8'));
    j.layers[0].tensors.weight.file = '../escape.safetensors';
    fs.writeFileSync(file, JSON.stringify(j));
    await expect(readManifest(dir)).rejects.toMatchObject({ code: 'ERR_QMM_FILE', message: expect.stringContaining('layers[0].tensors.weight.file') });
    fs.rmSync(file);
    await expect(loadModel(dir)).rejects.toMatchObject({ code: 'ERR_QMM_FILE', message: expect.stringContaining('no qmm-manifest.json') });
  });
});

// ------------------------------------------------------------------ processes: kill, memory

function childPeak(script: string, args: string[]): { maxRssBytes: number; stdout: string } {
  const r = spawnSync(process.execPath, ['-e', script, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env }, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop() as string;
  return { maxRssBytes: JSON.parse(line).maxRSS * 1024, stdout: r.stdout };
}

describe('prepareModel as a process', () => {
  let big: string;
  let largest = 0;
  beforeAll(async () => {
    if (!fs.existsSync(qmmJs)) throw new Error(`${qmmJs} is missing: run \`npm run build\` (npm test and vitest build it)`);
    big = fresh('big');
    // 4 × (8192 × 8192) int8 layers (64 MiB each) and a 32 MiB float tensor: ~290 MiB
    largest = (await writeSyntheticModel(big, { layers: 4, n: 8192, k: 8192, floatBytes: 32 << 20 })).largestTensorBytes;
  });

  it('SIGKILL while writing leaves no manifest, no output directory; the next run cleans up and succeeds', async () => {
    const out = fresh('killed');
    const tmp = await killWhileWriting(['prepare', big, '--out', out], out, 64 << 20, root);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.existsSync(tmp)).toBe(true);
    expect(fs.existsSync(path.join(tmp, 'qmm-manifest.json'))).toBe(false);
    expect(fs.readdirSync(tmp).filter((f) => f.endsWith('.safetensors'))).toEqual([]);
    // a reader refuses the interrupted directory
    await expect(loadModel(tmp)).rejects.toMatchObject({ code: 'ERR_QMM_FILE' });
    const m = await prepareModel(big, out, { nz: false });
    expect(m.layers.length).toBe(4);
    expect(fs.existsSync(tmp)).toBe(false);
  });

  it('peak RSS stays under 2 × the largest tensor + 256 MiB', () => {
    const out = fresh('rss');
    const script = `require(${JSON.stringify(path.join(root, 'dist', 'cjs', 'lib', 'index.js'))}).prepareModel(process.argv[1], process.argv[2]).then(() => console.log(JSON.stringify(process.resourceUsage())))`;
    const { maxRssBytes } = childPeak(script, [big, out]);
    const limit = 2 * largest + 256 * 2 ** 20;
    console.log(`prepare peak RSS ${(maxRssBytes / 2 ** 20).toFixed(0)} MiB for a ${(fs.statSync(path.join(big, 'quant_model_weights.safetensors')).size / 2 ** 20).toFixed(0)} MiB model (largest tensor ${(largest / 2 ** 20).toFixed(0)} MiB, limit ${(limit / 2 ** 20).toFixed(0)} MiB)`);
    expect(maxRssBytes).toBeLessThan(limit);
    expect(readManifestSync(out).layers.length).toBe(4);
  });
});

function readManifestSync(dir: string): PreparedManifest {
  return JSON.parse(fs.readFileSync(path.join(dir, 'qmm-manifest.json'), 'utf8')) as PreparedManifest;
}
