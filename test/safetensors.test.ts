import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QmmError } from '../lib/errors';
import { rng } from './helpers';
import {
  SAFETENSORS_DTYPES,
  SafetensorsFile,
  SafetensorsWriter,
  dtypeBits,
  parseSafetensorsBuffer,
  readSafetensorsIndex,
  serializeSafetensors,
  writeSafetensors,
  type SafetensorsDtype,
  type SafetensorsTensorInput,
} from '../lib/safetensors';

let dir = '';
let counter = 0;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-safetensors-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A fresh empty directory under the suite's temp dir. */
function freshDir(): string {
  const d = path.join(dir, `d${counter++}`);
  fs.mkdirSync(d);
  return d;
}

function tmpFile(bytes: Uint8Array): string {
  const f = path.join(dir, `f${counter++}.safetensors`);
  fs.writeFileSync(f, bytes);
  return f;
}

const enc = new TextEncoder();

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function u64le(n: bigint | number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

/** prefix(N) + header + data; `n` overrides the length prefix. */
function rawFile(header: string | Uint8Array, data: Uint8Array | number = 0, n?: bigint | number): Uint8Array {
  const h = typeof header === 'string' ? enc.encode(header) : header;
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  return concat(u64le(n ?? h.length), h, d);
}

function entry(dtype: string, shape: number[], begin: number, end: number): string {
  return `{"dtype":"${dtype}","shape":[${shape.join(',')}],"data_offsets":[${begin},${end}]}`;
}

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

async function catchAsync(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

function expectFileError(e: unknown, rule: string, file?: string, tensor?: string): void {
  expect(e).toBeInstanceOf(QmmError);
  const q = e as QmmError;
  expect(q.code).toBe('ERR_QMM_FILE');
  expect(q.message).toContain(`safetensors ${rule}:`);
  if (file !== undefined) {
    expect(q.file).toBe(file);
    expect(q.message).toContain(file);
  }
  if (tensor !== undefined) expect(q.argument).toBe(tensor);
}

/** Checks sync open, async open and in-memory parsing all reject with `rule`. */
async function expectCorrupt(bytes: Uint8Array, rule: string, tensor?: string): Promise<void> {
  const f = tmpFile(bytes);
  expectFileError(catchSync(() => SafetensorsFile.openSync(f)), rule, f, tensor);
  expectFileError(await catchAsync(() => SafetensorsFile.open(f)), rule, f, tensor);
  expectFileError(catchSync(() => parseSafetensorsBuffer(bytes, 'mem')), rule, 'mem', tensor);
}


function randomBytesFrom(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** A shape whose byte size is whole for any dtype: F4 and F6 need numel divisible by 2 and 4. */
function shapeFor(dtype: SafetensorsDtype): number[] {
  return dtypeBits(dtype) < 8 ? [2, 4] : [2, 3];
}

function byteLen(dtype: SafetensorsDtype, shape: number[]): number {
  return (shape.reduce((a, b) => a * b, 1) * dtypeBits(dtype)) / 8;
}

describe('safetensors writer and reader round trip', () => {
  it('round-trips every dtype with metadata, and aligns every tensor', async () => {
    const rand = rng(1);
    const tensors: Record<string, SafetensorsTensorInput> = {};
    for (const dt of SAFETENSORS_DTYPES) {
      const shape = shapeFor(dt);
      tensors[`t.${dt}`] = { dtype: dt, shape, data: randomBytesFrom(rand, byteLen(dt, shape)) };
      tensors[`empty.${dt}`] = { dtype: dt, shape: [3, 0], data: new Uint8Array(0) };
      if (dtypeBits(dt) >= 8) tensors[`scalar.${dt}`] = { dtype: dt, shape: [], data: randomBytesFrom(rand, dtypeBits(dt) / 8) };
    }
    const metadata = { format: 'pt', 'ключ': 'значение ✓', '': 'empty key', ['__proto__']: 'y', 'quote"\\\n': '\u0001' };
    const f = path.join(freshDir(), 'all.safetensors');
    await writeSafetensors(f, tensors, metadata);

    for (const st of [await SafetensorsFile.open(f), SafetensorsFile.openSync(f)]) {
      expect(st.metadata()).toEqual(metadata);
      expect(new Set(st.names())).toEqual(new Set(Object.keys(tensors)));
      expect(st.header.dataStart % 8).toBe(0);
      for (const [name, t] of Object.entries(tensors)) {
        const info = st.info(name);
        expect(info.dtype).toBe(t.dtype);
        expect(info.shape).toEqual(t.shape);
        expect(info.byteLength).toBe(t.data.byteLength);
        // Alignment rule: each tensor starts at a multiple of its element size.
        expect(info.byteOffset % Math.max(1, dtypeBits(t.dtype) / 8)).toBe(0);
        expect(await st.read(name)).toEqual(t.data);
        expect(st.readSync(name)).toEqual(t.data);
      }
      await st.close();
    }
    expect(fs.statSync(f).size).toBe(serializeSafetensors(tensors, metadata).length);
    expect(new Uint8Array(fs.readFileSync(f))).toEqual(serializeSafetensors(tensors, metadata));
  });

  it('orders tensors by descending dtype alignment, then by UTF-8 name', () => {
    const t = (dtype: SafetensorsDtype, shape: number[]): SafetensorsTensorInput => ({
      dtype,
      shape,
      data: new Uint8Array(byteLen(dtype, shape)),
    });
    const bytes = serializeSafetensors({
      b8: t('I8', [3]),
      a8: t('I8', [1]),
      f4: t('F4', [2]),
      bool: t('BOOL', [1]),
      f16: t('F16', [1]),
      f32: t('F32', [1]),
      c64: t('C64', [1]),
      f64: t('F64', [1]),
      i64: t('I64', [1]),
      u64: t('U64', [1]),
      '\u{1F600}': t('U8', [1]),
      '\uFFFD': t('U8', [1]),
    });
    const names = parseSafetensorsBuffer(bytes).tensors.map((x) => x.name);
    // U+FFFD (EF BF BD) sorts before U+1F600 (F0 9F 98 80) in UTF-8, unlike UTF-16.
    expect(names).toEqual(['u64', 'i64', 'f64', 'c64', 'f32', 'f16', 'a8', 'b8', '\uFFFD', '\u{1F600}', 'f4', 'bool']);
  });

  it('returns the right typed array for each dtype', async () => {
    const f = path.join(freshDir(), 'typed.safetensors');
    const i8 = Int8Array.of(-1, 2, -3);
    const u8 = Uint8Array.of(250, 1);
    const i16 = Int16Array.of(-30000, 5);
    const u16 = Uint16Array.of(65535, 1);
    const i32 = Int32Array.of(-2e9, 7);
    const u32 = Uint32Array.of(4e9, 8);
    const f32 = Float32Array.of(1.5, -0.25, Infinity);
    const f64 = Float64Array.of(Math.PI, -0);
    const i64 = BigInt64Array.of(-(2n ** 62n), 3n);
    const u64 = BigUint64Array.of(2n ** 64n - 1n);
    const f16 = Uint16Array.of(0x3c00, 0xc000);
    const bf16 = Uint16Array.of(0x3f80);
    const c64 = Float32Array.of(1, 2, 3, 4);
    await writeSafetensors(f, {
      i8: { dtype: 'I8', shape: [3], data: i8 },
      u8: { dtype: 'U8', shape: [2], data: u8 },
      i16: { dtype: 'I16', shape: [2], data: i16 },
      u16: { dtype: 'U16', shape: [2], data: u16 },
      i32: { dtype: 'I32', shape: [2], data: i32 },
      u32: { dtype: 'U32', shape: [2], data: u32 },
      f32: { dtype: 'F32', shape: [3], data: f32 },
      f64: { dtype: 'F64', shape: [2], data: f64 },
      i64: { dtype: 'I64', shape: [2], data: i64 },
      u64: { dtype: 'U64', shape: [], data: u64 },
      f16: { dtype: 'F16', shape: [2], data: f16 },
      bf16: { dtype: 'BF16', shape: [1, 1], data: bf16 },
      c64: { dtype: 'C64', shape: [2], data: c64 },
      boolv: { dtype: 'BOOL', shape: [2], data: Uint8Array.of(1, 0) },
      e: { dtype: 'F32', shape: [0], data: new Float32Array(0) },
    });
    const st = await SafetensorsFile.open(f);
    expect(await st.readTyped('i8')).toEqual(i8);
    expect(await st.readTyped('u8')).toEqual(u8);
    expect(await st.readTyped('i16')).toEqual(i16);
    expect(await st.readTyped('u16')).toEqual(u16);
    expect(await st.readTyped('i32')).toEqual(i32);
    expect(await st.readTyped('u32')).toEqual(u32);
    expect(await st.readTyped('f32')).toEqual(f32);
    expect(await st.readTyped('f64')).toEqual(f64);
    expect(await st.readTyped('i64')).toEqual(i64);
    expect(st.readTypedSync('u64')).toEqual(u64);
    expect(await st.readTyped('f16')).toEqual(f16);
    expect(await st.readTyped('bf16')).toEqual(bf16);
    expect(await st.readTyped('c64')).toEqual(c64);
    expect(await st.readTyped('boolv')).toEqual(Uint8Array.of(1, 0));
    expect(await st.readTyped('e')).toEqual(new Float32Array(0));
    expectFileError(catchSync(() => st.info('nope')), 'NoSuchTensor', f, 'nope');
    const pending = st.read('i32');
    const closing = st.close();
    expectFileError(await catchAsync(() => st.read('i8')), 'Closed', f);
    expect(new Int32Array((await pending).buffer)).toEqual(i32);
    await closing;
    await st.close();
    expectFileError(await catchAsync(() => st.read('i8')), 'Closed', f);
  });

  it('writes an empty file as "{}" padded to 8 bytes', () => {
    const bytes = serializeSafetensors({});
    expect(bytes).toEqual(concat(u64le(8), enc.encode('{}      ')));
    expect(parseSafetensorsBuffer(bytes).tensors).toEqual([]);
    expect(serializeSafetensors({}, {})).toEqual(concat(u64le(24), enc.encode('{"__metadata__":{}}     ')));
  });
});

describe('safetensors byte-exact layout', () => {
  const i8 = Int8Array.of(1, -2, 3);
  const i64 = BigInt64Array.of(0x0102030405060708n);
  const data = Uint8Array.of(8, 7, 6, 5, 4, 3, 2, 1, 1, 0xfe, 3);

  it('matches a hand-built file: I64 before I8, header space-padded to 8', async () => {
    // 107 JSON bytes + 5 spaces = 112 = 0x70.
    const json = '{"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"I8","shape":[3],"data_offsets":[8,11]}}';
    const expected = concat(Uint8Array.of(0x70, 0, 0, 0, 0, 0, 0, 0), enc.encode(`${json}     `), data);
    const tensors = { a: { dtype: 'I8' as const, shape: [3], data: i8 }, b: { dtype: 'I64' as const, shape: [1], data: i64 } };
    expect(serializeSafetensors(tensors)).toEqual(expected);
    const f = path.join(freshDir(), 'exact.safetensors');
    await writeSafetensors(f, tensors);
    expect(new Uint8Array(fs.readFileSync(f))).toEqual(expected);
  });

  it('puts __metadata__ first', () => {
    // 138 JSON bytes + 6 spaces = 144 = 0x90.
    const json =
      '{"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"a":{"dtype":"I8","shape":[3],"data_offsets":[8,11]}}';
    const expected = concat(Uint8Array.of(0x90, 0, 0, 0, 0, 0, 0, 0), enc.encode(`${json}      `), data);
    expect(
      serializeSafetensors({ a: { dtype: 'I8', shape: [3], data: i8 }, b: { dtype: 'I64', shape: [1], data: i64 } }, { format: 'pt' }),
    ).toEqual(expected);
  });
});

describe('safetensors reader accepts what the reference reader accepts', () => {
  it('reads the reference doc example (N = 60, not 8-aligned)', async () => {
    const bytes = rawFile('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', 16);
    expect(bytes[0]).toBe(60);
    const st = await SafetensorsFile.open(tmpFile(bytes));
    expect(st.info('test')).toMatchObject({ dtype: 'I32', shape: [2, 2], byteOffset: 68, byteLength: 16 });
    expect(await st.readTyped('test')).toEqual(new Int32Array(4));
    expect(st.metadata()).toBeUndefined();
    await st.close();
  });

  it('tolerates leading and trailing JSON whitespace', () => {
    expect(parseSafetensorsBuffer(rawFile('{}\r \t\n')).tensors).toEqual([]);
    expect(parseSafetensorsBuffer(rawFile('\t\n{}\r ')).tensors).toEqual([]);
  });

  it('accepts any entry order, extra fields, and zero-size tensors sharing an offset', () => {
    const h = `{"z":${entry('U8', [2], 0, 2)},"y":{"dtype":"I8","extra":[1,{"a":null}],"shape":[0],"data_offsets":[2,2]},"x":${entry('I32', [1, 0], 2, 2)},"w":${entry('I8', [1], 2, 3)}}`;
    const hdr = parseSafetensorsBuffer(rawFile(h, 3));
    expect(hdr.tensors.map((t) => t.name)).toEqual(['z', 'y', 'x', 'w']);
    expect(hdr.dataLength).toBe(3);
  });

  it('decodes escapes in names and metadata', () => {
    const h = `{"__metadata__":{"k\\u00e9y":"\\ud83d\\ude00\\n\\/"},"a\\"b":${entry('U8', [], 0, 1)}}`;
    const hdr = parseSafetensorsBuffer(rawFile(h, 1));
    expect(hdr.metadata).toEqual({ 'kéy': '\u{1F600}\n/' });
    expect(hdr.byName.has('a"b')).toBe(true);
  });
});

describe('safetensors reader rejects corrupt files with ERR_QMM_FILE', () => {
  const good = serializeSafetensors({
    w: { dtype: 'I8', shape: [2, 2], data: Int8Array.of(1, 2, 3, 4) },
    s: { dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) },
  });
  const n = Number(new DataView(good.buffer).getBigUint64(0, true));

  it('truncated files', async () => {
    await expectCorrupt(good.subarray(0, good.length - 1), 'MetadataIncompleteBuffer');
    await expectCorrupt(good.subarray(0, 5), 'HeaderTooSmall');
    await expectCorrupt(new Uint8Array(0), 'HeaderTooSmall');
    await expectCorrupt(good.subarray(0, 8 + n - 1), 'InvalidHeaderLength');
  });

  it('header length too large or beyond the file', async () => {
    await expectCorrupt(rawFile('{}', 0, 100_000_001), 'HeaderTooLarge');
    await expectCorrupt(rawFile('{}', 0, 2n ** 64n - 1n), 'HeaderTooLarge');
    await expectCorrupt(rawFile('{}', 0, 2n ** 63n), 'HeaderTooLarge');
    await expectCorrupt(rawFile('{}', 0, 1000), 'InvalidHeaderLength');
    await expectCorrupt(rawFile('{}', 0, 3), 'InvalidHeaderLength');
    // Exactly the limit is allowed by rule 1, but then the file is too short.
    await expectCorrupt(rawFile('{}', 0, 100_000_000), 'InvalidHeaderLength');
  });

  it('invalid UTF-8', async () => {
    await expectCorrupt(rawFile(Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d)), 'InvalidHeader');
    // An encoded surrogate (ED A0 80) is not valid UTF-8 either.
    await expectCorrupt(rawFile(Uint8Array.of(0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d)), 'InvalidHeader');
    await expectCorrupt(rawFile(Uint8Array.of(0xef, 0xbb, 0xbf, 0x7b, 0x7d)), 'InvalidHeaderDeserialization');
  });

  it('invalid JSON', async () => {
    for (const h of [
      '',
      '{',
      '{"a":',
      '{"a":1,}',
      "{'a':1}",
      '[]',
      'null',
      '{} {}',
      '{"a":NaN}',
      '{"a":01}',
      '{"a":"\\x"}',
      '{"a":"tab\there"}',
      '{"a":tru}',
      '{"a" 1}',
      `{"a":${'['.repeat(200)}${']'.repeat(200)}}`,
      `${'['.repeat(100_000)}`,
    ]) {
      await expectCorrupt(rawFile(h), 'InvalidHeaderDeserialization');
    }
    await expectCorrupt(rawFile('{"a\\ud800":1}'), 'InvalidHeaderDeserialization');
    await expectCorrupt(rawFile('{"a\\udc00":1}'), 'InvalidHeaderDeserialization');
  });

  it('duplicate keys at every level', async () => {
    const e = entry('U8', [1], 0, 1);
    await expectCorrupt(rawFile(`{"a":${e},"a":${e}}`, 1), 'DuplicateKey', 'a');
    await expectCorrupt(rawFile(`{"a":${e},"\\u0061":${e}}`, 1), 'DuplicateKey', 'a');
    await expectCorrupt(rawFile(`{"__metadata__":{"k":"1","k":"2"},"a":${e}}`, 1), 'DuplicateKey');
    await expectCorrupt(rawFile(`{"__metadata__":{},"__metadata__":{},"a":${e}}`, 1), 'DuplicateKey');
    await expectCorrupt(rawFile(`{"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, 1), 'DuplicateKey', 'a');
    await expectCorrupt(rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":{"y":1,"y":2}}}`, 1), 'DuplicateKey', 'a');
  });

  it('overlapping offsets, holes and offsets out of range', async () => {
    await expectCorrupt(rawFile(`{"a":${entry('U8', [2], 0, 2)},"b":${entry('U8', [2], 1, 3)}}`, 3), 'InvalidOffset', 'b');
    await expectCorrupt(rawFile(`{"a":${entry('U8', [2], 0, 2)},"b":${entry('U8', [2], 0, 2)}}`, 2), 'InvalidOffset');
    await expectCorrupt(rawFile(`{"a":${entry('U8', [1], 0, 1)},"b":${entry('U8', [1], 2, 3)}}`, 3), 'InvalidOffset', 'b');
    await expectCorrupt(rawFile(`{"a":${entry('U8', [1], 1, 2)}}`, 2), 'InvalidOffset', 'a');
    await expectCorrupt(rawFile(`{"a":${entry('U8', [1], 0, 1)},"b":${entry('U8', [0], 1, 0)}}`, 1), 'InvalidOffset', 'b');
    await expectCorrupt(rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}}`, 1), 'InvalidOffset', 'a');
    await expectCorrupt(rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}`, 1), 'InvalidOffset', 'a');
    await expectCorrupt(rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":"0,1"}}`, 1), 'InvalidOffset', 'a');
    // End beyond the byte buffer: the file is shorter than the header claims.
    await expectCorrupt(rawFile(`{"a":${entry('U8', [4], 0, 4)}}`, 2), 'MetadataIncompleteBuffer');
    await expectCorrupt(
      rawFile(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,99999999999999999999]}}`, 1),
      'InvalidOffset',
      'a',
    );
  });

  it('dtype/shape size mismatch, sub-byte misalignment and overflow', async () => {
    await expectCorrupt(rawFile(`{"a":${entry('I32', [2, 2], 0, 4)}}`, 4), 'TensorInvalidInfo', 'a');
    await expectCorrupt(rawFile(`{"a":${entry('F4', [3], 0, 1)}}`, 1), 'MisalignedSlice', 'a');
    await expectCorrupt(rawFile(`{"a":${entry('F6_E2M3', [2], 0, 1)}}`, 1), 'MisalignedSlice', 'a');
    await expectCorrupt(
      rawFile(`{"a":${entry('U8', [9007199254740991, 9007199254740991], 0, 1)}}`, 1),
      'ValidationOverflow',
      'a',
    );
    await expectCorrupt(rawFile(`{"a":${entry('U64', [2 ** 31, 2 ** 31], 0, 1)}}`, 1), 'ValidationOverflow', 'a');
  });

  it('unknown dtype', async () => {
    for (const dt of ['"F128"', '"i8"', '"I8 "', '8', 'null']) {
      await expectCorrupt(rawFile(`{"a":{"dtype":${dt},"shape":[1],"data_offsets":[0,1]}}`, 1), 'UnknownDtype', 'a');
    }
  });

  it('bad shapes: negative, float, exponent, string, unsafe', async () => {
    for (const d of ['-1', '1.5', '1.0', '1e0', '"1"', '9007199254740992', '-0', 'null']) {
      await expectCorrupt(rawFile(`{"a":{"dtype":"U8","shape":[${d}],"data_offsets":[0,1]}}`, 1), 'InvalidShape', 'a');
    }
    await expectCorrupt(rawFile(`{"a":{"dtype":"U8","shape":1,"data_offsets":[0,1]}}`, 1), 'InvalidShape', 'a');
  });

  it('missing fields and non-object entries', async () => {
    await expectCorrupt(rawFile(`{"a":{"dtype":"U8","shape":[1]}}`, 1), 'InvalidHeaderDeserialization', 'a');
    await expectCorrupt(rawFile(`{"a":[1]}`), 'InvalidHeaderDeserialization', 'a');
  });

  it('non-string metadata', async () => {
    const e = entry('U8', [1], 0, 1);
    for (const md of ['{"a":1}', '{"a":{"b":"c"}}', '{"a":null}', '{"a":["x"]}', '"x"', 'null', '[]']) {
      await expectCorrupt(rawFile(`{"__metadata__":${md},"t":${e}}`, 1), 'InvalidMetadata');
    }
  });

  it('trailing bytes', async () => {
    await expectCorrupt(concat(good, Uint8Array.of(0)), 'MetadataIncompleteBuffer');
    await expectCorrupt(rawFile('{}', 1), 'MetadataIncompleteBuffer');
  });

  it('missing files, directories, and a file that shrank after open', async () => {
    const missing = path.join(dir, 'does-not-exist.safetensors');
    expectFileError(catchSync(() => SafetensorsFile.openSync(missing)), 'IoError', missing);
    expectFileError(await catchAsync(() => SafetensorsFile.open(missing)), 'IoError', missing);
    const d = freshDir();
    expectFileError(catchSync(() => SafetensorsFile.openSync(d)), 'NotAFile', d);
    expectFileError(await catchAsync(() => SafetensorsFile.open(d)), 'NotAFile', d);

    const f = tmpFile(good);
    const st = await SafetensorsFile.open(f);
    const st2 = SafetensorsFile.openSync(f);
    fs.truncateSync(f, good.length - 3);
    // 's' (F32) precedes 'w' (I8) in the file, so only 'w' lost bytes.
    expect(await st.readTyped('s')).toEqual(Float32Array.of(1, 2));
    expectFileError(await catchAsync(() => st.read('w')), 'FileChanged', f, 'w');
    expectFileError(catchSync(() => st2.readSync('w')), 'FileChanged', f, 'w');
    await st.close();
    st2.closeSync();
  });
});

describe('safetensors index', () => {
  async function makeSharded(): Promise<string> {
    const d = freshDir();
    await writeSafetensors(path.join(d, 'm-00001-of-00002.safetensors'), {
      a: { dtype: 'I8', shape: [2], data: Int8Array.of(1, 2) },
      b: { dtype: 'F32', shape: [1], data: Float32Array.of(3) },
    });
    await writeSafetensors(path.join(d, 'm-00002-of-00002.safetensors'), {
      c: { dtype: 'I64', shape: [1], data: BigInt64Array.of(4n) },
    });
    return d;
  }
  const indexJson = (map: Record<string, string>): string =>
    JSON.stringify({ metadata: { total_size: 14 }, weight_map: map });

  it('reads and verifies a sharded checkpoint', async () => {
    const d = await makeSharded();
    fs.writeFileSync(
      path.join(d, 'm.safetensors.index.json'),
      indexJson({ a: 'm-00001-of-00002.safetensors', b: 'm-00001-of-00002.safetensors', c: 'm-00002-of-00002.safetensors' }),
    );
    const idx = await readSafetensorsIndex(d);
    expect(idx.metadata).toEqual({ total_size: 14 });
    expect(idx.files()).toEqual(['m-00001-of-00002.safetensors', 'm-00002-of-00002.safetensors']);
    expect(idx.fileFor('c')).toBe(path.join(d, 'm-00002-of-00002.safetensors'));
    await idx.verify();
    const byFile = await readSafetensorsIndex(path.join(d, 'm.safetensors.index.json'));
    expect([...byFile.weightMap.keys()]).toEqual(['a', 'b', 'c']);
  });

  it('rejects a missing shard, an unsafe shard name, a duplicate key and a tensor absent from its shard', async () => {
    const d = await makeSharded();
    const idxPath = path.join(d, 'm.safetensors.index.json');
    fs.writeFileSync(idxPath, indexJson({ a: 'm-00001-of-00002.safetensors', z: 'gone.safetensors' }));
    expectFileError(await catchAsync(() => readSafetensorsIndex(d)), 'MissingShard', idxPath, 'z');
    fs.writeFileSync(idxPath, indexJson({ a: '../m-00001-of-00002.safetensors' }));
    expectFileError(await catchAsync(() => readSafetensorsIndex(d)), 'InvalidIndex', idxPath, 'a');
    fs.writeFileSync(idxPath, '{"weight_map":{"a":"m-00001-of-00002.safetensors","a":"m-00002-of-00002.safetensors"}}');
    expectFileError(await catchAsync(() => readSafetensorsIndex(d)), 'DuplicateKey', idxPath);
    fs.writeFileSync(idxPath, indexJson({ a: 'm-00001-of-00002.safetensors', c: 'm-00001-of-00002.safetensors' }));
    const idx = await readSafetensorsIndex(d);
    expectFileError(await catchAsync(() => idx.verify()), 'IndexMismatch', idxPath, 'c');
    fs.writeFileSync(path.join(d, 'other.safetensors.index.json'), '{}');
    expectFileError(await catchAsync(() => readSafetensorsIndex(d)), 'IndexNotFound', d);
    expectFileError(await catchAsync(() => readSafetensorsIndex(freshDir())), 'IndexNotFound');
  });
});

describe('safetensors writer validation and atomicity', () => {
  const one = { dtype: 'U8' as const, shape: [1], data: Uint8Array.of(1) };

  it('rejects bad input before touching the disk', async () => {
    const d = freshDir();
    const f = path.join(d, 'x.safetensors');
    const e1 = await catchAsync(() => writeSafetensors(f, { __metadata__: one }));
    expect(e1).toBeInstanceOf(QmmError);
    expect((e1 as QmmError).code).toBe('ERR_QMM_FILE');
    const e2 = await catchAsync(() => writeSafetensors(f, { a: one }, { k: 1 as unknown as string }));
    expect(e2).toBeInstanceOf(TypeError);
    const e3 = await catchAsync(() => writeSafetensors(f, { a: { dtype: 'U8', shape: [2], data: Uint8Array.of(1) } }));
    expect((e3 as QmmError).code).toBe('ERR_QMM_SHAPE');
    const e4 = await catchAsync(() => writeSafetensors(f, { a: { dtype: 'X' as SafetensorsDtype, shape: [1], data: Uint8Array.of(1) } }));
    expect((e4 as QmmError).code).toBe('ERR_QMM_DTYPE');
    const e5 = await catchAsync(() => writeSafetensors(f, { a: { dtype: 'F4', shape: [1], data: new Uint8Array(0) } }));
    expect((e5 as QmmError).code).toBe('ERR_QMM_SHAPE');
    const e6 = await catchAsync(() => writeSafetensors(f, { a: { dtype: 'U8', shape: [-1], data: new Uint8Array(0) } }));
    expect(e6).toBeInstanceOf(RangeError);
    const e7 = await catchAsync(() =>
      SafetensorsWriter.create(f, [
        { name: 'a', dtype: 'U8', shape: [1] },
        { name: 'a', dtype: 'I8', shape: [1] },
      ]),
    );
    expect((e7 as QmmError).code).toBe('ERR_QMM_FILE');
    expect((e7 as QmmError).argument).toBe('a');
    const e8 = await catchAsync(() => writeSafetensors(f, { ['\uD800']: one }));
    expect(e8).toBeInstanceOf(TypeError);
    expect(fs.readdirSync(d)).toEqual([]);
  });

  it('streams tensors in any order and in chunks', async () => {
    const d = freshDir();
    const f = path.join(d, 's.safetensors');
    const big = new Float32Array(1000).map((_, i) => i * 0.5);
    const w = await SafetensorsWriter.create(f, { big: { dtype: 'F32', shape: [10, 100] }, small: { dtype: 'I8', shape: [3] } }, { m: 'v' });
    expect(fs.readdirSync(d)).toEqual([path.basename(w.tempPath)]);
    expect(w.tempPath).toMatch(new RegExp(`s\\.safetensors\\.tmp-${process.pid}-[0-9a-f]{12}$`));
    const writes = [w.write('small', Int8Array.of(1, 2, 3))];
    for (let i = 0; i < 1000; i += 300) writes.push(w.write('big', big.subarray(i, Math.min(1000, i + 300))));
    await Promise.all(writes);
    expect(w.remaining('big')).toBe(0);
    await w.commit();
    expect(fs.readdirSync(d)).toEqual(['s.safetensors']);
    expect(new Uint8Array(fs.readFileSync(f))).toEqual(
      serializeSafetensors({ big: { dtype: 'F32', shape: [10, 100], data: big }, small: { dtype: 'I8', shape: [3], data: Int8Array.of(1, 2, 3) } }, { m: 'v' }),
    );
    const late = await catchAsync(() => w.write('small', new Uint8Array(0)));
    expect((late as QmmError).code).toBe('ERR_QMM_FILE');
    expect((late as QmmError).message).toContain('committed');
    expect(fs.readdirSync(d)).toEqual(['s.safetensors']);
  });

  it('leaves no file and no temp file after an error, and keeps an existing target intact', async () => {
    const d = freshDir();
    const f = path.join(d, 'out.safetensors');

    const w1 = await SafetensorsWriter.create(f, { a: { dtype: 'U8', shape: [2] } });
    const e1 = await catchAsync(() => w1.write('a', Uint8Array.of(1, 2, 3)));
    expect((e1 as QmmError).code).toBe('ERR_QMM_SHAPE');
    expect(fs.readdirSync(d)).toEqual([]);
    expect((await catchAsync(() => w1.write('a', Uint8Array.of(1)))) as QmmError).toBeInstanceOf(QmmError);
    expect(fs.readdirSync(d)).toEqual([]);

    const w2 = await SafetensorsWriter.create(f, { a: { dtype: 'U8', shape: [2] } });
    await w2.write('a', Uint8Array.of(1));
    const e2 = await catchAsync(() => w2.commit());
    expect((e2 as QmmError).argument).toBe('a');
    expect(fs.readdirSync(d)).toEqual([]);

    const w3 = await SafetensorsWriter.create(f, { a: { dtype: 'U8', shape: [2] } });
    const e3 = await catchAsync(() => w3.write('nope', Uint8Array.of(1)));
    expect((e3 as QmmError).argument).toBe('nope');
    expect(fs.readdirSync(d)).toEqual([]);

    const w4 = await SafetensorsWriter.create(f, { a: { dtype: 'U8', shape: [2] } });
    await w4.abort();
    await w4.abort();
    expect(fs.readdirSync(d)).toEqual([]);

    // An existing target survives a failed rewrite untouched.
    await writeSafetensors(f, { old: one });
    const before = fs.readFileSync(f);
    const ac = new AbortController();
    const w5 = await SafetensorsWriter.create(f, { a: { dtype: 'U8', shape: [2] }, b: { dtype: 'U8', shape: [1] } }, undefined, {
      signal: ac.signal,
    });
    await w5.write('a', Uint8Array.of(1, 2));
    ac.abort();
    const e5 = await catchAsync(() => w5.write('b', Uint8Array.of(3)));
    expect((e5 as QmmError).code).toBe('ERR_QMM_ABORTED');
    expect(fs.readdirSync(d)).toEqual(['out.safetensors']);
    expect(fs.readFileSync(f)).toEqual(before);

    const ac2 = new AbortController();
    ac2.abort();
    const e6 = await catchAsync(() => writeSafetensors(f, { a: one }, undefined, { signal: ac2.signal }));
    expect((e6 as QmmError).code).toBe('ERR_QMM_ABORTED');
    expect(fs.readdirSync(d)).toEqual(['out.safetensors']);

    // A failing rename (target is a directory) also cleans up.
    const asDir = path.join(d, 'dir.safetensors');
    fs.mkdirSync(asDir);
    fs.writeFileSync(path.join(asDir, 'keep'), '');
    const e7 = await catchAsync(() => writeSafetensors(asDir, { a: one }));
    expectFileError(e7, 'IoError', asDir);
    expect(fs.readdirSync(d).sort()).toEqual(['dir.safetensors', 'out.safetensors']);

    await writeSafetensors(f, { new: one });
    expect(SafetensorsFile.openSync(f).names()).toEqual(['new']);
  });
});

describe('safetensors header fuzz', () => {
  it('every mutated file opens consistently or throws ERR_QMM_FILE', async () => {
    const rand = rng(0x5afe7e25);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    const base = serializeSafetensors(
      {
        'model.w': { dtype: 'I8', shape: [4, 3], data: randomBytesFrom(rand, 12) },
        'model.s': { dtype: 'F32', shape: [4], data: randomBytesFrom(rand, 16) },
        'model.d': { dtype: 'I64', shape: [2], data: randomBytesFrom(rand, 16) },
        'model.e': { dtype: 'F16', shape: [0, 7], data: new Uint8Array(0) },
        'model.z': { dtype: 'F4', shape: [6], data: randomBytesFrom(rand, 3) },
        'model.r': { dtype: 'U8', shape: [], data: Uint8Array.of(9) },
      },
      { format: 'pt', note: 'fuzz' },
    );
    const baseN = Number(new DataView(base.buffer).getBigUint64(0, true));
    const baseHeader = base.subarray(8, 8 + baseN);
    const baseData = base.subarray(8 + baseN);
    const tokens = [
      '0', '1', '2', '3', '8', '12', '16', '-1', '1.5', '1e3', '9007199254740993', '"F4"', '"I64"', '"U8"',
      '"__metadata__"', '"model.w"', '{', '}', '[', ']', ',', ':', '"', '\\', '\\u0000', '\\ud800', ' ', 'null',
      'true', '"x"', '[]', '{}', '"dtype"', '"shape"', '"data_offsets"', '\u00e9', '\u{1F600}',
    ];
    const outcomes = new Map<string, number>();
    const d = freshDir();
    const iterations = 3000;

    for (let i = 0; i < iterations; i++) {
      let header: Uint8Array = baseHeader.slice();
      let data: Uint8Array = baseData;
      let fixLength = rand() < 0.75;
      let prefixOverride: Uint8Array | undefined;
      const kind = Math.floor(rand() * 6);
      if (kind === 0) {
        for (let k = 1 + Math.floor(rand() * 3); k > 0; k--) header[Math.floor(rand() * header.length)] = Math.floor(rand() * 256);
      } else if (kind === 1 || kind === 2) {
        // Splice a JSON token (or a slice of the header itself) over a random range.
        const text = kind === 1 ? enc.encode(pick(tokens)) : header.slice(Math.floor(rand() * header.length)).subarray(0, 1 + Math.floor(rand() * 20));
        const at = Math.floor(rand() * header.length);
        const del = Math.floor(rand() * 4);
        header = concat(header.subarray(0, at), text, header.subarray(Math.min(header.length, at + del)));
      } else if (kind === 3) {
        // Mutate the length prefix.
        const p = u64le(baseN);
        if (rand() < 0.5) p[Math.floor(rand() * 8)] = Math.floor(rand() * 256);
        else new DataView(p.buffer).setBigUint64(0, BigInt(Math.max(0, baseN + Math.floor(rand() * 33) - 16)), true);
        prefixOverride = p;
        fixLength = false;
      } else if (kind === 4) {
        // Tweak one number in the header text by a small amount.
        const s = new TextDecoder().decode(header);
        const nums = [...s.matchAll(/[0-9]+/g)];
        const m = pick(nums);
        const v = Math.max(0, Number(m[0]) + Math.floor(rand() * 9) - 4);
        header = enc.encode(s.slice(0, m.index) + String(v) + s.slice((m.index ?? 0) + m[0].length));
      } else {
        data = rand() < 0.5 ? data.subarray(0, Math.floor(rand() * data.length)) : concat(data, randomBytesFrom(rand, 1 + Math.floor(rand() * 8)));
      }
      const prefix = prefixOverride ?? u64le(fixLength ? header.length : baseN);
      let file = concat(prefix, header, data);
      if (rand() < 0.05) file = file.subarray(0, Math.floor(rand() * file.length));

      const f = path.join(d, `fuzz${i % 16}.safetensors`);
      fs.writeFileSync(f, file);
      let st: SafetensorsFile;
      try {
        st = i % 4 === 0 ? await SafetensorsFile.open(f) : SafetensorsFile.openSync(f);
      } catch (e) {
        if (!(e instanceof QmmError) || e.code !== 'ERR_QMM_FILE') throw e;
        const rule = /^safetensors (\w+):/.exec(e.message)?.[1] ?? '?';
        outcomes.set(rule, (outcomes.get(rule) ?? 0) + 1);
        continue;
      }
      outcomes.set('ok', (outcomes.get('ok') ?? 0) + 1);
      // Consistency of a successful open.
      const h = st.header;
      const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
      expect(h.dataStart).toBe(8 + n);
      expect(h.dataStart + h.dataLength).toBe(file.length);
      const parsed = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, unknown>;
      expect(new Set(st.names())).toEqual(new Set(Object.keys(parsed).filter((k) => k !== '__metadata__')));
      let end = 0;
      for (const t of h.tensors) {
        expect(t.dataOffsets[0]).toBe(end);
        end = t.dataOffsets[1];
        expect(t.byteOffset + t.byteLength).toBeLessThanOrEqual(file.length);
        expect(t.byteLength * 8).toBe(t.shape.reduce((a, b) => a * b, 1) * dtypeBits(t.dtype));
        const bytes = i % 4 === 0 ? await st.read(t.name) : st.readSync(t.name);
        expect(bytes).toEqual(file.subarray(t.byteOffset, t.byteOffset + t.byteLength));
      }
      expect(end).toBe(h.dataLength);
      await st.close();
    }
    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(iterations);
    // The mutations reach past the length check into JSON and offset validation.
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(20);
    for (const rule of ['InvalidHeaderDeserialization', 'InvalidHeaderLength', 'MetadataIncompleteBuffer', 'TensorInvalidInfo']) {
      expect(outcomes.get(rule) ?? 0).toBeGreaterThan(0);
    }
  });
});
