#!/usr/bin/env node
// Measures quantizeModel's throughput and peak memory on a generated float model:
//   node scripts/dev/measure-quantize.cjs [--mib 512] [--dtype bfloat16|float16] [--dir DIR] [--keep] [--runs 3] [--threads N]
// Generates (or reuses) a bfloat16 Qwen2-style checkpoint of about --mib MiB
// with writeExampleModel (hidden 4096, intermediate 11008), quantizes it in a
// child process --runs times and prints, per run and as the best, the input
// MiB/s (safetensors bytes / wall time), CPU time and peak RSS
// (process.resourceUsage().maxRSS) against the largest tensor, as JSON lines.
// Loads the built library (dist/: npm run build).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Command } = require('commander');

const lib = path.join(__dirname, '..', '..', 'dist', 'cjs', 'lib', 'index.js');
const { writeExampleModel } = require(lib);

const MiB = 2 ** 20;

async function main() {
  const o = new Command()
    .name('measure-quantize')
    .option('--mib <n>', 'approximate model size in MiB', '512')
    .option('--dtype <dtype>', 'bfloat16 or float16', 'bfloat16')
    .option('--dir <dir>', 'where the model goes (reused when it exists)')
    .option('--keep', 'keep the model and the output')
    .option('--runs <n>', 'quantize runs', '3')
    .option('--threads <n>', 'quantize threads (default: the library default)')
    .parse(process.argv)
    .opts();
  const [h, inter, vocab] = [4096, 11008, 8192];
  const perLayer = (4 * h * h + 3 * h * inter + 2 * h) * 2;
  const fixed = 2 * vocab * h * 2;
  const layers = Math.max(1, Math.round((Number(o.mib) * MiB - fixed) / perLayer));
  const base = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-quantize-bench-'));
  const modelDir = path.join(base, `float-${o.dtype}-${layers}`);
  const outDir = path.join(base, 'quantized');
  if (!fs.existsSync(path.join(modelDir, 'config.json'))) {
    process.stderr.write(`generating ${layers} layer(s) of hidden ${h}, intermediate ${inter} (${o.dtype}) in ${modelDir}\n`);
    await writeExampleModel(modelDir, { float: true, dtype: o.dtype, hiddenSize: h, intermediateSize: inter, layers, heads: 32, kvHeads: 32, vocabSize: vocab });
  }
  const modelBytes = fs.readdirSync(modelDir).filter((f) => f.endsWith('.safetensors')).reduce((a, f) => a + fs.statSync(path.join(modelDir, f)).size, 0);
  const largest = h * inter * 2;
  const child =
    `const t = process.hrtime.bigint(); require(${JSON.stringify(lib)}).quantizeModel(process.argv[1], process.argv[2], { overwrite: true${o.threads ? `, threads: ${Number(o.threads)}` : ''} })` +
    `.then(() => { const u = process.resourceUsage(); console.log(JSON.stringify({ maxRSS: u.maxRSS, cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000, ms: Number(process.hrtime.bigint() - t) / 1e6 })); })`;
  let best;
  for (let i = 0; i < Number(o.runs); i++) {
    const r = spawnSync(process.execPath, ['-e', child, modelDir, outDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) throw new Error(`quantize failed with status ${r.status}`);
    const res = JSON.parse(r.stdout.trim().split('\n').pop());
    const line = {
      run: i + 1,
      modelMiB: Math.round(modelBytes / MiB),
      dtype: o.dtype,
      threads: o.threads ? Number(o.threads) : 'default',
      largestTensorMiB: Math.round(largest / MiB),
      seconds: Number((res.ms / 1000).toFixed(2)),
      inputMiBPerSecond: Math.round(modelBytes / MiB / (res.ms / 1000)),
      cpuSeconds: Number((res.cpuMs / 1000).toFixed(2)),
      inputMiBPerCpuSecond: Math.round(modelBytes / MiB / (res.cpuMs / 1000)),
      peakRssMiB: Math.round((res.maxRSS * 1024) / MiB),
      loadAverage: os.loadavg().map((x) => Number(x.toFixed(2))),
      cpus: os.cpus().length,
    };
    console.log(JSON.stringify(line));
    if (best === undefined || line.inputMiBPerSecond > best.inputMiBPerSecond) best = line;
  }
  console.log(JSON.stringify({ best }));
  if (!o.keep) fs.rmSync(o.dir ? outDir : base, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack || e.message : String(e));
  process.exit(1);
});
