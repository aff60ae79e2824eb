/**
 * The pure conversions of prepare (docs/semantics.md §10.5): int8 transposes in blocks
 * and the FRACTAL_NZ tiling (native loops, binding/util_ops.cc), int4 packing,
 * deq_scale re-encoding by bits, scale/offset checks. No I/O.
 */

import { bf16ToF32, f16ToF32 } from '../half';
import { loadNative, type NativeUtilOps } from '../native';
import type { SafetensorsDtype } from '../safetensors/header';

/** Thrown by the checks below; prepare turns it into ERR_QMM_FILE naming file and tensor. */
export class RuleError extends Error {}

/** The addon's util ops (a binary without them has an older ABI version and is refused at load). */
const utilOps = (): NativeUtilOps => loadNative().util;

/**
 * dst[(c - c0) * dstStride + dstCol + (r - r0)] = src[r * srcCols + c] for r in [r0, r1), c in [c0, c1):
 * the (c1-c0, r1-r0) transpose of a block of the row-major (·, srcCols) matrix, written
 * at column `dstCol` of a row-major destination with row length `dstStride`
 * (dstCol + r1 - r0 <= dstStride). Bad bounds throw RangeError.
 */
export function transposeInt8(src: Int8Array, srcCols: number, r0: number, r1: number, c0: number, c1: number, dst: Int8Array, dstStride: number, dstCol: number): void {
  utilOps().transposeInt8(src, srcCols, r0, r1, c0, c1, dst, dstStride, dstCol);
}

/** Row-stacked (n_i, k) int8 parts seen as one (Σn_i, k) matrix. */
export interface StackedInt8 {
  readonly parts: readonly Int8Array[];
  readonly rows: readonly number[];
  readonly k: number;
}

export function stackedRows(s: StackedInt8): number {
  return s.rows.reduce((a, b) => a + b, 0);
}

/** Rows [j0, j1) of the transposed (k, n) matrix, into dst (length (j1-j0)·n). */
export function transposedRows(s: StackedInt8, j0: number, j1: number, dst: Int8Array): void {
  const n = stackedRows(s);
  let base = 0;
  for (let p = 0; p < s.parts.length; p++) {
    transposeInt8(s.parts[p], s.k, 0, s.rows[p], j0, j1, dst, n, base);
    base += s.rows[p];
  }
}

/** int8 FRACTAL_NZ C0 (docs/semantics.md §5.1). */
export const INT8_C0 = 32;

/**
 * The FRACTAL_NZ storage (docs/semantics.md §5.1) of columns [c0, c1) of the
 * transposed (k, n) matrix, c0 a multiple of 32: for each 32-column block its
 * (kPad, 32) tile column, kPad = ceil(k/16)·16, zero padded; that is the
 * contiguous run of the whole matrix's NZ storage holding those columns.
 * Block b is rows [c0 + 32b, +32) of the (n, k) source transposed, so each is
 * one transpose into a destination of row length 32. dst.length = ceil((c1-c0)/32)·32·kPad.
 */
export function nzColumns(s: StackedInt8, c0: number, c1: number, dst: Int8Array): void {
  const kPad = Math.ceil(s.k / 16) * 16;
  const tile = INT8_C0 * kPad;
  if (c0 % INT8_C0 !== 0) throw new RangeError(`nzColumns: c0 must be a multiple of ${INT8_C0}, got ${c0}`);
  if (dst.length !== Math.ceil((c1 - c0) / INT8_C0) * tile) throw new RangeError(`nzColumns: dst must hold ${Math.ceil((c1 - c0) / INT8_C0) * tile} bytes, got ${dst.length}`);
  if (kPad !== s.k || (c1 - c0) % INT8_C0 !== 0) dst.fill(0);
  const ops = utilOps();
  for (let b = c0; b < c1; b += INT8_C0) {
    const e = Math.min(b + INT8_C0, c1);
    const out = dst.subarray(((b - c0) / INT8_C0) * tile, ((b - c0) / INT8_C0 + 1) * tile);
    let base = 0;
    for (let p = 0; p < s.parts.length; p++) {
      const lo = Math.max(b - base, 0);
      const hi = Math.min(e - base, s.rows[p]);
      if (lo < hi) ops.transposeInt8(s.parts[p], s.k, lo, hi, 0, s.k, out, INT8_C0, base + lo - b);
      base += s.rows[p];
    }
  }
}

