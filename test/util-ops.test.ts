/**
 * The addon's util ops (binding/util_ops.cc), prepare's hot loops: the int8
 * transpose against the TypeScript reference bit for bit (odd sizes, ranges,
 * strides, offsets, untouched bytes around the written block), the FRACTAL_NZ
 * slabs and int4 packing built on them against the reference, and bad
 * arguments: typed errors naming the argument, never a crash.
 */

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nzColumns, packInt4Rows, RuleError, transposedRows, transposeInt8, type StackedInt8 } from '../lib/model/convert';
import { loadNative } from '../lib/native';
import { randInt, rng, type Rng } from './helpers';
import { refNdToNz, refPackInt4 } from './reference';
import { refTransposeInt8 } from './reference-transpose';

function randomInt8(r: Rng, length: number): Int8Array {
  const a = new Int8Array(length);
  for (let i = 0; i < length; i++) a[i] = randInt(r, -128, 127);
  return a;
}

/** A view at a random offset into a larger buffer, so byteOffset is rarely 0 or aligned. */
function offsetView(r: Rng, values: Int8Array): Int8Array {
  const pad = randInt(r, 0, 37);
  const buf = randomInt8(r, values.length + pad + randInt(r, 0, 5));
  buf.set(values, pad);
  return buf.subarray(pad, pad + values.length);
}

interface Case {
  src: Int8Array;
  srcCols: number;
  r0: number;
  r1: number;
  c0: number;
  c1: number;
  dst: Int8Array;
  dstStride: number;
  dstCol: number;
}

function randomCase(r: Rng, maxRows: number, maxCols: number): Case {
  const srcCols = randInt(r, 1, maxCols);
  const rows = randInt(r, 1, maxRows);
  const r0 = randInt(r, 0, rows);
  const r1 = randInt(r, r0, rows);
  const c0 = randInt(r, 0, srcCols);
  const c1 = randInt(r, c0, srcCols);
  const width = r1 - r0;
  const dstStride = width + randInt(r, 0, 40);
  const dstCol = randInt(r, 0, dstStride - width);
  // the source may end right after the last byte read
  const srcLen = r1 > r0 && c1 > c0 ? (r1 - 1) * srcCols + c1 + randInt(r, 0, 3) : rows * srcCols;
  const dstLen = Math.max(0, c1 - c0 - 1) * dstStride + dstCol + width + randInt(r, 0, 50);
  return { src: offsetView(r, randomInt8(r, srcLen)), srcCols, r0, r1, c0, c1, dst: offsetView(r, randomInt8(r, dstLen)), dstStride, dstCol };
}

function checkAgainstReference(c: Case): void {
  const want = Int8Array.from(c.dst);
  refTransposeInt8(c.src, c.srcCols, c.r0, c.r1, c.c0, c.c1, want, c.dstStride, c.dstCol);
  const got = c.dst;
  transposeInt8(c.src, c.srcCols, c.r0, c.r1, c.c0, c.c1, got, c.dstStride, c.dstCol);
  const label = `srcCols ${c.srcCols}, rows [${c.r0}, ${c.r1}), cols [${c.c0}, ${c.c1}), dstStride ${c.dstStride}, dstCol ${c.dstCol}`;
  const first = got.findIndex((v, i) => v !== want[i]);
  expect(first, `${label}: first difference at dst[${first}]`).toBe(-1);
}

