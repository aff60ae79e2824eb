/**
 * Node's conventions for errors: every TypeError / RangeError the package
 * throws carries Node's argument codes and prints like Node's own, and a
 * QmmError prints only the details it has (as the README shows).
 */

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  decodeHalf,
  encodeHalf,
  fromFloat32,
  npuFormatCastSync,
  npuQuantMatmulSync,
  prepareModel,
  quantizeModel,
  QmmError,
  QuantLinear,
  serializeSafetensors,
  tensor,
  zeros,
} from '../lib/index';

const root = path.resolve(__dirname, '..');
const i8 = tensor(new Int8Array(4), [2, 2], 'int8');
const f32 = tensor(new Float32Array(2), [2], 'float32');

/** Wrong calls across the public API, each with the Node code it must carry. */
const WRONG: Array<[string, string, () => unknown]> = [
  ['tensor: dtype', 'ERR_INVALID_ARG_VALUE', () => tensor(new Int8Array(1), [1], 'int4' as never)],
  ['tensor: dtype type', 'ERR_INVALID_ARG_TYPE', () => tensor(new Int8Array(1), [1], 7 as never)],
  ['tensor: data', 'ERR_INVALID_ARG_TYPE', () => tensor('abc' as never, [1], 'int8')],
  ['tensor: data element', 'ERR_OUT_OF_RANGE', () => tensor([128], [1], 'int8')],
  ['tensor: shape', 'ERR_INVALID_ARG_TYPE', () => tensor(new Int8Array(1), 'x' as never, 'int8')],
  ['tensor: shape dim', 'ERR_OUT_OF_RANGE', () => tensor(new Int8Array(1), [-1], 'int8')],
  ['tensor: rank', 'ERR_OUT_OF_RANGE', () => tensor(new Int8Array(1), [1, 1, 1, 1, 1, 1, 1, 1, 1], 'int8')],
  ['tensor: options', 'ERR_INVALID_ARG_TYPE', () => tensor(new Int8Array(1), [1], 'int8', 3 as never)],
  ['tensor: options.format', 'ERR_INVALID_ARG_VALUE', () => tensor(new Int8Array(1), [1], 'int8', { format: 'NCHW' as never })],
  ['tensor: options.c0', 'ERR_OUT_OF_RANGE', () => tensor(new Int8Array(16 * 32), [2, 2], 'int8', { format: 'FRACTAL_NZ', c0: 0 })],
  ['tensor: options.device', 'ERR_INVALID_ARG_VALUE', () => tensor(new Int8Array(1), [1], 'int8', { device: 'gpu' as never })],
  ['zeros: huge', 'ERR_OUT_OF_RANGE', () => zeros([1e6, 1e6], 'int8')],
  ['fromFloat32: dtype', 'ERR_INVALID_ARG_VALUE', () => fromFloat32([1], [1], 'int8' as never)],
  ['fromFloat32: values', 'ERR_INVALID_ARG_TYPE', () => fromFloat32(5 as never, [1])],
  ['encodeHalf: dtype', 'ERR_INVALID_ARG_VALUE', () => encodeHalf([1], 'float8' as never)],
  ['decodeHalf: bits', 'ERR_OUT_OF_RANGE', () => decodeHalf([-1], 'float16')],
  ['transpose: dim', 'ERR_OUT_OF_RANGE', () => i8.transpose(0, 5)],
  ['reshape: two -1', 'ERR_INVALID_ARG_VALUE', () => i8.reshape([-1, -1])],
  ['npu: index', 'ERR_OUT_OF_RANGE', () => i8.npu(-1)],
  ['quantMatmul: x1', 'ERR_INVALID_ARG_TYPE', () => npuQuantMatmulSync(null as never, i8, f32)],
  ['quantMatmul: option', 'ERR_INVALID_ARG_VALUE', () => npuQuantMatmulSync(i8, i8, f32, { bogus: 1 } as never)],
  ['quantMatmul: outputDtype', 'ERR_INVALID_ARG_VALUE', () => npuQuantMatmulSync(i8, i8, f32, { outputDtype: 'fp16' as never })],
  ['formatCast: format', 'ERR_OUT_OF_RANGE', () => npuFormatCastSync(i8, 3 as never)],
  ['formatCast: format name', 'ERR_INVALID_ARG_VALUE', () => npuFormatCastSync(i8, 'NZ' as never)],
  ['formatCast: customizeDtype', 'ERR_INVALID_ARG_VALUE', () => npuFormatCastSync(i8, 29, { customizeDtype: 'int4' as never })],
  ['serializeSafetensors: shape', 'ERR_OUT_OF_RANGE', () => serializeSafetensors({ a: { dtype: 'I8', shape: [-1], data: new Int8Array(0) } })],
  ['serializeSafetensors: data', 'ERR_INVALID_ARG_TYPE', () => serializeSafetensors({ a: { dtype: 'I8', shape: [1], data: [1] as never } })],
];

