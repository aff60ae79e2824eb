/**
 * Small msModelSlim-style model directories for the prepare / QuantLinear
 * tests: quant_model_description.json, config.json and one or two shards (+
 * index). Every quantized layer comes from a float "original" layer quantized
 * the msModelSlim way (docs/semantics.md §10.1.3–§10.1.4, §10.3), so the float32 result of the
 * un-quantized layer is known. Tensors stay in memory until `writeModel`, so a
 * test can break one first.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { serializeSafetensors, type SafetensorsDtype } from '../lib/index';
import { randFloats, rng, type Rng } from './helpers';
import { bitsFromF32, f32, toBf16Bits, toF16Bits } from './reference';
import { rne } from './reference-quantize';

export type ModelDtype = 'float16' | 'bfloat16';
export type FixtureType = 'W8A8' | 'W8A8_DYNAMIC' | 'W4A4_DYNAMIC' | 'FLOAT';

export interface FixtureTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Int8Array | Int32Array | BigInt64Array | Float32Array | Uint16Array;
}

export interface LayerSpec {
  prefix: string;
  type: FixtureType;
  n: number;
  k: number;
  bias?: boolean;
}

/** The float original and what msModelSlim made of it. */
export interface FixtureLayer extends LayerSpec {
  /** (n, k) float32 original weight. */
  w: Float32Array;
  biasValues?: Float32Array;
  /** Quantized weight values (n, k) (int8, or int4 in [-8, 7]). */
  wq?: Int8Array;
  /** Per-channel weight scale (n,). */
  weightScale?: Float32Array;
  /** W8A8: per-tensor activation scale / zero point. */
  inputScale?: number;
  inputOffset?: number;
  deqScale?: Float32Array;
  quantBias?: Int32Array;
}

export interface ModelSpec {
  dtype: ModelDtype;
  layers: LayerSpec[];
  seed?: number;
  /** Range the W8A8 activations are calibrated for (default [-2.5, 3]). */
  actRange?: [number, number];
  /** Put torch_dtype under text_config instead of the top level. */
  textConfig?: boolean;
}

export interface BuiltModel {
  spec: ModelSpec;
  layers: Map<string, FixtureLayer>;
  tensors: Map<string, FixtureTensor>;
  description: Record<string, unknown>;
  config: Record<string, unknown>;
}

const halfBits = (v: number, dtype: ModelDtype) => (dtype === 'float16' ? toF16Bits(v) : toBf16Bits(v));

/** msModelSlim's round: torch.round, half to even. */
const round = rne;
const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

function perChannelQuant(w: Float32Array, n: number, k: number, qmax: number): { wq: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(n);
  const wq = new Int8Array(n * k);
  for (let i = 0; i < n; i++) {
    let amax = 0;
    for (let j = 0; j < k; j++) amax = Math.max(amax, Math.abs(w[i * k + j]));
    const s = f32(amax / qmax || 1);
    scale[i] = s;
    for (let j = 0; j < k; j++) wq[i * k + j] = clamp(round(w[i * k + j] / s), -qmax - 1, qmax);
  }
  return { wq, scale };
}

/** The W8A8 activation parameters for a calibrated range (asymmetric, zero point stored as float). */
export function activationQuant(range: [number, number]): { scale: number; offset: number } {
  const scale = f32((range[1] - range[0]) / 255);
  return { scale, offset: clamp(round(-128 - range[0] / scale), -128, 127) };
}

function addLayer(m: BuiltModel, spec: LayerSpec, r: Rng, act: { scale: number; offset: number }): void {
  const { prefix, n, k, type } = spec;
  const dtype = m.spec.dtype;
  const w = Float32Array.from(randFloats(r, n * k, -1, 1), (v, i) => f32(v * (0.25 + ((i * 7) % 13) / 13)));
  const biasValues = spec.bias ? Float32Array.from(randFloats(r, n, -0.5, 0.5)) : undefined;
  const layer: FixtureLayer = { ...spec, w, ...(biasValues ? { biasValues } : {}) };
  m.layers.set(prefix, layer);
  const put = (suffix: string, t: FixtureTensor, tag: string = type) => {
    m.tensors.set(`${prefix}.${suffix}`, t);
    m.description[`${prefix}.${suffix}`] = tag;
  };
  if (type === 'FLOAT') {
    put('weight', { dtype: dtype === 'float16' ? 'F16' : 'BF16', shape: [n, k], data: Uint16Array.from(w, (v) => halfBits(v, dtype)) });
    if (biasValues) put('bias', { dtype: 'F32', shape: [n], data: biasValues });
    return;
  }
  const qmax = type === 'W4A4_DYNAMIC' ? 7 : 127;
  const { wq, scale } = perChannelQuant(w, n, k, qmax);
  layer.wq = wq;
  layer.weightScale = scale;
  put('weight', { dtype: 'I8', shape: [n, k], data: wq });
  if (type === 'W8A8') {
    layer.inputScale = act.scale;
    layer.inputOffset = act.offset;
    const deq = Float32Array.from(scale, (s) => f32(act.scale * s));
    const qb = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let sum = 0;
      for (let j = 0; j < k; j++) sum += wq[i * k + j] * act.offset;
      qb[i] = round((biasValues ? biasValues[i] : 0) / deq[i] - sum);
    }
    layer.deqScale = deq;
    layer.quantBias = qb;
    put('input_scale', { dtype: 'F32', shape: [1], data: Float32Array.of(act.scale) });
    put('input_offset', { dtype: 'F32', shape: [1], data: Float32Array.of(act.offset) });
    put('quant_bias', { dtype: 'I32', shape: [n], data: qb });
    // I64 = fp32 bits sign-extended (deqscale2int64) unless the model is bf16 (docs/semantics.md §10.1.3)
    put('deq_scale', dtype === 'bfloat16' ? { dtype: 'F32', shape: [n], data: deq } : { dtype: 'I64', shape: [n], data: BigInt64Array.from(deq, (d) => BigInt(bitsFromF32(d) | 0)) });
    if (biasValues) put('bias', { dtype: 'F32', shape: [n], data: biasValues }, 'FLOAT');
    return;
  }
  put('weight_scale', { dtype: 'F32', shape: [n, 1], data: scale });
  put('weight_offset', { dtype: 'F32', shape: [n, 1], data: new Float32Array(n) });
  if (biasValues) put('bias', { dtype: 'F32', shape: [n], data: biasValues }, 'FLOAT');
}

