/**
 * Reads safetensors files without loading them whole: `open` reads the 8-byte
 * prefix and the header, and each `read` fetches exactly one tensor's bytes
 * with a positional read.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { promisify } from 'node:util';
import { QmmError } from '../errors';
import {
  HEADER_PREFIX_BYTES,
  fileError,
  parseHeader,
  parseStrictJson,
  readHeaderLength,
  type JsonValue,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
} from './header';

const openAsync = promisify(fs.open);
const fstatAsync = promisify(fs.fstat);
const readAsync = promisify(fs.read);
const closeAsync = promisify(fs.close);

/** Per-call cap below the kernel's ~2 GiB single-read limit. */
const MAX_READ_CHUNK = 1 << 30;

export type SafetensorsTypedArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

function ioError(e: unknown, file: string, doing: string, tensor?: string): QmmError {
  if (e instanceof QmmError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return fileError('IoError', `${doing} failed: ${msg}`, file, tensor, e);
}

function allocate(length: number, file: string, tensor?: string): Uint8Array {
  try {
    return new Uint8Array(length);
  } catch (e) {
    throw fileError('TooLargeForMemory', `cannot allocate ${length} bytes`, file, tensor, e);
  }
}

function shrankError(file: string, expected: number, got: number, position: number, tensor?: string): QmmError {
  return fileError(
    'FileChanged',
    `expected ${expected} bytes at position ${position} but the file ended after ${got} (truncated after open?)`,
    file,
    tensor,
  );
}

function readFullySync(fd: number, buf: Uint8Array, position: number, file: string, tensor?: string): void {
  let done = 0;
  while (done < buf.length) {
    let n: number;
    try {
      n = fs.readSync(fd, buf, done, Math.min(buf.length - done, MAX_READ_CHUNK), position + done);
    } catch (e) {
      throw ioError(e, file, 'read', tensor);
    }
    if (n === 0) throw shrankError(file, buf.length, done, position, tensor);
    done += n;
  }
}

async function readFully(fd: number, buf: Uint8Array, position: number, file: string, tensor?: string): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    let n: number;
    try {
      ({ bytesRead: n } = await readAsync(fd, buf, done, Math.min(buf.length - done, MAX_READ_CHUNK), position + done));
    } catch (e) {
      throw ioError(e, file, 'read', tensor);
    }
    if (n === 0) throw shrankError(file, buf.length, done, position, tensor);
    done += n;
  }
}

function checkRegular(st: fs.Stats, file: string): number {
  if (!st.isFile()) throw fileError('NotAFile', 'not a regular file', file);
  return st.size;
}

export class SafetensorsFile {
  readonly path: string;
  readonly header: SafetensorsHeader;
  /** File size when opened; the header was validated against it. */
  readonly fileLength: number;
  private fd: number | null;
  private closing = false;
  private readonly pending = new Set<Promise<unknown>>();

  private constructor(path: string, fd: number, header: SafetensorsHeader, fileLength: number) {
    this.path = path;
    this.fd = fd;
    this.header = header;
    this.fileLength = fileLength;
  }

  static async open(path: string): Promise<SafetensorsFile> {
    let fd: number;
    try {
      fd = await openAsync(path, 'r');
    } catch (e) {
      throw ioError(e, path, 'open');
    }
    try {
      let st: fs.Stats;
      try {
        st = await fstatAsync(fd);
      } catch (e) {
        throw ioError(e, path, 'fstat');
      }
      const size = checkRegular(st, path);
      const prefix = new Uint8Array(HEADER_PREFIX_BYTES);
      if (size >= HEADER_PREFIX_BYTES) await readFully(fd, prefix, 0, path);
      const n = readHeaderLength(prefix, size, path);
      const headerBytes = allocate(n, path);
      await readFully(fd, headerBytes, HEADER_PREFIX_BYTES, path);
      return new SafetensorsFile(path, fd, parseHeader(headerBytes, size, path), size);
    } catch (e) {
      await closeAsync(fd).catch(() => undefined);
      throw e;
    }
  }

  static openSync(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (e) {
      throw ioError(e, path, 'open');
    }
    try {
      let st: fs.Stats;
      try {
        st = fs.fstatSync(fd);
      } catch (e) {
        throw ioError(e, path, 'fstat');
      }
      const size = checkRegular(st, path);
      const prefix = new Uint8Array(HEADER_PREFIX_BYTES);
      if (size >= HEADER_PREFIX_BYTES) readFullySync(fd, prefix, 0, path);
      const n = readHeaderLength(prefix, size, path);
      const headerBytes = allocate(n, path);
      readFullySync(fd, headerBytes, HEADER_PREFIX_BYTES, path);
      return new SafetensorsFile(path, fd, parseHeader(headerBytes, size, path), size);
    } catch (e) {
      try {
        fs.closeSync(fd);
      } catch {
        // the open error matters more than the close error
      }
      throw e;
    }
  }

