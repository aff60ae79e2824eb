/**
 * The 219 aclnnQuantMatmulV4 ST cases of docs/semantics.md Appendix A (A2/A3), at reduced
 * size (m ≤ 24, n ≤ 96, batch dims ≤ 3, k kept), every dtype, layout and NZ
 * choice as listed, compared bit for bit with the reference.
 */

import { describe, it } from 'vitest';
import { npuQuantMatmul, type OutputDType } from '../lib/index';
import appendix from './fixtures/appendix-a.json';
import { buildCase, type BiasKind, type CaseSpec, type ScaleKind } from './cases';
import { expectMatches, rng } from './helpers';
import { refQuantMatmul } from './reference';

interface T {
  dtype: string;
  shape: number[];
}
interface Row {
  id: number;
  x1: T;
  x2: T;
  tX1: boolean;
  tX2: boolean;
  nz: boolean;
  scale: T;
  offset: T | null;
  pertoken: T | null;
  bias: T | null;
  out: string;
}

const DT: Record<string, string> = { fp32: 'float32', bf16: 'bfloat16', fp16: 'float16', int64: 'int64', int32: 'int32', int8: 'int8' };
const swap = (s: number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];

/** Logical shapes of the stored operands, reduced in size. */
function reducedShapes(row: Row): [number[], number[]] {
  const l1 = row.tX1 ? swap(row.x1.shape) : [...row.x1.shape];
  const l2 = row.tX2 ? swap(row.x2.shape) : [...row.x2.shape];
  const cap = (s: number[]) => s.map((d, i) => (i < s.length - 2 && d > 1 ? Math.min(d, 3) : d));
  const r1 = cap(l1);
  const r2 = cap(l2);
  r1[r1.length - 2] = Math.min(r1[r1.length - 2], 24);
  const n = r2[r2.length - 1];
  if (n > 96) r2[r2.length - 1] = 96;
  return [r1, r2];
}

describe('docs/semantics.md Appendix A (aclnnQuantMatmulV4 ST cases)', () => {
  for (const row of (appendix as { cases: Row[] }).cases) {
    const desc = `#${row.id} ${row.x1.dtype}${JSON.stringify(row.x1.shape)} @ ${row.x2.dtype}${JSON.stringify(row.x2.shape)} tX1=${+row.tX1} tX2=${+row.tX2} nz=${+row.nz} ${row.scale.dtype} -> ${row.out}`;
    it(desc, async () => {
      const [x1Shape, x2Shape] = reducedShapes(row);
      const n = x2Shape[x2Shape.length - 1];
      const spec: CaseSpec = {
        int4: row.x1.dtype === 'int32',
        out: DT[row.out] as OutputDType,
        scale: DT[row.scale.dtype] as ScaleKind,
        scaleLen1: row.scale.shape[0] === 1,
        bias: (row.bias ? DT[row.bias.dtype] : 'none') as BiasKind,
        bias3d: row.bias?.shape.length === 3,
        offset: row.offset !== null,
        offsetLen1: row.offset?.shape[0] === 1,
        pertoken: row.pertoken !== null,
        x1T: row.tX1,
        x2T: row.tX2,
        nz: row.nz,
        x1Shape,
        x2Shape,
      };
      const c = buildCase(rng(row.id + 77), spec);
      const out = await npuQuantMatmul(c.x1, c.x2, c.scale, c.options);
      expectMatches(out, refQuantMatmul(c.ref), `${desc} (n=${n})`);
    });
  }
});
