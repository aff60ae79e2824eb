/**
 * quantizeModel: a float safetensors checkpoint → an msModelSlim-style
 * W8A8_DYNAMIC export (docs/semantics.md §10.1.1, §10.1.2, §10.1.4) that `qmm prepare`,
 * QuantLinear and vllm-ascend load unchanged. Tensors are streamed in chunks of
 * rows; shards are written atomically, quant_model_description.json last, and
 * the directory appears only when everything succeeded (output_dir.ts).
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { invalidArgType, invalidArgValue, outOfRange } from '../../arg_errors';
import { describe as describeValue } from '../../errors';
import { SafetensorsWriter } from '../../safetensors';
import { CONFIG_FILE, DESCRIPTION_FILE, readModelConfig, type ParamsDtype } from '../description';
import { modelFileError } from '../errors';
import { checkDirArguments, existingModelDir, OptionReader, type ModelJobOptions } from '../job_options';
import { StagedDir } from '../output_dir';
import { PhaseProgress } from '../phase_progress';
import { Scratch } from '../scratch';
import { shardIndexJson } from '../shard_layout';
import { ModelSource } from '../source';
import { KernelPool, SharedScratch } from './kernel_pool';
import { copyModelFiles, type SkippedFile } from './model_files';
import { outputBytes, packShards, planQuantize, weightsFileName, WEIGHTS_INDEX_FILE, type FloatUnit, type QuantUnit, type Unit } from './plan';
import { LINEAR_MODULES, QUANTIZE_RULE, TensorRule, type KeepReason } from './rule';
import { checkAborted, writeFloatUnit, writeQuantUnit, type StreamOptions } from './stream';

export type QuantizeScheme = 'w8a8-dynamic';
export const QUANTIZE_SCHEMES: readonly QuantizeScheme[] = ['w8a8-dynamic'];

/** The weight rule of w8a8-dynamic, as --json states it (per_channel.ts). */
export const W8A8_DYNAMIC_WEIGHT_RULE =
  'per output channel (row of the (n, k) weight), symmetric: scale = f32(max|w_row| / 127) computed from the exact input values ' +
  '(1 when that is 0, e.g. an all-zero row), q = clamp(rne(f32(w / scale)), -128, 127), rne = round half to even; ' +
  'written as .weight I8 (n, k), .weight_scale F32 (n, 1), .weight_offset F32 (n, 1) zeros, .bias F32 (n,)';

export interface QuantizeProgress {
  /** scan: headers read; copy: non-weight files copied; quantize: tensors written (bytes of input). */
  readonly phase: 'scan' | 'copy' | 'quantize' | 'done';
  readonly done: number;
  readonly total: number;
  readonly item?: string;
}

export interface QuantizeOptions {
  /** Only 'w8a8-dynamic' (the default). */
  scheme?: QuantizeScheme;
  /** Globs of tensor or module names to keep float (`*` any run of characters, `?` one). */
  skip?: readonly string[];
  /** Replace an existing output directory (default false: it is an error). */
  overwrite?: boolean;
  /** Output shard size limit in bytes (default 4 GiB, as msModelSlim). */
  shardBytes?: number;
  /** Bytes of input read per chunk (default 8 MiB; at least one row). */
  chunkBytes?: number;
  /** Threads that quantize, the calling one included (default: the available cores, at most 4); the bytes do not depend on it. */
  threads?: number;
  onProgress?: (p: QuantizeProgress) => void;
  signal?: AbortSignal;
}

export interface QuantizedLayerInfo {
  /** The module name, e.g. "model.layers.0.mlp.down_proj". */
  readonly name: string;
  readonly n: number;
  readonly k: number;
  /** The input weight's dtype. */
  readonly sourceDtype: string;
  readonly bias: boolean;
  readonly file: string;
}

export interface FloatTensorInfo {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly reason: KeepReason;
  /** The --skip glob that matched. */
  readonly skip?: string;
  readonly file: string;
}

export interface QuantizeResult {
  readonly scheme: QuantizeScheme;
  readonly modelQuantType: 'W8A8_DYNAMIC';
  readonly rule: {
    readonly tensors: string;
    readonly linearModules: readonly string[];
    readonly skip: readonly string[];
    /** --skip globs that matched no tensor. */
    readonly unusedSkip: readonly string[];
    readonly weights: string;
  };
  readonly layers: readonly QuantizedLayerInfo[];
  readonly floatTensors: readonly FloatTensorInfo[];
  readonly files: ReadonlyArray<{ readonly file: string; readonly bytes: number; readonly tensors: number }>;
  /** quant_model_weights.safetensors.index.json when there are several shards. */
  readonly index: string | undefined;
  readonly description: string;
  readonly copiedFiles: readonly string[];
  readonly skippedFiles: readonly SkippedFile[];
  /** Keys removed from config.json (msModelSlim removes quantization_config). */
  readonly configRemoved: readonly string[];
  readonly paramsDtype: ParamsDtype | undefined;
  /** Bytes of tensor data read and written. */
  readonly inputBytes: number;
  readonly outputBytes: number;
}

