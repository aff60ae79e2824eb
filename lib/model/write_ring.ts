/**
 * A few output buffers whose writes may still be in flight, so converting the
 * next chunk overlaps writing the previous ones: a buffer is handed out again
 * only once the write that used it has finished, which bounds the memory to
 * `count` × the largest chunk. The first failed write is thrown by the next
 * `buffer` or `drain`; later writes of a failed writer fail too and are ignored.
 */

import type { Scratch } from './scratch';

export class WriteRing {
  private readonly pending: Array<Promise<void> | undefined>;
  /** Writes that use no ring buffer (small tensors), until they settle. */
  private readonly others = new Set<Promise<void>>();
  private slot = 0;
  private handedOut = false;
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly scratch: Scratch,
    readonly count = 4,
  ) {
    this.pending = new Array<Promise<void> | undefined>(count).fill(undefined);
  }

  /**
   * A buffer of `bytes` bytes (contents undefined) that no write still reads;
   * pass its write to `submit` before asking for the next one. Yields to the
   * event loop first, so finished writes are noticed and queued ones start
   * while the caller converts.
   */
  async buffer(bytes: number): Promise<Uint8Array> {
    if (this.handedOut) throw new Error('WriteRing: submit the write of the last buffer before asking for another');
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.pending[this.slot];
    this.throwIfFailed();
    this.handedOut = true;
    return this.scratch.bytes(`ring-${this.slot}`, bytes);
  }

  /** The write of the buffer `buffer` last returned. */
  submit(write: Promise<void>): void {
    if (!this.handedOut) throw new Error('WriteRing: submit without a buffer');
    this.pending[this.slot] = this.watch(write);
    this.handedOut = false;
    this.slot = (this.slot + 1) % this.count;
  }

  /** A write of data the caller does not reuse. */
  track(write: Promise<void>): void {
    const p = this.watch(write);
    this.others.add(p);
    void p.then(() => this.others.delete(p));
  }

  /** Waits for every write; throws the first failure. */
  async drain(): Promise<void> {
    await this.settle();
    this.throwIfFailed();
  }

  /** Waits for every write, ignoring failures (cleanup after an error). */
  async settle(): Promise<void> {
    await Promise.all([...this.pending, ...this.others]);
    this.pending.fill(undefined);
    this.handedOut = false;
  }

  private watch(write: Promise<void>): Promise<void> {
    return write.then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}
