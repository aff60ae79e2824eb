/**
 * prepareModel: an msModelSlim export → a directory the runtime loads with no
 * per-load transposes or casts (docs/semantics.md §10.5). Layers are streamed one at a
 * time, the next layer's weight read while the current one converts and its
 * chunks written while the next ones convert; the input shards are hashed from
 * those same reads. Output shards are written atomically, the manifest last,
 * and the whole directory appears only when everything succeeded.
 */

import { invalidArgValue } from '../arg_errors';
import * as fs from 'node:fs';
import { abortError, describe as describeValue } from '../errors';
import { SafetensorsWriter } from '../safetensors';
import { readDescription, readModelConfig, type ModelConfig } from './description';
import { modelFileError } from './errors';
import { checkDirArguments, existingModelDir, OptionReader, type ModelJobOptions } from './job_options';
import { planModel, type FloatTensorPlan } from './layers';
import { readSmallTensors } from './layer_params';
import { writeLayer } from './layer_writer';
import { MANIFEST_FILE, type ModelOutputDtype, type PreparedManifest } from './manifest';
import { buildManifest, manifestLayer, type Built } from './manifest_build';
import { StagedDir } from './output_dir';
import { fileMetadata, makeUnits, packShards, preparedFileName, type Unit } from './output_plan';
import { PhaseProgress } from './phase_progress';
import { Scratch } from './scratch';
import { ShardHasher } from './shard_hasher';
import { ModelSource } from './source';
import { WeightPrefetch } from './weight_prefetch';
import { WriteRing } from './write_ring';

export interface PrepareProgress {
  /** scan: headers and small tensors checked; convert: layers written (and the inputs hashed on the way). */
  readonly phase: 'scan' | 'convert' | 'done';
  /** Bytes (convert) or layers (scan) done so far. */
  readonly done: number;
  readonly total: number;
  /** The layer or tensor being worked on. */
  readonly item?: string;
}

export interface PrepareOptions {
  /** Also write each int8 weight as FRACTAL_NZ (default true); the ND (k, n) copy is always written. */
  nz?: boolean;
  /** Output / activation dtype; default: config.json torch_dtype (must then be float16 or bfloat16). */
  outputDtype?: ModelOutputDtype;
  /** Fuse q/k/v → qkv_proj and gate/up → gate_up_proj (default false). */
  fuse?: boolean;
  /** Replace an existing output directory (default false: it is an error). */
  overwrite?: boolean;
  /** Output shard size limit in bytes (default 4 GiB, as msModelSlim). */
  shardBytes?: number;
  /** Size of one output chunk (transposed rows, NZ slab, copied bytes; default 4 MiB); four are in flight at most. */
  chunkBytes?: number;
  onProgress?: (p: PrepareProgress) => void;
  signal?: AbortSignal;
}

interface ResolvedOptions extends ModelJobOptions<PrepareProgress> {
  nz: boolean;
  outputDtype: ModelOutputDtype | undefined;
  fuse: boolean;
}

const OPTION_KEYS = ['nz', 'outputDtype', 'fuse', 'overwrite', 'shardBytes', 'chunkBytes', 'onProgress', 'signal'];

function resolveOptions(v: unknown): ResolvedOptions {
  const r = new OptionReader(v, OPTION_KEYS);
  const outputDtype = r.o.outputDtype as ModelOutputDtype | undefined;
  if (outputDtype !== undefined && outputDtype !== 'float16' && outputDtype !== 'bfloat16') {
    throw invalidArgValue(`options.outputDtype must be 'float16' or 'bfloat16', got ${describeValue(outputDtype)}`);
  }
  const { onProgress, signal } = r.callbacks<PrepareProgress>();
  return {
    nz: r.bool('nz', true),
    outputDtype,
    fuse: r.bool('fuse', false),
    overwrite: r.bool('overwrite', false),
    shardBytes: r.bytes('shardBytes', 4 * 2 ** 30, 1),
    chunkBytes: r.bytes('chunkBytes', 4 * 2 ** 20, 1024),
    onProgress,
    signal,
  };
}

function resolveOutputDtype(config: ModelConfig, requested: ModelOutputDtype | undefined): ModelOutputDtype {
  if (requested !== undefined) return requested;
  const where = config.file ?? 'config.json';
  if (config.paramsDtype === undefined) {
    throw modelFileError(where, `${config.file ? 'names no torch_dtype' : 'is missing'}, so the model dtype (which decides the deq_scale encoding) is unknown; pass outputDtype (--output-dtype float16|bfloat16)`);
  }
  if (config.paramsDtype === 'float32') {
    throw modelFileError(where, `${config.dtypeKey} is float32, which npu_quant_matmul cannot output; pass outputDtype (--output-dtype float16|bfloat16)`);
  }
  return config.paramsDtype;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError('prepare was aborted', signal);
}

/** What the shards of one run share: buffers, writes in flight, the read-ahead weights, the input hashes. */
interface Pipeline {
  readonly scratch: Scratch;
  readonly ring: WriteRing;
  readonly weights: WeightPrefetch;
  readonly hasher: ShardHasher;
}

