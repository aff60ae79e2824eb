/**
 * One layer of prepare (WEIGHTS.md §5, per quant type): the output tensors it
 * declares and their streaming write (small tensors from layer_params.ts; the
 * weight as transposed (k, n) ND, FRACTAL_NZ slabs through npuFormatCast, or
 * int4-packed int32. Only this layer's source weight is held in memory.
 */

import { abortError } from '../errors';
import { nzStorageShape } from '../nz';
import { npuFormatCast } from '../ops/format_cast';
import type { SafetensorsWriter } from '../safetensors';
import type { SafetensorsDtype } from '../safetensors/header';
import { tensor } from '../tensor';
import { packInt4Rows, RuleError, transposedColumns, transposedRows, type StackedInt8 } from './convert';
import { biasDtype, LayerIo, readSmallTensors } from './layer_params';
import type { LayerPlan } from './layers';
import type { ManifestTensor, ModelOutputDtype, TensorRole } from './manifest';
import type { Scratch } from './scratch';
import type { ModelSource, TensorRef } from './source';

export interface LayerWriteOptions {
  /** Also write the FRACTAL_NZ weight. */
  nz: boolean;
  outputDtype: ModelOutputDtype;
  /** Working buffer size for transposes and NZ slabs. */
  chunkBytes: number;
  /** Reused buffers (the source weight, chunks). */
  scratch: Scratch;
  signal?: AbortSignal;
  /** Input bytes consumed (progress). */
  onBytes?: (n: number) => void;
}

/** An output tensor: its safetensors spec and its manifest entry (without the file). */
export interface LayerTensorOut {
  readonly role: TensorRole;
  readonly spec: { name: string; dtype: SafetensorsDtype; shape: number[] };
  readonly manifest: Omit<ManifestTensor, 'file'>;
}

const INT8_C0 = 32;

function outName(plan: LayerPlan, role: TensorRole): string {
  return `${plan.name}.${role}`;
}

/** The tensors a layer writes, from the headers alone. */
export function layerOutputs(plan: LayerPlan, opts: Pick<LayerWriteOptions, 'nz' | 'outputDtype'>): LayerTensorOut[] {
  const { k, n } = plan;
  const out: LayerTensorOut[] = [];
  const add = (role: TensorRole, dtype: SafetensorsDtype, shape: number[], m: Partial<Omit<ManifestTensor, 'file' | 'name' | 'dtype' | 'shape'>> = {}) => {
    const name = outName(plan, role);
    const vector = shape.length === 1;
    out.push({
      role,
      spec: { name, dtype, shape },
      manifest: {
        name,
        dtype,
        shape,
        format: m.format ?? 2,
        logicalShape: m.logicalShape ?? shape,
        storageShape: shape,
        layout: m.layout ?? (vector ? (shape[0] === 1 && role.startsWith('act_') ? 'SCALAR' : 'VECTOR_N') : 'ND_KN'),
        ...(m.encoding ? { encoding: m.encoding } : {}),
      },
    });
  };
  if (plan.quantType === 'W4A4_DYNAMIC') {
    add('weight', 'I32', [n, k / 8], { layout: 'INT4PACK_NK' });
  } else {
    add('weight', 'I8', [k, n], { layout: 'ND_KN' });
    if (opts.nz) add('weight_nz', 'I8', nzStorageShape([k, n], INT8_C0), { format: 29, logicalShape: [k, n], layout: 'NZ_KN' });
  }
  if (plan.quantType === 'W8A8') {
    const i64 = opts.outputDtype === 'float16';
    add('deq_scale', i64 ? 'I64' : 'F32', [n], { encoding: i64 ? 'fp32bits_i64' : 'float32' });
    add('quant_bias', 'I32', [n]);
    add('act_scale_recip', 'F32', [1], { layout: 'SCALAR' });
    add('act_offset', 'F32', [1], { layout: 'SCALAR' });
  } else {
    add('weight_scale', 'F32', [n]);
    const bd = biasDtype(plan);
    if (bd !== undefined) add('bias', bd, [n]);
  }
  return out;
}

/** What the layer leaves out, and why (for the manifest). */
export function droppedTensors(plan: LayerPlan): string[] {
  const out: string[] = [];
  for (const p of plan.parts) {
    for (const s of p.tensors.keys()) {
      if (plan.quantType === 'W8A8' && s === 'bias') out.push(`${p.prefix}.bias: already folded into quant_bias (msModelSlim)`);
      if (plan.quantType === 'W8A8' && (s === 'weight_scale' || s === 'weight_offset')) out.push(`${p.prefix}.${s}: not used by W8A8 (deq_scale carries the scale)`);
      if (plan.quantType !== 'W8A8' && s === 'weight_offset') out.push(`${p.prefix}.weight_offset: checked to be all zero (symmetric)`);
    }
  }
  return out;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError('prepare was aborted', signal);
}

