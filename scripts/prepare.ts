/** `qmm prepare`: runs prepareModel with a progress bar (TTY) or plain progress lines, then a summary. */

import { SingleBar } from 'cli-progress';
import { prepareModel, type PrepareProgress, type PreparedManifest } from '../lib/index';

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

const PHASE_TITLE: Record<PrepareProgress['phase'], string> = { scan: 'checking layers', hash: 'hashing inputs', convert: 'converting', done: 'done' };

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Reports progress as a cli-progress bar on a TTY, else as a line per phase and per 10%. */
class Reporter {
  private bar: SingleBar | undefined;
  private phase: PrepareProgress['phase'] | undefined;
  private lastTenth = -1;

  constructor(private readonly tty: boolean) {}

  update(p: PrepareProgress): void {
    if (p.phase !== this.phase) {
      this.finishPhase();
      this.phase = p.phase;
      this.lastTenth = 0;
      if (p.phase === 'done') return;
      if (this.tty) {
        const unit = p.phase === 'scan' ? 'layers' : 'MiB';
        this.bar = new SingleBar({ format: `${PHASE_TITLE[p.phase].padEnd(16)} [{bar}] {percentage}% | {value}/{total} ${unit} | {item}`, hideCursor: true, stream: process.stderr, barsize: 30 });
        this.bar.start(this.scaled(p.total), 0, { item: '' });
      } else {
        process.stderr.write(`${PHASE_TITLE[p.phase]}: ${p.phase === 'scan' ? `${p.total} layers` : mb(p.total)}\n`);
      }
    }
    if (this.bar) {
      this.bar.update(this.scaled(p.done), { item: p.item ?? '' });
    } else if (p.phase === 'convert' && p.total > 0) {
      const tenth = Math.floor((p.done / p.total) * 10);
      if (tenth > this.lastTenth) {
        this.lastTenth = tenth;
        process.stderr.write(`  ${tenth * 10}%${p.item ? ` ${p.item}` : ''}\n`);
      }
    }
  }

  private scaled(v: number): number {
    return this.phase === 'scan' ? v : Math.round(v / 2 ** 20);
  }

  finishPhase(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
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
  const reporter = new Reporter(Boolean(process.stderr.isTTY) && !opts.json);
  const ac = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    signalled = sig;
    ac.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const t0 = process.hrtime.bigint();
  let manifest: PreparedManifest;
  try {
    manifest = await prepareModel(modelDir, opts.out, {
      nz: opts.nz !== false,
      fuse: Boolean(opts.fuse),
      overwrite: Boolean(opts.force),
      ...(opts.outputDtype ? { outputDtype: opts.outputDtype } : {}),
      onProgress: (p) => reporter.update(p),
      signal: ac.signal,
    });
  } catch (e) {
    if (signalled) {
      // the staged output is already removed; exit as a process killed by that signal would (130, 143)
      reporter.finishPhase();
      process.stderr.write(`qmm prepare: interrupted (${signalled}); nothing was written to ${opts.out}\n`);
      process.exit(128 + (signalled === 'SIGINT' ? 2 : 15));
    }
    throw e;
  } finally {
    reporter.finishPhase();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
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
