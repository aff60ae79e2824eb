/**
 * The W8A8_DYNAMIC weight rule, per output channel (one row of the (n, k)
 * weight), symmetric int8:
 *
 *   amax  = max_j |w_j|                      exact: every input value is a float32
 *   scale = f32(amax / 127)                  one float32 division (correctly rounded)
 *           1 instead when that is 0         an all-zero row (or amax < 127·2^-150)
 *   q_j   = clamp(rne(f32(w_j / scale)), -128, 127)
 *
 * i.e. what torch computes in float32 for `(w.float() / scale).round().clamp(-128, 127)`
 * with `scale = w.float().abs().amax(-1) / 127`. rne: round half to even. With
 * this scale |w_j / scale| ≤ 127·(1 + 2^-23), so the clamp never changes a value;
 * it is there to make the int8 range part of the rule. The rows here come as raw
 * little-endian BF16 / F16 / F32 bytes (the file's), decoded through a table.
 */

import * as os from 'node:os';

export type FloatDtype = 'BF16' | 'F16' | 'F32';

export const FLOAT_INPUT_DTYPES: readonly FloatDtype[] = ['BF16', 'F16', 'F32'];

export function elementBytes(dtype: FloatDtype): number {
  return dtype === 'F32' ? 4 : 2;
}

/** x + 1.5·2^52 − 1.5·2^52 rounds a double with |x| < 2^51 to an integer, ties to even (the FPU's mode). */
const RNE_MAGIC = 6755399441055744;

let bf16Table: Float64Array | undefined;
let f16Table: Float64Array | undefined;

/** Every 16-bit pattern's value, exactly (built once, 512 KiB each). */
function table16(dtype: 'BF16' | 'F16'): Float64Array {
  if (dtype === 'BF16') {
    if (bf16Table === undefined) {
      const t = new Float32Array(65536);
      const bits = new Uint32Array(t.buffer);
      for (let h = 0; h < 65536; h++) bits[h] = h << 16;
      bf16Table = Float64Array.from(t);
    }
    return bf16Table;
  }
  if (f16Table === undefined) {
    const t = new Float64Array(65536);
    for (let h = 0; h < 65536; h++) {
      const e = (h >> 10) & 0x1f;
      const m = h & 0x3ff;
      const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m === 0 ? Infinity : NaN) : (1 + m / 1024) * 2 ** (e - 15);
      t[h] = h & 0x8000 ? -v : v;
    }
    f16Table = t;
  }
  return f16Table;
}

/** The scale of a row whose largest magnitude is `amax` (finite). */
export function rowScale(amax: number): number {
  const s = Math.fround(amax / 127);
  return s === 0 ? 1 : s;
}

/** Where a non-finite value was found: row and column within the rows passed. */
export interface NonFinite {
  readonly row: number;
  readonly col: number;
  readonly value: number;
}

/** q of every magnitude pattern a in [lo, m] of one row: lut[a - lo] (the patterns below lo give 0). */
const lut16 = new Int8Array(0x8000);

function rows16(h: Uint16Array, table: Float64Array, infBits: number, rows: number, k: number, q: Int8Array, scales: Float32Array, s0: number): NonFinite | undefined {
  for (let r = 0; r < rows; r++) {
    const base = r * k;
    const end = base + k;
    let m = 0;
    for (let j = base; j < end; j++) {
      const a = h[j] & 0x7fff;
      if (a > m) m = a;
    }
    // magnitude bit patterns order like the magnitudes; Inf/NaN are the largest
    if (m >= infBits) {
      for (let j = base; j < end; j++) if ((h[j] & 0x7fff) >= infBits) return { row: r, col: j - base, value: table[h[j]] };
    }
    const s = rowScale(table[m]);
    scales[s0 + r] = s;
    // lo: the smallest magnitude pattern whose q is 1 or more, i.e. f32(w / s) > 0.5
    let lo = 0;
    let hi = m + 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Math.fround(table[mid] / s) > 0.5) hi = mid;
      else lo = mid + 1;
    }
    if (m - lo < k) {
      // q(-w) = -q(w): one table over the magnitudes [lo, m] of this row, then integers only
      for (let a = lo; a <= m; a++) {
        const v = Math.fround(table[a] / s) + RNE_MAGIC - RNE_MAGIC;
        lut16[a - lo] = v > 127 ? 127 : v;
      }
      for (let j = base; j < end; j++) {
        const x = h[j];
        const i = (x & 0x7fff) - lo;
        const v = i < 0 ? 0 : lut16[i];
        const neg = -(x >> 15);
        q[j] = (v ^ neg) - neg;
      }
    } else {
      for (let j = base; j < end; j++) {
        const v = Math.fround(table[h[j]] / s) + RNE_MAGIC - RNE_MAGIC;
        q[j] = v > 127 ? 127 : v < -128 ? -128 : v;
      }
    }
  }
  return undefined;
}

