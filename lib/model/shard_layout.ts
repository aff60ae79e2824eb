/**
 * How the model writers (prepare, quantize, example) spread tensors over
 * safetensors files: in order, a new shard whenever the next item would pass
 * the size limit (an item is never split), the shards named and indexed the
 * Hugging Face way (`<stem>-00001-of-00003.safetensors`, `<stem>.safetensors.index.json`).
 */

import { dtypeBits, type SafetensorsDtype } from '../safetensors/header';

/** Bytes of a tensor's data. */
export function bytesOf(dtype: SafetensorsDtype, shape: readonly number[]): number {
  return (shape.reduce((a, b) => a * b, 1) * dtypeBits(dtype)) / 8;
}

/** Bytes of the data of several tensors. */
export function totalBytes(tensors: ReadonlyArray<{ readonly dtype: SafetensorsDtype; readonly shape: readonly number[] }>): number {
  return tensors.reduce((a, t) => a + bytesOf(t.dtype, t.shape), 0);
}

/** Splits `items`, in order, into groups of at most `limit` bytes (an item larger than that is a group of its own). */
export function packBySize<T>(items: readonly T[], sizeOf: (item: T) => number, limit: number): T[][] {
  const groups: T[][] = [];
  let cur: T[] = [];
  let size = 0;
  for (const item of items) {
    const b = sizeOf(item);
    if (cur.length > 0 && size + b > limit) {
      groups.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(item);
    size += b;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

/** `<stem>.safetensors` for a single file, else `<stem>-0000i-of-0000N.safetensors` (i from 1, at least five digits). */
export function shardFileName(stem: string, i: number, count: number): string {
  if (count === 1) return `${stem}.safetensors`;
  const w = Math.max(5, String(count).length);
  return `${stem}-${String(i + 1).padStart(w, '0')}-of-${String(count).padStart(w, '0')}.safetensors`;
}

/** The text of a `<stem>.safetensors.index.json`: every tensor's file, sorted by tensor name, and the total data bytes. */
export function shardIndexJson(fileOf: Iterable<readonly [tensor: string, file: string]>, totalBytes: number): string {
  const map = [...fileOf].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${JSON.stringify({ metadata: { total_size: totalBytes }, weight_map: Object.fromEntries(map) }, null, 2)}\n`;
}
