/**
 * Small float checkpoints (Hugging Face layout: config.json, model.safetensors
 * or model-0000i-of-0000N.safetensors + model.safetensors.index.json, and
 * tokenizer/generation files) for the quantize tests. Values are kept exactly
 * (as float64) beside their stored bits, and some rows are chosen to hit the
 * rule's edges: an all-zero row, a row of exact .5 ties, a row with a single
 * non-zero value, a row whose largest magnitude is negative.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { serializeSafetensors, type SafetensorsDtype } from '../lib/index';
import { rng, type Rng } from './helpers';
import { bf16BitsToValue, f16BitsToValue, f32, toBf16Bits, toF16Bits } from './reference';

export type FloatModelDtype = 'bfloat16' | 'float16' | 'float32';

export interface FloatTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Stored data: raw 16-bit patterns or float32 values. */
  data: Uint16Array | Float32Array;
  /** The exact values of the stored data. */
  values: Float64Array;
}

export interface FloatModel {
  dtype: FloatModelDtype;
  tensors: Map<string, FloatTensor>;
  config: Record<string, unknown>;
  /** Other files of the checkpoint: name → contents. */
  extraFiles: Map<string, string>;
  /** The modules the rule quantizes. */
  linear: string[];
}

const stDtype = (d: FloatModelDtype): SafetensorsDtype => (d === 'bfloat16' ? 'BF16' : d === 'float16' ? 'F16' : 'F32');

/** Stores float values in the model dtype (round to nearest even) and keeps what was stored. */
export function storeValues(values: ArrayLike<number>, shape: number[], dtype: FloatModelDtype | SafetensorsDtype): FloatTensor {
  const d = dtype === 'bfloat16' || dtype === 'BF16' ? 'BF16' : dtype === 'float16' || dtype === 'F16' ? 'F16' : 'F32';
  if (d === 'F32') {
    const data = Float32Array.from(values, (v) => f32(v));
    return { dtype: d, shape, data, values: Float64Array.from(data) };
  }
  const enc = d === 'BF16' ? toBf16Bits : toF16Bits;
  const dec = d === 'BF16' ? bf16BitsToValue : f16BitsToValue;
  const data = Uint16Array.from(values, (v) => enc(v));
  return { dtype: d, shape, data, values: Float64Array.from(data, dec) };
}

