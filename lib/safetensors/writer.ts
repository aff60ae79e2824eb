/**
 * Writes safetensors files the way the reference writer does (docs/semantics.md §10.4):
 * header starts with `{`, is padded with spaces to a multiple of 8 bytes, and
 * tensors are ordered by descending dtype alignment, then by name. Files are
 * written to a temp file in the same directory, fsynced and renamed into
 * place; on any error or abort the temp file is removed.
 */

import { invalidArgType, invalidArgValue, outOfRange } from '../arg_errors';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { promisify } from 'node:util';
import { QmmError } from '../errors';
import {
  HEADER_PREFIX_BYTES,
  MAX_HEADER_SIZE,
  dtypeBits,
  dtypeRank,
  fileError,
  isSafetensorsDtype,
  type SafetensorsDtype,
} from './header';

const openAsync = promisify(fs.open);
const writeAsync = promisify(fs.write);
const fsyncAsync = promisify(fs.fsync);
const fdatasyncAsync = promisify(fs.fdatasync);
const closeAsync = promisify(fs.close);

const MAX_WRITE_CHUNK = 1 << 30;
/**
 * Writes running at once. Each write's place in the file is fixed when its
 * call is dequeued, so a finished write need not wait for the event loop to
 * start the next one: with two in flight the file is written without gaps.
 */
const MAX_WRITES_IN_FLIGHT = 2;
/**
 * After this many bytes, an fdatasync runs in the background (one at a time),
 * so the disk writes back while later data is still being produced and the
 * fsync of commit finds little left to do.
 */
const FLUSH_EVERY_BYTES = 256 * 2 ** 20;

export interface SafetensorsTensorSpec {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
}

export interface NamedSafetensorsTensorSpec extends SafetensorsTensorSpec {
  readonly name: string;
}

export interface SafetensorsTensorInput extends SafetensorsTensorSpec {
  /** Little-endian element bytes; a typed array is taken in host order. */
  readonly data: ArrayBufferView;
}

export interface SafetensorsWriteOptions {
  /** Aborting removes the temp file; pending and later calls reject with ERR_QMM_ABORTED. */
  readonly signal?: AbortSignal;
}

export interface PlannedTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** Offset in the byte buffer. */
  readonly begin: number;
  readonly byteLength: number;
}

export interface SafetensorsLayout {
  /** The 8-byte length prefix followed by the padded JSON header. */
  readonly headerBytes: Uint8Array;
  /** Tensors in file order. */
  readonly tensors: readonly PlannedTensor[];
  readonly dataLength: number;
}

type SpecsArg = Readonly<Record<string, SafetensorsTensorSpec>> | readonly NamedSafetensorsTensorSpec[];

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const utf8 = new TextEncoder();

function checkText(s: unknown, what: string): string {
  if (typeof s !== 'string') throw invalidArgType(`${what} must be a string, got ${typeof s}`);
  if (LONE_SURROGATE.test(s)) throw invalidArgValue(`${what} contains a lone surrogate, which UTF-8 cannot encode`);
  return s;
}

function byteLengthOf(name: string, spec: SafetensorsTensorSpec, file: string): number {
  const arg = `tensors[${JSON.stringify(name)}]`;
  if (typeof spec !== 'object' || spec === null) throw invalidArgType(`${arg} must be an object`);
  if (!isSafetensorsDtype(spec.dtype)) {
    if (typeof spec.dtype !== 'string') throw invalidArgType(`${arg}.dtype must be a string`);
    throw new QmmError('ERR_QMM_DTYPE', `${arg}.dtype ${JSON.stringify(spec.dtype)} is not a safetensors dtype`, {
      argument: `${arg}.dtype`,
    });
  }
  if (!Array.isArray(spec.shape)) throw invalidArgType(`${arg}.shape must be an array`);
  let numel = 1n;
  for (const d of spec.shape as readonly unknown[]) {
    if (typeof d !== 'number') throw invalidArgType(`${arg}.shape must hold numbers, got ${typeof d}`);
    if (!Number.isSafeInteger(d) || d < 0) throw outOfRange(`${arg}.shape dimension ${d} is not a non-negative safe integer`);
    numel *= BigInt(d);
  }
  const bits = numel * BigInt(dtypeBits(spec.dtype));
  if (bits % 8n !== 0n) {
    throw new QmmError('ERR_QMM_SHAPE', `${arg}: ${numel} elements of ${spec.dtype} are not a whole number of bytes`, {
      argument: `${arg}.shape`,
      file,
    });
  }
  const bytes = bits / 8n;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw outOfRange(`${arg} is too large (${bytes} bytes)`);
  return Number(bytes);
}

function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Validates the specs and computes header bytes and offsets. Metadata keys
 * keep their insertion order; `undefined` metadata writes no `__metadata__`.
 */
