/**
 * The sha256 of every input shard (the manifest's source.shards), computed
 * from the bytes prepare reads anyway: conversion hands each range it read
 * to `add`, which hashes it when it continues the shard's hashed prefix. The
 * bytes conversion never reads (headers, small tensors, whatever lies before
 * a range read out of file order) are read here, once, so every byte of a
 * shard is hashed exactly once and in order, and most are read only once.
 */

import { createHash, type Hash } from 'node:crypto';
import * as path from 'node:path';
import { QmmError } from '../errors';
import { modelFileError } from './errors';
import type { ModelSource, ShardFingerprint } from './source';

const GAP_CHUNK = 1 << 20;
const SLICE = 2 << 20;

export class ShardHasher {
  private readonly hashes: Hash[];
  /** Bytes hashed from the start of each shard. */
  private readonly hashed: number[];
  private gap: Uint8Array | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly source: ModelSource,
    private readonly signal?: AbortSignal,
  ) {
    this.hashes = source.shardNames.map(() => createHash('sha256'));
    this.hashed = source.shardNames.map(() => 0);
  }

  /**
   * Takes `bytes`, read from shard `shard` at file offset `position`: first
   * hashes whatever lies between the hashed prefix and `position` (reading
   * it), then the part of `bytes` not hashed yet. Keep `bytes` unchanged until
   * the promise settles.
   */
  add(shard: number, position: number, bytes: Uint8Array): Promise<void> {
    return this.serial(async () => {
      if (position > this.hashed[shard]) await this.readUpTo(shard, position);
      // in slices, yielding between them: a whole layer at once would stall the event loop
      // (and the writes waiting on it) for tens of milliseconds
      for (let at = this.hashed[shard] - position; at < bytes.length; at += SLICE) {
        if (at > 0 && at % SLICE === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const end = Math.min(at + SLICE, bytes.length);
        this.hashes[shard].update(bytes.subarray(at, end));
        this.hashed[shard] = position + end;
      }
    });
  }

  /** Hashes every shard to its end and returns the fingerprints. */
  finish(): Promise<ShardFingerprint[]> {
    return this.serial(async () => {
      const out: ShardFingerprint[] = [];
      for (let i = 0; i < this.hashes.length; i++) {
        await this.readUpTo(i, Infinity);
        out.push({ file: this.source.shardNames[i], bytes: this.hashed[i], sha256: this.hashes[i].digest('hex') });
      }
      return out;
    });
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const p = this.tail.then(op);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Reads and hashes shard bytes from the hashed prefix up to `end` (Infinity: the end of the file). */
  private async readUpTo(shard: number, end: number): Promise<void> {
    this.gap ??= new Uint8Array(GAP_CHUNK);
    while (this.hashed[shard] < end) {
      if (this.signal?.aborted) throw new QmmError('ERR_QMM_ABORTED', 'prepare was aborted');
      const want = Math.min(this.gap.length, end - this.hashed[shard]);
      const n = await this.source.readShard(shard, this.hashed[shard], this.gap.subarray(0, want));
      if (n === 0) {
        if (end === Infinity) return;
        throw modelFileError(path.join(this.source.dir, this.source.shardNames[shard]), `the file ended at byte ${this.hashed[shard]}, before ${end} (changed while reading?)`);
      }
      this.hashes[shard].update(this.gap.subarray(0, n));
      this.hashed[shard] += n;
    }
  }
}
