/**
 * The host memory behind a cpu tensor: what tensor() accepts as `data`
 * (the dtype's TypedArray, a Node Buffer, a plain array of numbers checked
 * element by element), detached buffers, and allocations too large for a
 * TypedArray.
 */

import { invalidArgType, invalidArgValue, outOfRange } from './arg_errors';
import { allocHost, DTYPES, type DType, type HostArray } from './dtypes';
import { describe } from './errors';

/** Integer dtypes: the inclusive range a plain-array element must lie in. */
const INT_RANGE: Partial<Record<DType, readonly [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int32: [-2147483648, 2147483647],
};
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * True when the view's ArrayBuffer was detached (transferred with postMessage
 * or structuredClone, or by ArrayBuffer.prototype.transfer). Node 20 has no
 * `ArrayBuffer.prototype.detached`; a zero-length view over a detached buffer
 * is the one thing that cannot be constructed.
 */
export function isDetached(view: ArrayBufferView): boolean {
  const buffer = view.buffer as ArrayBuffer & { detached?: boolean };
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  if (buffer.byteLength !== 0 || !(buffer instanceof ArrayBuffer)) return false;
  try {
    new Uint8Array(buffer, 0, 0);
    return false;
  } catch {
    return true;
  }
}

/** The error for a tensor or array whose memory was transferred away. */
export function detachedError(argument: string): TypeError {
  return invalidArgValue(
    `${argument}: its ArrayBuffer is detached (transferred to another thread with postMessage or structuredClone({ transfer })), so it holds no data; keep a copy (.slice()) of what you transfer`,
  );
}

function article(name: string): string {
  return /^[AEIOU]/.test(name) ? `an ${name}` : `a ${name}`;
}

/** How to turn what was given into the array the dtype needs, when there is a cheap way. */
function conversionHint(dtype: DType, data: unknown): string {
  const want = DTYPES[dtype].array.name;
  if (dtype === 'float16' || dtype === 'bfloat16') return ' (raw bits; use fromFloat32() to convert numbers)';
  if (data instanceof Uint8Array) {
    const size = DTYPES[dtype].itemSize;
    const len = size === 1 ? 'u8.length' : `u8.length / ${size}`;
    const aligned = size === 1 ? '' : ` (u8.byteOffset must be a multiple of ${size})`;
    return `; to use its bytes as ${dtype}, pass new ${want}(u8.buffer, u8.byteOffset, ${len})${aligned}`;
  }
  if (ArrayBuffer.isView(data) && !(data instanceof DataView)) return `; to convert the values, pass ${want}.from(values)`;
  return '';
}

function checkedElementCopy(data: readonly unknown[], dtype: DType, argument: string): HostArray {
  const host = allocHost(dtype, data.length);
  const range = INT_RANGE[dtype];
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    const at = `${argument}[${i}]`;
    if (dtype === 'int64') {
      if (typeof v === 'bigint') {
        if (v < INT64_MIN || v > INT64_MAX) throw outOfRange(`${at} must be in [-(2n ** 63n), 2n ** 63n - 1n] for int64, got ${v}n`);
        (host as BigInt64Array)[i] = v;
      } else if (typeof v === 'number') {
        if (!Number.isSafeInteger(v)) throw outOfRange(`${at} must be a bigint or a safe integer for int64, got ${v}`);
        (host as BigInt64Array)[i] = BigInt(v);
      } else {
        throw invalidArgType(`${at} must be a bigint or a number for int64, got ${describe(v)}`);
      }
      continue;
    }
    if (typeof v !== 'number') throw invalidArgType(`${at} must be a number, got ${describe(v)}`);
    if (range && (!Number.isInteger(v) || v < range[0] || v > range[1])) {
      throw outOfRange(`${at} must be an integer in [${range[0]}, ${range[1]}] for ${dtype}, got ${v}`);
    }
    (host as Float32Array)[i] = v;
  }
  return host;
}

/**
 * The host array a tensor of `dtype` wraps: `data` itself when it is the
 * dtype's TypedArray (shared, not copied; a SharedArrayBuffer-backed one too),
 * an Int8Array view over a Node Buffer's bytes for int8, or a checked copy of
 * a plain array.
 */
export function hostArrayFor(data: unknown, dtype: DType, argument = 'data'): HostArray {
  const Want = DTYPES[dtype].array;
  let host: HostArray | undefined;
  if (data instanceof Want) host = data as HostArray;
  else if (dtype === 'int8' && Buffer.isBuffer(data)) host = new Int8Array(data.buffer, data.byteOffset, data.length);
  if (host) {
    if (isDetached(host)) throw detachedError(argument);
    return host;
  }
  if (Array.isArray(data) && dtype !== 'float16' && dtype !== 'bfloat16') return checkedElementCopy(data, dtype, argument);
  const accepted = dtype === 'int8' ? `${article(Want.name)} or a Buffer` : article(Want.name);
  const plain = dtype === 'float16' || dtype === 'bfloat16' ? '' : ' or an array of numbers';
  throw invalidArgType(`${argument} must be ${accepted}${plain} for dtype '${dtype}'${conversionHint(dtype, data)}, got ${describe(data)}`);
}

/** A zero-filled host array of `numel` elements, or our RangeError when no TypedArray can be that large. */
export function allocHostChecked(dtype: DType, numel: number, what: string): HostArray {
  try {
    return allocHost(dtype, numel);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const bytes = numel * DTYPES[dtype].itemSize;
    const gib = bytes / 2 ** 30;
    const size = gib >= 1 ? `${gib.toFixed(gib >= 100 ? 0 : 1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    throw outOfRange(`${what}: ${numel} ${dtype} elements need ${bytes} bytes (${size}), more than one host array can hold here (${e.message})`, { cause: e });
  }
}