/** The int8 weights of the parts, stacked along n, read into the reused weight buffer (the one large buffer of a layer). */
async function readWeights(plan: LayerPlan, source: ModelSource, scratch: Scratch): Promise<StackedInt8> {
  const all = scratch.int8('weight', plan.k * plan.n);
  const parts: Int8Array[] = [];
  let off = 0;
  for (const p of plan.parts) {
    const view = all.subarray(off, off + p.n * plan.k);
    await source.readInto(p.tensors.get('weight') as TensorRef, new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    parts.push(view);
    off += view.length;
  }
  return { parts, rows: plan.parts.map((p) => p.n), k: plan.k };
}

/** (k, n) row-major, written in chunks of whole rows. */
async function writeNd(w: SafetensorsWriter, name: string, s: StackedInt8, n: number, opts: LayerWriteOptions, share: number): Promise<void> {
  const rowsPer = Math.max(1, Math.floor(opts.chunkBytes / n));
  const buf = opts.scratch.int8('nd', Math.min(rowsPer, s.k) * n);
  for (let j0 = 0; j0 < s.k; j0 += rowsPer) {
    checkAborted(opts.signal);
    const j1 = Math.min(j0 + rowsPer, s.k);
    const view = buf.subarray(0, (j1 - j0) * n);
    transposedRows(s, j0, j1, view);
    await w.write(name, view);
    opts.onBytes?.(((j1 - j0) / s.k) * share);
  }
}

/**
 * FRACTAL_NZ storage (ceil(n/32), ceil(k/16), 16, 32) of the (k, n) matrix. A
 * slab of 32·B columns is a contiguous run of that storage, so each slab goes
 * through npuFormatCast on its own and is appended.
 */
async function writeNz(w: SafetensorsWriter, name: string, s: StackedInt8, n: number, opts: LayerWriteOptions, share: number): Promise<void> {
  const kPad = Math.ceil(s.k / 16) * 16;
  const blocks = Math.max(1, Math.floor(opts.chunkBytes / (INT8_C0 * kPad)));
  const width = Math.min(blocks * INT8_C0, Math.ceil(n / INT8_C0) * INT8_C0);
  const buf = opts.scratch.int8('slab', s.k * width);
  for (let c0 = 0; c0 < n; c0 += width) {
    checkAborted(opts.signal);
    const c1 = Math.min(c0 + width, n);
    const view = buf.subarray(0, s.k * (c1 - c0));
    transposedColumns(s, c0, c1, view);
    const nz = await npuFormatCast(tensor(view, [s.k, c1 - c0], 'int8'), 29);
    await w.write(name, nz.cpu().data);
    opts.onBytes?.(((c1 - c0) / n) * share);
  }
}

/** int32 (n, k/8) int4 words, streamed from the source rows (never held whole). */
async function writeInt4(w: SafetensorsWriter, io: LayerIo, name: string, opts: LayerWriteOptions): Promise<void> {
  const k = io.plan.k;
  const rowsPer = Math.max(1, Math.floor(opts.chunkBytes / k));
  const out = opts.scratch.int32('int4', rowsPer * (k / 8));
  const input = opts.scratch.bytes('int4-in', rowsPer * k);
  for (const part of io.plan.parts) {
    const ref = io.ref(part, 'weight');
    let row = 0;
    await io.source.stream(
      ref,
      input,
      async (bytes) => {
        const rows = bytes.length / k;
        const src = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const dst = out.subarray(0, rows * (k / 8));
        try {
          packInt4Rows(src, k, dst);
        } catch (e) {
          if (e instanceof RuleError) io.fail(ref, e.message.replace(/at \((\d+), /, (_m, r: string) => `at (${Number(r) + row}, `), e);
          throw e;
        }
        await w.write(name, dst);
        row += rows;
        opts.onBytes?.(bytes.length);
      },
      opts.signal,
    );
  }
}

/** Writes every output tensor of the layer into `w` (which declared layerOutputs(plan)). */
export async function writeLayer(plan: LayerPlan, source: ModelSource, w: SafetensorsWriter, opts: LayerWriteOptions): Promise<void> {
  const io = new LayerIo(plan, source);
  const small = await readSmallTensors(plan, source, opts);
  for (const [role, arr] of small.arrays) await w.write(outName(plan, role), arr);
  checkAborted(opts.signal);
  if (plan.quantType === 'W4A4_DYNAMIC') {
    await writeInt4(w, io, outName(plan, 'weight'), opts);
    return;
  }
  const weights = await readWeights(plan, source, opts.scratch);
  const bytes = plan.k * plan.n;
  await writeNd(w, outName(plan, 'weight'), weights, plan.n, opts, opts.nz ? bytes / 2 : bytes);
  if (opts.nz) await writeNz(w, outName(plan, 'weight_nz'), weights, plan.n, opts, bytes / 2);
}