describe('util.transposeInt8 equals the TypeScript reference, bit for bit', () => {
  it('small odd blocks: every range, stride and offset (the scalar edges)', () => {
    const r = rng(101);
    for (let i = 0; i < 600; i++) checkAgainstReference(randomCase(r, 40, 40));
  });

  it('blocks spanning several 16 x 16 tiles and 64-column strips, with ragged edges', () => {
    const r = rng(202);
    for (let i = 0; i < 60; i++) checkAgainstReference(randomCase(r, 300, 300));
  });

  it('the shapes prepare uses: chunks of rows of (k, n) and 32-wide NZ column blocks', () => {
    const r = rng(303);
    const n = 1000;
    const k = 777;
    const src = randomInt8(r, n * k);
    for (const [j0, j1] of [
      [0, 5],
      [5, 133],
      [700, 777],
    ]) {
      checkAgainstReference({ src, srcCols: k, r0: 0, r1: n, c0: j0, c1: j1, dst: randomInt8(r, (j1 - j0) * n), dstStride: n, dstCol: 0 });
    }
    for (const b of [0, 32, 992]) {
      const e = Math.min(b + 32, n);
      checkAgainstReference({ src, srcCols: k, r0: b, r1: e, c0: 0, c1: k, dst: randomInt8(r, 784 * 32), dstStride: 32, dstCol: 0 });
    }
  });

  it('Uint8Array operands and empty ranges', () => {
    const util = (loadNative() as unknown as { util: { transposeInt8: (...a: unknown[]) => void } }).util;
    const src = Uint8Array.from({ length: 12 }, (_, i) => 200 + i);
    const dst = new Uint8Array(12).fill(7);
    util.transposeInt8(src, 4, 0, 3, 0, 4, dst, 3, 0);
    expect(Array.from(dst)).toEqual([200, 204, 208, 201, 205, 209, 202, 206, 210, 203, 207, 211]);
    const untouched = new Int8Array(4).fill(9);
    transposeInt8(new Int8Array(0), 0, 0, 0, 0, 0, untouched, 0, 0);
    transposeInt8(new Int8Array(8), 4, 1, 1, 0, 4, untouched, 1, 0);
    transposeInt8(new Int8Array(8), 4, 0, 2, 3, 3, untouched, 2, 0);
    expect(Array.from(untouched)).toEqual([9, 9, 9, 9]);
  });
});

describe('util.transposeInt8 rejects bad arguments with typed errors', () => {
  const src = new Int8Array(12); // (3, 4)
  const dst = new Int8Array(12);
  const ok: unknown[] = [src, 4, 0, 3, 0, 4, dst, 3, 0];
  const call = (i: number, v: unknown) => () => {
    const args = [...ok];
    args[i] = v;
    (transposeInt8 as (...a: unknown[]) => void)(...args);
  };

  it('accepts the baseline call', () => {
    expect(call(0, src)).not.toThrow();
  });

  it('wrong types are TypeErrors naming the argument and what was given', () => {
    expect(call(0, [1, 2, 3])).toThrow(TypeError);
    expect(call(0, [1, 2, 3])).toThrow('transposeInt8: src must be an Int8Array or Uint8Array, got an array');
    expect(call(0, new Int16Array(12))).toThrow('src must be an Int8Array or Uint8Array, got an Int16Array');
    expect(call(6, new Float32Array(12))).toThrow('dst must be an Int8Array or Uint8Array, got a Float32Array');
    expect(call(6, undefined)).toThrow('dst must be an Int8Array or Uint8Array, got undefined');
    expect(call(1, '4')).toThrow('transposeInt8: srcCols must be a number, got a string');
    expect(call(8, null)).toThrow('dstCol must be a number, got null');
  });

  it('negative, fractional, unsafe and NaN indices are RangeErrors', () => {
    expect(call(2, -1)).toThrow(RangeError);
    expect(call(2, -1)).toThrow('transposeInt8: r0 must be a non-negative safe integer, got -1');
    expect(call(3, 1.5)).toThrow('r1 must be a non-negative safe integer');
    expect(call(7, Number.NaN)).toThrow('dstStride must be a non-negative safe integer');
    expect(call(1, 2 ** 53)).toThrow('srcCols must be a non-negative safe integer');
    expect(call(5, Infinity)).toThrow(RangeError);
  });

  it('reversed ranges, columns past srcCols, short arrays, rows that overlap and aliasing are RangeErrors', () => {
    const args = (patch: Record<number, unknown>) => () => {
      const a = [...ok];
      for (const [i, v] of Object.entries(patch)) a[Number(i)] = v;
      (transposeInt8 as (...a: unknown[]) => void)(...a);
    };
    const aliased = new Int8Array(24);
    const cases: Array<[Record<number, unknown>, string]> = [
      [{ 2: 2, 3: 1 }, 'r1 must be at least r0, got r0 = 2, r1 = 1'],
      [{ 4: 3, 5: 2 }, 'c1 must be at least c0, got c0 = 3, c1 = 2'],
      [{ 5: 5 }, 'c1 must be at most srcCols (4), got 5'],
      [{ 3: 4 }, 'src holds 12 bytes, too few for rows [0, 4) of a 4-column matrix up to column 4'],
      [{ 0: new Int8Array(11) }, 'src holds 11 bytes'],
      [{ 7: 2 }, 'dstCol + (r1 - r0) must be at most dstStride (2), got 0 + 3'],
      [{ 8: 1 }, 'dstCol + (r1 - r0) must be at most dstStride (3), got 1 + 3'],
      [{ 6: new Int8Array(11) }, 'dst holds 11 bytes, too few for 4 rows of stride 3 from column 0 (3 wide)'],
      [{ 0: aliased.subarray(0, 12), 6: aliased.subarray(11, 23) }, 'src and dst must not overlap'],
      [{ 1: 2 ** 52 }, 'src holds 12 bytes, too few for rows [0, 3) of a 4503599627370496-column matrix'],
      [{ 7: 2 ** 52, 6: new Int8Array(100) }, 'dst holds 100 bytes'],
    ];
    for (const [patch, msg] of cases) {
      dst.fill(5);
      expect(args(patch), JSON.stringify(patch)).toThrow(RangeError);
      expect(args(patch), JSON.stringify(patch)).toThrow(msg);
      expect(dst.every((x) => x === 5)).toBe(true);
    }
  });

  it('a detached buffer holds nothing', () => {
    const buf = new ArrayBuffer(12);
    const view = new Int8Array(buf);
    structuredClone(buf, { transfer: [buf] });
    expect(call(0, view)).toThrow('src holds 0 bytes');
  });
});

