/**
 * The published types, as a consumer sees them: test/types/consumer.ts
 * (CommonJS) and consumer-esm.mts (ES module, default import) compile under
 * `tsc --strict` against the built package, and every `@ts-expect-error` in
 * them is needed (tsc reports an unused one as TS2578).
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const tsc = path.join(path.dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');

function typeCheck(project: string): { status: number | null; output: string } {
  const r = spawnSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, output: r.stdout + r.stderr };
}

// probes live next to the consumers: 'ascend-quant-matmul' resolves to this package from here
const probeDir = path.join(__dirname, `.probe-${process.pid}`);
afterAll(() => fs.rmSync(probeDir, { recursive: true, force: true }));

function probe(source: string, file = 'probe.ts'): { status: number | null; output: string } {
  fs.mkdirSync(probeDir, { recursive: true });
  fs.writeFileSync(path.join(probeDir, file), source);
  fs.writeFileSync(path.join(probeDir, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', files: [file] }));
  return typeCheck(path.join(probeDir, 'tsconfig.json'));
}

describe('published types', () => {
  it('the consumers type-check and every @ts-expect-error in them is an error', () => {
    const r = typeCheck(path.join(__dirname, 'tsconfig.json'));
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('an unneeded @ts-expect-error fails the check (so the consumers cannot silently pass)', () => {
    const r = probe("import { tensor } from 'ascend-quant-matmul';\n// @ts-expect-error\ntensor(new Int8Array(1), [1], 'int8');\n");
    expect(r.output).toContain('TS2578');
    expect(r.status).not.toBe(0);
  });

  it('a wrong call outside @ts-expect-error fails the check', () => {
    const r = probe("import { tensor } from 'ascend-quant-matmul';\ntensor(new Float32Array(1), [1], 'int8');\n");
    expect(r.output).toContain('probe.ts');
    expect(r.status).not.toBe(0);
  });
});
