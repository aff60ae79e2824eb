/**
 * Tensor: a typed view (shape, strides, storage offset, all in elements) over
 * host memory or device memory. Views share memory. FRACTAL_NZ tensors keep
 * their NZ storage; their shape and strides describe the logical ND view, as
 * torch presents them to aclnn (SPEC §5.3, §6.3).
 */

import { currentBackend, type ActiveBackend } from './backend';
import { allocHost, checkDType, DTYPES, hostArrayName, type DType, type HostArray } from './dtypes';
import { deviceString, parseDevice, type Device } from './device';
import { describe, QmmError } from './errors';
import { bf16ToF32, encodeHalf, f16ToF32 } from './half';
import type { NativeDeviceBuffer } from './native';
import { nzIndex, nzStorageShape } from './nz';

export type Format = 'ND' | 'FRACTAL_NZ';

/** Where a tensor's elements live. Host storage is a TypedArray; device storage a native buffer. */
export interface Storage {
  readonly host?: HostArray;
  readonly device?: NativeDeviceBuffer;
  /** Backend that owns `device` memory. */
  readonly backend?: ActiveBackend;
  /** Storage length in elements. */
  readonly length: number;
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
  if (!Array.isArray(shape)) throw new TypeError(`${argument} must be an array of non-negative integers, got ${describe(shape)}`);
  if (shape.length > MAX_RANK) throw new RangeError(`${argument} has rank ${shape.length}; at most ${MAX_RANK} dims are supported`);
  const out: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d: unknown = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d)) {
      throw new TypeError(`${argument}[${i}] must be an integer, got ${describe(d)}`);
    }
    if (d < 0 || d > 0x7fffffff) throw new RangeError(`${argument}[${i}] must be in [0, 2147483647], got ${d}`);
    out.push(d);
  }
  if (numelOf(out) > Number.MAX_SAFE_INTEGER) throw new RangeError(`${argument} ${fmtShape(out)} has too many elements`);
  return out;
}

export function fmtShape(s: readonly number[]): string {
  return s.length === 1 ? `(${s[0]},)` : `(${s.join(', ')})`;
}

function normalizeDim(d: unknown, rank: number, argument: string): number {
  if (typeof d !== 'number' || !Number.isInteger(d)) throw new TypeError(`${argument} must be an integer, got ${describe(d)}`);
  if (d < -rank || d >= rank) throw new RangeError(`${argument} must be in [${-rank}, ${rank - 1}], got ${d}`);
  return d < 0 ? d + rank : d;
}

export class Tensor {
  readonly dtype: DType;
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

