/**
 * Reads the tensors a manifest names from a prepared directory, checking each
 * header entry against the manifest, and wraps them as Tensors in their
 * recorded format (FRACTAL_NZ weights keep their storage bytes).
 */

import * as path from 'node:path';
import type { DType } from '../dtypes';
import { SafetensorsFile } from '../safetensors';
import type { SafetensorsDtype } from '../safetensors/header';
import { fmtShape, tensor, type Tensor } from '../tensor';
import { modelFileError } from './errors';
import type { ManifestTensor } from './manifest';

const DTYPE_OF: Partial<Record<SafetensorsDtype, DType>> = {
  I8: 'int8',
  U8: 'uint8',
  I32: 'int32',
  I64: 'int64',
  F16: 'float16',
  BF16: 'bfloat16',
  F32: 'float32',
};

export function packageDtype(d: SafetensorsDtype, file: string, name: string): DType {
  const t = DTYPE_OF[d];
  if (t === undefined) throw modelFileError(file, `dtype ${d} has no tensor dtype in this package`, name);
  return t;
}

const sameDims = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

export class PreparedFiles {
  private readonly open = new Map<string, SafetensorsFile>();

  constructor(readonly dir: string) {}

  private async file(name: string): Promise<SafetensorsFile> {
    let f = this.open.get(name);
    if (f === undefined) {
      f = await SafetensorsFile.open(path.join(this.dir, name));
      this.open.set(name, f);
    }
    return f;
  }

  /** The raw data of a manifest tensor, after checking the file's header agrees with the manifest. */
  async read(entry: Pick<ManifestTensor, 'file' | 'name' | 'dtype' | 'shape'>): Promise<{ data: ArrayBufferView; dtype: DType }> {
    const f = await this.file(entry.file);
    if (!f.has(entry.name)) throw modelFileError(f.path, 'the manifest names this tensor but the file does not hold it', entry.name);
    const info = f.info(entry.name);
    if (info.dtype !== entry.dtype || !sameDims(info.shape, entry.shape)) {
      throw modelFileError(f.path, `the file has ${info.dtype} ${fmtShape(info.shape)} but the manifest says ${entry.dtype} ${fmtShape(entry.shape)}`, entry.name);
    }
    const dtype = packageDtype(info.dtype, f.path, entry.name);
    return { data: await f.readTyped(entry.name), dtype };
  }

  /** A tensor in the manifest's format: ND with the stored shape, or FRACTAL_NZ with its logical shape. */
  async tensor(entry: ManifestTensor): Promise<Tensor> {
    const { data, dtype } = await this.read(entry);
    const host = data as Parameters<typeof tensor>[0];
    if (entry.format === 29) return tensor(host, [...entry.logicalShape], dtype, { format: 'FRACTAL_NZ' });
    return tensor(host, [...entry.shape], dtype);
  }

  async close(): Promise<void> {
    const files = [...this.open.values()];
    this.open.clear();
    await Promise.all(files.map((f) => f.close()));
  }
}
