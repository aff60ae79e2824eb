/**
 * Builds quant-matmul cases: random values and layouts for a chosen dtype
 * row, as both the package's tensors and the reference's logical inputs.
 */

import { tensor, type OutputDType, type QuantMatmulOptions, type Tensor } from '../lib/index';
import { floatTensor, makeX1, makeX2, prod, randFloats, randInt, randInts, type Rng } from './helpers';
import { bitsFromF32, refBroadcast, refTransQuantParam, type RefQuantMatmulInput } from './reference';

export type ScaleKind = 'int64' | 'float32' | 'bfloat16';
export type BiasKind = 'none' | 'int32' | 'float32' | 'float16' | 'bfloat16';

export interface CaseSpec {
  int4: boolean;
  out: OutputDType;
  scale: ScaleKind;
  scaleLen1?: boolean;
  bias: BiasKind;
  bias3d?: boolean;
  offset?: boolean;
  /** offset of length 1 (else n); random when absent */
  offsetLen1?: boolean;
  pertoken?: boolean;
  x1T?: boolean;
  x2T?: boolean;
  nz?: boolean;
  /** logical shapes; generated when absent */
  x1Shape?: number[];
  x2Shape?: number[];
  /** value ranges */
  xRange?: [number, number];
  scaleRange?: [number, number];
}

export interface BuiltCase {
  x1: Tensor;
  x2: Tensor;
  scale: Tensor;
  options: QuantMatmulOptions;
  ref: RefQuantMatmulInput;
}

/** Random broadcast-compatible batch dims for x1 and x2 with ranks r1, r2. */
export function randomBatches(r: Rng, r1: number, r2: number): [number[], number[]] {
  const nb = Math.max(r1, r2) - 2;
  const out = Array.from({ length: nb }, () => randInt(r, 1, 3));
  const pick = (rank: number) => out.slice(nb - (rank - 2)).map((d) => (r() < 0.3 ? 1 : d));
  return [pick(r1), pick(r2)];
}

export function randomShapes(r: Rng, spec: CaseSpec): [number[], number[]] {
  const r1 = randInt(r, 2, 5);
  const r2 = spec.int4 ? 2 : randInt(r, 2, 5);
  const [b1, b2] = randomBatches(r, r1, r2);
  const lo = spec.nz ? 2 : 1;
  const m = randInt(r, 1, 20);
  let k = randInt(r, lo, 48);
  let n = randInt(r, lo, 40);
  if (spec.int4) {
    k = 8 * randInt(r, 1, 6);
    if (!spec.x2T) n = 8 * randInt(r, 1, 5);
  }
  return [
    [...b1, m, k],
    [...b2, k, n],
  ];
}


export function buildCase(r: Rng, spec: CaseSpec): BuiltCase {
  const [s1, s2] = spec.x1Shape && spec.x2Shape ? [spec.x1Shape, spec.x2Shape] : randomShapes(r, spec);
  const m = s1[s1.length - 2];
  const k = s1[s1.length - 1];
  const n = s2[s2.length - 1];
  const [xlo, xhi] = spec.xRange ?? (spec.int4 ? [-8, 7] : [-128, 127]);
  const v1 = randInts(r, prod(s1), xlo, xhi);
  const v2 = randInts(r, prod(s2), xlo, xhi);
  const x1 = makeX1(v1, s1, { transposed: spec.x1T, int4: spec.int4 });
  const x2 = makeX2(v2, s2, { transposed: spec.x2T, nz: spec.nz, int4: spec.int4 });
  const outBatch = refBroadcast(s1.slice(0, -2), s2.slice(0, -2));

  // typical |A| is ~ 128*128*sqrt(k)/2 for int8; aim the float outputs at interesting ranges
  const big = spec.int4 ? 8 * 8 * Math.sqrt(k) : 128 * 128 * Math.sqrt(k) * 0.3;
  const defaultScale: [number, number] =
    spec.out === 'int8' ? [30 / big, 400 / big] : spec.out === 'float16' ? [0.2 / big, 3000 / big] : [-2 / big, 2 / big];
  const [slo, shi] = spec.scaleRange ?? defaultScale;
  const sLen = spec.scaleLen1 ? 1 : n;
  const options: QuantMatmulOptions = { outputDtype: spec.out };
  const ref: RefQuantMatmulInput = {
    x1: { shape: s1, values: v1 },
    x2: { shape: s2, values: v2 },
    scale: { dtype: 'float32', values: [] },
    out: spec.out,
  };

  let offsetValues: number[] | undefined;
  if (spec.offset) {
    const len1 = spec.offsetLen1 ?? r() < 0.3;
    offsetValues = randFloats(r, len1 ? 1 : n, -300, 300).map((v) => (r() < 0.2 ? Math.round(v) + 0.5 : v));
    options.offset = tensor(Float32Array.from(offsetValues), [offsetValues.length], 'float32');
    ref.offset = offsetValues;
  }

  let scale: Tensor;
  const sv = randFloats(r, sLen, slo, shi);
  if (spec.scale === 'int64') {
    // an explicit int64 scale carries its own offset bits (docs/semantics.md §2.3)
    const packedOffsets = spec.out === 'int8' ? randFloats(r, sLen, -300, 300) : undefined;
    // also with live low 13 bits (msModelSlim writes raw fp32 bits as I64, docs/semantics.md §10.1.3) that the fixpipe ignores
    const q = r() < 0.5
      ? refTransQuantParam(sv, packedOffsets, 0).map((v) => v | BigInt(randInt(r, 0, 0x1fff)))
      : sv.map((v) => BigInt(bitsFromF32(v)));
    scale = tensor(BigInt64Array.from(q), [sLen], 'int64');
    ref.scale = { dtype: 'int64', values: q };
  } else {
    const ft = floatTensor(sv, [sLen], spec.scale);
    scale = ft.t;
    ref.scale = { dtype: spec.scale, values: ft.values };
  }

  if (spec.pertoken) {
    const pt = randFloats(r, m, 0.01, 4);
    options.pertokenScale = tensor(Float32Array.from(pt), [m], 'float32');
    ref.pertoken = pt;
  }

  if (spec.bias !== 'none') {
    const bshape = spec.bias3d ? [outBatch[0], 1, n] : [n];
    const count = prod(bshape);
    if (spec.bias === 'int32') {
      const bv = randInts(r, count, -50000, 50000);
      options.bias = tensor(Int32Array.from(bv), bshape, 'int32');
      ref.bias = { dtype: 'int32', shape: bshape, values: bv };
    } else {
      const ft = floatTensor(randFloats(r, count, -3, 3), bshape, spec.bias);
      options.bias = ft.t;
      ref.bias = { dtype: spec.bias, shape: bshape, values: ft.values };
    }
  }
  return { x1, x2, scale, options, ref };
}
