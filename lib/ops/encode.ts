/**
 * The wire form of a native op call (binding/marshal.h ArgReader): every
 * argument slot of the op, in the addon's order (constants.opArgs), as numbers
 * in one Float64Array, and each slot's memory in one array. A tensor slot is
 * [1, dtype, format, offset, rank, ...shape, strides count, ...strides,
 * storage count, ...storageShape], an absent one [0], a number slot its value.
 * One typed array costs the addon one N-API call where an object per tensor
 * cost one per property (each converting the key string), which was most of
 * a small op's native time.
 */

import type { ActiveBackend } from '../backend';
import { QmmError } from '../errors';
import { loadNative, nativeCodes, type NativeOpArgs, type NativeOpData, type NativeOpName, type NativeTensorDesc } from '../native';
import type { Tensor } from '../tensor';

// Reused by every call: the addon reads it before the op method returns, even
// for the Promise form, so no two calls ever share it.
let meta = new Float64Array(256);
let used = 0;

function put(v: number): void {
  if (used === meta.length) {
    const bigger = new Float64Array(meta.length * 2);
    bigger.set(meta);
    meta = bigger;
  }
  meta[used++] = v;
}

function putDims(dims: readonly number[]): void {
  put(dims.length);
  for (let i = 0; i < dims.length; i++) put(dims[i]);
}

/** A present tensor slot; the storage dims are written by the caller. */
function putTensorHead(dtype: number, format: number, offset: number, shape: readonly number[], strides: readonly number[]): void {
  put(1);
  put(dtype);
  put(format);
  put(offset);
  putDims(shape);
  putDims(strides);
}

/** A number slot, or 0 for an absent tensor; its memory is undefined. */
function putNumber(v: number): undefined {
  put(v);
  return undefined;
}

/** Every slot of `op` in the addon's order, each written by `putSlot`, which returns the slot's memory. */
function encode(op: NativeOpName, putSlot: (name: string) => NativeOpData[number]): { meta: Float64Array; data: NativeOpData } {
  const names = loadNative().constants.opArgs[op];
  const data: NativeOpData[number][] = [];
  used = 0;
  for (let i = 0; i < names.length; i++) data.push(putSlot(names[i]));
  return { meta, data };
}

/** `args` (descriptors built by hand: tests, tools) in the wire form of `op`; the meta array is valid until the next call of this module. */
export function encodeOpArgs(op: NativeOpName, args: NativeOpArgs): { meta: Float64Array; data: NativeOpData } {
  return encode(op, (name) => {
    const v = args[name];
    if (typeof v === 'number') return putNumber(v);
    if (v === undefined) return putNumber(0);
    const t = v as NativeTensorDesc;
    putTensorHead(t.dtype, t.format, t.offset, t.shape, t.strides);
    putDims(t.storageShape);
    return t.data;
  });
}

/** A tensor's slot, straight from the Tensor (the per-call path: no descriptor object); returns its memory. */
function putTensorOf(t: Tensor, backend: ActiveBackend, argument: string): NativeOpData[number] {
  const storage = t.storage;
  if (storage.device && storage.backend !== backend) {
    throw new QmmError('ERR_QMM_DEVICE', `${argument}: its memory belongs to the ${storage.backend?.name} backend, but ops now run on ${backend.name}; move it with .cpu() first`, { argument });
  }
  const codes = nativeCodes();
  putTensorHead(codes.dtype[t.dtype], codes.format[t.format], t.offset, t.shape, t.strides);
  if (t.format === 'FRACTAL_NZ') putDims(t.storageShape as readonly number[]);
  else {
    put(1);
    put(storage.length);
  }
  return storage.device ?? (storage.host as ArrayBufferView);
}

/**
 * One op call in the wire form: each slot of `op` from `inputs` (tensor and
 * the argument name its errors use), then `outputs`, then `scalars`; a slot
 * in none of them, or an undefined input, is absent. A tensor whose device
 * memory belongs to another backend is refused here (ERR_QMM_DEVICE). The
 * meta array is valid until the next call of this module.
 */
export function encodeCall(
  op: NativeOpName,
  backend: ActiveBackend,
  inputs: Readonly<Record<string, readonly [Tensor | undefined, string]>>,
  outputs: Readonly<Record<string, Tensor>>,
  scalars: Readonly<Record<string, number>> | undefined,
): { meta: Float64Array; data: NativeOpData } {
  return encode(op, (name) => {
    const input = inputs[name];
    if (input !== undefined) return input[0] !== undefined ? putTensorOf(input[0], backend, input[1]) : putNumber(0);
    const out = outputs[name];
    if (out !== undefined) return putTensorOf(out, backend, name);
    return putNumber(scalars?.[name] ?? 0); // a number slot, or 0: an absent tensor
  });
}
