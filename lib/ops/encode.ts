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

import { loadNative, type NativeOpArgs, type NativeOpData, type NativeOpName, type NativeTensorDesc } from '../native';

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

function putTensor(t: NativeTensorDesc): void {
  put(1);
  put(t.dtype);
  put(t.format);
  put(t.offset);
  putDims(t.shape);
  putDims(t.strides);
  putDims(t.storageShape);
}

/** `args` in the wire form of `op`; the meta array is valid until the next call of this function. */
export function encodeOpArgs(op: NativeOpName, args: NativeOpArgs): { meta: Float64Array; data: NativeOpData } {
  const names = loadNative().constants.opArgs[op];
  const data: NativeOpData[number][] = [];
  used = 0;
  for (const name of names) {
    const v = args[name];
    if (typeof v === 'number') {
      put(v);
      data.push(undefined);
    } else if (v === undefined) {
      put(0);
      data.push(undefined);
    } else {
      putTensor(v as NativeTensorDesc);
      data.push((v as NativeTensorDesc).data);
    }
  }
  return { meta, data };
}
