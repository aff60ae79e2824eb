/**
 * Every dtype row of docs/semantics.md §2.1 (rows 1–8) × layouts (x1 transposed, x2
 * transposed, ND/NZ x2) × optional inputs × ranks 2..5 with broadcasting,
 * compared bit for bit with the reference. Sync and Promise forms alternate.
 */

import { describe, it } from 'vitest';
import { npuQuantMatmul, npuQuantMatmulSync } from '../lib/index';
import { buildCase, type BiasKind, type CaseSpec, type ScaleKind } from './cases';
import { expectMatches, rng } from './helpers';
import { refQuantMatmul } from './reference';

interface Row {
  id: number;
  int4: boolean;
  out: CaseSpec['out'];
  scales: ScaleKind[];
  biases: BiasKind[];
  offset: boolean[];
  pertoken: boolean[];
}

const ROWS: Row[] = [
  { id: 1, int4: false, out: 'float16', scales: ['int64', 'float32'], biases: ['none', 'int32'], offset: [false], pertoken: [false] },
  { id: 2, int4: false, out: 'int8', scales: ['int64', 'float32'], biases: ['none', 'int32'], offset: [false, true], pertoken: [false] },
  { id: 3, int4: false, out: 'bfloat16', scales: ['float32', 'bfloat16'], biases: ['none', 'int32', 'bfloat16', 'float32'], offset: [false], pertoken: [false, true] },
  { id: 4, int4: false, out: 'float16', scales: ['float32'], biases: ['none', 'int32', 'float16', 'float32'], offset: [false], pertoken: [true] },
  { id: 5, int4: true, out: 'float16', scales: ['int64', 'float32'], biases: ['none', 'int32'], offset: [false], pertoken: [false] },
  { id: 6, int4: false, out: 'int32', scales: ['float32', 'bfloat16'], biases: ['none', 'int32'], offset: [false], pertoken: [false] },
  { id: 7, int4: true, out: 'bfloat16', scales: ['float32', 'bfloat16'], biases: ['none', 'int32', 'bfloat16', 'float32'], offset: [false], pertoken: [true] },
  { id: 8, int4: true, out: 'float16', scales: ['float32'], biases: ['none', 'int32', 'float16', 'float32'], offset: [false], pertoken: [true] },
];

function layouts(int4: boolean): Array<Pick<CaseSpec, 'x1T' | 'x2T' | 'nz'>> {
  const out: Array<Pick<CaseSpec, 'x1T' | 'x2T' | 'nz'>> = [];
  for (const x1T of int4 ? [false] : [false, true]) for (const x2T of [false, true]) for (const nz of [false, true]) out.push({ x1T, x2T, nz });
  return out;
}

for (const row of ROWS) {
  describe(`docs/semantics.md §2.1 row ${row.id}: ${row.int4 ? 'int4' : 'int8'} -> ${row.out}`, () => {
    let seed = row.id * 1000;
    for (const scale of row.scales)
      for (const bias of row.biases)
        for (const offset of row.offset)
          for (const pertoken of row.pertoken) {
            const name = `scale ${scale}, bias ${bias}${offset ? ', offset' : ''}${pertoken ? ', pertoken' : ''}`;
            it(name, async () => {
              const r = rng(++seed);
              let i = 0;
              for (const layout of layouts(row.int4)) {
                for (const scaleLen1 of [false, true]) {
                  const spec: CaseSpec = { int4: row.int4, out: row.out, scale, scaleLen1, bias, offset, pertoken, ...layout };
                  const c = buildCase(r, spec);
                  if (bias !== 'none' && !row.int4 && c.ref.x1.shape.length === 3 && c.ref.x2.shape.length <= 3 && r() < 0.5) {
                    // exercise the (B, 1, n) bias when the output is 3-D
                    Object.assign(spec, { bias3d: true, x1Shape: c.ref.x1.shape, x2Shape: c.ref.x2.shape });
                  }
                  const cc = spec.bias3d ? buildCase(r, spec) : c;
                  const label = `${name} ${JSON.stringify(layout)} len1=${scaleLen1} x1${JSON.stringify(cc.ref.x1.shape)} x2${JSON.stringify(cc.ref.x2.shape)}${spec.bias3d ? ' bias3d' : ''}`;
                  const out = i++ % 2 === 0 ? npuQuantMatmulSync(cc.x1, cc.x2, cc.scale, cc.options) : await npuQuantMatmul(cc.x1, cc.x2, cc.scale, cc.options);
                  expectMatches(out, refQuantMatmul(cc.ref), label);
                }
              }
            });
          }
  });
}
