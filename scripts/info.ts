/** `qmm info [prepared-dir]`: the backend in use and why, or the layers of a prepared model. */

import { backendInfo, readManifest, type ManifestLayer, type PreparedManifest } from '../lib/index';

export interface InfoOptions {
  json?: boolean;
}

function printBackend(json: boolean): void {
  const i = backendInfo();
  if (json) {
    console.log(JSON.stringify(i, null, 2));
    return;
  }
  // a backend that cannot be loaded is information too: exit 0 and say why
  console.log(`backend:   ${i.backend} (requested ${i.requested})${i.available ? '' : ' — not available'}`);
  console.log(`reason:    ${i.reason}`);
  if (i.available) {
    console.log(`detail:    ${i.detail}`);
    console.log(`devices:   ${i.deviceCount}${i.backend === 'cpu' ? ' (emulated npu:N)' : ''}`);
  }
  console.log(`binding:   ${i.binding ?? '-'}`);
  if (i.cannError) console.log(`cann:      ${i.cannError}`);
  console.log(`node:      ${process.version} ${process.platform}-${process.arch}`);
}

/** The weight forms a layer carries, e.g. "ND+NZ int8" or "int4-packed". */
function weightForms(l: ManifestLayer): string {
  const forms: string[] = [];
  if (l.tensors.weight) forms.push(l.tensors.weight.layout === 'INT4PACK_NK' ? 'int4-packed (n,k/8)' : `ND ${l.tensors.weight.dtype}`);
  if (l.tensors.weight_nz) forms.push(`NZ ${l.tensors.weight_nz.dtype}`);
  return forms.join(' + ') || '-';
}

export function layerRows(m: PreparedManifest): Array<Record<string, string | number>> {
  return m.layers.map((l) => ({
    name: l.name,
    type: l.quantType,
    k: l.k,
    n: l.n,
    weight: weightForms(l),
    parts: l.parts.length,
    file: (l.tensors.weight_nz ?? l.tensors.weight)?.file ?? '-',
  }));
}

function printModel(dir: string, m: PreparedManifest, json: boolean): void {
  const rows = layerRows(m);
  if (json) {
    console.log(JSON.stringify({ dir, outputDtype: m.outputDtype, paramsDtype: m.paramsDtype, summary: m.summary, files: m.files, layers: rows }, null, 2));
    return;
  }
  const types = Object.entries(m.summary.byQuantType).map(([t, c]) => `${c} ${t}`).join(', ');
  console.log(`${dir}: ${m.summary.layers} quantized layers (${types || 'none'}), ${m.summary.floatTensors} float tensors, output dtype ${m.outputDtype}`);
  const cols = ['name', 'type', 'k', 'n', 'weight', 'parts', 'file'] as const;
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (vals: Array<string | number>) => vals.map((v, i) => String(v).padEnd(width[i])).join('  ').trimEnd();
  console.log(line([...cols]));
  for (const r of rows) console.log(line(cols.map((c) => r[c])));
}

export async function runInfo(dir: string | undefined, opts: InfoOptions): Promise<void> {
  if (dir === undefined) {
    printBackend(Boolean(opts.json));
    return;
  }
  printModel(dir, await readManifest(dir), Boolean(opts.json));
}
