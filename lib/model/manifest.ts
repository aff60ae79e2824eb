/**
 * `qmm-manifest.json`: what `prepareModel` wrote and how to load it (docs/semantics.md
 * §10.5 Output): per layer the quant type, logical (k, n), every tensor's file,
 * name, dtype, format (ND = 2, FRACTAL_NZ = 29) and storage dims, the fused
 * split points and dtypes; per input shard its sha256. Written last, so a
 * directory with a manifest is complete.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSafetensorsDtype, type SafetensorsDtype } from '../safetensors/header';
import type { ParamsDtype } from './description';
import { modelFileError } from './errors';
import { QUANT_TYPES, type QuantType } from './layers';
import type { ShardFingerprint } from './source';

export const MANIFEST_FILE = 'qmm-manifest.json';
export const MANIFEST_FORMAT = 'ascend-quant-matmul/prepared-model';
export const MANIFEST_VERSION = 1;

/** The activation / output dtype of a prepared model. */
export type ModelOutputDtype = 'float16' | 'bfloat16';

export type TensorRole = 'weight' | 'weight_nz' | 'deq_scale' | 'quant_bias' | 'act_scale_recip' | 'act_offset' | 'weight_scale' | 'bias';
export const TENSOR_ROLES: readonly TensorRole[] = ['weight', 'weight_nz', 'deq_scale', 'quant_bias', 'act_scale_recip', 'act_offset', 'weight_scale', 'bias'];

/**
 * ND_KN: int8 (k, n) row-major. NZ_KN: FRACTAL_NZ storage of that (k, n) matrix.
 * INT4PACK_NK: int32 (n, k/8), 8 int4 per word LSB first (use its .t()). VECTOR_N: (n,). SCALAR: (1,).
 */
export type TensorLayout = 'ND_KN' | 'NZ_KN' | 'INT4PACK_NK' | 'VECTOR_N' | 'SCALAR';

export interface ManifestTensor {
  readonly file: string;
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  /** The shape in the safetensors header (= the storage dims). */
  readonly shape: readonly number[];
  /** aclFormat: ND = 2, FRACTAL_NZ = 29. */
  readonly format: 2 | 29;
  /** The logical shape the tensor stands for ((k, n) for both weight forms). */
  readonly logicalShape: readonly number[];
  readonly storageShape: readonly number[];
  readonly layout: TensorLayout;
  /** deq_scale only: 'fp32bits_i64' (low word = fp32 bits) or 'float32'. */
  readonly encoding?: 'fp32bits_i64' | 'float32';
}

export interface ManifestPart {
  /** Source prefix, e.g. "model.layers.0.self_attn.k_proj". */
  readonly source: string;
  /** First output column of this part. */
  readonly start: number;
  readonly n: number;
}

export interface ManifestLayer {
  readonly name: string;
  readonly quantType: QuantType;
  readonly k: number;
  readonly n: number;
  readonly paramsDtype: ParamsDtype | null;
  readonly outputDtype: ModelOutputDtype;
  readonly parts: readonly ManifestPart[];
  /** Column boundaries of the parts: [0, n_q, n_q + n_k, n]. */
  readonly splits: readonly number[];
  readonly tensors: Readonly<Partial<Record<TensorRole, ManifestTensor>>>;
  /** Source tensors not carried over, with the reason. */
  readonly dropped: readonly string[];
}

export interface ManifestFloatTensor {
  readonly name: string;
  readonly file: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** The description's tag, or null for a tensor it does not list. */
  readonly tag: string | null;
}

export interface ManifestFile {
  readonly file: string;
  readonly bytes: number;
  readonly tensors: number;
}

export interface PreparedManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly version: typeof MANIFEST_VERSION;
  readonly producer: { readonly name: string; readonly version: string };
  readonly createdAt: string;
  readonly options: { readonly nz: boolean; readonly fuse: boolean; readonly outputDtype: ModelOutputDtype };
  readonly paramsDtype: ParamsDtype | null;
  readonly outputDtype: ModelOutputDtype;
  readonly source: {
    readonly description: string;
    readonly legacyDescriptionName: boolean;
    readonly config: string | null;
    readonly dtypeKey: string | null;
    readonly modelQuantType: string | null;
    readonly index: string | null;
    readonly shards: readonly ShardFingerprint[];
  };
  readonly files: readonly ManifestFile[];
  readonly layers: readonly ManifestLayer[];
  readonly floatTensors: readonly ManifestFloatTensor[];
  readonly summary: {
    readonly layers: number;
    readonly byQuantType: Readonly<Record<string, number>>;
    readonly floatTensors: number;
    readonly inputBytes: number;
    readonly outputBytes: number;
  };
}

// ------------------------------------------------------------------ reading

class ManifestChecker {
  constructor(private readonly file: string) {}

  fail(where: string, rule: string): never {
    throw modelFileError(this.file, `${where}: ${rule}`);
  }

  object(v: unknown, where: string): Record<string, unknown> {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(where, 'must be an object');
    return v as Record<string, unknown>;
  }

  array(v: unknown, where: string): unknown[] {
    if (!Array.isArray(v)) this.fail(where, 'must be an array');
    return v;
  }

  string(v: unknown, where: string): string {
    if (typeof v !== 'string' || v === '') this.fail(where, 'must be a non-empty string');
    return v;
  }