const WRONG_ASYNC: Array<[string, string, () => Promise<unknown>]> = [
  ['prepareModel: modelDir', 'ERR_INVALID_ARG_TYPE', () => prepareModel(5 as never, '/tmp/x')],
  ['prepareModel: option', 'ERR_INVALID_ARG_VALUE', () => prepareModel('/tmp/a', '/tmp/b', { bogus: true } as never)],
  ['prepareModel: shardBytes', 'ERR_OUT_OF_RANGE', () => prepareModel('/tmp/a', '/tmp/b', { shardBytes: 0 })],
  ['quantizeModel: outDir', 'ERR_INVALID_ARG_TYPE', () => quantizeModel('/tmp/a', '')],
  ['quantizeModel: option', 'ERR_INVALID_ARG_VALUE', () => quantizeModel('/tmp/a', '/tmp/b', { bogus: true } as never)],
  ['quantizeModel: chunkBytes', 'ERR_OUT_OF_RANGE', () => quantizeModel('/tmp/a', '/tmp/b', { chunkBytes: 0 })],
  ['quantizeModel: threads', 'ERR_INVALID_ARG_TYPE', () => quantizeModel('/tmp/a', '/tmp/b', { threads: 1.5 })],
  ['QuantLinear.load: option', 'ERR_INVALID_ARG_VALUE', () => QuantLinear.load('/tmp/a', 'l', { bogus: 1 } as never)],
];

function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

describe('TypeError and RangeError carry Node codes', () => {
  for (const [name, code, call] of WRONG) {
    it(name, () => {
      const e = thrown(call);
      expect(e.constructor.name === 'TypeError' || e.constructor.name === 'RangeError', `${e.constructor.name}: ${e.message}`).toBe(true);
      expect(e.code, e.message).toBe(code);
      expect(e.constructor.name).toBe(code === 'ERR_OUT_OF_RANGE' ? 'RangeError' : 'TypeError');
      // printed like Node's own: "RangeError [ERR_OUT_OF_RANGE]: …", name unchanged
      expect(e.stack?.split('\n')[0]).toBe(`${e.constructor.name} [${code}]: ${e.message}`);
      expect(e.name).toBe(e.constructor.name);
    });
  }
  for (const [name, code, call] of WRONG_ASYNC) {
    it(name, async () => {
      const e = (await call().then(
        () => new Error('expected a rejection'),
        (err: unknown) => err,
      )) as Error & { code?: string };
      expect(e.code, e.message).toBe(code);
    });
  }
});

describe('QmmError prints what it has', () => {
  it('no undefined fields on the error', () => {
    const e = thrown(() => tensor(new Int8Array(4), [2, 3], 'int8')) as QmmError;
    expect(e).toBeInstanceOf(QmmError);
    expect(Object.keys(e).filter((k) => k !== 'name').sort()).toEqual(['argument', 'code']);
    expect(inspect(e)).not.toContain('undefined');
    const bare = new QmmError('ERR_QMM_INTERNAL', 'x');
    expect(Object.keys(bare).filter((k) => k !== 'name')).toEqual(['code']);
    expect('status' in bare).toBe(false);
    const full = new QmmError('ERR_QMM_DEVICE', 'x', { status: 507011, call: 'aclrtMalloc' });
    expect(full.status).toBe(507011);
    expect(full.call).toBe('aclrtMalloc');
  });

  it("the README's sample output is what an uncaught error prints", () => {
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Errors'));
    const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)];
    const script = blocks.find((b) => b[1] === 'js')?.[2];
    const output = blocks.find((b, i) => i > 0 && b[1] === '' && blocks[i - 1][1] === 'js')?.[2];
    expect(script, 'a ```js block in the Errors section').toBeDefined();
    expect(output, 'the ``` block after it').toBeDefined();
    const r = spawnSync(process.execPath, ['-e', script as string], { cwd: root, encoding: 'utf8', env: { ...process.env, QMM_BACKEND: 'cpu' } });
    expect(r.status).toBe(1);
    // the lines shown are what Node printed, in order; only stack frames (paths differ per
    // install) may be elided, so the lines after the last frame follow it exactly
    const printed = r.stderr.split('\n');
    const shown = (output as string).trimEnd().split('\n');
    const isFrame = (line: string) => /^\s+(at |\.\.\.)/.test(line);
    const header = printed.indexOf(shown[0]);
    expect(header, `${shown[0]} in:\n${r.stderr}`).toBeGreaterThanOrEqual(0);
    const lastFrame = printed.findIndex((line, i) => i > header && isFrame(line) && !isFrame(printed[i + 1]));
    const details = shown.slice(shown.findIndex((line, i) => i > 0 && !isFrame(line)));
    expect(printed.slice(lastFrame + 1, lastFrame + 1 + details.length)).toEqual(details);
    expect(printed[lastFrame]).toMatch(/ \{$/);
    expect(shown[shown.length - details.length - 1]).toMatch(/ \{$/);
  });
});