interface Resolved extends ModelJobOptions<QuantizeProgress> {
  scheme: QuantizeScheme;
  skip: string[];
  threads: number;
}

const OPTION_KEYS = ['scheme', 'skip', 'overwrite', 'shardBytes', 'chunkBytes', 'threads', 'onProgress', 'signal'];

function resolveOptions(v: unknown): Resolved {
  const r = new OptionReader(v, OPTION_KEYS);
  const { scheme, skip } = r.o;
  if (scheme !== undefined && !(QUANTIZE_SCHEMES as readonly unknown[]).includes(scheme)) {
    throw invalidArgValue(`options.scheme must be one of ${QUANTIZE_SCHEMES.map((s) => `'${s}'`).join(', ')}, got ${describeValue(scheme)}`);
  }
  if (skip !== undefined && (!Array.isArray(skip) || skip.some((g) => typeof g !== 'string' || g === ''))) {
    throw invalidArgType(`options.skip must be an array of non-empty glob strings, got ${describeValue(skip)}`);
  }
  const overwrite = r.bool('overwrite', false);
  const { onProgress, signal } = r.callbacks<QuantizeProgress>();
  return {
    scheme: (scheme as QuantizeScheme | undefined) ?? 'w8a8-dynamic',
    skip: [...((skip as string[] | undefined) ?? [])],
    overwrite,
    shardBytes: r.bytes('shardBytes', 4 * 2 ** 30, 1),
    chunkBytes: r.bytes('chunkBytes', 8 * 2 ** 20, 1),
    threads: threadCount(r.o.threads),
    onProgress,
    signal,
  };
}

function threadCount(v: unknown): number {
  if (v === undefined) return Math.min(4, os.availableParallelism());
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalidArgType(`options.threads must be an integer, got ${describeValue(v)}`);
  if (v < 1 || v > 64) throw outOfRange(`options.threads must be in [1, 64], got ${v}`);
  return v;
}

/** config.json as written to the output: unchanged, or without quantization_config (as msModelSlim). */
async function outputConfig(file: string): Promise<{ text: string | undefined; removed: string[] }> {
  const raw = await fs.promises.readFile(file, 'utf8');
  const obj = JSON.parse(raw) as Record<string, unknown>; // readModelConfig checked it strictly
  if (!Object.prototype.hasOwnProperty.call(obj, 'quantization_config')) return { text: undefined, removed: [] };
  delete obj.quantization_config;
  return { text: `${JSON.stringify(obj, null, 2)}\n`, removed: ['quantization_config'] };
}

