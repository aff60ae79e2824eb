/**
 * `qmm example`: writes a small, deterministic model so the real-model
 * workflow can be tried without downloading one. With `float: true` it is a
 * Qwen2-style bfloat16 checkpoint (config.json, model.safetensors: embeddings,
 * q/k/v (with bias)/o and gate/up/down projections, RMSNorm weights, lm_head),
 * random but shaped like a real one; otherwise that checkpoint quantized by
 * quantizeModel into an msModelSlim-style W8A8_DYNAMIC export. Weights are
 * generated in chunks, so large shapes (for benchmarks) need little memory.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe as describeValue } from '../errors';
import { f32ToBf16, f32ToF16 } from '../half';
import { SafetensorsWriter, type SafetensorsDtype } from '../safetensors';
import { modelFileError } from './errors';
import { StagedDir } from './output_dir';
import { bytesOf, packBySize, shardFileName, shardIndexJson } from './shard_layout';
import { quantizeModel } from './quantize/quantize_model';

export interface ExampleModelOptions {
  /** Write the float checkpoint instead of the W8A8_DYNAMIC export (default false). */
  float?: boolean;
  /** Replace an existing directory (default false). */
  overwrite?: boolean;
  /** Float dtype (default 'bfloat16'). */
  dtype?: 'bfloat16' | 'float16';
  hiddenSize?: number;
  intermediateSize?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  vocabSize?: number;
  /** Split the float checkpoint into shards of at most this many bytes, with an index (default: one file). */
  shardBytes?: number;
  seed?: number;
}

export interface ExampleModelResult {
  readonly dir: string;
  readonly kind: 'float' | 'W8A8_DYNAMIC';
  readonly dtype: 'bfloat16' | 'float16';
  readonly config: Readonly<Record<string, unknown>>;
  /** The linear layers (quantized in the W8A8_DYNAMIC export). */
  readonly linearLayers: readonly string[];
  readonly files: readonly string[];
  /** Bytes of the safetensors files. */
  readonly bytes: number;
}

interface TensorPlan {
  name: string;
  shape: [number] | [number, number];
  /** value = mean + std · N(0, 1) */
  mean: number;
  std: number;
}

const DEFAULTS = { hiddenSize: 256, intermediateSize: 704, layers: 2, heads: 4, kvHeads: 2, vocabSize: 1024, seed: 2024 };

function positiveInt(o: Record<string, unknown>, k: string, d: number): number {
  const v = o[k];
  if (v === undefined) return d;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new TypeError(`options.${k} must be a positive integer, got ${describeValue(v)}`);
  return v;
}

function modelPlan(h: number, inter: number, layers: number, heads: number, kvHeads: number, vocab: number): { tensors: TensorPlan[]; linear: string[] } {
  const headDim = h / heads;
  const kv = kvHeads * headDim;
  const tensors: TensorPlan[] = [{ name: 'model.embed_tokens.weight', shape: [vocab, h], mean: 0, std: 0.02 }];
  const linear: string[] = [];
  const lin = (name: string, n: number, k: number) => {
    tensors.push({ name: `${name}.weight`, shape: [n, k], mean: 0, std: 0.5 / Math.sqrt(k) });
    linear.push(name);
  };
  for (let i = 0; i < layers; i++) {
    const p = `model.layers.${i}`;
    tensors.push({ name: `${p}.input_layernorm.weight`, shape: [h], mean: 1, std: 0.05 });
    lin(`${p}.self_attn.q_proj`, h, h);
    lin(`${p}.self_attn.k_proj`, kv, h);
    lin(`${p}.self_attn.v_proj`, kv, h);
    for (const [proj, n] of [['q_proj', h], ['k_proj', kv], ['v_proj', kv]] as const) tensors.push({ name: `${p}.self_attn.${proj}.bias`, shape: [n], mean: 0, std: 0.1 });
    lin(`${p}.self_attn.o_proj`, h, h);
    tensors.push({ name: `${p}.post_attention_layernorm.weight`, shape: [h], mean: 1, std: 0.05 });
    lin(`${p}.mlp.gate_proj`, inter, h);
    lin(`${p}.mlp.up_proj`, inter, h);
    lin(`${p}.mlp.down_proj`, h, inter);
  }
  tensors.push({ name: 'model.norm.weight', shape: [h], mean: 1, std: 0.05 });
  tensors.push({ name: 'lm_head.weight', shape: [vocab, h], mean: 0, std: 0.02 });
  return { tensors, linear };
}

