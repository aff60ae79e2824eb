/**
 * Streams one tensor from the source into a SafetensorsWriter: a quantized
 * weight in chunks of whole rows (the next chunk is read while this one is
 * quantized, on all the pool's threads, and written while the next is), or a
 * float tensor byte for byte. Memory: two input and two output chunks, reused
 * across tensors.
 */

import { QmmError } from '../../errors';
import type { SafetensorsWriter } from '../../safetensors';
import { floatValues } from '../convert';
import { modelFileError } from '../errors';
import type { Scratch } from '../scratch';
import type { ModelSource } from '../source';
import type { KernelPool, SharedScratch } from './kernel_pool';
import { elementBytes } from './per_channel';
import type { FloatUnit, QuantUnit } from './plan';

export interface StreamOptions {
  /** Bytes of input per chunk (at least one row is read at a time). */
  readonly chunkBytes: number;
  readonly scratch: Scratch;
  /** Shared buffers of the quantized rows, and the threads that quantize them. */
  readonly shared: SharedScratch;
  readonly pool: KernelPool;
  readonly signal: AbortSignal | undefined;
  /** Input bytes done. */
  readonly onBytes: (n: number) => void;
}

export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new QmmError('ERR_QMM_ABORTED', 'quantize was aborted');
}

/** Awaits every started operation before rethrowing, so nothing is left writing into a reused buffer. */
async function settleThenThrow(pending: Array<Promise<unknown>>, e: unknown): Promise<never> {
  await Promise.allSettled(pending);
  throw e;
}

/** Writes .weight (int8), .weight_scale, .weight_offset and .bias (float32) of one layer. */
export async function writeQuantUnit(u: QuantUnit, source: ModelSource, w: SafetensorsWriter, o: StreamOptions): Promise<void> {
  const { n, k } = u;
  const rowBytes = k * elementBytes(u.dtype);
  const rowsPer = Math.max(1, Math.min(n, Math.floor(o.chunkBytes / rowBytes)));
  const input = [o.shared.get('in0', rowsPer * rowBytes), o.shared.get('in1', rowsPer * rowBytes)];
  const output = [o.shared.get('out0', rowsPer * k), o.shared.get('out1', rowsPer * k)];
  const chunkScales = o.shared.get('scales', rowsPer * 4);
  const scales = new Float32Array(n);
  const weightName = `${u.prefix}.weight`;
  const read = (r0: number, slot: number): Promise<void> => source.readInto(u.weight, new Uint8Array(input[slot], 0, Math.min(rowsPer, n - r0) * rowBytes), r0 * rowBytes);
  const writes: Array<Promise<void>> = [Promise.resolve(), Promise.resolve()];
  let reading: Promise<void> = read(0, 0);
  try {
    for (let r0 = 0, c = 0; r0 < n; r0 += rowsPer, c++) {
      const slot = c & 1;
      await reading;
      checkAborted(o.signal);
      const rows = Math.min(rowsPer, n - r0);
      if (r0 + rows < n) reading = read(r0 + rows, slot ^ 1);
      await writes[slot]; // its output buffer is free again
      const bad = await o.pool.run(input[slot], u.dtype, rows, k, rowBytes, output[slot], chunkScales);
      if (bad !== undefined) {
        throw modelFileError(source.shardPath(u.weight), `the value at row ${r0 + bad.row}, column ${bad.col} is ${bad.value}; a weight must be finite to be quantized`, u.weight.name);
      }
      scales.set(new Float32Array(chunkScales, 0, rows), r0);
      writes[slot] = w.write(weightName, new Int8Array(output[slot], 0, rows * k));
      o.onBytes(rows * rowBytes);
    }
    await Promise.all(writes);
  } catch (e) {
    return settleThenThrow([reading, ...writes], e);
  }
  await w.write(`${u.prefix}.weight_scale`, scales);
  await w.write(`${u.prefix}.weight_offset`, new Float32Array(n));
  if (u.bias !== undefined) {
    const raw = (await source.readTyped(u.bias)) as Float32Array | Uint16Array;
    const values = floatValues(raw, u.bias.info.dtype);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw modelFileError(source.shardPath(u.bias), `element ${bad} is ${values[bad]}; a bias must be finite`, u.bias.name);
    await w.write(`${u.prefix}.bias`, values);
    o.onBytes(u.bias.info.byteLength);
  }
}

/** Copies a float tensor unchanged. */
export async function writeFloatUnit(u: FloatUnit, source: ModelSource, w: SafetensorsWriter, o: StreamOptions): Promise<void> {
  const total = u.ref.info.byteLength;
  const buf = o.scratch.bytes('copy', Math.max(1, Math.min(o.chunkBytes, total)));
  for (let done = 0; done < total; ) {
    checkAborted(o.signal);
    const view = buf.subarray(0, Math.min(buf.length, total - done));
    await source.readInto(u.ref, view, done);
    await w.write(u.ref.name, view);
    done += view.length;
    o.onBytes(view.length);
  }
}

