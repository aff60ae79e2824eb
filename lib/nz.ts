/**
 * FRACTAL_NZ geometry (docs/semantics.md §5.1): an ND matrix (..., R, C) with block C0 is
 * stored as (..., ceil(C/C0), ceil(R/16), 16, C0), zero padded.
 */

import type { DType } from './dtypes';

/** torch's default C0 for npu_format_cast: 32 bytes / itemsize, itemsize capped at 2 (docs/semantics.md §5.1). */
export function defaultC0(dtype: DType): number {
  switch (dtype) {
    case 'int8':
    case 'uint8':
      return 32;
    default:
      return 16;
  }
}

export function nzStorageShape(physicalShape: readonly number[], c0: number): number[] {
  const nd = physicalShape.length;
  const rows = physicalShape[nd - 2];
  const cols = physicalShape[nd - 1];
  return [...physicalShape.slice(0, nd - 2), Math.ceil(cols / c0), Math.ceil(rows / 16), 16, c0];
}

/** Storage index of physical element (row, col) of batch b, for a batch of `rows` rows. */
export function nzIndex(b: number, row: number, col: number, rows: number, cols: number, c0: number): number {
  const rows1 = Math.ceil(rows / 16);
  const cols1 = Math.ceil(cols / c0);
  const perBatch = cols1 * rows1 * 16 * c0;
  return b * perBatch + ((Math.floor(col / c0) * rows1 + Math.floor(row / 16)) * 16 + (row % 16)) * c0 + (col % c0);
}