/** xorshift32, seeded from a string and a number. */
function generator(name: string, seed: number): () => number {
  let s = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < name.length; i++) s = Math.imul(s ^ name.charCodeAt(i), 0x01000193) >>> 0;
  if (s === 0) s = 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

let normals: Float64Array | undefined;

/** 65 536 standard normal samples (Box–Muller on a fixed seed): the values are drawn from this table. */
function normalTable(): Float64Array {
  if (normals === undefined) {
    const next = generator('normal-table', 1);
    normals = new Float64Array(65536);
    for (let i = 0; i < normals.length; i += 2) {
      const u1 = (next() + 1) / 4294967297;
      const u2 = next() / 4294967296;
      const r = Math.sqrt(-2 * Math.log(u1));
      normals[i] = r * Math.cos(2 * Math.PI * u2);
      normals[i + 1] = r * Math.sin(2 * Math.PI * u2);
    }
  }
  return normals;
}

async function writeTensorValues(w: SafetensorsWriter, t: TensorPlan, dtype: 'bfloat16' | 'float16', seed: number): Promise<void> {
  const enc = dtype === 'bfloat16' ? f32ToBf16 : f32ToF16;
  const table = normalTable();
  const bits = new Uint16Array(65536);
  for (let i = 0; i < bits.length; i++) bits[i] = enc(t.mean + t.std * table[i]);
  const next = generator(t.name, seed);
  const count = t.shape.reduce((a, b) => a * b, 1);
  const chunk = new Uint16Array(Math.min(count, 1 << 21));
  for (let done = 0; done < count; ) {
    const len = Math.min(chunk.length, count - done);
    for (let i = 0; i < len; i += 2) {
      const r = next();
      chunk[i] = bits[r & 0xffff];
      if (i + 1 < len) chunk[i + 1] = bits[r >>> 16];
    }
    await w.write(t.name, chunk.subarray(0, len));
    done += len;
  }
}

const README = `# qmm example model

Random weights in the shape of a small Qwen2-style model, written by \`qmm example\`
(ascend-quant-matmul). It computes nothing meaningful; it is there to try the workflow:

    qmm example --float <float-dir>                 # this checkpoint, bfloat16
    qmm quantize <float-dir> --out <w8a8-dir>       # msModelSlim-style W8A8_DYNAMIC (= qmm example <dir>)
    qmm prepare <w8a8-dir> --out <prepared-dir>     # then QuantLinear.load(<prepared-dir>, layer)
`;