  /** Tensor names in data-offset order. */
  names(): string[] {
    return this.header.tensors.map((t) => t.name);
  }

  has(name: string): boolean {
    return this.header.byName.has(name);
  }

  info(name: string): SafetensorsTensorInfo {
    const t = this.header.byName.get(name);
    if (t === undefined) throw fileError('NoSuchTensor', 'no tensor with this name', this.path, name);
    return t;
  }

  /** A copy of `__metadata__`, or undefined when the header has none. */
  metadata(): Record<string, string> | undefined {
    return this.header.metadata === undefined ? undefined : { ...this.header.metadata };
  }

  /** Exactly the tensor's bytes, in a fresh (hence aligned) buffer. */
  async read(name: string): Promise<Uint8Array> {
    const t = this.info(name);
    const fd = this.openFd();
    const buf = allocate(t.byteLength, this.path, name);
    const p = readFully(fd, buf, t.byteOffset, this.path, name);
    this.pending.add(p);
    try {
      await p;
    } finally {
      this.pending.delete(p);
    }
    return buf;
  }

  readSync(name: string): Uint8Array {
    const t = this.info(name);
    const fd = this.openFd();
    const buf = allocate(t.byteLength, this.path, name);
    readFullySync(fd, buf, t.byteOffset, this.path, name);
    return buf;
  }

  /**
   * The tensor as a typed array in host byte order. F16/BF16 come back as
   * Uint16Array raw bits, C64 as interleaved Float32Array (re, im), and the
   * byte-sized or packed types (BOOL, F8_*, F4, F6_*) as raw Uint8Array.
   */
  async readTyped(name: string): Promise<SafetensorsTypedArray> {
    return toTyped(this.info(name), await this.read(name));
  }

  readTypedSync(name: string): SafetensorsTypedArray {
    return toTyped(this.info(name), this.readSync(name));
  }

  /** Waits for reads in flight, then closes. Idempotent. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.pending]);
    const fd = this.fd;
    this.fd = null;
    if (fd === null) return;
    try {
      await closeAsync(fd);
    } catch (e) {
      throw ioError(e, this.path, 'close');
    }
  }

  /** Closes at once; do not call with `read` promises pending. */
  closeSync(): void {
    this.closing = true;
    const fd = this.fd;
    this.fd = null;
    if (fd === null) return;
    try {
      fs.closeSync(fd);
    } catch (e) {
      throw ioError(e, this.path, 'close');
    }
  }

  private openFd(): number {
    if (this.fd === null || this.closing) throw fileError('Closed', 'the file has been closed', this.path);
    return this.fd;
  }
}

const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

function toTyped(t: SafetensorsTensorInfo, bytes: Uint8Array): SafetensorsTypedArray {
  const buf = bytes.buffer;
  const make = <T extends SafetensorsTypedArray>(ctor: new (b: ArrayBuffer) => T, size: number): T => {
    if (!LITTLE_ENDIAN_HOST) swapBytes(bytes, size);
    return new ctor(buf as ArrayBuffer);
  };
  switch (t.dtype) {
    case 'I8':
      return new Int8Array(buf);
    case 'I16':
      return make(Int16Array, 2);
    case 'U16':
    case 'F16':
    case 'BF16':
      return make(Uint16Array, 2);
    case 'I32':
      return make(Int32Array, 4);
    case 'U32':
      return make(Uint32Array, 4);
    case 'F32':
    case 'C64':
      return make(Float32Array, 4);
    case 'F64':
      return make(Float64Array, 8);
    case 'I64':
      return make(BigInt64Array, 8);
    case 'U64':
      return make(BigUint64Array, 8);
    default:
      return bytes;
  }
}

/** safetensors data is little-endian; a big-endian host must swap. */
function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i + size <= b.length; i += size) b.subarray(i, i + size).reverse();
}

// ---------------------------------------------------------------------------
// Sharded checkpoints: `<name>.safetensors.index.json`.

export class SafetensorsIndex {
  /** Path of the index file. */
  readonly path: string;
  /** Directory the shard names are relative to. */
  readonly dir: string;
  /** The index's `metadata` object as plain JSON values (e.g. `total_size`). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** tensor name → shard file name (relative to `dir`). */
  readonly weightMap: ReadonlyMap<string, string>;

