/** Checks of npuFormatCast (docs/semantics.md §5.2). */

import { invalidArgType, invalidArgValue, outOfRange } from '../arg_errors';
import { checkDType, DTYPES, type DType } from '../dtypes';
import { describe } from '../errors';
import { nzStorageShape } from '../nz';
import { fmtShape, type Format, type Tensor } from '../tensor';
import { fail, requireOptions, requireTensor } from './common';

export type AclFormat = 29 | 'FRACTAL_NZ' | 2 | 'ND';

export interface FormatCastOptions {
  /**
   * The dtype whose size sets C0 = 32 bytes / itemsize (torch's customize_dtype).
   * Default: the source dtype with itemsize capped at 2 (int8 → 32, others → 16).
   * Use 'int32' for an int4-in-int32 QuantMatmul weight (C0 = 8).
   */
  customizeDtype?: DType;
}

const CASTABLE: readonly DType[] = ['int8', 'uint8', 'float32', 'float16', 'bfloat16', 'int32'];

export interface FormatCastPlan {
  src: Tensor;
  target: Format;
  /** C0 and NZ storage dims when the target is FRACTAL_NZ. */
  c0: number;
  storageShape?: number[];
}

export function parseAclFormat(v: unknown): Format {
  if (v === 29 || v === 'FRACTAL_NZ') return 'FRACTAL_NZ';
  if (v === 2 || v === 'ND') return 'ND';
  if (typeof v === 'number' && Number.isInteger(v)) {
    throw outOfRange(`aclFormat ${v} is not supported; expected 29 (FRACTAL_NZ) or 2 (ND)`);
  }
  const msg = `aclFormat must be 29, 'FRACTAL_NZ', 2 or 'ND', got ${describe(v)}`;
  throw typeof v === 'string' ? invalidArgValue(msg) : invalidArgType(msg);
}

export function planFormatCast(xv: unknown, formatv: unknown, optionsv: unknown): FormatCastPlan {
  const src = requireTensor(xv, 'x');
  const target = parseAclFormat(formatv);
  const opts = requireOptions(optionsv, 'options', ['customizeDtype'] as const);
  if (!CASTABLE.includes(src.dtype)) fail('ERR_QMM_DTYPE', 'x', `npuFormatCast supports int8, uint8, float32, float16, bfloat16 and int32, got ${src.dtype}`);
  if (src.ndim < 2 || src.ndim > 6) fail('ERR_QMM_SHAPE', 'x', `npuFormatCast needs a rank 2..6 tensor, got shape ${fmtShape(src.shape)}`);
  if (src.numel === 0) fail('ERR_QMM_SHAPE', 'x', `npuFormatCast does not take empty tensors, got shape ${fmtShape(src.shape)}`);
  let c0 = 0;
  let storageShape: number[] | undefined;
  if (target === 'FRACTAL_NZ') {
    let sizeFrom = Math.min(DTYPES[src.dtype].itemSize, 2);
    if (opts.customizeDtype !== undefined) {
      const cd = checkDType(opts.customizeDtype, 'options.customizeDtype');
      const size = DTYPES[cd].itemSize;
      if (size < Math.min(DTYPES[src.dtype].itemSize, 2) || size > DTYPES[src.dtype].itemSize) {
        fail('ERR_QMM_DTYPE', 'options.customizeDtype', `a ${cd} block size does not fit ${src.dtype} data; use a dtype of ${DTYPES[src.dtype].itemSize} bytes or float16`);
      }
      sizeFrom = size;
    }
    c0 = 32 / sizeFrom;
    storageShape = nzStorageShape(src.shape, c0);
  } else if (opts.customizeDtype !== undefined) {
    throw invalidArgValue('options.customizeDtype only applies to a cast to FRACTAL_NZ');
  }
  if (src.format === 'FRACTAL_NZ' && !src.isContiguous()) {
    fail('ERR_QMM_FORMAT', 'x', 'npu_format_cast aclnn interface does not support non-contiguous tensor with internal format (a transposed FRACTAL_NZ view)');
  }
  return { src, target, c0, storageShape };
}
