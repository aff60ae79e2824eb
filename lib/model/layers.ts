/**
 * Groups the described tensors into linear layers (docs/semantics.md §10.1.3–§10.1.5, §10.3)
 * and checks every tensor's presence, dtype and shape against the rules of
 * its quant type; optionally fuses q/k/v and gate/up (docs/semantics.md §10.2.1, §10.5 step 5).
 */

import { fmtShape } from '../tensor';
import type { SafetensorsDtype } from '../safetensors/header';
import type { QuantDescription } from './description';
import { modelFileError, modelUnsupported } from './errors';
import type { ModelSource, TensorRef } from './source';

export type QuantType = 'W8A8' | 'W8A8_DYNAMIC' | 'W4A4_DYNAMIC';
export const QUANT_TYPES: readonly QuantType[] = ['W8A8', 'W8A8_DYNAMIC', 'W4A4_DYNAMIC'];

/**
 * Whether a description tag is a linear-layer weight quant type (W8A8, W4A8_DYNAMIC,
 * W8A8_MXFP8, …: they all start with "W", docs/semantics.md §10.1.2). The other tags (FLOAT,
 * C8 for the KV cache, FAQuant, …) mark tensors prepare passes through unchanged.
 */
export function isLinearQuantTag(tag: string): boolean {
  return /^W/.test(tag);
}

export const FLOAT_DTYPES: readonly SafetensorsDtype[] = ['F32', 'F16', 'BF16'];

interface SuffixRule {
  /** Tensors every layer of the type has. */
  required: readonly string[];
  /** Tensors it may have. */
  optional: readonly string[];
}

const RULES: Readonly<Record<QuantType, SuffixRule>> = {
  // weight_scale / weight_offset: legacy llm_ptq and W8A8_MIX exports (§1.3, §1.5); unused by the kernel
  W8A8: { required: ['weight', 'input_scale', 'input_offset', 'deq_scale', 'quant_bias'], optional: ['weight_scale', 'weight_offset', 'bias'] },
  W8A8_DYNAMIC: { required: ['weight', 'weight_scale'], optional: ['weight_offset', 'bias'] },
  W4A4_DYNAMIC: { required: ['weight', 'weight_scale'], optional: ['weight_offset', 'bias'] },
};

export interface LayerPart {
  /** The source prefix, e.g. "model.layers.0.self_attn.q_proj". */
  readonly prefix: string;
  readonly n: number;
  /** suffix ("weight", "deq_scale", …) → tensor. */
  readonly tensors: ReadonlyMap<string, TensorRef>;
}

export interface LayerPlan {
  /** Output prefix: the source prefix, or the fused name ("….qkv_proj"). */
  readonly name: string;
  readonly quantType: QuantType;
  readonly k: number;
  /** Sum of the parts' n. */
  readonly n: number;
  readonly parts: readonly LayerPart[];
}

export interface FloatTensorPlan {
  readonly ref: TensorRef;
  /** The description's tag ("FLOAT", "C8", …), or undefined for a tensor the description does not list. */
  readonly tag: string | undefined;
}

export interface ModelPlan {
  readonly layers: readonly LayerPlan[];
  readonly floats: readonly FloatTensorPlan[];
}

export interface PlanOptions {
  /** Fuse q/k/v → qkv_proj and gate/up → gate_up_proj. */
  fuse?: boolean;
}

const FUSIONS: ReadonlyArray<{ fused: string; parts: readonly string[] }> = [
  { fused: 'qkv_proj', parts: ['q_proj', 'k_proj', 'v_proj'] },
  { fused: 'gate_up_proj', parts: ['gate_proj', 'up_proj'] },
];

