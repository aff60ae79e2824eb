/** ERR_QMM_FILE errors of the model tools: they name the file, the tensor and the rule broken. */

import { QmmError } from '../errors';

/** `file` (and `tensor`): `rule`. */
export function modelFileError(file: string, rule: string, tensor?: string, cause?: unknown): QmmError {
  const where = tensor === undefined ? file : `${file}, tensor ${JSON.stringify(tensor)}`;
  return new QmmError('ERR_QMM_FILE', `${where}: ${rule}`, {
    file,
    ...(tensor === undefined ? {} : { argument: tensor }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A quant type or layout this package does not convert. */
export function modelUnsupported(file: string, rule: string, tensor?: string): QmmError {
  const where = tensor === undefined ? file : `${file}, tensor ${JSON.stringify(tensor)}`;
  return new QmmError('ERR_QMM_UNSUPPORTED', `${where}: ${rule}`, { file, ...(tensor === undefined ? {} : { argument: tensor }) });
}

/** Re-labels a strict-JSON parse error (which speaks of safetensors headers) for another JSON file. */
export function jsonFileError(file: string, e: unknown): QmmError {
  const msg = e instanceof Error ? e.message.replace(/^safetensors \w+: /, '').replace(/ \(file [^)]*\)$/, '') : String(e);
  return modelFileError(file, `invalid JSON: ${msg}`, undefined, e);
}