function description(units: readonly Unit[]): string {
  const tags = new Map<string, string>();
  for (const u of units) for (const s of u.specs) tags.set(s.name, s.tag);
  const entries = [...tags.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const obj: Record<string, string> = { model_quant_type: 'W8A8_DYNAMIC', version: '1.0.0' };
  for (const [name, tag] of entries) obj[name] = tag;
  return `${JSON.stringify(obj, null, 2)}\n`;
}

function indexJson(shards: readonly Unit[][]): string {
  const fileOf = shards.flatMap((units, i) => units.flatMap((u) => u.specs.map((s) => [s.name, weightsFileName(i, shards.length)] as const)));
  return shardIndexJson(fileOf, shards.flat().reduce((a, u) => a + outputBytes(u), 0));
}

async function checkInput(inDir: string): Promise<void> {
  const names = await fs.promises.readdir(inDir).catch((e: Error) => {
    throw modelFileError(inDir, `cannot list the model directory: ${e.message}`, undefined, e);
  });
  const desc = names.find((n) => n === DESCRIPTION_FILE || /^quant_model_description_.+\.json$/.test(n));
  if (desc !== undefined) {
    throw modelFileError(path.join(inDir, desc), 'the model is already quantized (an msModelSlim export); run `qmm prepare` on it instead');
  }
}

/**
 * Quantizes the float checkpoint in `modelDir` (config.json, *.safetensors [+
 * index], BF16/F16/F32 tensors) into `outDir`, written as msModelSlim writes
 * W8A8_DYNAMIC: the linear layers chosen by the rule of rule.ts as int8 with
 * per-channel float32 scales (per_channel.ts), every other tensor unchanged,
 * quant_model_description.json, config.json and the other non-weight files.
 * Bad inputs throw ERR_QMM_FILE naming file and tensor, and leave no output.
 */
export async function quantizeModel(modelDir: string, outDir: string, options?: QuantizeOptions): Promise<QuantizeResult> {
  checkDirArguments(modelDir, outDir);
  const o = resolveOptions(options);
  const inDir = await existingModelDir(modelDir, outDir);
  await checkInput(inDir);
  const config = await readModelConfig(inDir);
  if (config.file === undefined) throw modelFileError(path.join(inDir, CONFIG_FILE), 'is missing; a float checkpoint has one (vllm-ascend and qmm prepare read torch_dtype from it)');
  const configOut = await outputConfig(config.file);

  const source = await ModelSource.open(inDir);
  let staged: StagedDir | undefined;
  let pool: KernelPool | undefined;
  try {
    const rule = new TensorRule(o.skip);
    const units = planQuantize(source, rule);
    const quantUnits = units.filter((u): u is QuantUnit => u.kind === 'quant');
    if (quantUnits.length === 0) {
      throw modelFileError(inDir, `no tensor matches the quantization rule (${QUANTIZE_RULE})${o.skip.length ? `; --skip: ${o.skip.join(', ')}` : ''}`);
    }
    o.onProgress?.({ phase: 'scan', done: units.length, total: units.length });

    staged = await StagedDir.create(outDir, o.overwrite);
    const copied = await copyModelFiles(inDir, staged, { config: configOut.text, signal: o.signal, onFile: (f) => o.onProgress?.({ phase: 'copy', done: 0, total: 0, item: f }) });

    const shards = packShards(units, o.shardBytes);
    const inputBytes = units.reduce((a, u) => a + u.inputBytes, 0);
    const progress = new PhaseProgress(o.onProgress, 'quantize', inputBytes);
    const scratch = new Scratch();
    const shared = new SharedScratch();
    pool = new KernelPool(o.threads);
    const files: Array<{ file: string; bytes: number; tensors: number }> = [];
    const fileOf = new Map<Unit, string>();
    for (let i = 0; i < shards.length; i++) {
      const file = weightsFileName(i, shards.length);
      const specs = shards[i].flatMap((u) => u.specs.map((s) => ({ name: s.name, dtype: s.dtype, shape: s.shape })));
      const w = await SafetensorsWriter.create(staged.file(file), specs, undefined, o.signal ? { signal: o.signal } : {});
      try {
        for (const u of shards[i]) {
          checkAborted(o.signal);
          const label = u.kind === 'quant' ? u.prefix : u.ref.name;
          const so: StreamOptions = { chunkBytes: o.chunkBytes, scratch, shared, pool: pool as KernelPool, signal: o.signal, onBytes: (n) => progress.add(n, label) };
          if (u.kind === 'quant') await writeQuantUnit(u, source, w, so);
          else await writeFloatUnit(u, source, w, so);
          fileOf.set(u, file);
        }
        await w.commit();
      } catch (e) {
        await w.abort().catch(() => undefined);
        throw e;
      }
      files.push({ file, bytes: (await fs.promises.stat(staged.file(file))).size, tensors: specs.length });
    }
    if (shards.length > 1) await staged.writeFile(WEIGHTS_INDEX_FILE, indexJson(shards));
    await source.checkUnchanged();
    checkAborted(o.signal);
    // last: a directory with a description is a complete export
    await staged.writeFile(DESCRIPTION_FILE, description(units));
    await staged.commit();
    o.onProgress?.({ phase: 'done', done: 1, total: 1 });

    return {
      scheme: o.scheme,
      modelQuantType: 'W8A8_DYNAMIC',
      rule: { tensors: QUANTIZE_RULE, linearModules: LINEAR_MODULES, skip: o.skip, unusedSkip: rule.unusedGlobs(), weights: W8A8_DYNAMIC_WEIGHT_RULE },
      layers: quantUnits.map((u) => ({ name: u.prefix, n: u.n, k: u.k, sourceDtype: u.dtype, bias: u.bias !== undefined, file: fileOf.get(u) as string })),
      floatTensors: units
        .filter((u): u is FloatUnit => u.kind === 'float')
        .map((u) => ({ name: u.ref.name, dtype: u.ref.info.dtype, shape: [...u.ref.info.shape], reason: u.reason, ...(u.skip !== undefined ? { skip: u.skip } : {}), file: fileOf.get(u) as string })),
      files,
      index: shards.length > 1 ? WEIGHTS_INDEX_FILE : undefined,
      description: DESCRIPTION_FILE,
      copiedFiles: copied.copied,
      skippedFiles: copied.skipped,
      configRemoved: configOut.removed,
      paramsDtype: config.paramsDtype,
      inputBytes,
      outputBytes: files.reduce((a, f) => a + f.bytes, 0),
    };
  } catch (e) {
    await staged?.discard();
    throw e;
  } finally {
    await pool?.close();
    await source.close().catch(() => undefined);
  }
}
