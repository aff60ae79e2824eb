/**
 * The overlap machinery of prepare: input shards hashed from the conversion's
 * own reads (every byte once, in order, gaps read by the hasher), the next
 * layer's weight read while the current one converts (two buffers at most),
 * and output buffers not reused before their write finished (failures surface,
 * never as unhandled rejections).
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planModel } from '../lib/model/layers';
import { readDescription } from '../lib/model/description';
import { Scratch } from '../lib/model/scratch';
import { ShardHasher } from '../lib/model/shard_hasher';
import { ModelSource, type TensorRef } from '../lib/model/source';
import { WeightPrefetch } from '../lib/model/weight_prefetch';
import { WriteRing } from '../lib/model/write_ring';
import { buildModel, standardSpec, writeModel, type FixtureLayer } from './model-fixtures';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-pipeline-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A ModelSource whose shard reads are counted (the hasher's own reads). */
async function countingSource(dir: string): Promise<{ source: ModelSource; readBytes: () => number }> {
  const source = await ModelSource.open(dir);
  let bytes = 0;
  const readShard = source.readShard.bind(source);
  source.readShard = async (shard, position, dst) => {
    const n = await readShard(shard, position, dst);
    bytes += n;
    return n;
  };
  return { source, readBytes: () => bytes };
}

describe('ShardHasher', () => {
  let dir: string;
  let file: Buffer;
  beforeAll(async () => {
    dir = path.join(work, 'model');
    await writeModel(buildModel(standardSpec('float16')), dir);
    file = fs.readFileSync(path.join(dir, 'quant_model_weights.safetensors'));
  });

  /** The tensors of the shard as (position, bytes), in file order. */
  async function ranges(source: ModelSource): Promise<Array<[number, Uint8Array]>> {
    const refs = [...source.tensorNames].map((n) => source.find(n) as TensorRef).sort((a, b) => a.info.byteOffset - b.info.byteOffset);
    const out: Array<[number, Uint8Array]> = [];
    for (const r of refs) {
      const b = new Uint8Array(r.info.byteLength);
      await source.readInto(r, b);
      out.push([r.info.byteOffset, b]);
    }
    return out;
  }

  it('ranges handed in file order are hashed from the caller’s bytes: only the header is read again', async () => {
    const { source, readBytes } = await countingSource(dir);
    try {
      const rs = await ranges(source);
      const h = new ShardHasher(source);
      for (const [pos, b] of rs) await h.add(0, pos, b);
      const [fp] = await h.finish();
      expect(fp).toEqual({ file: 'quant_model_weights.safetensors', bytes: file.length, sha256: sha256(file) });
      expect(readBytes()).toBe(rs[0][0]); // the 8-byte prefix and the JSON header
    } finally {
      await source.close();
    }
  });

  it('out of order, overlapping, repeated and partial ranges still hash every byte once, in order', async () => {
    const { source, readBytes } = await countingSource(dir);
    try {
      const rs = await ranges(source);
      const h = new ShardHasher(source);
      const [p5, b5] = rs[5];
      await h.add(0, p5 + 3, b5.subarray(3, 9)); // mid-tensor: the hasher reads everything before it
      await h.add(0, rs[1][0], rs[1][1]); // behind: ignored
      await h.add(0, p5, b5); // overlaps what is hashed: only its tail counts
      await h.add(0, p5, b5); // repeated
      const [p9, b9] = rs[9];
      await h.add(0, p9, b9);
      const [fp] = await h.finish();
      expect(fp.sha256).toBe(sha256(file));
      expect(fp.bytes).toBe(file.length);
      expect(readBytes()).toBe(file.length - (b5.length - 3) - b9.length); // all but what the caller handed in
    } finally {
      await source.close();
    }
  });

  it('uses the bytes it is given (a range read differently changes the hash), and nothing at all hashes the whole file', async () => {
    const { source } = await countingSource(dir);
    try {
      const rs = await ranges(source);
      const h = new ShardHasher(source);
      const changed = Uint8Array.from(rs[2][1]);
      changed[0] ^= 1;
      await h.add(0, rs[2][0], changed);
      expect((await h.finish())[0].sha256).not.toBe(sha256(file));
      expect((await new ShardHasher(source).finish())[0].sha256).toBe(sha256(file));
    } finally {
      await source.close();
    }
  });

  it('a shard that ends before a range it was given is an ERR_QMM_FILE; an abort is ERR_QMM_ABORTED', async () => {
    const { source } = await countingSource(dir);
    try {
      const h = new ShardHasher(source);
      await expect(h.add(0, file.length + 100, new Uint8Array(4))).rejects.toMatchObject({ code: 'ERR_QMM_FILE', message: expect.stringContaining(`the file ended at byte ${file.length}, before ${file.length + 100}`) });
      const ac = new AbortController();
      ac.abort();
      await expect(new ShardHasher(source, ac.signal).finish()).rejects.toMatchObject({ code: 'ERR_QMM_ABORTED' });
    } finally {
      await source.close();
    }
  });
});

