#!/usr/bin/env node
// The README workflow, runnable in a clone (after `npm run build`): prepare an
// msModelSlim export, load one quantized linear layer, run it.
//
//   node scripts/dev/quant-linear-example.cjs [model-dir] [layer-name]
//
// Without a model directory it generates a small synthetic W8A8_DYNAMIC model
// in a temp directory first.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { dist, lib } = require('../../test/children/dist.cjs');
const { writeSyntheticModel } = require('../../test/support/synthetic-model.cjs');

const { fromFloat32, QuantLinear, readManifest } = lib('index');

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-example-'));
  try {
    let modelDir = process.argv[2];
    if (modelDir === undefined) {
      modelDir = path.join(tmp, 'model-w8a8-dynamic');
      await writeSyntheticModel(modelDir, { layers: 2, n: 256, k: 512, floatBytes: 64 * 1024 });
      console.log(`generated a synthetic W8A8_DYNAMIC model in ${modelDir}`);
    }
    const out = path.join(tmp, 'prepared');

    // 1. prepare (once, offline): `qmm prepare <model-dir> --out <dir>`
    execFileSync(process.execPath, [path.join(dist, 'scripts', 'qmm.js'), 'prepare', modelDir, '--out', out], { stdio: 'inherit' });

    // 2. load a layer: weights as they go to the device, built once
    const name = process.argv[3] ?? (await readManifest(out)).layers[0].name;
    const layer = await QuantLinear.load(out, name);

    // 3. forward: (…, k) activations in the model dtype → (…, n)
    const m = 4;
    const x = fromFloat32(Array.from({ length: m * layer.inFeatures }, (_, i) => Math.sin(i) * 2), [m, layer.inFeatures], layer.outputDtype);
    const y = await layer.forward(x);
    const v = y.toFloat32Array();
    const sum = v.reduce((a, b) => a + b, 0);
    console.log(`${name}: ${layer.quantType}, weight ${layer.weightFormat}, x ${JSON.stringify(x.shape)} ${x.dtype} -> y ${JSON.stringify(y.shape)} ${y.dtype}`);
    console.log(`y[0, :4] = ${Array.from(v.slice(0, 4), (a) => a.toFixed(4)).join(', ')}  sum = ${sum.toFixed(4)}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack ?? e.message : String(e));
  process.exit(1);
});
