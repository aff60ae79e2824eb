/**
 * Per-row symmetric int4 quantization of activations, packed 8 per int32
 * (LSB first): what W4A4_DYNAMIC layers feed npu_quant_matmul. vllm-ascend
 * calls npu_dynamic_quant(x, dst_type=quint4x2) for it (docs/semantics.md §10.3); the
 * package has no native op for that yet, so this host version follows the
 * op-plugin reference formula with the same decisions as npuDynamicQuant:
 * s = f32(rowmax|x| / 7), q = sat[-8,7](rne(f32(x / s))), s = 0 → q = 0.
 * The device's own rounding is UNVERIFIED (the sources are silent).
 */

import { fmtShape, tensor, type Tensor } from '../tensor';
import { QmmError } from '../errors';

export interface Int4QuantResult {
  /** int32 (rows, k/8). */
  y: Tensor;
  /** float32 (rows,). */
  scale: Tensor;
}

function rne(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : r;
}

/** x: a 2-D float16/bfloat16/float32 tensor (rows, k) with k % 8 == 0. Results are host tensors. */
export function dynamicQuantInt4(x: Tensor): Int4QuantResult {
  if (x.ndim !== 2) throw new QmmError('ERR_QMM_SHAPE', `x: int4 dynamic quantization takes a 2-D (rows, k) tensor, got ${fmtShape(x.shape)}`, { argument: 'x' });
  const [rows, k] = x.shape;
  if (k % 8 !== 0) throw new QmmError('ERR_QMM_SHAPE', `x: the last dim must be a multiple of 8 to pack int4 values, got ${k}`, { argument: 'x' });
  const v = x.toFloat32Array();
  const packed = new Int32Array(rows * (k / 8));
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let amax = 0;
    for (let c = 0; c < k; c++) {
      const a = Math.abs(v[r * k + c]);
      amax = Number.isNaN(a) || Number.isNaN(amax) ? NaN : Math.max(amax, a);
    }
    const s = Math.fround(amax / 7);
    scales[r] = s;
    if (s === 0) continue;
    for (let c = 0; c < k; c++) {
      const t = Math.fround(v[r * k + c] / s);
      const q = Number.isNaN(t) ? 0 : t <= -8 ? -8 : t >= 7 ? 7 : rne(t);
      packed[r * (k / 8) + (c >> 3)] |= (q & 0xf) << (4 * (c & 7));
    }
  }
  return { y: tensor(packed, [rows, k / 8], 'int32'), scale: tensor(scales, [rows], 'float32') };
}