  constructor(path: string, metadata: Record<string, unknown>, weightMap: Map<string, string>) {
    this.path = path;
    this.dir = nodePath.dirname(path);
    this.metadata = metadata;
    this.weightMap = weightMap;
  }

  /** Distinct shard file names, sorted. */
  files(): string[] {
    return [...new Set(this.weightMap.values())].sort();
  }

  /** Absolute path of the shard holding `name`. */
  fileFor(name: string): string {
    const f = this.weightMap.get(name);
    if (f === undefined) throw fileError('NoSuchTensor', 'tensor is not in weight_map', this.path, name);
    return nodePath.join(this.dir, f);
  }

  /**
   * Opens every shard's header (§4 rules) and checks that each tensor the map
   * assigns to it is there. Tensors a shard holds beyond the map are allowed.
   */
  async verify(): Promise<void> {
    const byFile = new Map<string, string[]>();
    for (const [name, f] of this.weightMap) {
      const list = byFile.get(f);
      if (list === undefined) byFile.set(f, [name]);
      else list.push(name);
    }
    for (const [f, names] of byFile) {
      const shard = await SafetensorsFile.open(nodePath.join(this.dir, f));
      try {
        for (const name of names) {
          if (!shard.has(name)) {
            throw fileError('IndexMismatch', `weight_map puts the tensor in ${f} but that file lacks it`, this.path, name);
          }
        }
      } finally {
        await shard.close();
      }
    }
  }
}

const INDEX_SUFFIX = '.safetensors.index.json';

/**
 * Reads `*.safetensors.index.json` (`{metadata, weight_map}`). `dirOrFile` is
 * the index itself or a directory holding exactly one. Every mapped shard must
 * exist as a regular file in the same directory (checked here); whether each
 * tensor is really inside its shard is checked by `index.verify()`.
 */
export async function readSafetensorsIndex(dirOrFile: string): Promise<SafetensorsIndex> {
  let path = dirOrFile;
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(path);
    if (st.isDirectory()) {
      const found = (await fs.promises.readdir(path)).filter((f) => f.endsWith(INDEX_SUFFIX)).sort();
      if (found.length !== 1) {
        const detail = found.length === 0 ? `no *${INDEX_SUFFIX} in the directory` : `several index files: ${found.join(', ')}`;
        throw fileError('IndexNotFound', detail, dirOrFile);
      }
      path = nodePath.join(path, found[0]);
    }
  } catch (e) {
    throw ioError(e, dirOrFile, 'stat');
  }

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await fs.promises.readFile(path));
  } catch (e) {
    throw ioError(e, path, 'read index');
  }
  const root = parseStrictJson(text, path, 'index');
  if (root.type !== 'object') throw fileError('InvalidIndex', 'index must be a JSON object', path);
  const wm = root.entries.get('weight_map');
  if (wm === undefined || wm.type !== 'object') throw fileError('InvalidIndex', 'weight_map must be an object', path);
  const md = root.entries.get('metadata');
  if (md !== undefined && md.type !== 'object' && md.type !== 'null') {
    throw fileError('InvalidIndex', 'metadata must be an object', path);
  }

  const weightMap = new Map<string, string>();
  const checked = new Set<string>();
  const dir = nodePath.dirname(path);
  for (const [name, v] of wm.entries) {
    if (v.type !== 'string') throw fileError('InvalidIndex', 'weight_map value must be a file name', path, name);
    const f = v.value;
    // The index is untrusted input: a shard must be a plain name in its directory.
    if (f === '' || f === '.' || f === '..' || /[/\\\0]/.test(f)) {
      throw fileError('InvalidIndex', `shard name ${JSON.stringify(f)} is not a plain file name`, path, name);
    }
    if (!checked.has(f)) {
      let s: fs.Stats;
      try {
        s = await fs.promises.stat(nodePath.join(dir, f));
      } catch (e) {
        throw fileError('MissingShard', `shard ${f} cannot be accessed: ${(e as Error).message}`, path, name, e);
      }
      if (!s.isFile()) throw fileError('MissingShard', `shard ${f} is not a regular file`, path, name);
      checked.add(f);
    }
    weightMap.set(name, f);
  }
  const metadata = md !== undefined && md.type === 'object' ? (toPlain(md) as Record<string, unknown>) : {};
  return new SafetensorsIndex(path, metadata, weightMap);
}

function toPlain(v: JsonValue): unknown {
  switch (v.type) {
    case 'object':
      return Object.fromEntries([...v.entries].map(([k, x]) => [k, toPlain(x)]));
    case 'array':
      return v.items.map(toPlain);
    case 'number':
      return Number(v.raw);
    case 'null':
      return null;
    default:
      return v.value;
  }
}