  /** @internal use tensor(), fromFloat32() or an op to make tensors. */
  constructor(init: {
    dtype: DType;
    shape: readonly number[];
    strides: readonly number[];
    offset: number;
    format: Format;
    storageShape?: readonly number[];
    device: Device;
    storage: Storage;
  }) {
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
  get data(): HostArray {
    if (this.device !== 'cpu') {
      throw new QmmError('ERR_QMM_DEVICE', `tensor.data: the tensor is on ${this.device}; call .cpu() first`, { argument: 'tensor' });
    }
    const host = this.storage.host as HostArray;
    if (this.format === 'FRACTAL_NZ') return host;
    if (!this.isContiguous()) {
      throw new QmmError('ERR_QMM_SHAPE', `tensor.data: the view ${fmtShape(this.shape)} with strides ${fmtShape(this.strides)} is not contiguous; call .contiguous() first`, { argument: 'tensor' });
    }
    if (this.offset === 0 && this.numel === host.length) return host;
    return host.subarray(this.offset, this.offset + this.numel) as HostArray;
  }

  /** A view with the last two dims swapped (SPEC §1.2: a transposed weight costs no copy). */
  t(): Tensor {
    if (this.ndim < 2) throw new QmmError('ERR_QMM_SHAPE', `t() needs at least 2 dims, the tensor has shape ${fmtShape(this.shape)}`, { argument: 'tensor' });
    return this.transpose(-2, -1);
  }

  /** A view with dims a and b swapped. On FRACTAL_NZ only the last two dims may be swapped. */
  transpose(a: number, b: number): Tensor {
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
    return this.view(shape, strides, this.offset);
  }

  /** A view with a new shape (same elements); the tensor must be contiguous. */
  reshape(shape: readonly number[]): Tensor {
    const s = [...checkShape(shape, 'shape')];
    const neg = s.filter((d) => d === -1).length;
    if (neg > 0) throw new TypeError('reshape: -1 dims are not supported; give every dim');
    if (numelOf(s) !== this.numel) {
      throw new QmmError('ERR_QMM_SHAPE', `reshape: cannot view ${fmtShape(this.shape)} (${this.numel} elements) as ${fmtShape(s)}`, { argument: 'shape' });
    }
    if (this.format === 'FRACTAL_NZ') throw new QmmError('ERR_QMM_FORMAT', 'reshape: a FRACTAL_NZ tensor cannot be reshaped', { argument: 'tensor' });
    if (!this.isContiguous()) return this.contiguous().reshape(s);
    return this.view(s, contiguousStrides(s), this.offset);
  }

  /** This tensor if contiguous, else a contiguous copy on the same device. */
  contiguous(): Tensor {
    if (this.isContiguous()) return this;
    if (this.format === 'FRACTAL_NZ') throw new QmmError('ERR_QMM_FORMAT', 'contiguous: a transposed FRACTAL_NZ view cannot be materialized; cast it to ND first', { argument: 'tensor' });
    const host = this.gatherHost();
    const t = makeHostTensor(host, [...this.shape], this.dtype, 'cpu');
    return this.device === 'cpu' ? t : t.toDevice(this.device);
  }

  /** A copy on npu:N (default npu:0). On the emulator backend this is emulated device memory. */
  npu(index: number | Device = 0): Tensor {
    const d = parseDevice(typeof index === 'number' ? `npu:${index}` : index, 'npu(device)');
    return this.toDevice(deviceString('npu', d.kind === 'npu' ? d.index : 0));
  }

  /** A copy in host memory (this tensor if it is already on the cpu). NZ tensors keep their NZ storage. */
  cpu(): Tensor {
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
  toArray(): Array<number | bigint> {
    const src = this.cpu();
    const out: Array<number | bigint> = new Array(src.numel);
    src.forEachElement((v, i) => {
      out[i] = v;
    }, true);
    return out;
  }

  /** @internal */
  view(shape: readonly number[], strides: readonly number[], offset: number): Tensor {
    return new Tensor({
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
    const host = this.storage.host as HostArray;
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
  gatherHost(): HostArray {
    if (this.device === 'cpu') return this.gatherHostLocal();
    // toDevice('cpu') already gathers an ND view; an NZ tensor arrives as its storage
    const onCpu = this.toDevice('cpu');
    return this.format === 'FRACTAL_NZ' ? onCpu.gatherHostLocal() : (onCpu.storage.host as HostArray);
  }

  /** @internal Copies the tensor to another device (whole storage for NZ, contiguous elements otherwise). */
  toDevice(device: Device): Tensor {
    const target = parseDevice(device);
    const backend = currentBackend();
    if (target.kind === 'npu' && target.index >= backend.deviceCount) {
      throw new QmmError('ERR_QMM_DEVICE', `device: npu:${target.index} does not exist: the ${backend.name} backend has ${backend.deviceCount} device(s)`, { argument: 'device' });
    }
    const nz = this.format === 'FRACTAL_NZ';
    // Source elements as a host array: NZ keeps its storage, ND views are gathered.
    let host: HostArray;
    if (this.device === 'cpu' || !this.storage.device) {
      host = nz || (this.isContiguous() && this.offset === 0 && this.numel === this.storage.length)
        ? (this.storage.host as HostArray).slice() as HostArray
        : this.gatherHostLocal();
    } else {
      const be = this.storage.backend as ActiveBackend;
      const full = allocHost(this.dtype, this.storage.length);
      be.handle.download(this.storage.device, 0, full);
      const onHost = new Tensor({ ...this.fields(), device: 'cpu', storage: { host: full, length: full.length } });
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
    return new Tensor({
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

  private gatherHostLocal(): HostArray {
    const out = allocHost(this.dtype, this.numel);
    this.forEachElement((v, i) => {
      (out as unknown as Array<number | bigint>)[i] = v;
    }, false);
    return out;
  }

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

  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)}, ${this.format}, ${this.device})`;
  }
}

/**
 * aclnn's check for a transposed FRACTAL_NZ view (GetTransposeAttrValue, SPEC §1.2, §5.3):
 * stride[-2] == 1 and stride[-1] == size[-2].
 */
export function isTransposedNzView(t: { shape: readonly number[]; strides: readonly number[] }): boolean {
  const r = t.shape.length;
  return r >= 2 && t.strides[r - 2] === 1 && t.strides[r - 1] === t.shape[r - 2];
}

/** @internal A contiguous tensor over an existing host array. */
export function makeHostTensor(host: HostArray, shape: number[], dtype: DType, device: Device): Tensor {
  return new Tensor({
    dtype,
    shape,
    strides: contiguousStrides(shape),
    offset: 0,
    format: 'ND',
    device,
    storage: { host, length: host.length },
  });
}

function expectedArray(dtype: DType, data: unknown): boolean {
  return data instanceof DTYPES[dtype].array;
}

/**
 * Makes a tensor over `data` (shared, not copied) with a logical `shape`.
 * `data` must be the dtype's host array: Int8Array (int8), Uint8Array (uint8),
 * Int32Array (int32), BigInt64Array (int64), Float32Array (float32), or
 * Uint16Array holding raw float16/bfloat16 bits. Plain arrays of numbers are
 * copied (of bigints for int64; for float16/bfloat16 use fromFloat32()).
 */
export function tensor(data: HostArray | ArrayLike<number> | ArrayLike<bigint>, shape: readonly number[], dtype: DType, options: TensorOptions = {}): Tensor {
  const dt = checkDType(dtype, 'dtype');
  const s = checkShape(shape, 'shape');
  if (options === null || typeof options !== 'object') throw new TypeError(`options must be an object, got ${describe(options)}`);
  const format: Format = options.format ?? 'ND';
  if (format !== 'ND' && format !== 'FRACTAL_NZ') throw new TypeError(`options.format must be 'ND' or 'FRACTAL_NZ', got ${describe(format)}`);
  let host: HostArray;
  if (expectedArray(dt, data)) {
    host = data as HostArray;
  } else if (Array.isArray(data) && dt !== 'float16' && dt !== 'bfloat16') {
    host = allocHost(dt, data.length);
    for (let i = 0; i < data.length; i++) {
      const v: unknown = data[i];
      if (dt === 'int64') {
        if (typeof v !== 'bigint' && !(typeof v === 'number' && Number.isSafeInteger(v))) throw new TypeError(`data[${i}] must be a bigint or safe integer for int64, got ${describe(v)}`);
        (host as BigInt64Array)[i] = BigInt(v as bigint | number);
      } else {
        if (typeof v !== 'number') throw new TypeError(`data[${i}] must be a number, got ${describe(v)}`);
        (host as Int8Array)[i] = v;
      }
    }
  } else {
    const hint = dt === 'float16' || dt === 'bfloat16' ? ' (raw bits; use fromFloat32() to convert numbers)' : '';
    throw new TypeError(`data must be a ${hostArrayName(dt)} for dtype '${dt}'${hint}, got ${describe(data)}`);
  }
  let storageShape: number[] | undefined;
  let need = numelOf(s);
  if (format === 'FRACTAL_NZ') {
    if (s.length < 2 || s.length > 6) throw new QmmError('ERR_QMM_SHAPE', `a FRACTAL_NZ tensor needs rank 2..6, got shape ${fmtShape(s)}`, { argument: 'shape' });
    const c0 = options.c0 ?? (dt === 'int8' || dt === 'uint8' ? 32 : 16);
    if (!Number.isInteger(c0) || c0 <= 0 || c0 > 64) throw new RangeError(`options.c0 must be an integer in [1, 64], got ${describe(options.c0)}`);
    storageShape = nzStorageShape(s, c0);
    need = numelOf(storageShape);
  } else if (options.c0 !== undefined) {
    throw new TypeError('options.c0 only applies to FRACTAL_NZ tensors');
  }
  if (host.length !== need) {
    const what = format === 'FRACTAL_NZ' ? `the FRACTAL_NZ storage ${fmtShape(storageShape as number[])}` : `shape ${fmtShape(s)}`;
    throw new QmmError('ERR_QMM_SHAPE', `data has ${host.length} elements but ${what} needs ${need}`, { argument: 'data' });
  }
  const device = options.device === undefined ? 'cpu' : options.device;
  const t = new Tensor({
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

/** Makes a float16, bfloat16 or float32 tensor from numbers (rounded to nearest even). */
export function fromFloat32(values: ArrayLike<number>, shape: readonly number[], dtype: 'float16' | 'bfloat16' | 'float32' = 'float16', options: TensorOptions = {}): Tensor {
  if (dtype !== 'float16' && dtype !== 'bfloat16' && dtype !== 'float32') {
    throw new TypeError(`dtype must be 'float16', 'bfloat16' or 'float32', got ${describe(dtype)}`);
  }
  if (values === null || typeof values !== 'object' || typeof (values as ArrayLike<number>).length !== 'number') {
    throw new TypeError(`values must be an array of numbers, got ${describe(values)}`);
  }
  const data = dtype === 'float32' ? Float32Array.from(values) : encodeHalf(values, dtype);
  return tensor(data, shape, dtype, options);
}

/** Zero-filled host or device tensor. */
export function zeros(shape: readonly number[], dtype: DType, options: TensorOptions = {}): Tensor {
  const s = checkShape(shape, 'shape');
  return tensor(allocHost(checkDType(dtype, 'dtype'), numelOf(s)), s, dtype, options);
}
