/**
 * Splits the per-channel kernel over threads: the rows of a chunk are shared
 * between the calling thread and worker_threads (kernel_worker.js) through
 * SharedArrayBuffers. Rows are independent, so the bytes do not depend on the
 * split. Workers are used only from the compiled package (the worker is a .js
 * file beside this one); otherwise everything runs on the calling thread.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { QmmError } from '../../errors';
import { quantizeRows, type FloatDtype, type NonFinite } from './per_channel';

export interface KernelJob {
  id: number;
  input: SharedArrayBuffer;
  inOffset: number;
  inBytes: number;
  dtype: FloatDtype;
  rows: number;
  k: number;
  output: SharedArrayBuffer;
  outOffset: number;
  scales: SharedArrayBuffer;
  /** In elements. */
  scalesOffset: number;
}

export type KernelReply = { id: number; bad?: NonFinite; error?: undefined } | { id: number; error: string; bad?: undefined };

/** Below this many elements per chunk the calling thread does all rows (a message costs more). */
const MIN_SPLIT_ELEMENTS = 1 << 16;

const WORKER_FILE = path.join(__dirname, 'kernel_worker.js');

export class KernelPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (b: NonFinite | undefined) => void; reject: (e: unknown) => void }>();
  private nextId = 0;
  private started = false;
  private closing = false;
  private broken: unknown;

  /** `threads` in all, the calling thread included; fewer when the worker script is not available. Workers start on first use. */
  constructor(private readonly wanted: number) {}

  private startWorkers(): void {
    if (this.started) return;
    this.started = true;
    if (this.wanted <= 1 || !fs.existsSync(WORKER_FILE)) return;
    for (let i = 1; i < this.wanted; i++) {
      let w: Worker;
      try {
        w = new Worker(WORKER_FILE);
      } catch {
        break; // no more threads to be had: fewer workers (or none) do the same work
      }
      w.on('message', (r: KernelReply) => {
        const p = this.pending.get(r.id);
        this.pending.delete(r.id);
        if (r.error !== undefined) p?.reject(new QmmError('ERR_QMM_INTERNAL', `quantize worker: ${r.error}`));
        else p?.resolve(r.bad);
      });
      w.on('error', (e) => this.failAll(e));
      w.on('exit', (code) => this.closing || this.failAll(new Error(`a worker exited with code ${code}`)));
      this.workers.push(w);
    }
  }

  private failAll(e: unknown): void {
    this.broken ??= e;
    for (const p of this.pending.values()) p.reject(new QmmError('ERR_QMM_INTERNAL', `quantize worker failed: ${(e as Error).message}`, { cause: e }));
    this.pending.clear();
  }

  private post(w: Worker, job: Omit<KernelJob, 'id'>): Promise<NonFinite | undefined> {
    const id = this.nextId++;
    if (this.broken !== undefined) return Promise.reject(new QmmError('ERR_QMM_INTERNAL', `quantize worker failed: ${(this.broken as Error).message}`, { cause: this.broken }));
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ ...job, id });
    });
  }

  /**
   * Quantizes `rows` rows of `k` values held in `input` (from byte 0) into
   * `output` and `scales` (from 0). Returns the first non-finite value, with
   * its row counted from the first row.
   */
  async run(input: SharedArrayBuffer, dtype: FloatDtype, rows: number, k: number, rowBytes: number, output: SharedArrayBuffer, scales: SharedArrayBuffer): Promise<NonFinite | undefined> {
    if (rows * k >= MIN_SPLIT_ELEMENTS) this.startWorkers();
    const parts = this.workers.length === 0 || rows * k < MIN_SPLIT_ELEMENTS ? 1 : Math.min(this.workers.length + 1, rows);
    const per = Math.ceil(rows / parts);
    const jobs: Array<Promise<NonFinite | undefined>> = [];
    // workers take the first parts, this thread the last
    for (let p = 0; p < parts - 1; p++) {
      const r0 = p * per;
      const n = Math.min(per, rows - r0);
      jobs.push(this.post(this.workers[p], { input, inOffset: r0 * rowBytes, inBytes: n * rowBytes, dtype, rows: n, k, output, outOffset: r0 * k, scales, scalesOffset: r0 }).then((b) => (b ? { ...b, row: b.row + r0 } : undefined)));
    }
    const r0 = (parts - 1) * per;
    const mine = quantizeRows(new Uint8Array(input, r0 * rowBytes, (rows - r0) * rowBytes), dtype, rows - r0, k, new Int8Array(output, r0 * k, (rows - r0) * k), new Float32Array(scales, r0 * 4, rows - r0), 0);
    const theirs = await Promise.all(jobs);
    return theirs.find((b) => b !== undefined) ?? (mine ? { ...mine, row: mine.row + r0 } : undefined);
  }

  async close(): Promise<void> {
    this.closing = true;
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

/** Shared buffers by slot, grown on demand and reused (the shared counterpart of Scratch). */
export class SharedScratch {
  private readonly slots = new Map<string, SharedArrayBuffer>();

  get(slot: string, bytes: number): SharedArrayBuffer {
    let b = this.slots.get(slot);
    if (b === undefined || b.byteLength < bytes) {
      this.slots.delete(slot);
      b = new SharedArrayBuffer(Math.max(8, bytes));
      this.slots.set(slot, b);
    }
    return b;
  }
}