/**
 * Packs rows of int4 values held one per int8 (n, k) into int32 (n, k/8), LSB
 * first (npu_convert_weight_to_int4pack, docs/semantics.md §1.3). Throws
 * RuleError for a value outside [-8, 7].
 */
export function packInt4Rows(src: Int8Array, k: number, dst: Int32Array): void {
  const bad = utilOps().packInt4(src, k, dst);
  if (bad >= 0) throw new RuleError(`holds ${src[bad]} at (${Math.floor(bad / k)}, ${bad % k}); W4A4 weights must be int4 values in [-8, 7]`);
}

/** The values of a float tensor (F32 array, or F16/BF16 raw bits) as float32, exactly. */
export function floatValues(data: Float32Array | Uint16Array, dtype: SafetensorsDtype): Float32Array {
  if (data instanceof Float32Array) return Float32Array.from(data);
  const dec = dtype === 'F16' ? f16ToF32 : bf16ToF32;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = dec(data[i]);
  return out;
}

/** 'I64' = fp32 bits in the low word, sign-extended (msModelSlim deqscale2int64); 'F32' = the float. */
export type DeqEncoding = 'I64' | 'F32';

/**
 * The fp32 bit patterns of a deq_scale, from either encoding. An I64 must be a
 * sign-extended 32-bit value (high word 0, or all ones with bit 31 set).
 */
export function deqScaleBits(data: BigInt64Array | Float32Array): Uint32Array {
  if (data instanceof Float32Array) return new Uint32Array(Float32Array.from(data).buffer);
  const out = new Uint32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (BigInt.asIntN(32, v) !== v) {
      throw new RuleError(
        `element ${i} is 0x${BigInt.asUintN(64, v).toString(16).padStart(16, '0')}, not an fp32 bit pattern sign-extended to int64 ` +
          '(msModelSlim deqscale2int64); an npu_trans_quant_param-packed value cannot be re-encoded',
      );
    }
    out[i] = Number(BigInt.asUintN(32, v));
  }
  return out;
}

/** Re-encodes fp32 bit patterns as the target deq_scale dtype, by bits (never a numeric cast). */
export function encodeDeqScale(bits: Uint32Array, target: DeqEncoding): BigInt64Array | Float32Array {
  if (target === 'F32') return new Float32Array(bits.buffer.slice(bits.byteOffset, bits.byteOffset + bits.byteLength));
  const out = new BigInt64Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = BigInt(bits[i] | 0); // sign-extend, as msModelSlim does
  return out;
}

/** W8A8 activation scale → its float32 reciprocal (what npu_quantize multiplies by, div_mode=False). */
export function activationScaleRecip(scale: number): number {
  if (!Number.isFinite(scale) || scale <= 0) throw new RuleError(`input_scale must be a finite positive number, got ${scale}`);
  const recip = Math.fround(1 / scale);
  if (!Number.isFinite(recip)) throw new RuleError(`1 / input_scale overflows float32 (input_scale ${scale})`);
  return recip;
}

/** W8A8 activation zero point: an integer in the int8 range (vllm-ascend loads it as int8). */
export function activationOffset(offset: number): number {
  if (!Number.isInteger(offset) || offset < -128 || offset > 127) {
    throw new RuleError(`input_offset must be an integer in [-128, 127] (vllm-ascend loads it as int8), got ${offset}`);
  }
  return Math.fround(offset);
}

/** Index of the first non-zero value, or -1 (weight_offset must be all zero for symmetric types). */
export function firstNonZero(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) return i;
  return -1;
}