function splitName(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? ['', name] : [name.slice(0, dot), name.slice(dot + 1)];
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

class LayerChecker {
  constructor(
    private readonly source: ModelSource,
    private readonly prefix: string,
  ) {}

  private ref(parts: Map<string, TensorRef>, suffix: string): TensorRef {
    return parts.get(suffix) as TensorRef;
  }

  fail(ref: TensorRef, rule: string): never {
    throw modelFileError(this.source.shardPath(ref), rule, ref.name);
  }

  dtype(ref: TensorRef, allowed: readonly SafetensorsDtype[]): void {
    if (!allowed.includes(ref.info.dtype)) this.fail(ref, `dtype must be ${allowed.join(' or ')}, got ${ref.info.dtype}`);
  }

  /** (n,) or (n, 1). */
  vector(ref: TensorRef, n: number): void {
    const s = ref.info.shape;
    const ok = (s.length === 1 && s[0] === n) || (s.length === 2 && s[0] === n && s[1] === 1);
    if (!ok) this.fail(ref, `shape must be (${n},) or (${n}, 1) (n = out_features of ${this.prefix}), got ${fmtShape(s)}`);
  }

  scalar(ref: TensorRef): void {
    if (numel(ref.info.shape) !== 1) this.fail(ref, `must hold exactly one value (shape (1,)), got ${fmtShape(ref.info.shape)}`);
  }

  /** Checks a layer's tensors; returns (n, k). */
  check(type: QuantType, tensors: Map<string, TensorRef>): { n: number; k: number } {
    const w = this.ref(tensors, 'weight');
    this.dtype(w, ['I8']);
    if (w.info.shape.length !== 2) this.fail(w, `shape must be (n, k) = (out_features, in_features), got ${fmtShape(w.info.shape)}`);
    const [n, k] = w.info.shape;
    if (n === 0 || k === 0) this.fail(w, `must not be empty, got ${fmtShape(w.info.shape)}`);
    const opt = (s: string) => tensors.get(s);
    if (type === 'W8A8') {
      for (const s of ['input_scale', 'input_offset']) {
        const r = this.ref(tensors, s);
        this.dtype(r, FLOAT_DTYPES);
        this.scalar(r);
      }
      const deq = this.ref(tensors, 'deq_scale');
      this.dtype(deq, ['I64', 'F32']);
      this.vector(deq, n);
      const qb = this.ref(tensors, 'quant_bias');
      this.dtype(qb, ['I32']);
      this.vector(qb, n);
    } else {
      const ws = this.ref(tensors, 'weight_scale');
      this.dtype(ws, FLOAT_DTYPES);
      this.vector(ws, n);
      if (type === 'W4A4_DYNAMIC' && k % 8 !== 0) this.fail(w, `in_features k = ${k} must be a multiple of 8 to pack 8 int4 values per int32`);
    }
    for (const s of ['weight_scale', 'weight_offset', 'bias']) {
      const r = opt(s);
      if (r === undefined || (s === 'weight_scale' && type !== 'W8A8')) continue;
      this.dtype(r, FLOAT_DTYPES);
      this.vector(r, n);
    }
    return { n, k };
  }
}

/** Builds the layer plan: every described tensor exists, every layer is complete and well-typed. */
export function planModel(desc: QuantDescription, source: ModelSource, options: PlanOptions = {}): ModelPlan {
  const descFile = desc.file;
  // 1. every listed tensor exists
  for (const name of desc.tags.keys()) {
    if (!source.has(name)) throw modelFileError(descFile, `lists a tensor that no shard holds (shards: ${source.shardNames.join(', ')})`, name);
  }
  // 2. quantized layers: prefixes whose .weight carries a non-FLOAT tag
  const layerType = new Map<string, QuantType>();
  for (const [name, tag] of desc.tags) {
    const [prefix, suffix] = splitName(name);
    if (suffix !== 'weight' || !isLinearQuantTag(tag)) continue;
    if (!(QUANT_TYPES as readonly string[]).includes(tag)) {
      throw modelUnsupported(descFile, `quant type ${JSON.stringify(tag)} is not supported; this package prepares ${QUANT_TYPES.join(', ')} (and FLOAT)`, name);
    }
    layerType.set(prefix, tag as QuantType);
  }
  // 3. attach each tensor of a quantized prefix to its layer
  const members = new Map<string, Map<string, TensorRef>>();
  for (const p of layerType.keys()) members.set(p, new Map());
  const floats: FloatTensorPlan[] = [];
  for (const name of source.tensorNames) {
    const tag = desc.tags.get(name);
    const ref = source.find(name) as TensorRef;
    const [prefix, suffix] = splitName(name);
    const type = layerType.get(prefix);
    if (type === undefined) {
      if (tag !== undefined && isLinearQuantTag(tag)) {
        throw modelFileError(descFile, `is tagged ${tag} but ${prefix}.weight is not a quantized weight, so it belongs to no quantized layer`, name);
      }
      floats.push({ ref, tag });
      continue;
    }
    if (tag !== undefined && tag !== 'FLOAT' && !isLinearQuantTag(tag)) {
      floats.push({ ref, tag }); // e.g. a C8 kv_cache_scale beside k_proj: not part of the linear layer
      continue;
    }
    const rule = RULES[type];
    if (!rule.required.includes(suffix) && !rule.optional.includes(suffix)) {
      throw modelFileError(descFile, `is not a tensor a ${type} layer has (expected ${[...rule.required, ...rule.optional].map((s) => `.${s}`).join(', ')})`, name);
    }
    const okTag = tag === type || (suffix === 'bias' && tag === 'FLOAT');
    if (!okTag) {
      throw modelFileError(descFile, `is tagged ${tag === undefined ? '(not listed)' : tag}, but its layer ${prefix} is ${type}${suffix === 'bias' ? ' (a bias may also be FLOAT)' : ''}`, name);
    }
    (members.get(prefix) as Map<string, TensorRef>).set(suffix, ref);
  }
  // 4. completeness, dtypes, shapes
  const single = new Map<string, LayerPlan>();
  for (const [prefix, type] of layerType) {
    const tensors = members.get(prefix) as Map<string, TensorRef>;
    for (const s of RULES[type].required) {
      if (!tensors.has(s)) throw modelFileError(descFile, `${type} layer ${prefix} lacks its .${s} tensor`, `${prefix}.${s}`);
    }
    const { n, k } = new LayerChecker(source, prefix).check(type, tensors);
    single.set(prefix, { name: prefix, quantType: type, k, n, parts: [{ prefix, n, tensors }] });
  }
  const layers = options.fuse ? fuseLayers(single, descFile) : [...single.values()];
  const firstRef = (l: LayerPlan) => l.parts[0].tensors.get('weight') as TensorRef;
  const order = (a: TensorRef, b: TensorRef) => a.shard - b.shard || a.info.byteOffset - b.info.byteOffset;
  layers.sort((a, b) => order(firstRef(a), firstRef(b)));
  floats.sort((a, b) => order(a.ref, b.ref));
  return { layers, floats };
}

function fuseLayers(single: Map<string, LayerPlan>, descFile: string): LayerPlan[] {
  const used = new Set<string>();
  const fused: LayerPlan[] = [];
  for (const prefix of single.keys()) {
    const [parent, leaf] = splitName(prefix);
    for (const f of FUSIONS) {
      if (leaf !== f.parts[0]) continue;
      const names = f.parts.map((p) => (parent === '' ? p : `${parent}.${p}`));
      const plans = names.map((n) => single.get(n));
      if (plans.some((p) => p === undefined)) continue; // an incomplete set stays unfused
      const ps = plans as LayerPlan[];
      const name = parent === '' ? f.fused : `${parent}.${f.fused}`;
      if (single.has(name)) throw modelFileError(descFile, `cannot fuse ${names.join(', ')}: a layer named ${name} already exists`, `${name}.weight`);
      const type = ps[0].quantType;
      const odd = ps.find((p) => p.quantType !== type);
      if (odd) throw modelFileError(descFile, `cannot fuse ${names.join(', ')} into ${name}: ${odd.name} is ${odd.quantType} but ${ps[0].name} is ${type} (vllm-ascend requires one quant type per fused layer)`, `${odd.name}.weight`);
      const oddK = ps.find((p) => p.k !== ps[0].k);
      if (oddK) throw modelFileError(descFile, `cannot fuse ${names.join(', ')} into ${name}: in_features differ (${ps.map((p) => p.k).join(', ')})`, `${oddK.name}.weight`);
      const withBias = ps.filter((p) => p.parts[0].tensors.has('bias')).length;
      if (type !== 'W8A8' && withBias !== 0 && withBias !== ps.length) {
        throw modelFileError(descFile, `cannot fuse ${names.join(', ')} into ${name}: only some of them have a .bias`, `${ps[0].name}.bias`);
      }
      fused.push({ name, quantType: type, k: ps[0].k, n: ps.reduce((a, p) => a + p.n, 0), parts: ps.map((p) => p.parts[0]) });
      for (const n of names) used.add(n);
    }
  }
  return [...fused, ...[...single.values()].filter((l) => !used.has(l.name))];
}
