/**
 * The non-weight files of a checkpoint (config.json, tokenizer files, chat
 * templates, generation_config.json, custom *.py …) copied into the output,
 * as msModelSlim copies them. Weight files (safetensors, which are quantized,
 * and other formats such as pytorch_model.bin), hidden files and
 * subdirectories are not copied; they are listed with the reason.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_FILE } from '../description';
import { modelFileError } from '../errors';
import type { StagedDir } from '../output_dir';
import { checkAborted } from './stream';

export interface SkippedFile {
  readonly file: string;
  readonly reason: string;
}

const OTHER_WEIGHTS = /\.(bin|pt|pth|ckpt|h5|msgpack|gguf|onnx|npz|safetensors)$|\.index\.json$/;

/** Why a directory entry is not copied, or undefined to copy it. */
function skipReason(name: string, isFile: boolean): string | undefined {
  if (!isFile) return 'not a regular file (directories are not copied)';
  if (name.endsWith('.safetensors') || name.endsWith('.safetensors.index.json')) return 'input weights (quantized into quant_model_weights*.safetensors)';
  if (OTHER_WEIGHTS.test(name)) return 'weights in another format';
  if (name.startsWith('.')) return 'hidden file';
  return undefined;
}

export async function copyModelFiles(
  inDir: string,
  staged: StagedDir,
  o: { config: string | undefined; signal: AbortSignal | undefined; onFile: (name: string) => void },
): Promise<{ copied: string[]; skipped: SkippedFile[] }> {
  const copied: string[] = [];
  const skipped: SkippedFile[] = [];
  for (const name of (await fs.promises.readdir(inDir)).sort()) {
    checkAborted(o.signal);
    const src = path.join(inDir, name);
    const st = await fs.promises.stat(src).catch(() => undefined); // follows symlinks (Hugging Face cache snapshots)
    const why = skipReason(name, st?.isFile() === true);
    if (why !== undefined) {
      if (!(name.endsWith('.safetensors') || name.endsWith('.safetensors.index.json'))) skipped.push({ file: name, reason: why });
      continue;
    }
    o.onFile(name);
    try {
      if (name === CONFIG_FILE && o.config !== undefined) await staged.writeFile(name, o.config);
      else await fs.promises.copyFile(src, staged.file(name));
    } catch (e) {
      throw modelFileError(src, `cannot be copied into the output: ${(e as Error).message}`, undefined, e);
    }
    copied.push(name);
  }
  return { copied, skipped };
}
