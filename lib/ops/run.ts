/** Plumbing shared by the ops: native descriptors, output allocation, sync/async dispatch, abort. */

import { currentBackend, type ActiveBackend } from '../backend';
import { allocHost, DTYPES, type DType } from '../dtypes';
import type { Device } from '../device';
import { fromNativeError, QmmError } from '../errors';
import type { NativeCancelToken, NativeTensorDesc } from '../native';
import { loadNative } from '../native';
import { contiguousStrides, numelOf, Tensor, type Format } from '../tensor';

const FORMAT_CODE: Record<Format, number> = { ND: 2, FRACTAL_NZ: 29 };

/** The descriptor the native backend reads (tensor.h TensorArg). */
export function describeTensor(t: Tensor, backend: ActiveBackend, argument: string): NativeTensorDesc {
  let data: NativeTensorDesc['data'];
  if (t.storage.device) {
    if (t.storage.backend !== backend) {
      throw new QmmError('ERR_QMM_DEVICE', `${argument}: its memory belongs to the ${t.storage.backend?.name} backend, but ops now run on ${backend.name}; move it with .cpu() first`, { argument });
    }
    data = t.storage.device;
  } else {
    data = t.storage.host as ArrayBufferView;
  }
  return {
    data,
    dtype: DTYPES[t.dtype].code,
    format: FORMAT_CODE[t.format],
    shape: [...t.shape],
    strides: [...t.strides],
    offset: t.offset,
    storageShape: t.format === 'FRACTAL_NZ' ? [...(t.storageShape as readonly number[])] : [t.storage.length],
  };
}

/** A new contiguous output on `device` (NZ when storageShape is given). */
export function allocOutput(backend: ActiveBackend, shape: number[], dtype: DType, device: Device, nz?: number[]): Tensor {
  const length = numelOf(nz ?? shape);
  let storage: Tensor['storage'];
  try {
    if (device !== 'cpu' && backend.hasDeviceMemory) {
      const index = Number(device.slice(4));
      const buf = backend.handle.alloc(index, length * DTYPES[dtype].itemSize);
      storage = { device: buf, backend, length };
    } else {
      storage = { host: allocHost(dtype, length), length };
    }
  } catch (e) {
    if (e instanceof RangeError) {
      throw new QmmError('ERR_QMM_SHAPE', `out: cannot allocate ${length} ${dtype} elements (${e.message})`, { argument: 'out', cause: e });
    }
    throw fromNativeError(e);
  }
  return new Tensor({
    dtype,
    shape,
    strides: contiguousStrides(shape),
    offset: 0,
    format: nz ? 'FRACTAL_NZ' : 'ND',
    storageShape: nz,
    device,
    storage,
  });
}

/** Frees the device memory of outputs an op failed to fill (host outputs are left to GC). */
export function releaseOutputs(outputs: readonly Tensor[]): void {
  for (const t of outputs) t.storage.device?.free();
}

export function runSync(fn: () => void, outputs: readonly Tensor[] = []): void {
  try {
    fn();
  } catch (e) {
    releaseOutputs(outputs);
    throw fromNativeError(e);
  }
}

function abortError(): QmmError {
  return new QmmError('ERR_QMM_ABORTED', 'the operation was aborted');
}

/** Runs a native Promise op with AbortSignal support. */
export async function runAsync(
  signal: AbortSignal | undefined,
  start: (cancel: NativeCancelToken | undefined) => Promise<void>,
  outputs: readonly Tensor[] = [],
): Promise<void> {
  if (signal?.aborted) {
    releaseOutputs(outputs);
    throw abortError();
  }
  let token: NativeCancelToken | undefined;
  let onAbort: (() => void) | undefined;
  if (signal) {
    const t = new (loadNative().CancelToken)();
    token = t;
    onAbort = () => t.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
  }
  try {
    await start(token);
  } catch (e) {
    releaseOutputs(outputs);
    throw fromNativeError(e);
  } finally {
    if (signal && onAbort) signal.removeEventListener('abort', onAbort);
  }
}

export { currentBackend };