describe('WeightPrefetch', () => {
  it('taking a layer starts reading the next one; two buffers serve every layer; bytes and hashes are right', async () => {
    const m = buildModel(standardSpec('bfloat16'));
    const dir = path.join(work, 'prefetch');
    await writeModel(m, dir);
    const source = await ModelSource.open(dir);
    const reads: string[] = [];
    const readInto = source.readInto.bind(source);
    source.readInto = async (ref, dst, start) => {
      reads.push(ref.name);
      return readInto(ref, dst, start);
    };
    try {
      const plan = planModel(await readDescription(dir), source, {});
      const layers = [...plan.layers].sort((a, b) => (a.parts[0].tensors.get('weight') as TensorRef).info.byteOffset - (b.parts[0].tensors.get('weight') as TensorRef).info.byteOffset);
      const scratch = new Scratch();
      const hasher = new ShardHasher(source);
      const pre = new WeightPrefetch(layers, source, scratch, hasher);
      const int8 = layers.filter((l) => l.quantType !== 'W4A4_DYNAMIC');
      expect(int8.length).toBe(7);
      const buffers = new Set<ArrayBufferLike>();
      for (let i = 0; i < int8.length; i++) {
        const w = await pre.take(int8[i]);
        buffers.add(w.parts[0].buffer);
        expect(Array.from(w.parts[0])).toEqual(Array.from((m.layers.get(int8[i].name) as FixtureLayer).wq as Int8Array));
        // the next layer's read is already under way
        if (i + 1 < int8.length) expect(reads).toContain(`${int8[i + 1].name}.weight`);
        if (i + 2 < int8.length) expect(reads).not.toContain(`${int8[i + 2].name}.weight`);
      }
      expect(buffers.size).toBe(2);
      await pre.settle();
    } finally {
      await source.close();
    }
  });
});

describe('WriteRing', () => {
  function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } {
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((a, b) => {
      resolve = a;
      reject = b;
    });
    return { promise, resolve, reject };
  }

  it('hands a buffer out again only after the write that used it finished', async () => {
    const ring = new WriteRing(new Scratch(), 2);
    const writes = [deferred(), deferred()];
    const first = await ring.buffer(16);
    first.fill(1);
    ring.submit(writes[0].promise);
    const second = await ring.buffer(16);
    ring.submit(writes[1].promise);
    expect(second.buffer).not.toBe(first.buffer);
    let third: Uint8Array | undefined;
    const p = ring.buffer(16).then((b) => (third = b));
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBeUndefined();
    writes[0].resolve();
    await p;
    expect(third?.buffer).toBe(first.buffer);
    ring.submit(Promise.resolve());
    writes[1].resolve();
    await ring.drain();
  });

  it('the first failed write is thrown by the next buffer() and by drain(), never left unhandled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const ring = new WriteRing(new Scratch(), 3);
      const writes = [deferred(), deferred(), deferred()];
      await ring.buffer(8);
      ring.submit(writes[0].promise);
      await ring.buffer(8);
      ring.submit(writes[1].promise);
      ring.track(writes[2].promise);
      writes[0].reject(new Error('disk full'));
      writes[1].reject(new Error('later failure'));
      writes[2].reject(new Error('small tensor failure'));
      await new Promise((r) => setTimeout(r, 20));
      await expect(ring.buffer(8)).rejects.toThrow('disk full');
      await expect(ring.drain()).rejects.toThrow('disk full');
      await ring.settle();
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('drain waits for tracked writes too', async () => {
    const ring = new WriteRing(new Scratch(), 2);
    const d = deferred();
    ring.track(d.promise);
    let drained = false;
    const p = ring.drain().then(() => (drained = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(drained).toBe(false);
    d.resolve();
    await p;
    expect(drained).toBe(true);
  });

  it('asking for a buffer before submitting the last one is a bug it reports', async () => {
    const ring = new WriteRing(new Scratch(), 2);
    await ring.buffer(8);
    await expect(ring.buffer(8)).rejects.toThrow('submit the write of the last buffer');
    expect(() => new WriteRing(new Scratch(), 2).submit(Promise.resolve())).toThrow('submit without a buffer');
  });
});