  count(v: unknown, where: string): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(where, `must be a non-negative integer, got ${JSON.stringify(v)}`);
    return v;
  }

  dims(v: unknown, where: string): number[] {
    return this.array(v, where).map((d, i) => this.count(d, `${where}[${i}]`));
  }

  plainFile(v: unknown, where: string): string {
    const f = this.string(v, where);
    if (f === '.' || f === '..' || /[/\\\0]/.test(f)) this.fail(where, `${JSON.stringify(f)} is not a plain file name`);
    return f;
  }

  tensor(v: unknown, where: string): ManifestTensor {
    const o = this.object(v, where);
    if (!isSafetensorsDtype(o.dtype)) this.fail(`${where}.dtype`, `must be a safetensors dtype, got ${JSON.stringify(o.dtype)}`);
    if (o.format !== 2 && o.format !== 29) this.fail(`${where}.format`, `must be 2 (ND) or 29 (FRACTAL_NZ), got ${JSON.stringify(o.format)}`);
    const layouts: readonly string[] = ['ND_KN', 'NZ_KN', 'INT4PACK_NK', 'VECTOR_N', 'SCALAR'];
    if (typeof o.layout !== 'string' || !layouts.includes(o.layout)) this.fail(`${where}.layout`, `must be one of ${layouts.join(', ')}`);
    return {
      file: this.plainFile(o.file, `${where}.file`),
      name: this.string(o.name, `${where}.name`),
      dtype: o.dtype,
      shape: this.dims(o.shape, `${where}.shape`),
      format: o.format,
      logicalShape: this.dims(o.logicalShape, `${where}.logicalShape`),
      storageShape: this.dims(o.storageShape, `${where}.storageShape`),
      layout: o.layout as TensorLayout,
      ...(o.encoding === 'fp32bits_i64' || o.encoding === 'float32' ? { encoding: o.encoding } : {}),
    };
  }

  layer(v: unknown, where: string): ManifestLayer {
    const o = this.object(v, where);
    if (typeof o.quantType !== 'string' || !(QUANT_TYPES as readonly string[]).includes(o.quantType)) {
      this.fail(`${where}.quantType`, `must be one of ${QUANT_TYPES.join(', ')}, got ${JSON.stringify(o.quantType)}`);
    }
    if (o.outputDtype !== 'float16' && o.outputDtype !== 'bfloat16') this.fail(`${where}.outputDtype`, 'must be float16 or bfloat16');
    const t = this.object(o.tensors, `${where}.tensors`);
    const tensors: Partial<Record<TensorRole, ManifestTensor>> = {};
    for (const [role, tv] of Object.entries(t)) {
      if (!(TENSOR_ROLES as readonly string[]).includes(role)) this.fail(`${where}.tensors.${role}`, `is not a known role (${TENSOR_ROLES.join(', ')})`);
      tensors[role as TensorRole] = this.tensor(tv, `${where}.tensors.${role}`);
    }
    if (tensors.weight === undefined) this.fail(`${where}.tensors`, 'has no weight');
    return {
      name: this.string(o.name, `${where}.name`),
      quantType: o.quantType as QuantType,
      k: this.count(o.k, `${where}.k`),
      n: this.count(o.n, `${where}.n`),
      paramsDtype: o.paramsDtype === 'float16' || o.paramsDtype === 'bfloat16' || o.paramsDtype === 'float32' ? o.paramsDtype : null,
      outputDtype: o.outputDtype,
      parts: this.array(o.parts, `${where}.parts`).map((p, i) => {
        const po = this.object(p, `${where}.parts[${i}]`);
        return { source: this.string(po.source, `${where}.parts[${i}].source`), start: this.count(po.start, `${where}.parts[${i}].start`), n: this.count(po.n, `${where}.parts[${i}].n`) };
      }),
      splits: this.dims(o.splits, `${where}.splits`),
      tensors,
      dropped: this.array(o.dropped ?? [], `${where}.dropped`).map((d, i) => this.string(d, `${where}.dropped[${i}]`)),
    };
  }
}

/** Reads and checks `<dir>/qmm-manifest.json` (ERR_QMM_FILE naming the field on any problem). */
export async function readManifest(dir: string): Promise<PreparedManifest> {
  const file = path.join(dir, MANIFEST_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.promises.readFile(file, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? `no ${MANIFEST_FILE}: not a directory written by prepareModel (or an interrupted one)` : `cannot be read: ${(e as Error).message}`;
    throw modelFileError((e as NodeJS.ErrnoException).code === 'ENOENT' ? dir : file, why, undefined, e);
  }
  const c: ManifestChecker = new ManifestChecker(file);
  const o = c.object(raw, 'manifest');
  if (o.format !== MANIFEST_FORMAT) c.fail('format', `must be ${JSON.stringify(MANIFEST_FORMAT)}, got ${JSON.stringify(o.format)}`);
  if (o.version !== MANIFEST_VERSION) c.fail('version', `${JSON.stringify(o.version)} is not supported (this package reads version ${MANIFEST_VERSION})`);
  const layers = c.array(o.layers, 'layers').map((l, i) => c.layer(l, `layers[${i}]`));
  const floatTensors = c.array(o.floatTensors, 'floatTensors').map((f, i) => {
    const fo = c.object(f, `floatTensors[${i}]`);
    const dtype = fo.dtype;
    if (!isSafetensorsDtype(dtype)) c.fail(`floatTensors[${i}].dtype`, 'must be a safetensors dtype');
    const entry: ManifestFloatTensor = { name: c.string(fo.name, `floatTensors[${i}].name`), file: c.plainFile(fo.file, `floatTensors[${i}].file`), dtype, shape: c.dims(fo.shape, `floatTensors[${i}].shape`), tag: typeof fo.tag === 'string' ? fo.tag : null };
    return entry;
  });
  return { ...(o as unknown as PreparedManifest), layers, floatTensors };
}
