/** The outputs of an op: allocated on the inputs' device, and freed when the op fails. */

import type { ActiveBackend } from '../backend';
import type { Device } from '../device';
import { allocHost, allocHostUnzeroed, DTYPES, type DType } from '../dtypes';
import { fromNativeError, QmmError } from '../errors';
import { contiguousStrides, numelOf, Tensor } from '../tensor';

/** An output an op allocates: contiguous, FRACTAL_NZ when `nz` (its storage dims) is given. */
export interface OutputSpec {
  shape: readonly number[];
  dtype: DType;
  nz?: readonly number[];
  /**
   * The op writes every element (on every backend) before it returns, so host
   * memory is not zeroed first: zeroing a prefill output cost more than its
   * epilogue. A failed op's outputs are never handed out.
   */
  overwritten?: boolean;
}

/** A new output on `device` of `backend`. */
export function allocOutput(backend: ActiveBackend, spec: OutputSpec, device: Device): Tensor {
  const { dtype, nz } = spec;
  const shape = [...spec.shape];
  const length = numelOf(nz ?? shape);
  let storage: Tensor['storage'];
  try {
    if (device !== 'cpu' && backend.hasDeviceMemory) {
      const index = Number(device.slice(4));
      const buf = backend.handle.alloc(index, length * DTYPES[dtype].itemSize);
      storage = { device: buf, backend, length };
    } else {
      storage = { host: spec.overwritten ? allocHostUnzeroed(dtype, length) : allocHost(dtype, length), length };
    }
  } catch (e) {
    if (e instanceof RangeError) {
      throw new QmmError('ERR_QMM_MEMORY', `out: cannot allocate ${length} ${dtype} elements (${e.message})`, { argument: 'out', cause: e });
    }
    throw fromNativeError(e);
  }
  return new Tensor({
    dtype,
    shape,
    strides: contiguousStrides(shape),
    offset: 0,
    format: nz ? 'FRACTAL_NZ' : 'ND',
    storageShape: nz ? [...nz] : undefined,
    device,
    storage,
  });
}

/** Frees the device memory of tensors now (host memory is left to GC). */
export function releaseOutputs(outputs: Iterable<Tensor>): void {
  for (const t of outputs) t.storage.device?.free();
}
