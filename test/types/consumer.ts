// A consumer of the public API (CommonJS), type-checked with `tsc --strict` by test/types/types.test.ts.
import {
  backendInfo,
  fromFloat32,
  npuFormatCast,
  npuQuantMatmul,
  npuQuantMatmulSync,
  npuTransQuantParam,
  QmmError,
  setBackend,
  tensor,
  zeros,
  type BackendInfo,
  type DType,
  type HostArray,
  type HostArrayOf,
  type OutputDType,
  type Tensor,
} from 'ascend-quant-matmul';

export async function ok(): Promise<Tensor> {
  const x1 = tensor(new Int8Array(6), [2, 3], 'int8');
  const w = tensor(new Int8Array(12), [4, 3], 'int8');
  const scale = tensor(new Float32Array(4), [4], 'float32');
  const qp: Tensor = await npuTransQuantParam(scale, null, { roundMode: 1 });
  const out = await npuQuantMatmul(x1, w.t(), qp, { outputDtype: 'float16' });
  const nz = await npuFormatCast(w.t().contiguous(), 29);
  const od: OutputDType = 'bfloat16';
  npuQuantMatmulSync(x1, nz, scale, { outputDtype: od, pertokenScale: tensor(new Float32Array(2), [2], 'float32'), bias: fromFloat32([1, 2, 3, 4], [4], 'bfloat16') });
  const info: BackendInfo = backendInfo();
  if (info.backend === 'cpu') setBackend('cpu');
  try {
    out.toFloat32Array();
  } catch (e) {
    if (e instanceof QmmError) {
      const code: string = e.code;
      void code;
    }
  }
  return out;
}

export async function wrong(): Promise<void> {
  const x = tensor(new Int8Array(4), [2, 2], 'int8');
  // @ts-expect-error float64 is not an output dtype
  await npuQuantMatmul(x, x, x, { outputDtype: 'float64' });
  // @ts-expect-error unknown option
  await npuQuantMatmul(x, x, x, { pertoken_scale: x });
  // @ts-expect-error int4 is not a dtype
  tensor(new Int8Array(4), [4], 'int4');
  // @ts-expect-error roundMode is 0 or 1
  await npuTransQuantParam(x, null, { roundMode: 2 });
  // @ts-expect-error format 3 is not supported
  await npuFormatCast(x, 3);
  // @ts-expect-error setBackend takes 'auto' | 'cpu' | 'cann'
  setBackend('gpu');
}

// Tensor is generic over its dtype: .data is that dtype's host array.
export function dataTypes(): void {
  const i8: Int8Array = tensor(new Int8Array(4), [4], 'int8').data;
  const u8: Uint8Array = tensor(new Uint8Array(4), [4], 'uint8').data;
  const i32: Int32Array = tensor([1, 2], [2], 'int32').data;
  const i64: BigInt64Array = tensor([1n, 2], [2], 'int64').data;
  const f32: Float32Array = fromFloat32([1, 2], [2], 'float32').data;
  const f16: Uint16Array = fromFloat32([1, 2], [2]).data;
  const bf16: Uint16Array = zeros([2], 'bfloat16').data;
  const big: bigint[] = zeros([2], 'int64').toArray();
  const nums: number[] = tensor(new Int8Array(4), [2, 2], 'int8').t().reshape([-1]).view([4, 1]).toArray();
  const fromBuffer: Tensor<'int8'> = tensor(Buffer.from([1, 2]), [2], 'int8');
  const bytes: Tensor<'uint8'> = tensor(Buffer.from([1, 2]), [2], 'uint8');
  const anyDtype: DType = 'int32' as DType;
  const generic: Tensor = zeros([1], anyDtype);
  const union: HostArray = generic.data;
  const i8OfMap: HostArrayOf<'int8'> = i8;
  void [u8, i32, i64, f32, f16, bf16, big, nums, fromBuffer, bytes, union, i8OfMap];
}

export function dataTypeErrors(): void {
  // @ts-expect-error a Float32Array is not int8 data
  tensor(new Float32Array(4), [4], 'int8');
  // @ts-expect-error a Uint8Array that is not a Buffer is not int8 data
  tensor(new Uint8Array(4), [4], 'int8');
  // @ts-expect-error float16 data are raw bits in a Uint16Array (fromFloat32() converts numbers)
  tensor([1, 2], [2], 'float16');
  // @ts-expect-error bigints only for int64
  tensor([1n], [1], 'int32');
  // @ts-expect-error an int8 tensor's data is an Int8Array
  const f: Float32Array = tensor(new Int8Array(4), [4], 'int8').data;
  // @ts-expect-error an int32 tensor's elements are numbers
  const b: bigint[] = zeros([1], 'int32').toArray();
  // @ts-expect-error fromFloat32 makes float dtypes only
  fromFloat32([1], [1], 'int8');
  void [f, b];
}

// Internal members are not part of the public types.
export function internals(t: Tensor<'int8'>): void {
  // @ts-expect-error storage is internal
  void t.storage;
  // @ts-expect-error gatherHost is internal
  t.gatherHost();
  // @ts-expect-error forEachElement is internal
  t.forEachElement(() => undefined, false);
  // @ts-expect-error toDevice is internal
  t.toDevice('cpu');
  // @ts-expect-error viewAs is internal
  t.viewAs([4], [1], 0);
  // @ts-expect-error nzAddressing is internal
  t.nzAddressing();
  // @ts-expect-error liveHost is internal
  t.liveHost('t');
}
