/**
 * The dtypes a Tensor can hold and their host arrays. Their aclDataType codes
 * are the addon's (binding/tensor.h, read through lib/native.ts nativeCodes()).
 */

import { invalidArgType, invalidArgValue } from './arg_errors';

export type DType = 'int8' | 'uint8' | 'int32' | 'int64' | 'float16' | 'bfloat16' | 'float32';

/** The output dtypes npuQuantMatmul accepts on A2/A3 (docs/semantics.md §2.1). */
export type OutputDType = 'int8' | 'float16' | 'bfloat16' | 'int32';

/** The host array each dtype's raw data lives in (float16/bfloat16 as their bits). */
export interface HostArrayMap {
  int8: Int8Array;
  uint8: Uint8Array;
  int32: Int32Array;
  int64: BigInt64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  float32: Float32Array;
}

/** The host array of dtype D, e.g. `HostArrayOf<'float16'>` is Uint16Array. */
export type HostArrayOf<D extends DType> = HostArrayMap[D];

export type HostArray = HostArrayMap[DType];

type HostArrayCtor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int32ArrayConstructor
  | BigInt64ArrayConstructor
  | Uint16ArrayConstructor
  | Float32ArrayConstructor;

export interface DTypeInfo {
  readonly name: DType;
  readonly itemSize: number;
  readonly array: HostArrayCtor;
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  float32: { name: 'float32', itemSize: 4, array: Float32Array },
  float16: { name: 'float16', itemSize: 2, array: Uint16Array },
  int8: { name: 'int8', itemSize: 1, array: Int8Array },
  int32: { name: 'int32', itemSize: 4, array: Int32Array },
  uint8: { name: 'uint8', itemSize: 1, array: Uint8Array },
  int64: { name: 'int64', itemSize: 8, array: BigInt64Array },
  bfloat16: { name: 'bfloat16', itemSize: 2, array: Uint16Array },
};

export const DTYPE_NAMES = Object.keys(DTYPES) as DType[];

export function isDType(v: unknown): v is DType {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(DTYPES, v);
}

/** Checks a dtype argument against `allowed` (default: every dtype); a TypeError with a Node code otherwise. */
export function checkDType<D extends DType = DType>(v: unknown, argument: string, allowed: readonly D[] = DTYPE_NAMES as D[]): D {
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as D;
  const expected = `${argument} must be one of ${allowed.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(v) ?? String(v)}`;
  throw typeof v === 'string' ? invalidArgValue(expected) : invalidArgType(expected);
}

export function allocHost(dtype: DType, length: number): HostArray {
  return new DTYPES[dtype].array(length) as HostArray;
}

/** Like allocHost, over memory that is not zeroed: only for arrays overwritten whole before anyone reads them. */
export function allocHostUnzeroed(dtype: DType, length: number): HostArray {
  const { array, itemSize } = DTYPES[dtype];
  const bytes = Buffer.allocUnsafeSlow(length * itemSize); // its own ArrayBuffer, exactly this size
  return new array(bytes.buffer, bytes.byteOffset, length) as HostArray;
}

/** The host array class expected for a dtype's raw data, e.g. Uint16Array for float16 bits. */
export function hostArrayName(dtype: DType): string {
  return DTYPES[dtype].array.name;
}
