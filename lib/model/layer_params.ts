/**
 * The small tensors of a layer (docs/semantics.md §10.5 steps 2–4): deq_scale re-encoded
 * by bits for the output dtype, quant_bias, the activation reciprocal scale and
 * zero point (equal across fused parts), float32 weight scales, biases; and the
 * value checks (all-zero weight_offset, finite scales). Errors name the tensor.
 */

import type { SafetensorsDtype } from '../safetensors/header';
import { activationOffset, activationScaleRecip, deqScaleBits, encodeDeqScale, firstNonZero, floatValues, RuleError } from './convert';
import { modelFileError } from './errors';
import type { LayerPart, LayerPlan } from './layers';
import type { ModelOutputDtype, TensorRole } from './manifest';
import type { ModelSource, TensorRef } from './source';

export type SmallArray = Float32Array | Int32Array | BigInt64Array | Uint16Array;

/** The small tensors of a layer, converted and checked. */
export interface SmallTensors {
  readonly arrays: ReadonlyMap<TensorRole, SmallArray>;
}

/** The bias dtype a layer writes: the parts' common dtype, else F32 (exact widening). */
export function biasDtype(plan: LayerPlan): SafetensorsDtype | undefined {
  const refs = plan.parts.map((p) => p.tensors.get('bias'));
  if (refs[0] === undefined) return undefined;
  const dtypes = new Set(refs.map((r) => (r as TensorRef).info.dtype));
  return dtypes.size === 1 ? (refs[0] as TensorRef).info.dtype : 'F32';
}

/** Reads a layer's tensors and reports broken rules as ERR_QMM_FILE naming file and tensor. */
export class LayerIo {
  constructor(
    readonly plan: LayerPlan,
    readonly source: ModelSource,
  ) {}

  fail(ref: TensorRef, rule: string, cause?: unknown): never {
    throw modelFileError(this.source.shardPath(ref), rule, ref.name, cause);
  }

  ref(part: LayerPart, suffix: string): TensorRef {
    return part.tensors.get(suffix) as TensorRef;
  }

  async floats(ref: TensorRef): Promise<Float32Array> {
    return floatValues((await this.source.readTyped(ref)) as Float32Array | Uint16Array, ref.info.dtype);
  }

  /** Runs a conversion, turning a RuleError into ERR_QMM_FILE for `ref`. */
  rule<T>(ref: TensorRef, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof RuleError) this.fail(ref, e.message, e);
      throw e;
    }
  }
}

function concat<T extends SmallArray>(arrays: T[], make: (len: number) => T): T {
  const out = make(arrays.reduce((a, x) => a + x.length, 0));
  let off = 0;
  for (const a of arrays) {
    (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(a as ArrayLike<unknown>, off);
    off += a.length;
  }
  return out;
}

/** Reads, checks and converts a layer's small tensors (scales, offsets, biases). */
export async function readSmallTensors(plan: LayerPlan, source: ModelSource, opts: { outputDtype: ModelOutputDtype }): Promise<SmallTensors> {
  const io = new LayerIo(plan, source);
  const arrays = new Map<TensorRole, SmallArray>();
  for (const part of plan.parts) {
    const wo = part.tensors.get('weight_offset');
    if (wo !== undefined && plan.quantType !== 'W8A8') {
      const i = firstNonZero(await io.floats(wo));
      if (i >= 0) io.fail(wo, `must be all zero for ${plan.quantType} (symmetric weights; vllm-ascend ignores it), element ${i} is not`);
    }
  }
  if (plan.quantType === 'W8A8') {
    const target = opts.outputDtype === 'float16' ? 'I64' : 'F32';
    const deq: Array<BigInt64Array | Float32Array> = [];
    const qb: Int32Array[] = [];
    let act: { recip: number; offset: number; from: string } | undefined;
    for (const part of plan.parts) {
      const dref = io.ref(part, 'deq_scale');
      const raw = (await source.readTyped(dref)) as BigInt64Array | Float32Array;
      deq.push(encodeDeqScale(io.rule(dref, () => deqScaleBits(raw)), target));
      qb.push(Int32Array.from((await source.readTyped(io.ref(part, 'quant_bias'))) as Int32Array));
      const sref = io.ref(part, 'input_scale');
      const oref = io.ref(part, 'input_offset');
      const s = (await io.floats(sref))[0];
      const o = (await io.floats(oref))[0];
      const p = { recip: io.rule(sref, () => activationScaleRecip(s)), offset: io.rule(oref, () => activationOffset(o)) };
      if (act === undefined) {
        act = { ...p, from: part.prefix };
      } else if (!Object.is(act.recip, p.recip) || !Object.is(act.offset, p.offset)) {
        io.fail(sref, `fusing into ${plan.name} needs equal input_scale/input_offset for every part (vllm-ascend would silently keep the last one): ${part.prefix} has scale ${s}, offset ${o} but ${act.from} differs`);
      }
    }
    const a = act as { recip: number; offset: number };
    arrays.set('deq_scale', target === 'I64' ? concat(deq as BigInt64Array[], (l) => new BigInt64Array(l)) : concat(deq as Float32Array[], (l) => new Float32Array(l)));
    arrays.set('quant_bias', concat(qb, (l) => new Int32Array(l)));
    arrays.set('act_scale_recip', Float32Array.of(a.recip));
    arrays.set('act_offset', Float32Array.of(a.offset));
    return { arrays };
  }
  const scales: Float32Array[] = [];
  for (const part of plan.parts) {
    const sref = io.ref(part, 'weight_scale');
    const v = await io.floats(sref);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) io.fail(sref, `element ${bad} is ${v[bad]}; weight scales must be finite`);
    scales.push(v);
  }
  arrays.set('weight_scale', concat(scales, (l) => new Float32Array(l)));
  const bd = biasDtype(plan);
  if (bd !== undefined) {
    const parts: SmallArray[] = [];
    for (const part of plan.parts) {
      const bref = io.ref(part, 'bias');
      const raw = (await source.readTyped(bref)) as Float32Array | Uint16Array;
      parts.push(bd === bref.info.dtype ? raw : floatValues(raw, bref.info.dtype));
    }
    arrays.set('bias', bd === 'F32' ? concat(parts as Float32Array[], (l) => new Float32Array(l)) : concat(parts as Uint16Array[], (l) => new Uint16Array(l)));
  }
  return { arrays };
}