function rows32(f: Float32Array, rows: number, k: number, q: Int8Array, scales: Float32Array, s0: number): NonFinite | undefined {
  const bits = new Uint32Array(f.buffer, f.byteOffset, f.length);
  for (let r = 0; r < rows; r++) {
    const base = r * k;
    const end = base + k;
    let m = 0;
    let at = base;
    for (let j = base; j < end; j++) {
      const a = bits[j] & 0x7fffffff;
      if (a > m) {
        m = a;
        at = j;
      }
    }
    if (m >= 0x7f800000) {
      for (let j = base; j < end; j++) if ((bits[j] & 0x7fffffff) >= 0x7f800000) return { row: r, col: j - base, value: f[j] };
    }
    const s = rowScale(Math.abs(f[at]));
    scales[s0 + r] = s;
    for (let j = base; j < end; j++) {
      const v = Math.fround(f[j] / s) + RNE_MAGIC - RNE_MAGIC;
      q[j] = v > 127 ? 127 : v < -128 ? -128 : v;
    }
  }
  return undefined;
}

const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

/**
 * Quantizes `rows` rows of `k` values, given as the tensor's little-endian
 * bytes (`src`, at least rows·k·elementBytes long, 4-byte aligned for F32):
 * q[r·k + j] and scales[s0 + r]. Returns the first non-finite value instead
 * (the rows after it are then not done). On a big-endian host `src` is
 * byte-swapped in place.
 */
export function quantizeRows(src: Uint8Array, dtype: FloatDtype, rows: number, k: number, q: Int8Array, scales: Float32Array, s0: number): NonFinite | undefined {
  const count = rows * k;
  const size = elementBytes(dtype);
  if (src.byteLength < count * size || q.length < count || scales.length < s0 + rows) {
    throw new RangeError(`quantizeRows: buffers too small for ${rows} rows of ${k} ${dtype} values`);
  }
  if (!LITTLE_ENDIAN_HOST) {
    for (let i = 0; i < count * size; i += size) src.subarray(i, i + size).reverse();
  }
  if (dtype === 'F32') return rows32(new Float32Array(src.buffer, src.byteOffset, count), rows, k, q, scales, s0);
  return rows16(new Uint16Array(src.buffer, src.byteOffset, count), table16(dtype), dtype === 'BF16' ? 0x7f80 : 0x7c00, rows, k, q, scales, s0);
}

/** The values of `count` little-endian BF16 / F16 / F32 elements, exactly, into `out`. */
export function decodeValues(src: Uint8Array, dtype: FloatDtype, count: number, out: Float64Array): void {
  if (!LITTLE_ENDIAN_HOST) {
    const size = elementBytes(dtype);
    for (let i = 0; i < count * size; i += size) src.subarray(i, i + size).reverse();
  }
  if (dtype === 'F32') {
    const f = new Float32Array(src.buffer, src.byteOffset, count);
    for (let i = 0; i < count; i++) out[i] = f[i];
    return;
  }
  const h = new Uint16Array(src.buffer, src.byteOffset, count);
  const table = table16(dtype);
  for (let i = 0; i < count; i++) out[i] = table[h[i]];
}
