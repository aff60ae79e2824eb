#!/usr/bin/env node
// Measures prepare's peak memory on a large synthetic model (the README's
// "peak RSS" figure):
//   node test/support/measure-prepare-rss.cjs [--gb 4] [--layer-dim 16384] [--float-mib 512] [--dir DIR] [--keep] [--nz|--no-nz]
// Generates (or reuses) an msModelSlim-style W8A8_DYNAMIC model of about
// --gb GiB in DIR, runs prepareModel of the built library (dist/) in a child
// process and prints its peak RSS (process.resourceUsage().maxRSS) against the
// budget 2 × largest tensor + 256 MiB, as one JSON line. Exit code 1 when over
// budget.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Command } = require('commander');
const { dist } = require('../children/dist.cjs');
const { writeSyntheticModel } = require('./synthetic-model.cjs');

const MiB = 2 ** 20;

async function main() {
  const program = new Command()
    .name('measure-prepare-rss')
    .option('--gb <n>', 'model size in GiB', '4')
    .option('--layer-dim <n>', 'each layer is (n, n) int8', '16384')
    .option('--float-mib <n>', 'size of the float (embedding) tensor in MiB', '512')
    .option('--dir <dir>', 'where the model goes (reused when it exists)')
    .option('--keep', 'keep the model and the prepared output')
    .option('--no-nz', 'prepare without the FRACTAL_NZ copies')
    .parse(process.argv);
  const o = program.opts();
  const dim = Number(o.layerDim);
  const floatBytes = Number(o.floatMib) * MiB;
  const layers = Math.max(1, Math.round((Number(o.gb) * 1024 * MiB - floatBytes) / (dim * dim)));
  const base = o.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-rss-'));
  const modelDir = path.join(base, 'model');
  const outDir = path.join(base, 'prepared');
  const largest = Math.max(dim * dim, Math.floor(floatBytes / 2 / dim) * dim * 2);
  if (!fs.existsSync(path.join(modelDir, 'quant_model_description.json'))) {
    process.stderr.write(`generating ${layers} layers of (${dim}, ${dim}) int8 + ${o.floatMib} MiB float in ${modelDir}\n`);
    await writeSyntheticModel(modelDir, { layers, n: dim, k: dim, floatBytes });
  }
  fs.rmSync(outDir, { recursive: true, force: true });
  const lib = path.join(dist, 'lib', 'index.js');
  const child =
    `const t = Date.now(); require(${JSON.stringify(lib)}).prepareModel(process.argv[1], process.argv[2], { nz: ${o.nz !== false} })` +
    `.then(() => console.log(JSON.stringify({ maxRSS: process.resourceUsage().maxRSS, ms: Date.now() - t })))`;
  const r = spawnSync(process.execPath, ['-e', child, modelDir, outDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`prepare failed with status ${r.status}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop());
  const modelBytes = fs.readdirSync(modelDir).filter((f) => f.endsWith('.safetensors')).reduce((a, f) => a + fs.statSync(path.join(modelDir, f)).size, 0);
  const budget = 2 * largest + 256 * MiB;
  const peak = res.maxRSS * 1024;
  console.log(
    JSON.stringify({
      modelMiB: Math.round(modelBytes / MiB),
      largestTensorMiB: Math.round(largest / MiB),
      peakRssMiB: Math.round(peak / MiB),
      budgetMiB: Math.round(budget / MiB),
      withinBudget: peak < budget,
      seconds: res.ms / 1000,
      inputMiBPerSecond: Math.round(modelBytes / MiB / (res.ms / 1000)),
      backend: process.env.QMM_BACKEND ?? 'auto',
      nz: o.nz !== false,
    }),
  );
  if (!o.keep) fs.rmSync(o.dir ? outDir : base, { recursive: true, force: true });
  if (peak >= budget) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
