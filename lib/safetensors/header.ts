/**
 * safetensors header parsing and validation (docs/semantics.md §10.4).
 *
 * Layout: 8-byte little-endian u64 N, N bytes of UTF-8 JSON, then the byte
 * buffer. Every violation throws `QmmError('ERR_QMM_FILE')` whose message
 * starts with `safetensors <Rule>:`; the rule names follow the reference
 * reader's errors (`HeaderTooLarge`, `InvalidOffset`, ...) where it has one.
 */

import { QmmError } from '../errors';

/** Dtype strings in the reference `enum Dtype` order, which is ascending alignment. */
export const SAFETENSORS_DTYPES = [
  'BOOL',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F8_E4M3FNUZ',
  'F8_E5M2FNUZ',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'C64',
  'F64',
  'I64',
  'U64',
] as const;

export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

const DTYPE_BITS: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

export function isSafetensorsDtype(v: unknown): v is SafetensorsDtype {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BITS, v);
}

/** Size of one element in bits (F4 = 4, F6_* = 6). */
export function dtypeBits(dtype: SafetensorsDtype): number {
  return DTYPE_BITS[dtype];
}

/** Rank in the reference enum; the writer orders tensors by descending rank. */
export function dtypeRank(dtype: SafetensorsDtype): number {
  return SAFETENSORS_DTYPES.indexOf(dtype);
}

/** `MAX_HEADER_SIZE` of the reference reader. */
export const MAX_HEADER_SIZE = 100_000_000;
export const HEADER_PREFIX_BYTES = 8;
/** serde_json's default recursion limit. */
const MAX_JSON_DEPTH = 128;
const U64_MAX = (1n << 64n) - 1n;

export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** `[begin, end)` relative to the start of the byte buffer. */
  readonly dataOffsets: readonly [number, number];
  /** Absolute position in the file: 8 + N + begin. */
  readonly byteOffset: number;
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  /** N, the JSON header length. */
  readonly headerLength: number;
  /** 8 + N: where the byte buffer starts. */
  readonly dataStart: number;
  /** Length of the byte buffer (the last END). */
  readonly dataLength: number;
  /** Tensors in data-offset order. */
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly byName: ReadonlyMap<string, SafetensorsTensorInfo>;
  /** `__metadata__`, or undefined when the header has none. */
  readonly metadata: Readonly<Record<string, string>> | undefined;
}

