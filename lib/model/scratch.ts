/**
 * Reusable work buffers for prepare, one per slot, grown on demand and never
 * shrunk: the big per-layer buffers (the source weight, transpose chunks, NZ
 * slabs) are allocated once for the largest layer instead of once per layer,
 * so peak memory does not depend on when the garbage collector runs.
 */

export class Scratch {
  private readonly slots = new Map<string, ArrayBuffer>();

  /** `bytes` bytes of slot `slot` (contents undefined). */
  bytes(slot: string, bytes: number): Uint8Array {
    let b = this.slots.get(slot);
    if (b === undefined || b.byteLength < bytes) {
      this.slots.delete(slot); // let the smaller one go before allocating
      b = new ArrayBuffer(bytes);
      this.slots.set(slot, b);
    }
    return new Uint8Array(b, 0, bytes);
  }

  int8(slot: string, length: number): Int8Array {
    const u = this.bytes(slot, length);
    return new Int8Array(u.buffer, 0, length);
  }

  int32(slot: string, length: number): Int32Array {
    const u = this.bytes(slot, length * 4);
    return new Int32Array(u.buffer, 0, length);
  }
}
