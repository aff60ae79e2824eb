/**
 * The W8A8_DYNAMIC weight rule of `qmm quantize`, written from its statement
 * (README, "Quantize a float model"), not from lib/model/quantize: per output
 * row, amax = max |w|, scale = f32(amax / 127) (1 when that is 0),
 * q = clamp(rne(f32(w / scale)), -128, 127).
 */

import { f32 } from './reference';
import { rne } from './reference-quantize';

export interface RefPerChannel {
  /** (n, k) int8 values. */
  q: Int8Array;
  /** (n,) float32 scales. */
  scale: Float32Array;
}

export function refPerChannel(w: ArrayLike<number>, n: number, k: number): RefPerChannel {
  const q = new Int8Array(n * k);
  const scale = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let amax = 0;
    for (let j = 0; j < k; j++) amax = Math.max(amax, Math.abs(w[i * k + j]));
    let s = f32(amax / 127);
    if (s === 0) s = 1;
    scale[i] = s;
    for (let j = 0; j < k; j++) q[i * k + j] = Math.min(127, Math.max(-128, rne(f32(w[i * k + j] / s))));
  }
  return { q, scale };
}
