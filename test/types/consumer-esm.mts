// An ES module consumer: the default import is the whole API, as `import * as`.
import aqm, { tensor, type Tensor } from 'ascend-quant-matmul';

export function esm(): Tensor<'int8'> {
  const a: Tensor<'int8'> = aqm.tensor(new Int8Array(4), [2, 2], 'int8');
  const same: typeof tensor = aqm.tensor;
  void same;
  if (!(a instanceof aqm.Tensor)) throw new aqm.QmmError('ERR_QMM_SHAPE', 'unreachable');
  // @ts-expect-error the default export has no member the package does not export
  void aqm.loadNative;
  return a.t();
}
