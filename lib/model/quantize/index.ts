/** `qmm quantize`: float checkpoints → msModelSlim-style W8A8_DYNAMIC exports, and their accuracy report. */

export {
  quantizeModel,
  QUANTIZE_SCHEMES,
  W8A8_DYNAMIC_WEIGHT_RULE,
  type FloatTensorInfo,
  type QuantizedLayerInfo,
  type QuantizeOptions,
  type QuantizeProgress,
  type QuantizeResult,
  type QuantizeScheme,
} from './quantize_model';
export { LINEAR_MODULES, QUANTIZE_RULE, type KeepReason } from './rule';
export type { SkippedFile } from './model_files';
export { quantizationReport, type LayerAccuracy, type QuantizeReport, type ReportOptions } from './report';
export { ACTIVATIONS_DESCRIPTION } from './activations';