/** A pass-through tensor, chunk by chunk: read, hash, write (not awaited). */
async function copyFloat(w: SafetensorsWriter, f: FloatTensorPlan, source: ModelSource, o: ResolvedOptions, pipe: Pipeline, onBytes: (n: number) => void): Promise<void> {
  const total = f.ref.info.byteLength;
  for (let done = 0; done < total; ) {
    checkAborted(o.signal);
    const buf = await pipe.ring.buffer(Math.min(o.chunkBytes, total - done));
    try {
      await source.readInto(f.ref, buf, done);
      await pipe.hasher.add(f.ref.shard, f.ref.info.byteOffset + done, buf);
    } catch (e) {
      pipe.ring.submit(Promise.resolve());
      throw e;
    }
    pipe.ring.submit(w.write(f.ref.name, buf));
    onBytes(buf.length);
    done += buf.length;
  }
}

async function writeShard(file: string, units: readonly Unit[], source: ModelSource, o: ResolvedOptions, outputDtype: ModelOutputDtype, progress: PhaseProgress<PrepareProgress>, pipe: Pipeline): Promise<void> {
  const specs = units.flatMap((u) => u.specs);
  const w = await SafetensorsWriter.create(file, specs, fileMetadata(units, outputDtype), o.signal ? { signal: o.signal } : {});
  try {
    for (const u of units) {
      checkAborted(o.signal);
      if (u.layer) {
        let reported = 0;
        await writeLayer(u.layer, source, w, {
          nz: o.nz,
          outputDtype,
          chunkBytes: o.chunkBytes,
          scratch: pipe.scratch,
          ring: pipe.ring,
          weights: pipe.weights,
          hasher: pipe.hasher,
          ...(o.signal ? { signal: o.signal } : {}),
          onBytes: (n) => {
            reported += n;
            progress.add(n, u.label);
          },
        });
        progress.add(u.inputBytes - reported, u.label);
      } else {
        await copyFloat(w, u.float as FloatTensorPlan, source, o, pipe, (n) => progress.add(n, u.label));
      }
    }
    await pipe.ring.drain();
    await w.commit();
  } catch (e) {
    await pipe.ring.settle();
    await w.abort().catch(() => undefined);
    throw e;
  }
}

/**
 * Converts the msModelSlim export in `modelDir` (quant_model_description.json,
 * config.json, *.safetensors [+ index]) into `outDir`: per layer the weight as
 * (k, n) int8 ND and FRACTAL_NZ (W8A8, W8A8_DYNAMIC) or int4-packed int32
 * (W4A4_DYNAMIC), deq_scale re-encoded by bits for the output dtype, float32
 * activation and weight scales, float tensors unchanged, and qmm-manifest.json.
 * Inconsistent inputs throw ERR_QMM_FILE and leave no output directory.
 */
export async function prepareModel(modelDir: string, outDir: string, options?: PrepareOptions): Promise<PreparedManifest> {
  checkDirArguments(modelDir, outDir);
  const o = resolveOptions(options);
  const inDir = await existingModelDir(modelDir, outDir);

  const desc = await readDescription(inDir);
  const config = await readModelConfig(inDir);
  const outputDtype = resolveOutputDtype(config, o.outputDtype);
  const source = await ModelSource.open(inDir);
  let staged: StagedDir | undefined;
  try {
    // the output directory is checked (and staged) before any input is read in bulk
    staged = await StagedDir.create(outDir, o.overwrite);
    const plan = planModel(desc, source, { fuse: o.fuse });
    const scan = new PhaseProgress(o.onProgress, 'scan', plan.layers.length);
    for (const l of plan.layers) {
      checkAborted(o.signal);
      await readSmallTensors(l, source, { outputDtype });
      scan.add(1, l.name);
    }
    const units = makeUnits(plan.layers, plan.floats, o.nz, outputDtype);
    const groups = packShards(units, o.shardBytes);
    const convert = new PhaseProgress(o.onProgress, 'convert', units.reduce((a, u) => a + u.inputBytes, 0));
    const built: Built = { files: [], layers: [], floats: [] };
    const scratch = new Scratch();
    const hasher = new ShardHasher(source, o.signal);
    const layers = units.flatMap((u) => (u.layer ? [u.layer] : []));
    const pipe: Pipeline = { scratch, ring: new WriteRing(scratch), weights: new WeightPrefetch(layers, source, scratch, hasher), hasher };
    try {
      for (let i = 0; i < groups.length; i++) {
        const name = preparedFileName(i, groups.length);
        await writeShard(staged.file(name), groups[i], source, o, outputDtype, convert, pipe);
        built.files.push({ file: name, bytes: (await fs.promises.stat(staged.file(name))).size, tensors: groups[i].reduce((a, u) => a + u.specs.length, 0) });
        for (const u of groups[i]) {
          if (u.layer) built.layers.push(manifestLayer(u, name, config.paramsDtype, outputDtype));
          else {
            const f = u.float as FloatTensorPlan;
            built.floats.push({ name: f.ref.name, file: name, dtype: f.ref.info.dtype, shape: [...f.ref.info.shape], tag: f.tag ?? null });
          }
        }
      }
    } finally {
      await pipe.weights.settle();
    }
    const shards = await hasher.finish();
    await source.checkUnchanged();
    checkAborted(o.signal);
    const manifest = buildManifest(desc, config, source, shards, o, outputDtype, built);
    await staged.writeFile(MANIFEST_FILE, `${JSON.stringify(manifest, null, 2)}\n`);
    await staged.commit();
    o.onProgress?.({ phase: 'done', done: 1, total: 1 });
    return manifest;
  } catch (e) {
    await staged?.discard();
    throw e;
  } finally {
    await source.close().catch(() => undefined);
  }
}
