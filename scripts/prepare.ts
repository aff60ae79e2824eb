/** `qmm prepare`: runs prepareModel with a progress bar (TTY) or plain progress lines, then a summary. */

import { prepareModel, type PrepareProgress, type PreparedManifest } from '../lib/index';
import { runInterruptible } from './interruptible';
import { mb, PhaseReporter } from './phase_reporter';

export interface PrepareCommandOptions {
  out: string;
  /** commander: true (--nz), false (--no-nz) or undefined (default: on). */
  nz?: boolean;
  outputDtype?: 'float16' | 'bfloat16';
  fuse?: boolean;
  force?: boolean;
  json?: boolean;
}

export const PREPARE_EXAMPLES = `
Examples:
  qmm prepare ./Qwen2.5-7B-w8a8 --out ./Qwen2.5-7B-w8a8-ascend
  qmm prepare ./model-w8a8-dynamic --out ./prepared --fuse --output-dtype bfloat16
  qmm prepare ./model --out ./prepared --no-nz --json > summary.json

Input: an msModelSlim export (quant_model_description.json, config.json,
*.safetensors and optionally *.safetensors.index.json).
Output: qmm-prepared*.safetensors and qmm-manifest.json, written into
<out>.tmp-<pid> and renamed to <out> only when everything succeeded.
Load it with QuantLinear.load(<out>, layerName) or loadModel(<out>).`;

const PHASE_TITLE: Record<Exclude<PrepareProgress['phase'], 'done'>, string> = { scan: 'checking layers', convert: 'converting' };

function report(reporter: PhaseReporter, p: PrepareProgress): void {
  if (p.phase === 'done') reporter.finish();
  else reporter.update(PHASE_TITLE[p.phase], p.phase === 'scan' ? 'layers' : 'bytes', p.done, p.total, p.item);
}

export function manifestSummary(out: string, m: PreparedManifest, seconds: number): Record<string, unknown> {
  return {
    out,
    layers: m.summary.layers,
    byQuantType: m.summary.byQuantType,
    floatTensors: m.summary.floatTensors,
    files: m.files,
    inputBytes: m.summary.inputBytes,
    outputBytes: m.summary.outputBytes,
    paramsDtype: m.paramsDtype,
    outputDtype: m.outputDtype,
    nz: m.options.nz,
    fuse: m.options.fuse,
    fused: m.layers.filter((l) => l.parts.length > 1).map((l) => ({ name: l.name, parts: l.parts.map((p) => p.source), splits: l.splits })),
    seconds: Number(seconds.toFixed(2)),
  };
}

export async function runPrepareCommand(modelDir: string, opts: PrepareCommandOptions): Promise<void> {
  const reporter = new PhaseReporter(process.stderr.isTTY && !opts.json ? 'bar' : 'lines');
  const t0 = process.hrtime.bigint();
  const manifest = await runInterruptible('prepare', opts.out, reporter, (signal) =>
    prepareModel(modelDir, opts.out, {
      nz: opts.nz !== false,
      fuse: Boolean(opts.fuse),
      overwrite: Boolean(opts.force),
      ...(opts.outputDtype ? { outputDtype: opts.outputDtype } : {}),
      onProgress: (p) => report(reporter, p),
      signal,
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const summary = manifestSummary(opts.out, manifest, seconds);
  if (opts.json) {
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  const types = Object.entries(manifest.summary.byQuantType).map(([t, c]) => `${c} ${t}`).join(', ');
  console.log(`prepared ${manifest.summary.layers} layers (${types || 'none'}) and ${manifest.summary.floatTensors} float tensors in ${seconds.toFixed(1)} s`);
  console.log(`  output dtype ${manifest.outputDtype}${manifest.paramsDtype ? ` (model ${manifest.paramsDtype})` : ''}, NZ weights ${manifest.options.nz ? 'yes' : 'no'}, fused ${manifest.options.fuse ? 'yes' : 'no'}`);
  for (const f of manifest.files) console.log(`  ${f.file}  ${mb(f.bytes)}  ${f.tensors} tensors`);
  console.log(`  ${opts.out}/qmm-manifest.json`);
}
