/** Assembles qmm-manifest.json from what prepare planned and wrote. */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../native';
import type { ModelConfig, QuantDescription } from './description';
import { QUANT_TYPES, type LayerPlan } from './layers';
import { droppedTensors } from './layer_writer';
import {
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type ManifestFile,
  type ManifestFloatTensor,
  type ManifestLayer,
  type ManifestTensor,
  type ModelOutputDtype,
  type PreparedManifest,
  type TensorRole,
} from './manifest';
import type { Unit } from './output_plan';
import type { ModelSource, ShardFingerprint } from './source';

function producer(): { name: string; version: string } {
  try {
    const pj = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
    return { name: 'ascend-quant-matmul', version: typeof pj.version === 'string' ? pj.version : 'unknown' };
  } catch {
    return { name: 'ascend-quant-matmul', version: 'unknown' };
  }
}

export function manifestLayer(u: Unit, file: string, paramsDtype: ModelConfig['paramsDtype'], outputDtype: ModelOutputDtype): ManifestLayer {
  const l = u.layer as LayerPlan;
  const tensors: Partial<Record<TensorRole, ManifestTensor>> = {};
  for (const t of u.outputs) tensors[t.role] = { file, ...t.manifest };
  let start = 0;
  const parts = l.parts.map((p) => {
    const part = { source: p.prefix, start, n: p.n };
    start += p.n;
    return part;
  });
  return {
    name: l.name,
    quantType: l.quantType,
    k: l.k,
    n: l.n,
    paramsDtype: paramsDtype ?? null,
    outputDtype,
    parts,
    splits: [0, ...parts.map((p) => p.start + p.n)],
    tensors,
    dropped: droppedTensors(l),
  };
}

export interface Built {
  files: ManifestFile[];
  layers: ManifestLayer[];
  floats: ManifestFloatTensor[];
}

export function buildManifest(desc: QuantDescription, config: ModelConfig, source: ModelSource, shards: ShardFingerprint[], o: { nz: boolean; fuse: boolean }, outputDtype: ModelOutputDtype, built: Built): PreparedManifest {
  const byQuantType: Record<string, number> = {};
  for (const t of QUANT_TYPES) {
    const c = built.layers.filter((l) => l.quantType === t).length;
    if (c > 0) byQuantType[t] = c;
  }
  return {
    format: MANIFEST_FORMAT,
    version: MANIFEST_VERSION,
    producer: producer(),
    createdAt: new Date().toISOString(),
    options: { nz: o.nz, fuse: o.fuse, outputDtype },
    paramsDtype: config.paramsDtype ?? null,
    outputDtype,
    source: {
      description: path.basename(desc.file),
      legacyDescriptionName: desc.legacyName,
      config: config.file ? path.basename(config.file) : null,
      dtypeKey: config.dtypeKey ?? null,
      modelQuantType: desc.modelQuantType ?? null,
      index: source.indexFile ? path.basename(source.indexFile) : null,
      shards,
    },
    files: built.files,
    layers: built.layers,
    floatTensors: built.floats,
    summary: {
      layers: built.layers.length,
      byQuantType,
      floatTensors: built.floats.length,
      inputBytes: shards.reduce((a, s) => a + s.bytes, 0),
      outputBytes: built.files.reduce((a, f) => a + f.bytes, 0),
    },
  };
}
