/**
 * How prepare lays out its output: one unit per layer or pass-through tensor
 * (in source order, so reads are sequential), packed into shards of at most
 * shardBytes, with the string metadata each safetensors header carries.
 */

import type { SafetensorsDtype } from '../safetensors/header';
import type { FloatTensorPlan, LayerPlan } from './layers';
import { layerOutputs, type LayerTensorOut } from './layer_writer';
import { MANIFEST_FILE, type ModelOutputDtype } from './manifest';
import { packBySize, shardFileName, totalBytes } from './shard_layout';

export interface TensorSpec {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
}

/** One output unit: a layer (with its manifest entries) or a pass-through float tensor. */
export interface Unit {
  readonly label: string;
  readonly inputBytes: number;
  readonly specs: readonly TensorSpec[];
  readonly outputs: readonly LayerTensorOut[];
  readonly layer?: LayerPlan;
  readonly float?: FloatTensorPlan;
}

export function makeUnits(layers: readonly LayerPlan[], floats: readonly FloatTensorPlan[], nz: boolean, outputDtype: ModelOutputDtype): Unit[] {
  const units: Array<Unit & { key: [number, number] }> = [];
  for (const l of layers) {
    const w = l.parts[0].tensors.get('weight');
    const input = l.parts.reduce((a, p) => a + [...p.tensors.values()].reduce((b, r) => b + r.info.byteLength, 0), 0);
    const outputs = layerOutputs(l, { nz, outputDtype });
    units.push({ label: l.name, inputBytes: input, specs: outputs.map((t) => t.spec), outputs, layer: l, key: [w?.shard ?? 0, w?.info.byteOffset ?? 0] });
  }
  for (const f of floats) {
    const spec = { name: f.ref.name, dtype: f.ref.info.dtype, shape: [...f.ref.info.shape] };
    units.push({ label: f.ref.name, inputBytes: f.ref.info.byteLength, specs: [spec], outputs: [], float: f, key: [f.ref.shard, f.ref.info.byteOffset] });
  }
  units.sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1]);
  return units;
}

/** Splits units into output shards of at most shardBytes (a unit is never split). */
export function packShards(units: readonly Unit[], shardBytes: number): Unit[][] {
  return packBySize(units, (u) => totalBytes(u.specs), shardBytes);
}

/** qmm-prepared.safetensors, or qmm-prepared-00001-of-0000N.safetensors. */
export function preparedFileName(i: number, count: number): string {
  return shardFileName('qmm-prepared', i, count);
}

export function fileMetadata(units: readonly Unit[], outputDtype: ModelOutputDtype): Record<string, string> {
  const md: Record<string, string> = { format: 'ascend-preprocessed', producer: 'ascend-quant-matmul', manifest: MANIFEST_FILE, output_dtype: outputDtype };
  for (const u of units) {
    if (u.layer) md[`quant.${u.layer.name}`] = u.layer.quantType;
    for (const t of u.outputs) {
      if (u.layer) md[`layout.${t.spec.name}`] = t.manifest.layout;
      if (t.manifest.encoding) md[`encoding.${t.spec.name}`] = t.manifest.encoding;
    }
  }
  return md;
}
