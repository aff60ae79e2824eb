export {
  SAFETENSORS_DTYPES,
  MAX_HEADER_SIZE,
  dtypeBits,
  isSafetensorsDtype,
  parseHeader,
  parseSafetensorsBuffer,
  readHeaderLength,
  type SafetensorsDtype,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
} from './header';
export {
  SafetensorsFile,
  SafetensorsIndex,
  readSafetensorsIndex,
  type SafetensorsTypedArray,
} from './reader';
export {
  SafetensorsWriter,
  planSafetensors,
  serializeSafetensors,
  writeSafetensors,
  type NamedSafetensorsTensorSpec,
  type PlannedTensor,
  type SafetensorsLayout,
  type SafetensorsTensorInput,
  type SafetensorsTensorSpec,
  type SafetensorsWriteOptions,
} from './writer';