/** Writes the example model into `dir` (atomically). */
export async function writeExampleModel(dir: string, options?: ExampleModelOptions): Promise<ExampleModelResult> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError(`dir must be a directory path, got ${describeValue(dir)}`);
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) throw new TypeError(`options must be an object, got ${describeValue(options)}`);
  const o = (options ?? {}) as Record<string, unknown>;
  const known = ['float', 'overwrite', 'dtype', 'hiddenSize', 'intermediateSize', 'layers', 'heads', 'kvHeads', 'vocabSize', 'shardBytes', 'seed'];
  for (const k of Object.keys(o)) if (!known.includes(k)) throw new TypeError(`options.${k} is not a known option; expected one of ${known.join(', ')}`);
  for (const k of ['float', 'overwrite']) if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`options.${k} must be a boolean, got ${describeValue(o[k])}`);
  if (o.dtype !== undefined && o.dtype !== 'bfloat16' && o.dtype !== 'float16') throw new TypeError(`options.dtype must be 'bfloat16' or 'float16', got ${describeValue(o.dtype)}`);
  const h = positiveInt(o, 'hiddenSize', DEFAULTS.hiddenSize);
  const heads = positiveInt(o, 'heads', DEFAULTS.heads);
  const kvHeads = positiveInt(o, 'kvHeads', DEFAULTS.kvHeads);
  if (h % heads !== 0 || heads % kvHeads !== 0) throw new RangeError(`options: hiddenSize ${h} must be a multiple of heads ${heads}, and heads a multiple of kvHeads ${kvHeads}`);
  const inter = positiveInt(o, 'intermediateSize', DEFAULTS.intermediateSize);
  const layers = positiveInt(o, 'layers', DEFAULTS.layers);
  const vocab = positiveInt(o, 'vocabSize', DEFAULTS.vocabSize);
  const seed = o.seed === undefined ? DEFAULTS.seed : positiveInt(o, 'seed', 1);
  const shardBytes = o.shardBytes === undefined ? undefined : positiveInt(o, 'shardBytes', 1);
  const dtype = (o.dtype as 'bfloat16' | 'float16' | undefined) ?? 'bfloat16';
  const float = o.float === true;
  const overwrite = o.overwrite === true;

  const plan = modelPlan(h, inter, layers, heads, kvHeads, vocab);
  const config = {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    hidden_size: h,
    intermediate_size: inter,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    vocab_size: vocab,
    max_position_embeddings: 4096,
    hidden_act: 'silu',
    rms_norm_eps: 1e-6,
    rope_theta: 1000000,
    tie_word_embeddings: false,
    torch_dtype: dtype,
  };
  const target = path.resolve(dir);
  if (!float) {
    if (!overwrite && fs.existsSync(target)) throw modelFileError(target, 'the output directory already exists; remove it or pass overwrite (--force)');
    const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'qmm-example-float-'));
    try {
      const floatDir = path.join(tmp, 'model');
      await writeExampleModel(floatDir, { ...(options as ExampleModelOptions), float: true, overwrite: false });
      const r = await quantizeModel(floatDir, target, { overwrite });
      const files = fs.readdirSync(target).sort();
      return { dir: target, kind: 'W8A8_DYNAMIC', dtype, config, linearLayers: plan.linear, files, bytes: r.outputBytes };
    } finally {
      await fs.promises.rm(tmp, { recursive: true, force: true });
    }
  }

  const staged = await StagedDir.create(target, overwrite);
  try {
    const st: SafetensorsDtype = dtype === 'bfloat16' ? 'BF16' : 'F16';
    const tensorBytes = (t: TensorPlan): number => bytesOf(st, t.shape);
    const groups = shardBytes === undefined ? [plan.tensors] : packBySize(plan.tensors, tensorBytes, shardBytes);
    const names = groups.map((_, i) => shardFileName('model', i, groups.length));
    let bytes = 0;
    for (let g = 0; g < groups.length; g++) {
      const w = await SafetensorsWriter.create(staged.file(names[g]), groups[g].map((t) => ({ name: t.name, dtype: st, shape: t.shape })));
      try {
        for (const t of groups[g]) await writeTensorValues(w, t, dtype, seed);
        await w.commit();
      } catch (e) {
        await w.abort().catch(() => undefined);
        throw e;
      }
      bytes += (await fs.promises.stat(staged.file(names[g]))).size;
    }
    if (groups.length > 1) {
      const fileOf = groups.flatMap((ts, g) => ts.map((t) => [t.name, names[g]] as const));
      await staged.writeFile('model.safetensors.index.json', shardIndexJson(fileOf, plan.tensors.reduce((a, t) => a + tensorBytes(t), 0)));
    }
    await staged.writeFile('README.md', README);
    await staged.writeFile('config.json', `${JSON.stringify(config, null, 2)}\n`);
    await staged.commit();
    return { dir: target, kind: 'float', dtype, config, linearLayers: plan.linear, files: fs.readdirSync(target).sort(), bytes };
  } catch (e) {
    await staged.discard();
    throw e;
  }
}
