/**
 * The safetensors side of a model directory: which shards hold which tensor
 * (the `*.safetensors.index.json`, checked against every shard header, or all
 * `*.safetensors` files) and range reads without loading a tensor whole.
 */

import { outOfRange } from '../arg_errors';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { abortError } from '../errors';
import { readSafetensorsIndex, SafetensorsFile, type SafetensorsTypedArray } from '../safetensors';
import type { SafetensorsTensorInfo } from '../safetensors/header';
import { modelFileError } from './errors';

export interface TensorRef {
  readonly name: string;
  /** Index into ModelSource.shards. */
  readonly shard: number;
  readonly info: SafetensorsTensorInfo;
}

export interface ShardFingerprint {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

export class ModelSource {
  readonly dir: string;
  /** Shard file names (relative to dir), sorted. */
  readonly shardNames: readonly string[];
  readonly indexFile: string | undefined;
  private readonly files: SafetensorsFile[];
  private readonly byName: Map<string, TensorRef>;
  private readonly stats: fs.Stats[];
  /** Open read handles by shard; a promise so that concurrent reads share one. */
  private readonly handles = new Map<number, Promise<fs.promises.FileHandle>>();

  private constructor(dir: string, names: string[], indexFile: string | undefined, files: SafetensorsFile[], byName: Map<string, TensorRef>, stats: fs.Stats[]) {
    this.dir = dir;
    this.shardNames = names;
    this.indexFile = indexFile;
    this.files = files;
    this.byName = byName;
    this.stats = stats;
  }

  /** Opens every shard header (safetensors rules of docs/semantics.md §10.4) and maps tensor names to shards. */
  static async open(dir: string): Promise<ModelSource> {
    const entries = await fs.promises.readdir(dir).catch((e: Error) => {
      throw modelFileError(dir, `cannot list the model directory: ${e.message}`, undefined, e);
    });
    const hasIndex = entries.some((f) => f.endsWith('.safetensors.index.json'));
    let names: string[];
    let indexFile: string | undefined;
    let weightMap: ReadonlyMap<string, string> | undefined;
    if (hasIndex) {
      const index = await readSafetensorsIndex(dir);
      await index.verify();
      indexFile = index.path;
      weightMap = index.weightMap;
      names = index.files();
    } else {
      names = entries.filter((f) => f.endsWith('.safetensors')).sort();
      if (names.length === 0) throw modelFileError(dir, 'holds no *.safetensors file');
    }
    const files: SafetensorsFile[] = [];
    const stats: fs.Stats[] = [];
    const byName = new Map<string, TensorRef>();
    try {
      for (let i = 0; i < names.length; i++) {
        const f = await SafetensorsFile.open(path.join(dir, names[i]));
        files.push(f);
        stats.push(await fs.promises.stat(f.path));
        for (const info of f.header.tensors) {
          // with an index, a tensor belongs to the shard the index names
          if (weightMap !== undefined && weightMap.get(info.name) !== names[i]) continue;
          const prev = byName.get(info.name);
          if (prev !== undefined) {
            throw modelFileError(f.path, `the tensor is also in ${names[prev.shard]}; without an index a name must be in one shard only`, info.name);
          }
          byName.set(info.name, { name: info.name, shard: i, info });
        }
      }
    } catch (e) {
      for (const f of files) f.closeSync();
      throw e;
    }
    return new ModelSource(dir, names, indexFile, files, byName, stats);
  }

  get tensorNames(): IterableIterator<string> {
    return this.byName.keys();
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  find(name: string): TensorRef | undefined {
    return this.byName.get(name);
  }

  shardPath(ref: TensorRef): string {
    return this.files[ref.shard].path;
  }

  /** The whole tensor as a host-order typed array (F16/BF16 as raw Uint16Array bits). */
  readTyped(ref: TensorRef): Promise<SafetensorsTypedArray> {
    return this.files[ref.shard].readTyped(ref.name);
  }

  private handle(shard: number): Promise<fs.promises.FileHandle> {
    let h = this.handles.get(shard);
    if (h === undefined) {
      h = fs.promises.open(this.files[shard].path, 'r');
      h.catch(() => undefined); // the caller awaiting it sees the error
      this.handles.set(shard, h);
    }
    return h;
  }

  /** Reads `dst.length` bytes of the tensor starting at byte `start` of its data. */
  async readInto(ref: TensorRef, dst: Uint8Array, start = 0): Promise<void> {
    if (start + dst.length > ref.info.byteLength) throw outOfRange(`readInto: ${start} + ${dst.length} bytes exceed tensor ${ref.name} (${ref.info.byteLength} bytes)`);
    const fh = await this.handle(ref.shard);
    let got = 0;
    while (got < dst.length) {
      const { bytesRead } = await fh.read(dst, got, Math.min(dst.length - got, 1 << 30), ref.info.byteOffset + start + got);
      if (bytesRead === 0) throw modelFileError(this.files[ref.shard].path, 'the file ended early (changed while reading?)', ref.name);
      got += bytesRead;
    }
  }

  /** Streams a tensor's bytes in chunks of at most `chunk` bytes through `buf` (await each callback). */
  async stream(ref: TensorRef, buf: Uint8Array, each: (bytes: Uint8Array) => Promise<void>, signal?: AbortSignal): Promise<void> {
    if (buf.length === 0) throw outOfRange('stream: empty buffer');
    for (let done = 0; done < ref.info.byteLength; ) {
      if (signal?.aborted) throw abortError('prepare was aborted', signal);
      const view = buf.subarray(0, Math.min(buf.length, ref.info.byteLength - done));
      await this.readInto(ref, view, done);
      await each(view);
      done += view.length;
    }
  }

  /** Reads up to dst.length bytes of shard `shard` from file offset `position`; the bytes read, 0 at the end of the file. */
  async readShard(shard: number, position: number, dst: Uint8Array): Promise<number> {
    const fh = await this.handle(shard);
    try {
      return (await fh.read(dst, 0, Math.min(dst.length, 1 << 30), position)).bytesRead;
    } catch (e) {
      throw modelFileError(this.files[shard].path, `cannot be read: ${(e as Error).message}`, undefined, e);
    }
  }

  /** Throws if a shard changed (size or mtime) since it was opened. */
  async checkUnchanged(): Promise<void> {
    for (let i = 0; i < this.files.length; i++) {
      const now = await fs.promises.stat(this.files[i].path);
      if (now.size !== this.stats[i].size || now.mtimeMs !== this.stats[i].mtimeMs) {
        throw modelFileError(this.files[i].path, 'the shard changed while it was being prepared');
      }
    }
  }

  async close(): Promise<void> {
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all([...this.files.map((f) => f.close()), ...handles.map(async (h) => (await h.catch(() => undefined))?.close())]);
  }
}
