/**
 * References for a prepared layer's forward, from the fixture's msModelSlim
 * values (not from the prepared files): (a) the same quantized arithmetic
 * (reference-quantize + refQuantMatmul), bit for bit; (b) the float32
 * un-quantized layer with a first-order bound on the quantization error.
 */

import type { FixtureLayer } from './model-fixtures';
import { bf16BitsToValue, bitsFromF32, f16BitsToValue, f32, refQuantMatmul, toBf16Bits, toF16Bits, type RefOut, type RefResult } from './reference';
import { refDynamicQuant, refDynamicQuantInt4, refQuantize } from './reference-quantize';

/** The parts of a (possibly fused) layer, concatenated along n. */
export interface RefLayer {
  type: FixtureLayer['type'];
  k: number;
  n: number;
  /** (k, n) logical quantized weight values. */
  wT: number[];
  /** (k, n) float originals. */
  wFloatT: number[];
  weightScale: number[];
  deqScale: number[];
  quantBias: number[];
  bias?: number[];
  inputScale?: number;
  inputOffset?: number;
}

export function refLayer(parts: FixtureLayer[]): RefLayer {
  const k = parts[0].k;
  const n = parts.reduce((a, p) => a + p.n, 0);
  const wT = new Array<number>(k * n);
  const wFloatT = new Array<number>(k * n);
  let col = 0;
  for (const p of parts) {
    for (let i = 0; i < p.n; i++)
      for (let j = 0; j < k; j++) {
        wT[j * n + col + i] = (p.wq as Int8Array)[i * k + j];
        wFloatT[j * n + col + i] = p.w[i * k + j];
      }
    col += p.n;
  }
  const cat = (get: (p: FixtureLayer) => ArrayLike<number> | undefined) => parts.flatMap((p) => Array.from(get(p) ?? new Float32Array(p.n)));
  const hasBias = parts.some((p) => p.biasValues);
  return {
    type: parts[0].type,
    k,
    n,
    wT,
    wFloatT,
    weightScale: cat((p) => p.weightScale),
    deqScale: cat((p) => p.deqScale),
    quantBias: cat((p) => p.quantBias),
    ...(hasBias ? { bias: cat((p) => p.biasValues) } : {}),
    ...(parts[0].inputScale !== undefined ? { inputScale: parts[0].inputScale, inputOffset: parts[0].inputOffset } : {}),
  };
}

/** (a) the quantized forward on logical x values (M, k): output bits (float16/bfloat16). */
export function refForward(l: RefLayer, x: number[], m: number, out: RefOut): RefResult {
  const x2 = { shape: [l.k, l.n], values: l.wT };
  if (l.type === 'W8A8') {
    // the layer feeds npuQuantize f32(1 / input_scale) rounded once to the activation dtype
    const recip = out === 'float16' ? f16BitsToValue(toF16Bits(f32(1 / (l.inputScale as number)))) : bf16BitsToValue(toBf16Bits(f32(1 / (l.inputScale as number))));
    const xq = refQuantize(x, l.k, [recip], [l.inputOffset as number]);
    // float16 output: the int64 deq_scale (fp32 bits); bfloat16: the float32 deq_scale
    const scale = out === 'float16' ? { dtype: 'int64' as const, values: l.deqScale.map((d) => BigInt(bitsFromF32(d) | 0)) } : { dtype: 'float32' as const, values: l.deqScale };
    return refQuantMatmul({ x1: { shape: [m, l.k], values: xq }, x2, scale, bias: { dtype: 'int32', shape: [l.n], values: l.quantBias }, out });
  }
  const q = l.type === 'W8A8_DYNAMIC' ? refDynamicQuant(x, l.k) : refDynamicQuantInt4(x, l.k);
  return refQuantMatmul({
    x1: { shape: [m, l.k], values: q.y },
    x2,
    scale: { dtype: 'float32', values: l.weightScale },
    pertoken: q.scale,
    ...(l.bias ? { bias: { dtype: 'float32' as const, shape: [l.n], values: l.bias } } : {}),
    out,
  });
}

/** (b) the float layer x·Wᵀ + b (float64) and, per element, a bound on the quantized result's error. */
export function refFloatForward(l: RefLayer, x: number[], m: number, out: RefOut): { y: number[]; bound: number[] } {
  const y = new Array<number>(m * l.n);
  const bound = new Array<number>(m * l.n);
  const qmaxX = l.type === 'W4A4_DYNAMIC' ? 7 : 127;
  for (let r = 0; r < m; r++) {
    let amax = 0;
    for (let c = 0; c < l.k; c++) amax = Math.max(amax, Math.abs(x[r * l.k + c]));
    const xs = l.type === 'W8A8' ? (l.inputScale as number) : amax / qmaxX;
    for (let j = 0; j < l.n; j++) {
      let acc = l.bias ? l.bias[j] : 0;
      let err = 0;
      const ws = l.weightScale[j];
      for (let c = 0; c < l.k; c++) {
        const xv = x[r * l.k + c];
        acc += xv * l.wFloatT[c * l.n + j];
        // |x̂ - x| ≤ xs/2, |ŵ - w| ≤ ws/2: |x̂ŵ - xw| ≤ xs/2·|ŵ| + |x|·ws/2
        err += (xs / 2) * Math.abs(l.wT[c * l.n + j] * ws) + (Math.abs(xv) * ws) / 2;
      }
      if (l.type === 'W8A8') err += l.deqScale[j]; // quant_bias rounding and the fp19 scale
      const rel = out === 'float16' ? 2 ** -10 : 2 ** -7; // output rounding (and fp19 truncation)
      y[r * l.n + j] = acc;
      bound[r * l.n + j] = 1.25 * err + rel * (Math.abs(acc) + err) + 1e-6;
    }
  }
  return { y, bound };
}
