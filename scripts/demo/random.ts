/** Deterministic data for the demo and the bench (mulberry32). */

import { mulberry32 } from '../../lib/mulberry32';

/** The generator of the demo's, the bench's and the tests' inputs. */
export const seeded: (seed: number) => () => number = mulberry32;

export function randomInt8(r: () => number, length: number, lo = -128, hi = 127): Int8Array {
  const out = new Int8Array(length);
  const span = hi - lo + 1;
  for (let i = 0; i < length; i++) out[i] = lo + Math.floor(r() * span);
  return out;
}

export function randomFloats(r: () => number, length: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

export function randomInt32(r: () => number, length: number, lo: number, hi: number): Int32Array {
  const out = new Int32Array(length);
  for (let i = 0; i < length; i++) out[i] = lo + Math.floor(r() * (hi - lo + 1));
  return out;
}