export function fileError(rule: string, detail: string, file: string, tensor?: string, cause?: unknown): QmmError {
  const where = tensor === undefined ? '' : `, tensor ${JSON.stringify(tensor)}`;
  return new QmmError('ERR_QMM_FILE', `safetensors ${rule}: ${detail} (file ${file}${where})`, {
    file,
    ...(tensor === undefined ? {} : { argument: tensor }),
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * Reads and checks the u64 length prefix (rule 1). `prefix` holds at least the
 * first 8 bytes of the file, `fileLength` is the whole file's size.
 */
export function readHeaderLength(prefix: Uint8Array, fileLength: number, file: string): number {
  if (prefix.length < HEADER_PREFIX_BYTES || fileLength < HEADER_PREFIX_BYTES) {
    throw fileError('HeaderTooSmall', `file is ${fileLength} bytes, shorter than the 8-byte length prefix`, file);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, HEADER_PREFIX_BYTES);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw fileError('HeaderTooLarge', `header length ${n} exceeds ${MAX_HEADER_SIZE}`, file);
  }
  const len = Number(n);
  if (HEADER_PREFIX_BYTES + len > fileLength) {
    throw fileError(
      'InvalidHeaderLength',
      `header length ${len} + 8 exceeds the file length ${fileLength}`,
      file,
    );
  }
  return len;
}

/**
 * Parses the N header bytes and validates them against a file (or buffer) of
 * `fileLength` bytes. Extra keys inside a tensor entry are accepted and
 * ignored, as the reference reader's serde struct does not deny unknown fields.
 */
export function parseHeader(headerBytes: Uint8Array, fileLength: number, file: string): SafetensorsHeader {
  const headerLength = headerBytes.length;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch (e) {
    throw fileError('InvalidHeader', 'header is not valid UTF-8', file, undefined, e);
  }
  const root = parseStrictJson(text, file, 'header');
  if (root.type !== 'object') {
    throw fileError('InvalidHeaderDeserialization', `header must be a JSON object, got ${root.type}`, file);
  }

  let metadata: Record<string, string> | undefined;
  const entries: SafetensorsTensorInfo[] = [];
  const dataStart = HEADER_PREFIX_BYTES + headerLength;
  for (const [name, value] of root.entries) {
    if (name === '__metadata__') metadata = checkMetadata(value, file);
    else entries.push(checkTensorEntry(name, value, dataStart, file));
  }

  // Rule 3: sort by data_offsets, then each BEGIN must equal the previous END.
  entries.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let end = 0;
  for (const t of entries) {
    const [b, e] = t.dataOffsets;
    if (b !== end) {
      const what = b < end ? 'overlaps the previous tensor' : 'leaves a hole after the previous tensor';
      throw fileError('InvalidOffset', `data_offsets [${b}, ${e}] ${what} (expected begin ${end})`, file, t.name);
    }
    if (e < b) throw fileError('InvalidOffset', `data_offsets [${b}, ${e}] end is before begin`, file, t.name);
    checkByteSize(t, file);
    end = e;
  }

  // Rule 5: no trailing bytes, no missing bytes.
  if (BigInt(dataStart) + BigInt(end) !== BigInt(fileLength)) {
    // a truncated file: name the first tensor whose data is cut off
    const cut = entries.find((t) => dataStart + t.dataOffsets[1] > fileLength);
    throw fileError(
      'MetadataIncompleteBuffer',
      `8 + header ${headerLength} + data ${end} = ${dataStart + end} bytes, but the file has ${fileLength}${cut ? ' (truncated)' : ''}`,
      file,
      cut?.name,
    );
  }

  const byName = new Map<string, SafetensorsTensorInfo>();
  for (const t of entries) byName.set(t.name, t);
  return Object.freeze({
    headerLength,
    dataStart,
    dataLength: end,
    tensors: Object.freeze(entries),
    byName,
    metadata: metadata === undefined ? undefined : Object.freeze(metadata),
  });
}

/** Parses a whole safetensors file held in memory. */
export function parseSafetensorsBuffer(buffer: Uint8Array, file = '<buffer>'): SafetensorsHeader {
  const n = readHeaderLength(buffer, buffer.length, file);
  return parseHeader(buffer.subarray(HEADER_PREFIX_BYTES, HEADER_PREFIX_BYTES + n), buffer.length, file);
}

function checkMetadata(value: JsonValue, file: string): Record<string, string> {
  if (value.type !== 'object') {
    throw fileError('InvalidMetadata', `__metadata__ must be an object of strings, got ${value.type}`, file);
  }
  const out: [string, string][] = [];
  for (const [k, v] of value.entries) {
    if (v.type !== 'string') {
      throw fileError(
        'InvalidMetadata',
        `__metadata__[${JSON.stringify(k)}] must be a string, got ${v.type} (arbitrary JSON is not allowed)`,
        file,
      );
    }
    out.push([k, v.value]);
  }
  // fromEntries defines own properties, so a "__proto__" key stays data.
  return Object.fromEntries(out);
}

function checkTensorEntry(name: string, value: JsonValue, dataStart: number, file: string): SafetensorsTensorInfo {
  if (value.type !== 'object') {
    throw fileError('InvalidHeaderDeserialization', `entry must be an object, got ${value.type}`, file, name);
  }
  const dtypeV = value.entries.get('dtype');
  const shapeV = value.entries.get('shape');
  const offV = value.entries.get('data_offsets');
  if (dtypeV === undefined || shapeV === undefined || offV === undefined) {
    const missing = ['dtype', 'shape', 'data_offsets'].filter((k) => !value.entries.has(k));
    throw fileError('InvalidHeaderDeserialization', `entry is missing ${missing.join(', ')}`, file, name);
  }
  if (dtypeV.type !== 'string' || !isSafetensorsDtype(dtypeV.value)) {
    const got = dtypeV.type === 'string' ? JSON.stringify(dtypeV.value) : dtypeV.type;
    throw fileError('UnknownDtype', `dtype ${got} is not one of ${SAFETENSORS_DTYPES.join(', ')}`, file, name);
  }
  if (shapeV.type !== 'array') {
    throw fileError('InvalidShape', `shape must be an array, got ${shapeV.type}`, file, name);
  }
  const shape = shapeV.items.map((d) => {
    const v = jsonUint(d);
    if (v === undefined) {
      throw fileError('InvalidShape', `shape dimension ${describeJson(d)} is not a non-negative safe integer`, file, name);
    }
    return v;
  });
  const offs = offV.type === 'array' && offV.items.length === 2 ? offV.items.map(jsonUint) : undefined;
  if (offs === undefined || offs[0] === undefined || offs[1] === undefined) {
    throw fileError(
      'InvalidOffset',
      `data_offsets must be [begin, end] of non-negative safe integers, got ${describeJson(offV)}`,
      file,
      name,
    );
  }
  const begin = offs[0];
  const end = offs[1];
  return Object.freeze({
    name,
    dtype: dtypeV.value,
    shape: Object.freeze(shape),
    dataOffsets: Object.freeze([begin, end] as [number, number]),
    byteOffset: dataStart + begin,
    byteLength: end - begin,
  });
}

/** Rule 4, with the reference's u64 checked arithmetic. */
function checkByteSize(t: SafetensorsTensorInfo, file: string): void {
  let numel = 1n;
  for (const d of t.shape) {
    numel *= BigInt(d);
    if (numel > U64_MAX) throw fileError('ValidationOverflow', `shape [${t.shape}] overflows u64`, file, t.name);
  }
  const nbits = numel * BigInt(dtypeBits(t.dtype));
  if (nbits > U64_MAX) throw fileError('ValidationOverflow', `shape [${t.shape}] overflows u64 bits`, file, t.name);
  if (nbits % 8n !== 0n) {
    throw fileError(
      'MisalignedSlice',
      `${numel} elements of ${t.dtype} are ${nbits} bits, not a whole number of bytes`,
      file,
      t.name,
    );
  }
  const [b, e] = t.dataOffsets;
  if (nbits / 8n !== BigInt(e - b)) {
    throw fileError(
      'TensorInvalidInfo',
      `${t.dtype} shape [${t.shape}] needs ${nbits / 8n} bytes but data_offsets [${b}, ${e}] span ${e - b}`,
      file,
      t.name,
    );
  }
}

function jsonUint(v: JsonValue): number | undefined {
  if (v.type !== 'number' || !/^(?:0|[1-9][0-9]{0,15})$/.test(v.raw)) return undefined;
  const n = Number(v.raw);
  return Number.isSafeInteger(n) ? n : undefined;
}

function describeJson(v: JsonValue): string {
  switch (v.type) {
    case 'number':
      return v.raw.length > 30 ? `${v.raw.slice(0, 30)}…` : v.raw;
    case 'string':
      return JSON.stringify(v.value.length > 30 ? `${v.value.slice(0, 30)}…` : v.value);
    case 'array':
      return `an array of length ${v.items.length}`;
    default:
      return v.type;
  }
}

// ---------------------------------------------------------------------------
// Strict JSON: JSON.parse silently keeps the last of duplicate keys, a
// parser differential (docs/semantics.md §10.4, TOB-SFTN-7), so this parser rejects
// duplicates at every level. Numbers keep their source text so integers are
// checked exactly. Lone surrogate escapes are rejected, as serde_json does.

export type JsonValue =
  | { readonly type: 'object'; readonly entries: ReadonlyMap<string, JsonValue> }
  | { readonly type: 'array'; readonly items: readonly JsonValue[] }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'number'; readonly raw: string }
  | { readonly type: 'boolean'; readonly value: boolean }
  | { readonly type: 'null' };

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const PLAIN_STRING_RE = /[^"\\\u0000-\u001f]*/y;

/** Parses `text` as a single JSON value; surrounding JSON whitespace is allowed. */
export function parseStrictJson(text: string, file: string, what: string): JsonValue {
  return new StrictJsonParser(text, file, what).parseDocument();
}

class StrictJsonParser {
  private pos = 0;
  private depth = 0;
  private readonly path: string[] = [];

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly what: string,
  ) {}

  parseDocument(): JsonValue {
    this.skipWs();
    const v = this.parseValue();
    this.skipWs();
    if (this.pos !== this.text.length) this.fail('trailing characters after the JSON value');
    return v;
  }

  private fail(detail: string, rule = 'InvalidHeaderDeserialization'): never {
    const tensor = this.path.length > 0 && this.path[0] !== '__metadata__' ? this.path[0] : undefined;
    throw fileError(rule, `${this.what} JSON: ${detail} at character ${this.pos}`, this.file, tensor);
  }

  private skipWs(): void {
    const t = this.text;
    let c = t.charCodeAt(this.pos);
    while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) c = t.charCodeAt(++this.pos);
  }

  private parseValue(): JsonValue {
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.parseObject();
      case '[':
        return this.parseArray();
      case '"':
        return { type: 'string', value: this.parseString() };
      case 't':
        return this.literal('true', { type: 'boolean', value: true });
      case 'f':
        return this.literal('false', { type: 'boolean', value: false });
      case 'n':
        return this.literal('null', { type: 'null' });
      case undefined:
        return this.fail('unexpected end of input');
      default: {
        NUMBER_RE.lastIndex = this.pos;
        const m = NUMBER_RE.exec(this.text);
        if (m === null || m[0].length === 0) this.fail(`unexpected character ${JSON.stringify(c)}`);
        this.pos += m[0].length;
        return { type: 'number', raw: m[0] };
      }
    }
  }

  private literal(word: string, v: JsonValue): JsonValue {
    if (!this.text.startsWith(word, this.pos)) this.fail(`invalid literal, expected ${word}`);
    this.pos += word.length;
    return v;
  }

  private enter(): void {
    if (++this.depth > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
    this.pos++;
    this.skipWs();
  }

  private parseObject(): JsonValue {
    this.enter();
    const entries = new Map<string, JsonValue>();
    if (this.text[this.pos] === '}') {
      this.pos++;
      this.depth--;
      return { type: 'object', entries };
    }
    for (;;) {
      if (this.text[this.pos] !== '"') this.fail('expected a string key');
      const key = this.parseString();
      if (entries.has(key)) {
        const where = this.path.length === 0 ? 'the top level' : JSON.stringify(this.path.join('.'));
        this.path.push(key);
        this.fail(`duplicate key ${JSON.stringify(key)} in ${where}`, 'DuplicateKey');
      }
      this.skipWs();
      if (this.text[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      this.skipWs();
      this.path.push(key);
      entries.set(key, this.parseValue());
      this.path.pop();
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === '}') break;
      if (c !== ',') this.fail("expected ',' or '}'");
      this.skipWs();
    }
    this.depth--;
    return { type: 'object', entries };
  }

  private parseArray(): JsonValue {
    this.enter();
    const items: JsonValue[] = [];
    if (this.text[this.pos] === ']') {
      this.pos++;
      this.depth--;
      return { type: 'array', items };
    }
    for (;;) {
      items.push(this.parseValue());
      this.skipWs();
      const c = this.text[this.pos++];
      if (c === ']') break;
      if (c !== ',') this.fail("expected ',' or ']'");
      this.skipWs();
    }
    this.depth--;
    return { type: 'array', items };
  }

  private parseString(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    for (;;) {
      PLAIN_STRING_RE.lastIndex = this.pos;
      const run = PLAIN_STRING_RE.exec(t);
      if (run !== null && run[0].length > 0) {
        out += run[0];
        this.pos += run[0].length;
      }
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        this.pos++;
        return out;
      }
      if (Number.isNaN(c)) this.fail('unterminated string');
      if (c !== 0x5c) this.fail('control character in string');
      const e = t[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u':
          out += this.parseUnicodeEscape();
          break;
        default:
          this.pos -= 2;
          this.fail('invalid escape in string');
      }
    }
  }

  private hex4(): number {
    const h = this.text.slice(this.pos, this.pos + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('invalid \\u escape');
    this.pos += 4;
    return parseInt(h, 16);
  }

  private parseUnicodeEscape(): string {
    const hi = this.hex4();
    if (hi >= 0xdc00 && hi <= 0xdfff) this.fail('lone trailing surrogate in \\u escape');
    if (hi < 0xd800 || hi > 0xdbff) return String.fromCharCode(hi);
    if (this.text[this.pos] !== '\\' || this.text[this.pos + 1] !== 'u') {
      this.fail('lone leading surrogate in \\u escape');
    }
    this.pos += 2;
    const lo = this.hex4();
    if (lo < 0xdc00 || lo > 0xdfff) this.fail('lone leading surrogate in \\u escape');
    return String.fromCharCode(hi, lo);
  }
}
