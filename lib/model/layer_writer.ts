/**
 * One layer of prepare (docs/semantics.md §10.5, per quant type): the output tensors it
 * declares and their streaming write (small tensors from layer_params.ts; the
 * weight as transposed (k, n) ND, FRACTAL_NZ slabs, or int4-packed int32).
 * The source weight comes read ahead (WeightPrefetch); chunks are converted
 * into WriteRing buffers and their writes are not awaited, so writing
 * overlaps converting.
 */

import { abortError } from '../errors';
import { nzStorageShape } from '../nz';
import type { SafetensorsWriter } from '../safetensors';
import type { SafetensorsDtype } from '../safetensors/header';
import { INT8_C0, nzColumns, packInt4Rows, RuleError, transposedRows, type StackedInt8 } from './convert';
import { biasDtype, LayerIo, readSmallTensors } from './layer_params';
import type { LayerPlan } from './layers';
import type { ManifestTensor, ModelOutputDtype, TensorRole } from './manifest';
import type { Scratch } from './scratch';
import type { ShardHasher } from './shard_hasher';
import type { ModelSource } from './source';
import type { WeightPrefetch } from './weight_prefetch';
import type { WriteRing } from './write_ring';

export interface LayerWriteOptions {
  /** Also write the FRACTAL_NZ weight. */
  nz: boolean;
  outputDtype: ModelOutputDtype;
  /** Working buffer size for transposes and NZ slabs. */
  chunkBytes: number;
  /** Reused buffers (int4 input rows). */
  scratch: Scratch;
  /** Output chunk buffers whose writes may still be in flight. */
  ring: WriteRing;
  /** The source weights, read ahead and hashed (W8A8, W8A8_DYNAMIC). */
  weights: WeightPrefetch;
  /** Hashes the source rows streamed here (W4A4_DYNAMIC). */
  hasher: ShardHasher;
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

function int8(b: Uint8Array): Int8Array {
  return new Int8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** (k, n) row-major, written in chunks of whole rows. */
async function writeNd(w: SafetensorsWriter, name: string, s: StackedInt8, n: number, opts: LayerWriteOptions, share: number): Promise<void> {
  const rowsPer = Math.max(1, Math.floor(opts.chunkBytes / n));
  for (let j0 = 0; j0 < s.k; j0 += rowsPer) {
    checkAborted(opts.signal);
    const j1 = Math.min(j0 + rowsPer, s.k);
    const view = int8(await opts.ring.buffer((j1 - j0) * n));
    transposedRows(s, j0, j1, view);
    opts.ring.submit(w.write(name, view));
    opts.onBytes?.(((j1 - j0) / s.k) * share);
  }
}

/**
 * FRACTAL_NZ storage (ceil(n/32), ceil(k/16), 16, 32) of the (k, n) matrix. A
 * slab of 32·B columns is a contiguous run of that storage, written as it is made.
 */
async function writeNz(w: SafetensorsWriter, name: string, s: StackedInt8, n: number, opts: LayerWriteOptions, share: number): Promise<void> {
  const tile = INT8_C0 * Math.ceil(s.k / 16) * 16;
  const width = INT8_C0 * Math.max(1, Math.floor(opts.chunkBytes / tile));
  for (let c0 = 0; c0 < n; c0 += width) {
    checkAborted(opts.signal);
    const c1 = Math.min(c0 + width, n);
    const view = int8(await opts.ring.buffer(Math.ceil((c1 - c0) / INT8_C0) * tile));
    nzColumns(s, c0, c1, view);
    opts.ring.submit(w.write(name, view));
    opts.onBytes?.(((c1 - c0) / n) * share);
  }
}

/** int32 (n, k/8) int4 words, streamed from the source rows (never held whole). */
async function writeInt4(w: SafetensorsWriter, io: LayerIo, name: string, opts: LayerWriteOptions): Promise<void> {
  const k = io.plan.k;
  const rowsPer = Math.max(1, Math.floor(opts.chunkBytes / k));
  const input = opts.scratch.bytes('int4-in', rowsPer * k);
  for (const part of io.plan.parts) {
    const ref = io.ref(part, 'weight');
    let row = 0;
    await io.source.stream(
      ref,
      input,
      async (bytes) => {
        await opts.hasher.add(ref.shard, ref.info.byteOffset + row * k, bytes);
        const rows = bytes.length / k;
        const src = new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const out = await opts.ring.buffer(rows * (k / 8) * 4);
        const dst = new Int32Array(out.buffer, out.byteOffset, rows * (k / 8));
        try {
          packInt4Rows(src, k, dst);
        } catch (e) {
          opts.ring.submit(Promise.resolve());
          if (e instanceof RuleError) io.fail(ref, e.message.replace(/at \((\d+), /, (_m, r: string) => `at (${Number(r) + row}, `), e);
          throw e;
        }
        opts.ring.submit(w.write(name, dst));
        row += rows;
        opts.onBytes?.(bytes.length);
      },
      opts.signal,
    );
  }
}

/**
 * Writes every output tensor of the layer into `w` (which declared
 * layerOutputs(plan)); its writes may still be running when this resolves
 * (opts.ring.drain() waits for them).
 */
export async function writeLayer(plan: LayerPlan, source: ModelSource, w: SafetensorsWriter, opts: LayerWriteOptions): Promise<void> {
  const io = new LayerIo(plan, source);
  const small = await readSmallTensors(plan, source, opts);
  for (const [role, arr] of small.arrays) opts.ring.track(w.write(outName(plan, role), arr));
  checkAborted(opts.signal);
  if (plan.quantType === 'W4A4_DYNAMIC') {
    await writeInt4(w, io, outName(plan, 'weight'), opts);
    return;
  }
  const weights = await opts.weights.take(plan);
  const bytes = plan.k * plan.n;
  await writeNd(w, outName(plan, 'weight'), weights, plan.n, opts, opts.nz ? bytes / 2 : bytes);
  if (opts.nz) await writeNz(w, outName(plan, 'weight_nz'), weights, plan.n, opts, bytes / 2);
}
