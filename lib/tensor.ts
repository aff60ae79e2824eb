/**
 * Tensor: a typed view (shape, strides, storage offset, all in elements) over
 * host memory or device memory. Views share memory. FRACTAL_NZ tensors keep
 * their NZ storage; their shape and strides describe the logical ND view, as
 * torch presents them to aclnn (docs/semantics.md §5.3, §6.3).
 */

import { invalidArgType, invalidArgValue, outOfRange } from './arg_errors';
import { currentBackend, type ActiveBackend } from './backend';
import { checkDType, DTYPES, type DType, type HostArray, type HostArrayOf } from './dtypes';
import { deviceString, parseDevice, type Device } from './device';
import { describe, QmmError } from './errors';
import { bf16ToF32, encodeHalf, f16ToF32 } from './half';
import { allocHostChecked, detachedError, hostArrayFor, isDetached } from './host_data';
import type { NativeDeviceBuffer } from './native';
import { nzIndex, nzStorageShape } from './nz';
import { resolveShape, viewStrides } from './view_strides';

export type Format = 'ND' | 'FRACTAL_NZ';

/** The float dtypes fromFloat32() makes. */
export type FloatDType = 'float16' | 'bfloat16' | 'float32';

/** A JS element of dtype D as toArray() gives it: bigint for int64, a number otherwise. */
export type ElementOf<D extends DType> = D extends 'int64' ? bigint : number;

/** A Node Buffer, described without @types/node: tensor() reads its bytes as int8. */
export type BufferBytes = Uint8Array & { readInt8(offset?: number): number };

/**
 * What tensor() accepts as data for dtype D: its host array (shared, not
 * copied), or a plain array of numbers (copied, each element range-checked;
 * numbers or bigints for int64). float16/bfloat16 take raw bits only (use
 * fromFloat32() for numbers); int8 also takes a Node Buffer's bytes.
 */
export type TensorData<D extends DType> = D extends 'float16' | 'bfloat16'
  ? Uint16Array
  : D extends 'int64'
    ? BigInt64Array | readonly (bigint | number)[]
    : D extends 'int8'
      ? Int8Array | BufferBytes | readonly number[]
      : HostArrayOf<D> | readonly number[];

/** @internal Where a tensor's elements live. Host storage is a TypedArray; device storage a native buffer. */
export interface Storage {
  readonly host?: HostArray;
  readonly device?: NativeDeviceBuffer;
  /** Backend that owns `device` memory. */
  readonly backend?: ActiveBackend;
  /** Storage length in elements. */
  readonly length: number;
}

/** @internal */
export interface TensorInit<D extends DType = DType> {
  dtype: D;
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
  format: Format;
  storageShape?: readonly number[];
  device: Device;
  storage: Storage;
}

export interface TensorOptions {
  /** 'cpu' (default) or 'npu:N'. */
  device?: Device | 'npu';
  /** 'ND' (default) or 'FRACTAL_NZ': `data` then holds NZ storage bytes for the logical `shape`. */
  format?: Format;
  /** FRACTAL_NZ C0 (default: 32 for int8/uint8, 16 otherwise; use 8 for int4-in-int32 weights). */
  c0?: number;
}

const MAX_RANK = 8;

export function contiguousStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function checkShape(shape: unknown, argument: string): number[] {
  if (!Array.isArray(shape)) throw invalidArgType(`${argument} must be an array of non-negative integers, got ${describe(shape)}`);
  if (shape.length > MAX_RANK) throw outOfRange(`${argument} has rank ${shape.length}; at most ${MAX_RANK} dims are supported`);
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number') throw invalidArgType(`${argument}[${i}] must be an integer, got ${describe(d)}`);
    if (!Number.isInteger(d) || d < 0 || d > 0x7fffffff) throw outOfRange(`${argument}[${i}] must be an integer in [0, 2147483647], got ${d}`);
    out.push(d);
  }
  if (numelOf(out) > Number.MAX_SAFE_INTEGER) throw outOfRange(`${argument} ${fmtShape(out)} has too many elements`);
  return out;
}

