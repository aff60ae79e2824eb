/**
 * The JSON side of an msModelSlim export (docs/semantics.md §10.1.1–§10.1.2, §10.5 Inputs):
 * `quant_model_description.json` (tensor name → quant type) and `config.json`
 * (`torch_dtype`, the params_dtype that decides the deq_scale encoding).
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseStrictJson, type JsonValue } from '../safetensors/header';
import { jsonFileError, modelFileError } from './errors';

export const DESCRIPTION_FILE = 'quant_model_description.json';
export const CONFIG_FILE = 'config.json';

/** Keys of the description object that do not name tensors (docs/semantics.md §10.1.2). */
export const NON_TENSOR_KEYS: ReadonlySet<string> = new Set([
  'model_quant_type',
  'version',
  'metadata',
  'group_size',
  'optional',
  'kv_cache_type',
  'kv_quant_type',
  'fa_quant_type',
  'reduce_quant_type',
]);

export interface QuantDescription {
  /** Absolute path of the file read. */
  readonly file: string;
  /** True for a legacy `quant_model_description_<type>.json` name (vllm-ascend wants the plain name). */
  readonly legacyName: boolean;
  readonly modelQuantType: string | undefined;
  readonly version: string | undefined;
  /** Tensor name → quant type tag ("W8A8", "FLOAT", …), in file order. */
  readonly tags: ReadonlyMap<string, string>;
}

/** The model's float dtype, as config.json names it. */
export type ParamsDtype = 'float16' | 'bfloat16' | 'float32';

export interface ModelConfig {
  readonly file: string | undefined;
  /** undefined when config.json is absent or names no dtype. */
  readonly paramsDtype: ParamsDtype | undefined;
  /** Where the dtype was found, e.g. "torch_dtype" or "text_config.torch_dtype". */
  readonly dtypeKey: string | undefined;
}

async function readJson(file: string): Promise<JsonValue> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await fs.promises.readFile(file));
  } catch (e) {
    throw modelFileError(file, `cannot be read as UTF-8 text: ${(e as Error).message}`, undefined, e);
  }
  try {
    return parseStrictJson(text, file, path.basename(file));
  } catch (e) {
    throw jsonFileError(file, e);
  }
}

/** Finds the description: the plain name, else exactly one legacy `quant_model_description_*.json`. */
export async function findDescriptionFile(modelDir: string): Promise<{ file: string; legacyName: boolean }> {
  const plain = path.join(modelDir, DESCRIPTION_FILE);
  if (fs.existsSync(plain)) return { file: plain, legacyName: false };
  let names: string[];
  try {
    names = await fs.promises.readdir(modelDir);
  } catch (e) {
    throw modelFileError(modelDir, `cannot list the model directory: ${(e as Error).message}`, undefined, e);
  }
  const legacy = names.filter((n) => /^quant_model_description_.+\.json$/.test(n)).sort();
  if (legacy.length === 1) return { file: path.join(modelDir, legacy[0]), legacyName: true };
  const detail = legacy.length === 0 ? `no ${DESCRIPTION_FILE} (nor a legacy quant_model_description_<type>.json)` : `no ${DESCRIPTION_FILE} and several legacy descriptions: ${legacy.join(', ')}`;
  throw modelFileError(modelDir, `${detail}; this does not look like an msModelSlim export`);
}

/** Parses the description. Non-string values and the non-tensor keys are skipped (docs/semantics.md §10.1.2). */
export async function readDescription(modelDir: string): Promise<QuantDescription> {
  const { file, legacyName } = await findDescriptionFile(modelDir);
  const root = await readJson(file);
  if (root.type !== 'object') throw modelFileError(file, 'must be a JSON object mapping tensor names to quant types');
  const tags = new Map<string, string>();
  let modelQuantType: string | undefined;
  let version: string | undefined;
  for (const [key, v] of root.entries) {
    if (key === 'model_quant_type' && v.type === 'string') modelQuantType = v.value;
    if (key === 'version' && v.type === 'string') version = v.value;
    if (NON_TENSOR_KEYS.has(key) || key.endsWith('.quant_type') || v.type !== 'string') continue;
    tags.set(key, v.value);
  }
  if (tags.size === 0) throw modelFileError(file, 'lists no tensors (no "name": "TYPE" entries)');
  return { file, legacyName, modelQuantType, version, tags };
}

const DTYPE_ALIASES: Readonly<Record<string, ParamsDtype>> = {
  float16: 'float16',
  half: 'float16',
  fp16: 'float16',
  bfloat16: 'bfloat16',
  bf16: 'bfloat16',
  float32: 'float32',
  float: 'float32',
  fp32: 'float32',
};

function dtypeFrom(obj: JsonValue | undefined, prefix: string, file: string): { dtype: ParamsDtype; key: string } | undefined {
  if (obj === undefined || obj.type !== 'object') return undefined;
  for (const key of ['torch_dtype', 'dtype']) {
    const v = obj.entries.get(key);
    if (v === undefined || v.type === 'null') continue;
    if (v.type !== 'string') throw modelFileError(file, `${prefix}${key} must be a string, got a JSON ${v.type}`);
    const name = v.value.replace(/^torch\./, '');
    const dtype = DTYPE_ALIASES[name];
    if (dtype === undefined) throw modelFileError(file, `${prefix}${key} ${JSON.stringify(v.value)} is not float16, bfloat16 or float32`);
    return { dtype, key: `${prefix}${key}` };
  }
  return undefined;
}

/** Reads `torch_dtype` (or `dtype`) from config.json, at the top level or under `text_config`. */
export async function readModelConfig(modelDir: string): Promise<ModelConfig> {
  const file = path.join(modelDir, CONFIG_FILE);
  if (!fs.existsSync(file)) return { file: undefined, paramsDtype: undefined, dtypeKey: undefined };
  const root = await readJson(file);
  if (root.type !== 'object') throw modelFileError(file, 'must be a JSON object');
  const found = dtypeFrom(root, '', file) ?? dtypeFrom(root.entries.get('text_config'), 'text_config.', file);
  return { file, paramsDtype: found?.dtype, dtypeKey: found?.key };
}
