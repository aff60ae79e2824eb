/**
 * ascend-quant-matmul: Huawei Ascend quantized matmul for Node.js.
 * The public API.
 */

export { backendInfo, setBackend, type BackendInfo, type BackendName, type BackendRequest } from './backend';
export { DTYPE_NAMES, type DType, type HostArray, type HostArrayOf, type OutputDType } from './dtypes';
export type { Device } from './device';
export { QmmError, isQmmError, type QmmErrorCode } from './errors';
export { decodeHalf, encodeHalf, bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './half';
export { fromFloat32, tensor, zeros, Tensor, type BufferBytes, type ElementOf, type FloatDType, type Format, type TensorData, type TensorOptions } from './tensor';
export type { ArgErrorCode } from './arg_errors';
export { npuFormatCast, npuFormatCastSync } from './ops/format_cast';
export { npuQuantMatmul, npuQuantMatmulSync } from './ops/quant_matmul';
export { npuTransQuantParam, npuTransQuantParamSync } from './ops/trans_quant_param';
export { npuQuantize, npuQuantizeSync, npuDynamicQuant, npuDynamicQuantSync, type DynamicQuantResult } from './ops/quantize';
export type { QuantizeOptions, DynamicQuantOptions } from './validate/quantize';
export type { QuantMatmulOptions } from './validate/quant_matmul';
export type { TransQuantParamOptions } from './validate/trans_quant_param';
export type { AclFormat, FormatCastOptions } from './validate/format_cast';
export * from './safetensors';
export * from './model';