export function planSafetensors(
  specs: SpecsArg,
  metadata?: Readonly<Record<string, string>>,
  file = '<memory>',
): SafetensorsLayout {
  const named: NamedSafetensorsTensorSpec[] = Array.isArray(specs)
    ? [...(specs as readonly NamedSafetensorsTensorSpec[])]
    : Object.entries(specs as Readonly<Record<string, SafetensorsTensorSpec>>).map(([name, s]) => ({
        name,
        dtype: s?.dtype,
        shape: s?.shape,
      }));
  const seen = new Set<string>();
  const sized = named.map((s) => {
    const name = checkText(s.name, 'tensor name');
    if (name === '__metadata__') {
      throw new QmmError('ERR_QMM_FILE', '"__metadata__" is reserved and cannot name a tensor', { file, argument: name });
    }
    if (seen.has(name)) throw new QmmError('ERR_QMM_FILE', `duplicate tensor name ${JSON.stringify(name)}`, { file, argument: name });
    seen.add(name);
    const byteLength = byteLengthOf(name, s, file);
    return { name, dtype: s.dtype, shape: Object.freeze([...s.shape]), byteLength };
  });
  sized.sort((a, b) => dtypeRank(b.dtype) - dtypeRank(a.dtype) || compareUtf8(a.name, b.name));

  let offset = 0;
  const tensors: PlannedTensor[] = [];
  const parts: string[] = [];
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null) throw invalidArgType('metadata must be an object of strings');
    const kv = Object.entries(metadata).map(
      ([k, v]) => `${JSON.stringify(checkText(k, 'metadata key'))}:${JSON.stringify(checkText(v, `metadata[${JSON.stringify(k)}]`))}`,
    );
    parts.push(`"__metadata__":{${kv.join(',')}}`);
  }
  for (const t of sized) {
    const begin = offset;
    offset += t.byteLength;
    if (!Number.isSafeInteger(offset)) throw outOfRange('total tensor data exceeds Number.MAX_SAFE_INTEGER bytes');
    tensors.push(Object.freeze({ name: t.name, dtype: t.dtype, shape: t.shape, begin, byteLength: t.byteLength }));
    parts.push(`${JSON.stringify(t.name)}:{"dtype":"${t.dtype}","shape":[${t.shape.join(',')}],"data_offsets":[${begin},${offset}]}`);
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.length / 8) * 8;
  if (n > MAX_HEADER_SIZE) {
    throw new QmmError('ERR_QMM_FILE', `header would be ${n} bytes, above the ${MAX_HEADER_SIZE} limit readers enforce`, { file });
  }
  const headerBytes = new Uint8Array(HEADER_PREFIX_BYTES + n).fill(0x20, HEADER_PREFIX_BYTES);
  new DataView(headerBytes.buffer).setBigUint64(0, BigInt(n), true);
  headerBytes.set(json, HEADER_PREFIX_BYTES);
  return Object.freeze({ headerBytes, tensors: Object.freeze(tensors), dataLength: offset });
}

const LITTLE_ENDIAN_HOST = os.endianness() === 'LE';

/** The view's bytes in file (little-endian) order. */
function leBytes(data: ArrayBufferView): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const size = (data as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  if (LITTLE_ENDIAN_HOST || size === 1) return bytes;
  const copy = bytes.slice();
  for (let i = 0; i + size <= copy.length; i += size) copy.subarray(i, i + size).reverse();
  return copy;
}

function checkData(t: PlannedTensor, data: unknown): Uint8Array {
  if (!ArrayBuffer.isView(data)) throw invalidArgType(`tensors[${JSON.stringify(t.name)}].data must be a typed array or DataView`);
  if (data.byteLength !== t.byteLength) {
    throw new QmmError(
      'ERR_QMM_SHAPE',
      `tensors[${JSON.stringify(t.name)}].data has ${data.byteLength} bytes, but ${t.dtype} [${t.shape}] needs ${t.byteLength}`,
      { argument: `tensors[${JSON.stringify(t.name)}].data` },
    );
  }
  return leBytes(data);
}

function namedInputs(tensors: Readonly<Record<string, SafetensorsTensorInput>>): (NamedSafetensorsTensorSpec & { data: ArrayBufferView })[] {
  if (typeof tensors !== 'object' || tensors === null) throw invalidArgType('tensors must be an object');
  return Object.entries(tensors).map(([name, t]) => ({ name, dtype: t?.dtype, shape: t?.shape, data: t?.data }));
}

/** The whole file in memory; for small files and tests. */
export function serializeSafetensors(
  tensors: Readonly<Record<string, SafetensorsTensorInput>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const inputs = namedInputs(tensors);
  const layout = planSafetensors(inputs, metadata);
  const byName = new Map(inputs.map((t) => [t.name, t.data]));
  const out = new Uint8Array(layout.headerBytes.length + layout.dataLength);
  out.set(layout.headerBytes);
  for (const t of layout.tensors) out.set(checkData(t, byName.get(t.name)), layout.headerBytes.length + t.begin);
  return out;
}

