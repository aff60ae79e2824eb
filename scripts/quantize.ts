/** `qmm quantize`: runs quantizeModel (and the accuracy report) with a progress bar on a TTY, then a summary. */

import { quantizationReport, quantizeModel, type QuantizeReport, type QuantizeResult } from '../lib/index';
import { runInterruptible } from './interruptible';
import { mb, MiB, PhaseReporter } from './phase_reporter';

export interface QuantizeCommandOptions {
  out: string;
  scheme: 'w8a8-dynamic';
  skip?: string[];
  force?: boolean;
  report?: boolean;
  reportTokens?: string;
  json?: boolean;
}

export const QUANTIZE_EXAMPLES = `
Examples:
  qmm quantize ./Qwen2.5-7B-Instruct --out ./Qwen2.5-7B-w8a8-dynamic
  qmm quantize ./model --out ./model-w8a8 --skip 'model.layers.0.*' '*.down_proj' --report
  qmm example --float ./float && qmm quantize ./float --out ./w8a8 --json > summary.json

Input: a float checkpoint (config.json, *.safetensors and optionally
*.safetensors.index.json; BF16, F16 or F32 tensors).
Quantized: 2-D .weight of linear projections (q/k/v/o_proj, gate/up/down_proj,
qkv_proj, gate_up_proj, dense, fc1/fc2, w1/w2/w3, …) not matched by --skip;
embeddings, norms, lm_head and biases stay float (--json lists every decision).
Weights: per output channel, scale = f32(max|w_row| / 127), q = rne(w / scale).
Output: msModelSlim's W8A8_DYNAMIC layout (quant_model_weights*.safetensors,
quant_model_description.json, config.json and the other non-weight files),
written into <out>.tmp-<pid> and renamed to <out> only when complete.
Next: qmm prepare <out> --out <prepared>, then QuantLinear.load(<prepared>, layer).`;

const pct = (v: number): string => `${(v * 100).toFixed(2)} %`;

function printSummary(r: QuantizeResult, out: string, seconds: number): void {
  const reasons = new Map<string, number>();
  for (const t of r.floatTensors) reasons.set(t.reason, (reasons.get(t.reason) ?? 0) + 1);
  console.log(`quantized ${r.layers.length} linear layers to ${r.modelQuantType} and kept ${r.floatTensors.length} tensors float in ${seconds.toFixed(1)} s (${(r.inputBytes / MiB / seconds).toFixed(0)} MiB/s of input)`);
  console.log(`  kept float: ${[...reasons].map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}`);
  if (r.rule.unusedSkip.length) console.log(`  warning: --skip ${r.rule.unusedSkip.map((g) => `'${g}'`).join(' ')} matched no tensor`);
  for (const f of r.files) console.log(`  ${f.file}  ${mb(f.bytes)}  ${f.tensors} tensors`);
  console.log(`  ${r.description}${r.index ? `, ${r.index}` : ''}; copied ${r.copiedFiles.join(', ') || 'no other files'}`);
  if (r.configRemoved.length) console.log(`  removed from config.json: ${r.configRemoved.join(', ')}`);
  console.log(`next: qmm prepare ${out} --out <prepared-dir>`);
}

function printReport(rep: QuantizeReport): void {
  const width = Math.max(5, ...rep.layers.map((l) => l.name.length));
  console.log(`\naccuracy through QuantLinear (${rep.backend} backend, ${rep.outputDtype}, ${rep.tokens} tokens of LLM-like activations, seed ${rep.seed}):`);
  console.log(`  ${'layer'.padEnd(width)}  ${'n x k'.padStart(13)}  ${'rel. error'.padStart(10)}  ${'max err/max|y|'.padStart(14)}`);
  for (const l of rep.layers) console.log(`  ${l.name.padEnd(width)}  ${`${l.n} x ${l.k}`.padStart(13)}  ${pct(l.relError).padStart(10)}  ${pct(l.maxRelError).padStart(14)}`);
  console.log(`  overall ${pct(rep.overall.relError)} (mean of layers ${pct(rep.overall.meanRelError)}, worst ${rep.overall.worstLayer} ${pct(rep.overall.worstRelError)})`);
  console.log('  rel. error = ‖y_q − y‖ / ‖y‖ against the float layer computed in float64 from the input weights');
}

export async function runQuantizeCommand(modelDir: string, opts: QuantizeCommandOptions): Promise<void> {
  const tokens = opts.reportTokens === undefined ? undefined : Number(opts.reportTokens);
  if (tokens !== undefined && (!Number.isSafeInteger(tokens) || tokens < 1)) throw new RangeError(`--report-tokens must be a positive integer, got ${opts.reportTokens}`);
  const reporter = new PhaseReporter(process.stderr.isTTY ? 'bar' : opts.json ? 'quiet' : 'lines');
  const t0 = process.hrtime.bigint();
  const { result, report, seconds } = await runInterruptible('quantize', opts.out, reporter, async (signal) => {
    const result = await quantizeModel(modelDir, opts.out, {
      scheme: opts.scheme,
      skip: opts.skip ?? [],
      overwrite: Boolean(opts.force),
      signal,
      onProgress: (p) => p.phase === 'quantize' && reporter.update('quantizing', 'bytes', p.done, p.total, p.item),
    });
    reporter.finish();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const report = opts.report
      ? await quantizationReport(modelDir, opts.out, {
          ...(tokens !== undefined ? { tokens } : {}),
          signal,
          onProgress: (p) => reporter.update(p.phase === 'prepare' ? 'report: prepare' : 'report: layers', p.phase === 'prepare' ? 'bytes' : 'layers', p.done, p.total, p.item),
        })
      : undefined;
    return { result, report, seconds };
  });
  if (opts.json) {
    console.log(JSON.stringify({ out: opts.out, ...result, seconds: Number(seconds.toFixed(3)), inputMiBPerSecond: Math.round(result.inputBytes / MiB / seconds), ...(report ? { report } : {}) }, null, 2));
    return;
  }
  printSummary(result, opts.out, seconds);
  if (report) printReport(report);
}
