/**
 * The arguments prepareModel and quantizeModel share: a model directory and a
 * different output directory, and an options object with known keys only,
 * booleans, byte sizes, an onProgress function and an AbortSignal.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { invalidArgType, invalidArgValue, outOfRange } from '../arg_errors';
import { describe as describeValue } from '../errors';
import { modelFileError } from './errors';

/** Throws unless both are non-empty strings (before the options are looked at). */
export function checkDirArguments(modelDir: unknown, outDir: unknown): void {
  if (typeof modelDir !== 'string' || modelDir === '') throw invalidArgType(`modelDir must be a directory path, got ${describeValue(modelDir)}`);
  if (typeof outDir !== 'string' || outDir === '') throw invalidArgType(`outDir must be a directory path, got ${describeValue(outDir)}`);
}

/** The model directory, resolved: it must exist and differ from the output directory (ERR_QMM_FILE). */
export async function existingModelDir(modelDir: string, outDir: string): Promise<string> {
  const inDir = path.resolve(modelDir);
  const st = await fs.promises.stat(inDir).catch(() => undefined);
  if (!st?.isDirectory()) throw modelFileError(inDir, 'the model directory does not exist or is not a directory');
  if (path.resolve(outDir) === inDir) throw modelFileError(inDir, 'the output directory must differ from the model directory');
  return inDir;
}

/** The options both take, resolved. */
export interface ModelJobOptions<Progress> {
  /** Replace an existing output directory. */
  overwrite: boolean;
  shardBytes: number;
  chunkBytes: number;
  onProgress: ((p: Progress) => void) | undefined;
  signal: AbortSignal | undefined;
}

/** An options argument: `undefined` and `null` are `{}`; any key not in `keys` is an error. */
export class OptionReader {
  readonly o: Record<string, unknown>;

  constructor(v: unknown, keys: readonly string[]) {
    if (v === undefined || v === null) v = {};
    if (typeof v !== 'object' || Array.isArray(v)) throw invalidArgType(`options must be an object, got ${describeValue(v)}`);
    this.o = v as Record<string, unknown>;
    for (const k of Object.keys(this.o)) if (!keys.includes(k)) throw invalidArgValue(`options.${k} is not a known option; expected one of ${keys.join(', ')}`);
  }

  bool(k: string, d: boolean): boolean {
    const v = this.o[k];
    if (v === undefined) return d;
    if (typeof v !== 'boolean') throw invalidArgType(`options.${k} must be a boolean, got ${describeValue(v)}`);
    return v;
  }

  /** An integer number of bytes, at least `min`. */
  bytes(k: string, d: number, min: number): number {
    const v = this.o[k];
    if (v === undefined) return d;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalidArgType(`options.${k} must be an integer number of bytes, got ${describeValue(v)}`);
    if (v < min) throw outOfRange(`options.${k} must be at least ${min}, got ${v}`);
    return v;
  }

  /** onProgress (a function) and signal (an AbortSignal), checked in that order. */
  callbacks<P>(): { onProgress: ((p: P) => void) | undefined; signal: AbortSignal | undefined } {
    const { onProgress, signal } = this.o;
    if (onProgress !== undefined && typeof onProgress !== 'function') throw invalidArgType(`options.onProgress must be a function, got ${describeValue(onProgress)}`);
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgType(`options.signal must be an AbortSignal, got ${describeValue(signal)}`);
    return { onProgress: onProgress as ((p: P) => void) | undefined, signal };
  }
}