describe('FRACTAL_NZ slabs and row chunks of stacked parts (prepare)', () => {
  /** Parts of the (n, k) weight stacked along n, and the (k, n) values of the whole. */
  function stacked(r: Rng, rows: number[], k: number): { s: StackedInt8; kn: number[] } {
    const parts = rows.map((n) => offsetView(r, randomInt8(r, n * k)));
    const n = rows.reduce((a, b) => a + b, 0);
    const kn = new Array<number>(k * n);
    let base = 0;
    for (let p = 0; p < parts.length; p++) {
      for (let i = 0; i < rows[p]; i++) for (let j = 0; j < k; j++) kn[j * n + base + i] = parts[p][i * k + j];
      base += rows[p];
    }
    return { s: { parts, rows, k }, kn };
  }

  it('NZ slabs of every width equal the reference tiling of the whole (k, n) matrix, padding included', () => {
    const r = rng(404);
    for (const [rows, k] of [
      [[64], 64],
      [[40, 24, 24], 72],
      [[33], 17],
      [[5, 70, 1], 40],
      [[31, 1], 16],
    ] as Array<[number[], number]>) {
      const { s, kn } = stacked(r, rows, k);
      const n = s.rows.reduce((a, b) => a + b, 0);
      const want = refNdToNz(kn, [k, n], 32);
      const tile = 32 * Math.ceil(k / 16) * 16;
      for (const width of [32, 64, 96, Math.ceil(n / 32) * 32]) {
        const got: number[] = [];
        for (let c0 = 0; c0 < n; c0 += width) {
          const c1 = Math.min(c0 + width, n);
          const dst = randomInt8(r, Math.ceil((c1 - c0) / 32) * tile); // garbage: padding must be written
          nzColumns(s, c0, c1, dst);
          got.push(...dst);
        }
        expect(got, `rows ${rows}, k ${k}, slab width ${width}`).toEqual(want);
      }
    }
  });

  it('row chunks of the transposed matrix equal the reference transpose', () => {
    const r = rng(505);
    const { s, kn } = stacked(r, [40, 24, 3], 37);
    const n = 67;
    for (const [j0, j1] of [
      [0, 37],
      [0, 1],
      [12, 30],
    ]) {
      const dst = randomInt8(r, (j1 - j0) * n);
      transposedRows(s, j0, j1, dst);
      expect(Array.from(dst)).toEqual(kn.slice(j0 * n, j1 * n));
    }
  });

  it('nzColumns rejects a slab that does not start on a 32-column block or a wrong-sized destination', () => {
    const { s } = stacked(rng(1), [64], 16);
    expect(() => nzColumns(s, 16, 48, new Int8Array(32 * 16))).toThrow(RangeError);
    expect(() => nzColumns(s, 0, 32, new Int8Array(32 * 16 - 1))).toThrow('nzColumns: dst must hold 512 bytes, got 511');
  });
});