/** Writes a whole file atomically; all data lengths are checked before anything touches the disk. */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, SafetensorsTensorInput>>,
  metadata?: Readonly<Record<string, string>>,
  options: SafetensorsWriteOptions = {},
): Promise<void> {
  const inputs = namedInputs(tensors);
  const layout = planSafetensors(inputs, metadata, path);
  const byName = new Map(inputs.map((t) => [t.name, t.data]));
  const checked = layout.tensors.map((t) => [t.name, checkData(t, byName.get(t.name))] as const);
  const w = await SafetensorsWriter.create(path, inputs, metadata, options);
  for (const [name, bytes] of checked) await w.write(name, bytes);
  await w.commit();
}

type WriterState = 'open' | 'committed' | 'discarded';

/**
 * Streaming writer: declare every tensor up front, then `write(name, bytes)`
 * in any tensor order. Several writes to one tensor append in call order, so
 * a large tensor can be streamed in chunks. Calls are queued and checked in
 * order; up to two writes run at once; do not mutate a buffer before its
 * `write` resolves. Any failing call discards the temp file and makes the
 * writer unusable. The temp file (`<path>.tmp-<pid>-<random>`)
 * exists from `create` until `commit` or `abort`, so call one of them; a crash
 * can leave it behind, but the target is never half-written.
 */
export class SafetensorsWriter {
  readonly path: string;
  readonly tempPath: string;
  readonly layout: SafetensorsLayout;
  private fd: number | null;
  private state: WriterState = 'open';
  private aborted = false;
  private readonly written = new Map<string, number>();
  private readonly byName: Map<string, PlannedTensor>;
  private tail: Promise<unknown> = Promise.resolve();
  /** Writes started and not yet settled (settled versions: they never reject). */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly slotWaiters: Array<() => void> = [];
  /** The first failed write; later calls fail. */
  private writeFailure: unknown;
  private unflushedBytes = 0;
  /** The background fdatasync, if one runs (settled version). */
  private flushing: Promise<void> | undefined;
  private readonly signal: AbortSignal | undefined;
  private readonly onAbort = (): void => {
    this.aborted = true;
    void this.abort();
  };