/** Builds the model in memory. */
export function buildModel(spec: ModelSpec): BuiltModel {
  const m: BuiltModel = {
    spec,
    layers: new Map(),
    tensors: new Map(),
    description: { model_quant_type: 'W8A8', version: '1.0.0', metadata: { source: 'fixture' }, group_size: 0, optional: {} },
    config: spec.textConfig ? { architectures: ['Fixture'], text_config: { torch_dtype: spec.dtype } } : { architectures: ['Fixture'], torch_dtype: spec.dtype, quantize: 'w8a8' },
  };
  const r = rng(spec.seed ?? 1);
  const act = activationQuant(spec.actRange ?? [-2.5, 3]);
  for (const l of spec.layers) addLayer(m, l, r, act);
  return m;
}

/** Writes the model: one shard, or `shards` shards (tensors dealt round-robin) plus the index. */
export async function writeModel(m: BuiltModel, dir: string, shards = 1): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'quant_model_description.json'), JSON.stringify(m.description, null, 2));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(m.config, null, 2));
  const names = [...m.tensors.keys()];
  if (shards === 1) {
    fs.writeFileSync(path.join(dir, 'quant_model_weights.safetensors'), serializeSafetensors(Object.fromEntries(names.map((n) => [n, m.tensors.get(n) as FixtureTensor]))));
    return;
  }
  const fileOf = (i: number) => `quant_model_weights-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const mine = names.filter((_, i) => i % shards === s);
    for (const n of mine) weightMap[n] = fileOf(s);
    fs.writeFileSync(path.join(dir, fileOf(s)), serializeSafetensors(Object.fromEntries(mine.map((n) => [n, m.tensors.get(n) as FixtureTensor]))));
  }
  fs.writeFileSync(path.join(dir, 'quant_model_weights.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }, null, 2));
}

/** The standard fixture: a fused-able q/k/v W8A8 trio, W8A8 o_proj with a folded bias, W8A8_DYNAMIC MLP, a W4A4 layer and FLOAT tensors. */
export function standardSpec(dtype: ModelDtype, seed = 7): ModelSpec {
  return {
    dtype,
    seed,
    layers: [
      { prefix: 'model.embed_tokens', type: 'FLOAT', n: 16, k: 64 },
      { prefix: 'model.layers.0.self_attn.q_proj', type: 'W8A8', n: 64, k: 64 },
      { prefix: 'model.layers.0.self_attn.k_proj', type: 'W8A8', n: 32, k: 64 },
      { prefix: 'model.layers.0.self_attn.v_proj', type: 'W8A8', n: 32, k: 64 },
      { prefix: 'model.layers.0.self_attn.o_proj', type: 'W8A8', n: 64, k: 64, bias: true },
      { prefix: 'model.layers.0.mlp.gate_proj', type: 'W8A8_DYNAMIC', n: 96, k: 64, bias: true },
      { prefix: 'model.layers.0.mlp.up_proj', type: 'W8A8_DYNAMIC', n: 96, k: 64, bias: true },
      { prefix: 'model.layers.0.mlp.down_proj', type: 'W8A8_DYNAMIC', n: 64, k: 96 },
      { prefix: 'model.layers.1.mlp.down_proj', type: 'W4A4_DYNAMIC', n: 48, k: 96, bias: true },
      { prefix: 'lm_head', type: 'FLOAT', n: 16, k: 64, bias: true },
    ],
  };
}

export { writeSyntheticModel } from './support/synthetic-model.cjs';
