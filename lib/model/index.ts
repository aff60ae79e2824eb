/** Real-model support: prepare an msModelSlim export, then load and run its quantized linear layers. */

export { prepareModel, type PrepareOptions, type PrepareProgress } from './prepare';
export { QuantLinear, loadModel, type ForwardOptions, type QuantLinearLoadOptions, type QuantModel } from './quant_linear';
export {
  MANIFEST_FILE,
  readManifest,
  type ManifestFloatTensor,
  type ManifestLayer,
  type ManifestPart,
  type ManifestTensor,
  type ModelOutputDtype,
  type PreparedManifest,
  type TensorLayout,
  type TensorRole,
} from './manifest';
export { readDescription, readModelConfig, type ModelConfig, type ParamsDtype, type QuantDescription } from './description';
export { QUANT_TYPES, type QuantType } from './layers';
export { dynamicQuantInt4, type Int4QuantResult } from './int4_quant';
export * from './quantize/index';
export { writeExampleModel, type ExampleModelOptions, type ExampleModelResult } from './example';
