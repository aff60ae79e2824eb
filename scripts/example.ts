/** `qmm example`: writes the small example model (W8A8_DYNAMIC, or float with --float). */

import { writeExampleModel } from '../lib/index';

export interface ExampleCommandOptions {
  float?: boolean;
  force?: boolean;
  json?: boolean;
}

export const EXAMPLE_EXAMPLES = `
Examples:
  qmm example ./w8a8                  # an msModelSlim-style W8A8_DYNAMIC model
  qmm example --float ./float         # the bfloat16 checkpoint it is made from

The model is a small Qwen2-style network (hidden 256, 2 layers, random weights,
about 4 MB), identical on every run. Try the workflow with it:
  qmm example --float ./float
  qmm quantize ./float --out ./w8a8 --report
  qmm prepare ./w8a8 --out ./prepared
  node -e "require('ascend-quant-matmul').QuantLinear.load('./prepared', 'model.layers.0.self_attn.q_proj').then(l => console.log(l.inFeatures, l.outFeatures))"`;

export async function runExampleCommand(dir: string, opts: ExampleCommandOptions): Promise<void> {
  const r = await writeExampleModel(dir, { float: Boolean(opts.float), overwrite: Boolean(opts.force) });
  if (opts.json) {
    console.log(JSON.stringify(r, null, 2));
    return;
  }
  const c = r.config as Record<string, number>;
  console.log(`wrote a ${r.kind === 'float' ? `${r.dtype} float` : 'W8A8_DYNAMIC (msModelSlim layout)'} example model to ${r.dir}`);
  console.log(`  Qwen2-style: hidden ${c.hidden_size}, intermediate ${c.intermediate_size}, ${c.num_hidden_layers} layers, vocab ${c.vocab_size}; ${r.linearLayers.length} linear layers; ${(r.bytes / 2 ** 20).toFixed(1)} MiB of weights`);
  console.log(`  files: ${r.files.join(', ')}`);
  console.log(r.kind === 'float' ? `next: qmm quantize ${dir} --out <w8a8-dir> --report` : `next: qmm prepare ${dir} --out <prepared-dir>, then QuantLinear.load(<prepared-dir>, '${r.linearLayers[0]}')`);
}
