#!/usr/bin/env node
/** The `qmm` command line: info, demo, bench, prepare, quantize, example. */

import { Command, Option } from 'commander';
import { QmmError } from '../lib/index';
import type { BenchOptions } from './bench/options';
import { EXAMPLES } from './demo/examples';
import { runInfo, type InfoOptions } from './info';
import { runDemo } from './demo/run';
import { EXAMPLE_EXAMPLES, runExampleCommand, type ExampleCommandOptions } from './example';
import { PREPARE_EXAMPLES, runPrepareCommand, type PrepareCommandOptions } from './prepare';
import { QUANTIZE_EXAMPLES, runQuantizeCommand, type QuantizeCommandOptions } from './quantize';

function fail(e: unknown): never {
  if (e instanceof QmmError) console.error(`qmm: ${e.code}: ${e.message}`);
  else console.error(`qmm: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exit(1);
}

const program = new Command();
program.name('qmm').description('Ascend quantized matmul for Node.js: tools').showHelpAfterError();

program
  .command('info')
  .description('show the backend in use, why it was chosen, devices and kernel; or, given a prepared model directory, its layers')
  .argument('[prepared-dir]', 'a directory written by `qmm prepare`')
  .option('--json', 'print JSON')
  .addHelpText('after', '\nExamples:\n  qmm info\n  QMM_BACKEND=cann qmm info --json\n  qmm info ./prepared')
  .action(async (dir: string | undefined, opts: InfoOptions) => {
    await runInfo(dir, opts).catch(fail);
  });

program
  .command('demo')
  .description('run the seed examples (a)–(e) on the current backend')
  .argument('[ids...]', 'example ids to run (a b c d e); all by default')
  .addHelpText('after', '\nExamples:\n  qmm demo\n  qmm demo a d\n  QMM_BACKEND=cpu qmm demo')
  .action(async (ids: string[], _opts: unknown, cmd: Command) => {
    const unknown = ids.filter((id) => !EXAMPLES.some((e) => e.id === id));
    if (unknown.length > 0) cmd.error(`qmm demo: unknown example ${unknown.map((u) => `'${u}'`).join(', ')}; choose from ${EXAMPLES.map((e) => e.id).join(' ')}`);
    await runDemo(ids).catch(fail);
  });

program
  .command('bench')
  .description('benchmark against onnxruntime-node (and oneDNN when libdnnl-dev is installed) on the yardstick shapes')
  .option('--quick', 'reduced shapes, well under a minute')
  .option('--json', 'print the results as JSON on stdout')
  .option('--write <file>', 'replace the generated table in this Markdown file (e.g. BENCHMARKS.md)')
  .option('--only <ids>', 'comma-separated shape ids to run (e.g. S1,S6-cold)')
  .option('--peak-gops <n>', 'the int8 peak to compare with when this build has no native probes', Number)
  .option('--dram-gbps <n>', 'the DRAM read bandwidth to compare with when this build has no native probes', Number)
  .addHelpText('after', '\nExamples:\n  qmm bench --quick\n  qmm bench --only S4,S6-hot --json\n  qmm bench --write BENCHMARKS.md')
  .action(async (opts: BenchOptions, cmd: Command) => {
    let mod: typeof import('./bench/index');
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require('./bench/index') as typeof mod;
    } catch (e) {
      fail(new Error(`the benchmark is not available in this build: ${(e as Error).message}`));
    }
    const bad = mod.unknownShapeIds(opts);
    if (bad.length > 0) cmd.error(`qmm bench: unknown shape id ${bad.map((b) => `'${b}'`).join(', ')}; choose from ${mod.shapeIds(Boolean(opts.quick)).join(' ')}`);
    await mod.runBench(opts).catch(fail);
  });

program
  .command('prepare')
  .description('convert an msModelSlim W8A8 / W8A8_DYNAMIC / W4A4_DYNAMIC export into load-ready weights (transposed, FRACTAL_NZ, re-encoded scales) plus qmm-manifest.json')
  .argument('<model-dir>', 'the msModelSlim export directory')
  .requiredOption('-o, --out <dir>', 'output directory (must not exist unless --force)')
  .option('--nz', 'also write each int8 weight as FRACTAL_NZ (the default)')
  .option('--no-nz', 'write only the ND (k, n) weights')
  .addOption(new Option('--output-dtype <dtype>', 'output/activation dtype (default: config.json torch_dtype)').choices(['float16', 'bfloat16']))
  .option('--fuse', 'fuse q/k/v into qkv_proj and gate/up into gate_up_proj')
  .option('--force', 'replace an existing output directory')
  .option('--json', 'print the manifest summary as JSON')
  .addHelpText('after', PREPARE_EXAMPLES)
  .action(async (modelDir: string, opts: PrepareCommandOptions) => {
    await runPrepareCommand(modelDir, opts).catch(fail);
  });

program
  .command('quantize')
  .description('quantize a float safetensors model (bf16/fp16/fp32) into an msModelSlim-style W8A8_DYNAMIC export')
  .argument('<float-model-dir>', 'the float checkpoint directory (config.json, *.safetensors)')
  .requiredOption('-o, --out <dir>', 'output directory (must not exist unless --force)')
  .addOption(new Option('--scheme <scheme>', 'quantization scheme').choices(['w8a8-dynamic']).default('w8a8-dynamic'))
  .option('--skip <glob...>', 'keep tensors or modules matching these globs float (* any characters, ? one)')
  .option('--force', 'replace an existing output directory')
  .option('--report', 'measure each layer\'s error through QuantLinear on random LLM-like activations')
  .option('--report-tokens <n>', 'activation rows per layer for --report (default 16)')
  .option('--json', 'print the result (and the report) as JSON')
  .addHelpText('after', QUANTIZE_EXAMPLES)
  .action(async (modelDir: string, opts: QuantizeCommandOptions) => {
    await runQuantizeCommand(modelDir, opts).catch(fail);
  });

program
  .command('example')
  .description('write a small example model: msModelSlim-style W8A8_DYNAMIC, or bfloat16 with --float')
  .argument('<dir>', 'directory to create')
  .option('--float', 'write the float (bfloat16) checkpoint instead')
  .option('--force', 'replace an existing directory')
  .option('--json', 'print what was written as JSON')
  .addHelpText('after', EXAMPLE_EXAMPLES)
  .action(async (dir: string, opts: ExampleCommandOptions) => {
    await runExampleCommand(dir, opts).catch(fail);
  });

program.parseAsync(process.argv).catch(fail);