export function fmtShape(s: readonly number[]): string {
  return s.length === 1 ? `(${s[0]},)` : `(${s.join(', ')})`;
}

function normalizeDim(d: unknown, rank: number, argument: string): number {
  if (typeof d !== 'number') throw invalidArgType(`${argument} must be an integer, got ${describe(d)}`);
  if (!Number.isInteger(d) || d < -rank || d >= rank) throw outOfRange(`${argument} must be an integer in [${-rank}, ${rank - 1}], got ${d}`);
  return d < 0 ? d + rank : d;
}

/**
 * A tensor of dtype D. `.data` is D's host array: Int8Array (int8), Uint8Array
 * (uint8), Int32Array (int32), BigInt64Array (int64), Float32Array (float32),
 * Uint16Array of raw bits (float16, bfloat16).
 */
export class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  /** Storage offset in elements. */
  readonly offset: number;
  readonly format: Format;
  /** FRACTAL_NZ storage dims (undefined for ND). */
  readonly storageShape: readonly number[] | undefined;
  readonly device: Device;
  /** @internal */
  readonly storage: Storage;

  /** Tensors are made by tensor(), zeros(), fromFloat32() and the ops, not with `new`. */
  constructor(init: never);
  /** @internal */
  constructor(init: TensorInit<D>);
  constructor(init: TensorInit<D>) {
    this.dtype = init.dtype;
    this.shape = Object.freeze([...init.shape]);
    this.strides = Object.freeze([...init.strides]);
    this.offset = init.offset;
    this.format = init.format;
    this.storageShape = init.storageShape ? Object.freeze([...init.storageShape]) : undefined;
    this.device = init.device;
    this.storage = init.storage;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get numel(): number {
    return numelOf(this.shape);
  }

  get itemSize(): number {
    return DTYPES[this.dtype].itemSize;
  }

  get isNpu(): boolean {
    return this.device !== 'cpu';
  }

  /** True when the elements are laid out row-major with no gaps (size-1 dims ignored). */
  isContiguous(): boolean {
    let expect = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.strides[i] !== expect) return false;
      expect *= this.shape[i];
    }
    return true;
  }

  /**
   * The raw host TypedArray of a cpu tensor (Uint16Array bits for float16/bfloat16,
   * BigInt64Array for int64), sharing memory with the tensor. For FRACTAL_NZ the
   * NZ storage, as the device holds it. A non-contiguous view has no such array:
   * call `.contiguous()` first.
   */
  get data(): HostArrayOf<D> {
    if (this.device !== 'cpu') {
      throw new QmmError('ERR_QMM_DEVICE', `tensor.data: the tensor is on ${this.device}; call .cpu() first`, { argument: 'tensor' });
    }
    const host = this.liveHost('tensor.data');
    if (this.format === 'FRACTAL_NZ') return host as HostArrayOf<D>;
    if (!this.isContiguous()) {
      throw new QmmError('ERR_QMM_SHAPE', `tensor.data: the view ${fmtShape(this.shape)} with strides ${fmtShape(this.strides)} is not contiguous; call .contiguous() first`, { argument: 'tensor' });
    }
    if (this.offset === 0 && this.numel === host.length) return host as HostArrayOf<D>;
    return host.subarray(this.offset, this.offset + this.numel) as HostArrayOf<D>;
  }

  /** A view with the last two dims swapped (docs/semantics.md §1.2: a transposed weight costs no copy). */
  t(): Tensor<D> {
    if (this.ndim < 2) throw new QmmError('ERR_QMM_SHAPE', `t() needs at least 2 dims, the tensor has shape ${fmtShape(this.shape)}`, { argument: 'tensor' });
    return this.transpose(-2, -1);
  }

  /** A view with dims a and b swapped. On FRACTAL_NZ only the last two dims may be swapped. */
  transpose(a: number, b: number): Tensor<D> {
    const r = this.ndim;
    const i = normalizeDim(a, r, 'transpose dim a');
    const j = normalizeDim(b, r, 'transpose dim b');
    if (this.format === 'FRACTAL_NZ' && !((i === r - 1 && j === r - 2) || (i === r - 2 && j === r - 1) || i === j)) {
      throw new QmmError('ERR_QMM_FORMAT', `transpose(${a}, ${b}): a FRACTAL_NZ tensor can only swap its last two dims`, { argument: 'tensor' });
    }
    const shape = [...this.shape];
    const strides = [...this.strides];
    [shape[i], shape[j]] = [shape[j], shape[i]];
    [strides[i], strides[j]] = [strides[j], strides[i]];
    return this.viewAs(shape, strides, this.offset);
  }

  /**
   * A view of the same elements with a new shape (one dim may be -1: inferred),
   * sharing memory, like torch's `Tensor.view`. Throws ERR_QMM_SHAPE when the
   * strides cannot express the new shape without a copy (e.g. flattening a
   * transposed view): use reshape(), which copies then.
   */
  view(shape: readonly number[]): Tensor<D> {
    const s = this.newShape(shape, 'view');
    const strides = viewStrides(this.shape, this.strides, s);
    if (!strides) {
      throw new QmmError(
        'ERR_QMM_SHAPE',
        `view: the ${fmtShape(this.shape)} view with strides ${fmtShape(this.strides)} cannot be viewed as ${fmtShape(s)} without copying; use reshape() (copies when needed) or contiguous().view()`,
        { argument: 'shape' },
      );
    }
    return this.viewAs(s, strides, this.offset);
  }

  /**
   * The same elements with a new shape (one dim may be -1: inferred), like
   * torch's `Tensor.reshape`: a view sharing memory when the strides allow it
   * (always for a contiguous tensor), otherwise a contiguous copy. Use view()
   * to be sure no copy is made.
   */
  reshape(shape: readonly number[]): Tensor<D> {
    const s = this.newShape(shape, 'reshape');
    const strides = viewStrides(this.shape, this.strides, s);
    if (strides) return this.viewAs(s, strides, this.offset);
    const c = this.contiguous();
    return c.viewAs(s, contiguousStrides(s), c.offset);
  }

  /** This tensor if contiguous, else a contiguous copy on the same device. */
  contiguous(): Tensor<D> {
    if (this.isContiguous()) return this;
    if (this.format === 'FRACTAL_NZ') throw new QmmError('ERR_QMM_FORMAT', 'contiguous: a transposed FRACTAL_NZ view cannot be materialized; cast it to ND first', { argument: 'tensor' });
    const host = this.gatherHost();
    const t = makeHostTensor(host, [...this.shape], this.dtype, 'cpu');
    return this.device === 'cpu' ? t : t.toDevice(this.device);
  }

  /** A copy on npu:N (default npu:0). On the emulator backend this is emulated device memory. */
  npu(index: number | Device = 0): Tensor<D> {
    const d = parseDevice(index, 'npu(device)');
    return this.toDevice(deviceString('npu', d.kind === 'npu' ? d.index : 0));
  }

  /** A copy in host memory (this tensor if it is already on the cpu). NZ tensors keep their NZ storage. */
  cpu(): Tensor<D> {
    if (this.device === 'cpu') return this;
    return this.toDevice('cpu');
  }

  /** The logical elements in row-major order as float32 (int64 via Number; NZ decoded to ND). */
  toFloat32Array(): Float32Array {
    const src = this.cpu();
    const out = new Float32Array(src.numel);
    src.forEachElement((v, i) => {
      out[i] = typeof v === 'bigint' ? Number(v) : v;
    }, true);
    return out;
  }

  /** The logical elements in row-major order as JS numbers (bigint for int64; raw value, not bits, for half types). */
  toArray(): Array<ElementOf<D>> {
    const src = this.cpu();
    const out: Array<ElementOf<D>> = new Array(src.numel);
    src.forEachElement((v, i) => {
      out[i] = v as ElementOf<D>;
    }, true);
    return out;
  }

  /** @internal A view over the same storage with explicit geometry. */
  viewAs(shape: readonly number[], strides: readonly number[], offset: number): Tensor<D> {
    return new Tensor<D>({
      dtype: this.dtype,
      shape,
      strides,
      offset,
      format: this.format,
      storageShape: this.storageShape,
      device: this.device,
      storage: this.storage,
    });
  }

  /** @internal Visits logical elements in row-major order; half types decoded when `decode`. */
  forEachElement(fn: (v: number | bigint, i: number) => void, decode: boolean): void {
    const host = this.liveHost('tensor');
    const r = this.ndim;
    const n = this.numel;
    const idx = new Array<number>(r).fill(0);
    const dec = !decode ? null : this.dtype === 'float16' ? f16ToF32 : this.dtype === 'bfloat16' ? bf16ToF32 : null;
    const nz = this.format === 'FRACTAL_NZ' ? this.nzAddressing() : null;
    for (let i = 0; i < n; i++) {
      let off: number;
      if (nz) {
        off = nz(idx);
      } else {
        off = this.offset;
        for (let d = 0; d < r; d++) off += idx[d] * this.strides[d];
      }
      const raw = host[off];
      fn(dec ? dec(raw as number) : raw, i);
      for (let d = r - 1; d >= 0; d--) {
        if (++idx[d] < this.shape[d]) break;
        idx[d] = 0;
      }
    }
  }

  /** @internal For NZ: maps a logical index to its storage index (a transposed view reads the physical transpose). */
  nzAddressing(): (idx: number[]) => number {
    const r = this.ndim;
    const transposed = isTransposedNzView(this);
    const phys = [...this.shape];
    if (transposed) [phys[r - 2], phys[r - 1]] = [phys[r - 1], phys[r - 2]];
    const rows = phys[r - 2];
    const cols = phys[r - 1];
    const c0 = (this.storageShape as readonly number[])[(this.storageShape as readonly number[]).length - 1];
    return (idx) => {
      let b = 0;
      for (let d = 0; d < r - 2; d++) b = b * phys[d] + idx[d];
      const row = transposed ? idx[r - 1] : idx[r - 2];
      const col = transposed ? idx[r - 2] : idx[r - 1];
      return nzIndex(b, row, col, rows, cols, c0);
    };
  }

  /** @internal Logical elements gathered into a new contiguous host array (raw values/bits). */
  gatherHost(): HostArrayOf<D> {
    if (this.device === 'cpu') return this.gatherHostLocal();
    // toDevice('cpu') already gathers an ND view; an NZ tensor arrives as its storage
    const onCpu = this.toDevice('cpu');
    return this.format === 'FRACTAL_NZ' ? onCpu.gatherHostLocal() : (onCpu.storage.host as HostArrayOf<D>);
  }

  /** @internal Copies the tensor to another device (whole storage for NZ, contiguous elements otherwise). */
  toDevice(device: Device): Tensor<D> {
    const target = parseDevice(device);
    const backend = currentBackend();
    if (target.kind === 'npu' && target.index >= backend.deviceCount) {
      throw new QmmError('ERR_QMM_DEVICE', `device: npu:${target.index} does not exist: the ${backend.name} backend has ${backend.deviceCount} device(s)`, { argument: 'device' });
    }
    const nz = this.format === 'FRACTAL_NZ';
    // Source elements as a host array: NZ keeps its storage, ND views are gathered.
    // Either way a new, unshared array: the native upload reads plain ArrayBuffers.
    let host: HostArray;
    if (this.device === 'cpu' || !this.storage.device) {
      const src = this.liveHost('tensor');
      host = nz || (this.isContiguous() && this.offset === 0 && this.numel === this.storage.length)
        ? src.slice() as HostArray
        : this.gatherHostLocal();
    } else {
      const be = this.storage.backend as ActiveBackend;
      const full = allocHostChecked(this.dtype, this.storage.length, 'tensor');
      be.handle.download(this.storage.device, 0, full);
      const onHost = new Tensor<D>({ ...this.fields(), device: 'cpu', storage: { host: full, length: full.length } });
      host = nz ? full : onHost.gatherHostLocal();
    }
    const shape = [...this.shape];
    const strides = nz ? [...this.strides] : contiguousStrides(shape);
    let storage: Storage;
    if (target.kind === 'npu' && backend.hasDeviceMemory) {
      const buf = backend.handle.alloc(target.index, host.byteLength);
      backend.handle.upload(buf, 0, host);
      storage = { device: buf, backend, length: host.length };
    } else {
      storage = { host, length: host.length };
    }
    return new Tensor<D>({
      dtype: this.dtype,
      shape,
      strides,
      offset: 0,
      format: this.format,
      storageShape: this.storageShape,
      device: target.kind === 'cpu' ? 'cpu' : deviceString('npu', target.index),
      storage,
    });
  }

  /** @internal The host array, unless its buffer was transferred away (then a TypeError naming `what`). */
  liveHost(what: string): HostArray {
    const host = this.storage.host as HostArray;
    if (host && host.length < this.storage.length && isDetached(host)) throw detachedError(what);
    return host;
  }

  /** @internal */
  private gatherHostLocal(): HostArrayOf<D> {
    const out = allocHostChecked(this.dtype, this.numel, 'tensor');
    this.forEachElement((v, i) => {
      (out as unknown as Array<number | bigint>)[i] = v;
    }, false);
    return out as HostArrayOf<D>;
  }

  /** @internal */
  private fields() {
    return {
      dtype: this.dtype,
      shape: this.shape,
      strides: this.strides,
      offset: this.offset,
      format: this.format,
      storageShape: this.storageShape,
    };
  }

  /** @internal The shape argument of view()/reshape() with -1 resolved, checked against this tensor. */
  private newShape(shape: readonly number[], method: string): number[] {
    if (this.format === 'FRACTAL_NZ') throw new QmmError('ERR_QMM_FORMAT', `${method}: a FRACTAL_NZ tensor cannot be reshaped; cast it to ND first`, { argument: 'tensor' });
    return resolveShape(shape, this.numel, `${method}: shape`, fmtShape(this.shape));
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)}, ${this.format}, ${this.device})`;
  }
}

/**
 * aclnn's check for a transposed FRACTAL_NZ view (GetTransposeAttrValue, docs/semantics.md §1.2, §5.3):
 * stride[-2] == 1 and stride[-1] == size[-2].
 */
export function isTransposedNzView(t: { shape: readonly number[]; strides: readonly number[] }): boolean {
  const r = t.shape.length;
  return r >= 2 && t.strides[r - 2] === 1 && t.strides[r - 1] === t.shape[r - 2];
}

/** @internal A contiguous tensor over an existing host array. */
export function makeHostTensor<D extends DType>(host: HostArray, shape: number[], dtype: D, device: Device): Tensor<D> {
  return new Tensor<D>({
    dtype,
    shape,
    strides: contiguousStrides(shape),
    offset: 0,
    format: 'ND',
    device,
    storage: { host, length: host.length },
  });
}

/**
 * Makes a tensor over `data` (shared, not copied) with a logical `shape`.
 * `data` must be the dtype's host array: Int8Array (int8, or a Node Buffer,
 * whose bytes are read as int8), Uint8Array (uint8; a Buffer is one),
 * Int32Array (int32), BigInt64Array (int64), Float32Array (float32), or
 * Uint16Array holding raw float16/bfloat16 bits. Arrays over a
 * SharedArrayBuffer are shared too. Plain arrays of numbers are copied, each
 * element checked: integers in the dtype's range (bigints or safe integers for
 * int64; for float16/bfloat16 use fromFloat32()).
 */
export function tensor<D extends DType>(data: TensorData<D>, shape: readonly number[], dtype: D, options: TensorOptions = {}): Tensor<D> {
  const dt = checkDType(dtype, 'dtype') as D;
  const s = checkShape(shape, 'shape');
  if (options === null || typeof options !== 'object') throw invalidArgType(`options must be an object, got ${describe(options)}`);
  const format: Format = options.format ?? 'ND';
  if (format !== 'ND' && format !== 'FRACTAL_NZ') {
    const msg = `options.format must be 'ND' or 'FRACTAL_NZ', got ${describe(format)}`;
    throw typeof format === 'string' ? invalidArgValue(msg) : invalidArgType(msg);
  }
  const host = hostArrayFor(data, dt, 'data');
  let storageShape: number[] | undefined;
  let need = numelOf(s);
  if (format === 'FRACTAL_NZ') {
    if (s.length < 2 || s.length > 6) throw new QmmError('ERR_QMM_SHAPE', `a FRACTAL_NZ tensor needs rank 2..6, got shape ${fmtShape(s)}`, { argument: 'shape' });
    const c0: unknown = options.c0 ?? (dt === 'int8' || dt === 'uint8' ? 32 : 16);
    if (typeof c0 !== 'number') throw invalidArgType(`options.c0 must be an integer in [1, 64], got ${describe(c0)}`);
    if (!Number.isInteger(c0) || c0 <= 0 || c0 > 64) throw outOfRange(`options.c0 must be an integer in [1, 64], got ${c0}`);
    storageShape = nzStorageShape(s, c0);
    need = numelOf(storageShape);
  } else if (options.c0 !== undefined) {
    throw invalidArgValue('options.c0 only applies to FRACTAL_NZ tensors');
  }
  if (host.length !== need) {
    const what = format === 'FRACTAL_NZ' ? `the FRACTAL_NZ storage ${fmtShape(storageShape as number[])}` : `shape ${fmtShape(s)}`;
    throw new QmmError('ERR_QMM_SHAPE', `data has ${host.length} elements but ${what} needs ${need}`, { argument: 'data' });
  }
  const device = options.device === undefined ? 'cpu' : options.device;
  const t = new Tensor<D>({
    dtype: dt,
    shape: s,
    strides: contiguousStrides(s),
    offset: 0,
    format,
    storageShape,
    device: 'cpu',
    storage: { host, length: host.length },
  });
  const d = parseDevice(device, 'options.device');
  return d.kind === 'cpu' ? t : t.npu(d.index);
}

const FLOAT_DTYPES: readonly FloatDType[] = ['float16', 'bfloat16', 'float32'];

/** Makes a float16, bfloat16 or float32 tensor from numbers (rounded to nearest even). */
export function fromFloat32<D extends FloatDType = 'float16'>(values: ArrayLike<number>, shape: readonly number[], dtype: D = 'float16' as D, options: TensorOptions = {}): Tensor<D> {
  const dt = checkDType(dtype, 'dtype', FLOAT_DTYPES) as D;
  if (values === null || typeof values !== 'object' || typeof (values as ArrayLike<number>).length !== 'number') {
    throw invalidArgType(`values must be an array of numbers, got ${describe(values)}`);
  }
  const data = dt === 'float32' ? float32From(values) : encodeHalf(values, dt as 'float16' | 'bfloat16', 'values');
  return tensor(data as TensorData<D>, shape, dt, options);
}

function float32From(values: ArrayLike<number>): Float32Array {
  if (values instanceof Float32Array || values instanceof Float64Array) return Float32Array.from(values);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v: unknown = values[i];
    if (typeof v !== 'number') throw invalidArgType(`values[${i}] must be a number, got ${describe(v)}`);
    out[i] = v;
  }
  return out;
}

/** Zero-filled host or device tensor. */
export function zeros<D extends DType>(shape: readonly number[], dtype: D, options: TensorOptions = {}): Tensor<D> {
  const dt = checkDType(dtype, 'dtype') as D;
  const s = checkShape(shape, 'shape');
  const host = allocHostChecked(dt, numelOf(s), `zeros: shape ${fmtShape(s)}`);
  return tensor(host as TensorData<D>, s, dt, options);
}
