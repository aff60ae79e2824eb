// An ES module consumer: the default import is the whole API, as `import * as`.
import aqm, { tensor, type Tensor } from 'ascend-quant-matmul';

export function esm(): Tensor<'int8'> {
  const a: Tensor<'int8'> = aqm.tensor(new Int8Array(4), [2, 2], 'int8');
  const same: typeof tensor = aqm.tensor;
  void same;
  if (!(a instanceof aqm.Tensor)) throw new aqm.QmmError('ERR_QMM_SHAPE', 'unreachable');
  // @ts-expect-error the default export has no member the package does not export
  void aqm.loadNative;
  // @ts-expect-error tensors are not made with new
  void new aqm.Tensor();
  // @ts-expect-error not even with the internal fields
  void new aqm.Tensor({ dtype: 'int8', shape: [1], strides: [1], offset: 0, format: 'ND', device: 'cpu', storage: { length: 1 } });
  return a.t();
}
