/** Deterministic data for the demo and the bench (mulberry32). */

export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
