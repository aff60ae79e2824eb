/**
 * The TypeScript int8 transpose prepare used before the native one
 * (binding/util_ops.cc): the reference the native loop must match bit for bit.
 */

const BLOCK = 64;

/**
 * dst[(c - c0) * dstStride + dstCol + (r - r0)] = src[r * srcCols + c] for r in [r0, r1), c in [c0, c1):
 * the (c1-c0, r1-r0) transpose of a block of the row-major (·, srcCols) matrix, written
 * at column `dstCol` of a row-major destination with row length `dstStride`.
 */
export function refTransposeInt8(src: Int8Array, srcCols: number, r0: number, r1: number, c0: number, c1: number, dst: Int8Array, dstStride: number, dstCol: number): void {
  for (let rb = r0; rb < r1; rb += BLOCK) {
    const re = Math.min(rb + BLOCK, r1);
    for (let cb = c0; cb < c1; cb += BLOCK) {
      const ce = Math.min(cb + BLOCK, c1);
      for (let r = rb; r < re; r++) {
        let si = r * srcCols + cb;
        let di = (cb - c0) * dstStride + dstCol + (r - r0);
        for (let c = cb; c < ce; c++, si++, di += dstStride) dst[di] = src[si];
      }
    }
  }
}
