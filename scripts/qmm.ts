#!/usr/bin/env node
/** The `qmm` command line: info, demo, bench, prepare, quantize, example. */

import { Command, Option } from 'commander';
import { backendInfo, QmmError } from '../lib/index';
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
  .description('show the backend in use, why it was chosen, devices and kernel')
  .option('--json', 'print JSON')
  .addHelpText('after', '\nExamples:\n  qmm info\n  QMM_BACKEND=cann qmm info --json')
  .action((opts: { json?: boolean }) => {
    const i = backendInfo();
    if (opts.json) {
      console.log(JSON.stringify(i, null, 2));
      return;
    }
    console.log(`backend:   ${i.backend} (requested ${i.requested})`);
    console.log(`reason:    ${i.reason}`);
    console.log(`detail:    ${i.detail}`);
    console.log(`devices:   ${i.deviceCount}${i.backend === 'cpu' ? ' (emulated npu:N)' : ''}`);
    console.log(`binding:   ${i.binding ?? '-'}`);
    if (i.cannError) console.log(`cann:      ${i.cannError}`);
    console.log(`node:      ${process.version} ${process.platform}-${process.arch}`);
  });

program
  .command('demo')
  .description('run the seed examples (a)–(e) on the current backend')
  .argument('[ids...]', 'example ids to run (a b c d e); all by default')
  .addHelpText('after', '\nExamples:\n  qmm demo\n  qmm demo a d\n  QMM_BACKEND=cpu qmm demo')
  .action(async (ids: string[]) => {
    await runDemo(ids).catch(fail);
  });

program
  .command('bench')
  .description('benchmark against onnxruntime-node (writes BENCHMARKS.md with --write)')
  .allowUnknownOption(true)
  .helpOption(false)
  .argument('[args...]', 'options passed to the benchmark (--quick, --json, --write, --help)')
  .addHelpText('after', '\nExamples:\n  qmm bench --quick\n  qmm bench --json')
  .action(async (args: string[]) => {
    let mod: { runBench(argv: string[]): Promise<void> };
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require('./bench/index') as typeof mod;
    } catch (e) {
      fail(new Error(`the benchmark is not available in this build: ${(e as Error).message}`));
    }
    await mod.runBench(args).catch(fail);
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