describe('util.packInt4', () => {
  it('packs LSB first like the reference, for every row count and width', () => {
    const r = rng(606);
    for (const [rows, k] of [
      [1, 8],
      [3, 16],
      [7, 40],
      [64, 96],
    ]) {
      const values = Int8Array.from({ length: rows * k }, () => randInt(r, -8, 7));
      const dst = new Int32Array(rows * (k / 8)).fill(0x5a5a5a5a);
      packInt4Rows(values, k, dst);
      expect(Array.from(dst)).toEqual(Array.from(refPackInt4(values, [rows, k]).data));
    }
  });

  it('names the row and column of the first value outside [-8, 7]', () => {
    const values = new Int8Array(32);
    values[19] = 8;
    values[25] = -9;
    expect(() => packInt4Rows(values, 16, new Int32Array(4))).toThrow(RuleError);
    expect(() => packInt4Rows(values, 16, new Int32Array(4))).toThrow('holds 8 at (1, 3); W4A4 weights must be int4 values in [-8, 7]');
    values[19] = 0;
    expect(() => packInt4Rows(values, 16, new Int32Array(4))).toThrow('holds -9 at (1, 9)');
  });

  it('bad arguments are typed errors', () => {
    const pack = packInt4Rows as (...a: unknown[]) => void;
    expect(() => pack(new Uint8Array(16), 8, new Int32Array(2))).toThrow('packInt4: src must be an Int8Array, got a Uint8Array');
    expect(() => pack(new Int8Array(16), 8, new Uint32Array(2))).toThrow('packInt4: dst must be an Int32Array, got a Uint32Array');
    expect(() => pack(new Int8Array(16), 12, new Int32Array(2))).toThrow('packInt4: k must be a positive multiple of 8, got 12');
    expect(() => pack(new Int8Array(16), 0, new Int32Array(2))).toThrow(RangeError);
    expect(() => pack(new Int8Array(20), 8, new Int32Array(2))).toThrow('src holds 20 values, not whole rows of k = 8');
    expect(() => pack(new Int8Array(16), 8, new Int32Array(3))).toThrow('dst must hold 2 int32 words (src values / 8), got 3');
    const shared = new ArrayBuffer(32);
    expect(() => pack(new Int8Array(shared, 0, 16), 8, new Int32Array(shared, 8, 2))).toThrow('src and dst must not overlap');
  });
});

describe('util ops under random arguments', () => {
  it('5000 random calls end in undefined/a number or a TypeError/RangeError, in a child process (a crash fails)', () => {
    const child = spawnSync(process.execPath, [path.join(__dirname, 'children', 'util-ops-fuzz.cjs'), '5000', '77'], {
      encoding: 'utf8',
      env: process.env,
      timeout: 120_000,
    });
    expect(child.signal, child.stderr).toBeNull();
    expect(child.status, child.stderr).toBe(0);
    const summary = JSON.parse(child.stdout.trim().split('\n').pop() as string) as { calls: number; ok: number; typed: number; bad: string[] };
    expect(summary.bad).toEqual([]);
    expect(summary.calls).toBe(5000);
    expect(summary.ok).toBeGreaterThan(100);
    expect(summary.typed).toBeGreaterThan(100);
  });
});
