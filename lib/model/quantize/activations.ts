/**
 * Random activations shaped like LLM hidden states, for the accuracy report:
 * per element a standard normal value times a per-token gain (log-uniform in
 * [0.5, 2]), except in ⌈k/256⌉ outlier channels, which hold 20–60 times that
 * with a sign fixed per channel (the systematic outlier features reported for
 * LLM activations by LLM.int8() and SmoothQuant). Deterministic for a seed
 * and a layer name.
 */

import { mulberry32 } from '../../mulberry32';

export const ACTIVATIONS_DESCRIPTION =
  'x[t, c] = g_t · z, z ~ N(0, 1), per-token gain g_t log-uniform in [0.5, 2]; in ceil(k/256) outlier channels (fixed per layer) ' +
  'x[t, c] = ±g_t · U(20, 60) with a fixed sign per channel; seeded by the report seed and the layer name';

/** mulberry32 on a seed mixed with a name: uniform in [0, 1). */
export function seededUniform(seed: number, name: string): () => number {
  let s = seed >>> 0;
  for (let i = 0; i < name.length; i++) s = Math.imul(s ^ name.charCodeAt(i), 0x9e3779b1) >>> 0;
  return mulberry32(s);
}

/** (tokens, k) activations, row-major, as float64 values (round them to the model dtype before use). */
export function llmActivations(tokens: number, k: number, seed: number, name: string): Float64Array {
  const u = seededUniform(seed, name);
  const normal = (): number => {
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    return r * Math.cos(2 * Math.PI * u());
  };
  const outliers = new Map<number, number>();
  const count = Math.min(k, Math.ceil(k / 256));
  while (outliers.size < count) outliers.set(Math.floor(u() * k), u() < 0.5 ? -1 : 1);
  const x = new Float64Array(tokens * k);
  for (let t = 0; t < tokens; t++) {
    const gain = 0.5 * 4 ** u();
    for (let c = 0; c < k; c++) {
      const sign = outliers.get(c);
      x[t * k + c] = sign === undefined ? gain * normal() : sign * gain * (20 + 40 * u());
    }
  }
  return x;
}