function normal(r: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** An (n, k) linear weight with LLM-like rows (normal, a few heavy values) and the edge rows in rows 0–3. */
function linearWeight(r: Rng, n: number, k: number, edgeRows: boolean): number[] {
  const w = new Array<number>(n * k);
  for (let i = 0; i < n * k; i++) w[i] = (normal(r) * 0.5) / Math.sqrt(k) * (r() < 0.01 ? 8 : 1);
  if (edgeRows && n >= 4 && k >= 8) {
    for (let j = 0; j < k; j++) w[j] = 0; // row 0: all zero → scale 1, q 0
    // row 1: amax 127 → scale exactly 1, so w / scale hits .5 ties: rne gives 2, 4, -2, 0, 0, 126
    const ties = [127, 2.5, 3.5, -2.5, 0.5, -0.5, 126.5, 1.5];
    for (let j = 0; j < k; j++) w[k + j] = ties[j % ties.length] * (j < ties.length ? 1 : 0.25);
    for (let j = 0; j < k; j++) w[2 * k + j] = j === 3 ? 0.375 : 0; // row 2: one non-zero value → q 127 there
    w[3 * k + 5] = -4 * Math.max(...w.slice(3 * k, 4 * k).map(Math.abs)); // row 3: the largest magnitude is negative
  }
  return w;
}

export interface FloatModelSpec {
  dtype: FloatModelDtype;
  hidden?: number;
  intermediate?: number;
  layers?: number;
  vocab?: number;
  /** q/k/v biases (Qwen2-style). */
  bias?: boolean;
  /** Also a 2-D MoE-router-like `mlp.gate.weight` (stays float). */
  router?: boolean;
  /** Rows 0–3 of each linear weight hit the rule's edges (default true); their scale-1 rows dominate a layer's output. */
  edgeRows?: boolean;
  seed?: number;
}

export function buildFloatModel(spec: FloatModelSpec): FloatModel {
  const { dtype } = spec;
  const h = spec.hidden ?? 64;
  const inter = spec.intermediate ?? 96;
  const vocab = spec.vocab ?? 32;
  const r = rng(spec.seed ?? 5);
  const tensors = new Map<string, FloatTensor>();
  const linear: string[] = [];
  const put = (name: string, values: number[], shape: number[]) => tensors.set(name, storeValues(values, shape, dtype));
  const vec = (n: number, mean: number, std: number) => Array.from({ length: n }, () => mean + std * normal(r));
  put('model.embed_tokens.weight', vec(vocab * h, 0, 0.02), [vocab, h]);
  for (let l = 0; l < (spec.layers ?? 2); l++) {
    const p = `model.layers.${l}`;
    put(`${p}.input_layernorm.weight`, vec(h, 1, 0.05), [h]);
    const lin = (name: string, n: number, k: number, bias: boolean) => {
      put(`${name}.weight`, linearWeight(r, n, k, spec.edgeRows !== false), [n, k]);
      if (bias) put(`${name}.bias`, vec(n, 0, 0.2), [n]);
      linear.push(name);
    };
    lin(`${p}.self_attn.q_proj`, h, h, Boolean(spec.bias));
    lin(`${p}.self_attn.k_proj`, h / 2, h, Boolean(spec.bias));
    lin(`${p}.self_attn.v_proj`, h / 2, h, Boolean(spec.bias));
    lin(`${p}.self_attn.o_proj`, h, h, false);
    put(`${p}.post_attention_layernorm.weight`, vec(h, 1, 0.05), [h]);
    if (spec.router) put(`${p}.mlp.gate.weight`, vec(4 * h, 0, 0.1), [4, h]);
    lin(`${p}.mlp.gate_proj`, inter, h, false);
    lin(`${p}.mlp.up_proj`, inter, h, false);
    lin(`${p}.mlp.down_proj`, h, inter, false);
  }
  put('model.norm.weight', vec(h, 1, 0.05), [h]);
  put('lm_head.weight', vec(vocab * h, 0, 0.02), [vocab, h]);
  const config = { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', hidden_size: h, intermediate_size: inter, torch_dtype: dtype, vocab_size: vocab };
  const extraFiles = new Map([
    ['tokenizer.json', JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: { a: 0, b: 1 } } })],
    ['generation_config.json', JSON.stringify({ do_sample: false, max_new_tokens: 16 })],
    ['chat_template.jinja', '{% for m in messages %}{{ m.content }}{% endfor %}\n'],
  ]);
  return { dtype, tensors, config, extraFiles, linear };
}

export function shardName(i: number, count: number): string {
  return count === 1 ? 'model.safetensors' : `model-${String(i + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`;
}

/** Writes the checkpoint: one file, or `shards` files (tensors dealt round-robin) plus the index. */
export function writeFloatModel(m: FloatModel, dir: string, shards = 1): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(m.config, null, 2));
  for (const [name, text] of m.extraFiles) fs.writeFileSync(path.join(dir, name), text);
  const names = [...m.tensors.keys()];
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const mine = names.filter((_, i) => i % shards === s);
    for (const n of mine) weightMap[n] = shardName(s, shards);
    const entries = mine.map((n) => {
      const t = m.tensors.get(n) as FloatTensor;
      return [n, { dtype: t.dtype, shape: t.shape, data: t.data }] as const;
    });
    fs.writeFileSync(path.join(dir, shardName(s, shards)), serializeSafetensors(Object.fromEntries(entries)));
  }
  if (shards > 1) fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }, null, 2));
}

export { stDtype };
