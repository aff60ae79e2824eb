/**
 * What `qmm quantize` writes, decided from the shard headers alone: one unit
 * per quantized linear layer (.weight I8 (n, k), .weight_scale and
 * .weight_offset F32 (n, 1), .bias F32 (n,) — msModelSlim's W8A8_DYNAMIC
 * per-channel export, docs/semantics.md §10.1.4) or per float tensor (copied as is), in
 * source order so reads are sequential, packed into shards.
 */

import { fmtShape } from '../../tensor';
import type { SafetensorsDtype } from '../../safetensors/header';
import { modelFileError } from '../errors';
import { packBySize, shardFileName, totalBytes } from '../shard_layout';
import type { ModelSource, TensorRef } from '../source';
import { FLOAT_INPUT_DTYPES, type FloatDtype } from './per_channel';
import { splitModule, TensorRule, type KeepReason } from './rule';

export interface OutSpec {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** msModelSlim's tag for the tensor in quant_model_description.json. */
  readonly tag: 'W8A8_DYNAMIC' | 'FLOAT';
}

export interface QuantUnit {
  readonly kind: 'quant';
  /** The module name, e.g. "model.layers.0.self_attn.q_proj". */
  readonly prefix: string;
  readonly weight: TensorRef;
  readonly bias: TensorRef | undefined;
  readonly dtype: FloatDtype;
  readonly n: number;
  readonly k: number;
  readonly inputBytes: number;
  readonly specs: readonly OutSpec[];
}

export interface FloatUnit {
  readonly kind: 'float';
  readonly ref: TensorRef;
  readonly reason: KeepReason;
  /** The --skip glob that kept it float. */
  readonly skip: string | undefined;
  readonly inputBytes: number;
  readonly specs: readonly OutSpec[];
}

export type Unit = QuantUnit | FloatUnit;

export function outputBytes(u: Unit): number {
  return totalBytes(u.specs);
}

/** Decides every tensor of the source; throws ERR_QMM_FILE (file, tensor) for a layer that cannot be quantized. */
export function planQuantize(source: ModelSource, rule: TensorRule): Unit[] {
  const refs = [...source.tensorNames].map((n) => source.find(n) as TensorRef);
  const fail = (ref: TensorRef, why: string): never => {
    throw modelFileError(source.shardPath(ref), why, ref.name);
  };
  const byModule = new Map<string, TensorRef[]>();
  for (const r of refs) {
    const { module } = splitModule(r.name);
    const list = byModule.get(module);
    if (list === undefined) byModule.set(module, [r]);
    else list.push(r);
  }
  const consumed = new Set<string>();
  const units: Array<Unit & { key: TensorRef }> = [];
  const decisions = new Map<string, ReturnType<TensorRule['decide']>>();
  for (const r of refs) decisions.set(r.name, rule.decide(r.name, r.info.shape));

  for (const r of refs) {
    if (decisions.get(r.name) !== 'quantize') continue;
    const dtype = r.info.dtype;
    if (!(FLOAT_INPUT_DTYPES as readonly string[]).includes(dtype)) {
      fail(r, `is ${dtype}; qmm quantize reads float weights (${FLOAT_INPUT_DTYPES.join(', ')}). Is the model already quantized? (--skip '${r.name}' copies it unchanged)`);
    }
    const [n, k] = r.info.shape;
    const { module } = splitModule(r.name);
    let bias: TensorRef | undefined;
    for (const other of byModule.get(module) ?? []) {
      if (other === r) continue;
      const { suffix } = splitModule(other.name);
      if (suffix !== 'bias') {
        fail(other, `sits beside ${r.name}, which is to be quantized, but a W8A8_DYNAMIC layer holds only .weight, .weight_scale, .weight_offset and .bias (is the model already quantized?); --skip '${module}' keeps the layer float`);
      }
      if (!(FLOAT_INPUT_DTYPES as readonly string[]).includes(other.info.dtype)) fail(other, `is ${other.info.dtype}; a bias must be ${FLOAT_INPUT_DTYPES.join(', ')}`);
      const s = other.info.shape;
      if (!(s.length === 1 && s[0] === n) && !(s.length === 2 && s[0] === n && s[1] === 1)) {
        fail(other, `shape must be (${n},) (n = out_features of ${module}), got ${fmtShape(s)}`);
      }
      bias = other;
      consumed.add(other.name);
    }
    const specs: OutSpec[] = [
      { name: `${module}.weight`, dtype: 'I8', shape: [n, k], tag: 'W8A8_DYNAMIC' },
      { name: `${module}.weight_scale`, dtype: 'F32', shape: [n, 1], tag: 'W8A8_DYNAMIC' },
      { name: `${module}.weight_offset`, dtype: 'F32', shape: [n, 1], tag: 'W8A8_DYNAMIC' },
    ];
    if (bias) specs.push({ name: `${module}.bias`, dtype: 'F32', shape: [n], tag: 'FLOAT' });
    units.push({ kind: 'quant', prefix: module, weight: r, bias, dtype: dtype as FloatDtype, n, k, inputBytes: r.info.byteLength + (bias?.info.byteLength ?? 0), specs, key: r });
  }
  for (const r of refs) {
    const d = decisions.get(r.name) as ReturnType<TensorRule['decide']>;
    if (d === 'quantize' || consumed.has(r.name)) continue;
    units.push({
      kind: 'float',
      ref: r,
      reason: d,
      skip: d === 'skip' ? rule.skippedBy(r.name) : undefined,
      inputBytes: r.info.byteLength,
      specs: [{ name: r.name, dtype: r.info.dtype, shape: [...r.info.shape], tag: 'FLOAT' }],
      key: r,
    });
  }
  units.sort((a, b) => a.key.shard - b.key.shard || a.key.info.byteOffset - b.key.info.byteOffset);
  return units.map(({ key: _key, ...u }) => u as Unit);
}

/** Splits units into output shards of at most shardBytes (a unit is never split). */
export function packShards(units: readonly Unit[], shardBytes: number): Unit[][] {
  return packBySize(units, outputBytes, shardBytes);
}

/** msModelSlim's names: quant_model_weights.safetensors, or quant_model_weights-00001-of-0000N.safetensors. */
export function weightsFileName(i: number, count: number): string {
  return shardFileName('quant_model_weights', i, count);
}

export const WEIGHTS_INDEX_FILE = 'quant_model_weights.safetensors.index.json';