  private constructor(path: string, tempPath: string, fd: number, layout: SafetensorsLayout, signal: AbortSignal | undefined) {
    this.path = path;
    this.tempPath = tempPath;
    this.fd = fd;
    this.layout = layout;
    this.byName = new Map(layout.tensors.map((t) => [t.name, t]));
    for (const t of layout.tensors) this.written.set(t.name, 0);
    this.signal = signal;
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  static async create(
    path: string,
    specs: SpecsArg,
    metadata?: Readonly<Record<string, string>>,
    options: SafetensorsWriteOptions = {},
  ): Promise<SafetensorsWriter> {
    const layout = planSafetensors(specs, metadata, path);
    if (options.signal?.aborted) throw abortedError(path, options.signal);
    const tempPath = nodePath.join(
      nodePath.dirname(path),
      `${nodePath.basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`,
    );
    let fd: number;
    try {
      fd = await openAsync(tempPath, 'wx');
    } catch (e) {
      throw wrap(e, path, 'create temp file');
    }
    try {
      await writeAllAsync(fd, layout.headerBytes, 0);
    } catch (e) {
      await closeAsync(fd).catch(() => undefined);
      await fs.promises.unlink(tempPath).catch(() => undefined);
      throw wrap(e, path, 'write header');
    }
    const w = new SafetensorsWriter(path, tempPath, fd, layout, options.signal);
    if (options.signal?.aborted) w.onAbort();
    return w;
  }

  /** Bytes still expected for `name`. */
  remaining(name: string): number {
    const t = this.byName.get(name);
    if (t === undefined) throw new QmmError('ERR_QMM_FILE', `no declared tensor ${JSON.stringify(name)}`, { file: this.path, argument: name });
    return t.byteLength - (this.written.get(name) ?? 0);
  }

  /** Appends `data` to tensor `name`; resolves when its bytes are written. */
  write(name: string, data: ArrayBufferView): Promise<void> {
    let written: Promise<void> = Promise.resolve();
    const placed = this.enqueue(async (fd) => {
      const t = this.byName.get(name);
      if (t === undefined) throw new QmmError('ERR_QMM_FILE', `no declared tensor ${JSON.stringify(name)}`, { file: this.path, argument: name });
      if (!ArrayBuffer.isView(data)) throw invalidArgType(`data for ${JSON.stringify(name)} must be a typed array or DataView`);
      const done = this.written.get(name) ?? 0;
      if (done + data.byteLength > t.byteLength) {
        throw new QmmError(
          'ERR_QMM_SHAPE',
          `tensor ${JSON.stringify(name)}: ${done} + ${data.byteLength} bytes exceed its ${t.byteLength} bytes (${t.dtype} [${t.shape}])`,
          { file: this.path, argument: name },
        );
      }
      this.written.set(name, done + data.byteLength);
      while (this.inFlight.size >= MAX_WRITES_IN_FLIGHT) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
      if (this.writeFailure !== undefined) throw this.writeFailure;
      written = this.start(writeAllAsync(fd, leBytes(data), this.layout.headerBytes.length + t.begin + done));
      this.unflushedBytes += data.byteLength;
      if (this.unflushedBytes >= FLUSH_EVERY_BYTES && this.flushing === undefined) {
        this.unflushedBytes = 0;
        // what is written by then goes to disk; its error fails commit (a later fsync would not report it again)
        this.flushing = written.then(
          () =>
            fdatasyncAsync(fd).then(
              () => (this.flushing = undefined),
              (e: unknown) => {
                this.writeFailure ??= wrap(e, this.path, 'fdatasync');
                this.flushing = undefined;
              },
            ),
          () => (this.flushing = undefined),
        );
      }
    });
    return placed.then(() => written);
  }

  /** Checks every tensor is complete, fsyncs and renames over `path`. */
  commit(): Promise<void> {
    return this.enqueue(async (fd) => {
      await this.settleWrites();
      if (this.writeFailure !== undefined) throw this.writeFailure;
      for (const t of this.layout.tensors) {
        const done = this.written.get(t.name) ?? 0;
        if (done !== t.byteLength) {
          throw new QmmError('ERR_QMM_SHAPE', `tensor ${JSON.stringify(t.name)}: ${done} of ${t.byteLength} bytes written`, {
            file: this.path,
            argument: t.name,
          });
        }
      }
      await fsyncAsync(fd);
      this.fd = null;
      await closeAsync(fd);
      await fs.promises.rename(this.tempPath, this.path);
      this.state = 'committed';
      this.detach();
      await syncDir(nodePath.dirname(this.path));
    });
  }

  /** Removes the temp file. A no-op after commit or a previous discard. */
  abort(): Promise<void> {
    this.aborted = true;
    const p = this.tail.then(() => this.discard());
    this.tail = p;
    return p;
  }

  private enqueue(op: (fd: number) => Promise<void>): Promise<void> {
    const p = this.tail.then(async () => {
      if (this.aborted) {
        await this.discard();
        throw abortedError(this.path, this.signal);
      }
      if (this.state !== 'open' || this.fd === null) {
        throw new QmmError('ERR_QMM_FILE', `the writer is already ${this.state}`, { file: this.path });
      }
      try {
        await op(this.fd);
      } catch (e) {
        await this.discard();
        throw wrap(e, this.path, 'write');
      }
    });
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** Tracks a running write; its failure discards the file and fails every later call. */
  private start(io: Promise<void>): Promise<void> {
    const settled = io.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => {
      this.inFlight.delete(settled);
      this.slotWaiters.shift()?.();
    });
    return io.catch(async (e: unknown) => {
      this.writeFailure ??= wrap(e, this.path, 'write');
      await this.discard();
      throw this.writeFailure;
    });
  }

  private async settleWrites(): Promise<void> {
    while (this.inFlight.size > 0 || this.flushing !== undefined) await Promise.all([...this.inFlight, this.flushing]);
  }

  private async discard(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'discarded';
    this.detach();
    await this.settleWrites(); // never close the fd under a running write
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) await closeAsync(fd).catch(() => undefined);
    await fs.promises.unlink(this.tempPath).catch(() => undefined);
  }

  private detach(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

function abortedError(file: string, signal: AbortSignal | undefined): QmmError {
  return new QmmError('ERR_QMM_ABORTED', `writing ${file} was aborted`, { file, ...(signal?.aborted ? { cause: signal.reason } : {}) });
}

function wrap(e: unknown, file: string, doing: string): unknown {
  if (e instanceof QmmError || e instanceof TypeError || e instanceof RangeError) return e;
  return fileError('IoError', `${doing} failed: ${e instanceof Error ? e.message : String(e)}`, file, undefined, e);
}

async function writeAllAsync(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await writeAsync(fd, bytes, done, Math.min(bytes.length - done, MAX_WRITE_CHUNK), position + done);
    done += bytesWritten;
  }
}

/** Makes the rename durable; some platforms cannot open a directory, which is fine. */
async function syncDir(dir: string): Promise<void> {
  let fd: number | undefined;
  try {
    fd = await openAsync(dir, 'r');
    await fsyncAsync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) await closeAsync(fd).catch(() => undefined);
  }
}
