// A consumer of the public API, type-checked with `tsc --strict` by test/types.test.ts.
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
  type BackendInfo,
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
