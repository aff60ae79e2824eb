/**
 * `qmm bench`: the CPU emulator's quantized matmul against onnxruntime-node in
 * the same process (and oneDNN in a helper process when Debian's libdnnl-dev
 * is installed), on the yardstick shapes of docs/architecture.md, with the
 * weight as FRACTAL_NZ and as a plain ND `w.t()` view, plus this machine's
 * measured limits (int8 dot-product peak, DRAM read bandwidth). Options:
 * scripts/bench/options.ts.
 */

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backendInfo, npuFormatCastSync, npuQuantMatmul, npuQuantMatmulSync, npuTransQuantParamSync, tensor, type QuantMatmulOptions, type Tensor } from '../../lib/index';
import { loadNative } from '../../lib/native';
import { matMulIntegerModel, matMulIntegerToFloatModel } from './onnx';
import { oneDnnRunner, type OneDnn } from './onednn';
import type { BenchOptions } from './options';

type Variant = 'fp16' | 'pt-bf16' | 'int4' | 'int32';

interface Shape {
  id: string;
  x1: number[]; // logical (..., m, k)
  x2: number[]; // logical (..., k, n)
  variant: Variant;
  cold?: boolean;
  what: string;
}

export interface BenchResult {
  id: string;
  what: string;
  x1: number[];
  x2: number[];
  variant: Variant;
  gop: number;
  weightBytes: number;
  oursMs: number;
  oursAsyncMs: number;
  /** The same op with the weight as a plain ND `(n,k)` tensor passed as `.t()` (null for int4). */
  oursNdMs: number | null;
  oneDnnMs: number | null;
  ortMmiMs: number | null;
  ortMmitfMs: number | null;
  ortBestMs: number | null;
  speedup: number | null;
  /** The faster of oneDNN and onnxruntime over ours (> 1: we are faster). */
  speedupBest: number | null;
  gops: number;
  peakPct: number | null;
  dramFloorMs: number | null;
  floorRatio: number | null;
  reps: number;
}

export interface BenchReport {
  machine: Record<string, string | number | null>;
  results: BenchResult[];
  overhead: { shape: string; fullMs: number; bareMs: number; pct: number } | null;
}

// ---------------------------------------------------------------- native probes (optional hooks)

interface EmulatorHooks {
  probeKernelPeakGops?: (seconds: number) => number;
  probeDramReadGBps?: (bytes: number, repeats: number) => number;
}

function hooks(): EmulatorHooks | undefined {
  try {
    return (loadNative() as unknown as { emulator?: EmulatorHooks }).emulator;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- helpers

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

function randomInt8(n: number, seed: number): Int8Array {
  const a = new Int8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    a[i] = x & 0xff;
  }
  return a;
}

/** (…, k, n) row-major to (…, n, k) row-major. */
function transposeLast2(a: Int8Array, dims: number[]): Int8Array {
  const k = dims[dims.length - 2];
  const n = dims[dims.length - 1];
  const out = new Int8Array(a.length);
  for (let b = 0; b < a.length; b += k * n) for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) out[b + j * k + i] = a[b + i * n + j];
  return out;
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

let evictBuf: Int32Array | undefined;
/** Reads a 256 MiB buffer (one int per cache line) so the weight leaves every cache. */
function evictCaches(): number {
  if (!evictBuf) {
    evictBuf = new Int32Array(64 << 20);
    for (let i = 0; i < evictBuf.length; i += 1024) evictBuf[i] = i;
  }
  let s = 0;
  const b = evictBuf;
  for (let i = 0; i < b.length; i += 16) s += b[i];
  return s;
}

// ---------------------------------------------------------------- shapes

function shapes(quick: boolean): Shape[] {
  if (quick) {
    return [
      { id: 'S1q', x1: [15, 2816], x2: [2816, 1728], variant: 'fp16', what: 'S1 / 4 (decode-sized m)' },
      { id: 'S2', x1: [15, 1, 512], x2: [15, 512, 128], variant: 'fp16', what: 'batched decode' },
      { id: 'S3', x1: [1, 256, 768], x2: [31, 768, 16], variant: 'fp16', what: 'broadcast x1, n = 16' },
      { id: 'S4q', x1: [256, 2048], x2: [2048, 2048], variant: 'fp16', what: 'S4 / 2' },
      { id: 'S6-hot', x1: [1, 4096], x2: [4096, 4096], variant: 'fp16', what: 'decode, weight cached in L2/L3' },
      { id: 'S6-cold', x1: [1, 4096], x2: [4096, 4096], variant: 'fp16', cold: true, what: 'decode, weight evicted (256 MB read) first' },
      { id: 'S4q-int4', x1: [256, 2048], x2: [2048, 2048], variant: 'int4', what: 'int4 x int4 (ORT: int8)' },
      { id: 'S6-int4', x1: [1, 4096], x2: [4096, 4096], variant: 'int4', what: 'int4 decode, hot (ORT: int8)' },
      { id: 'S1q-pt-bf16', x1: [15, 2816], x2: [2816, 1728], variant: 'pt-bf16', what: 'pertoken, float32 scale, bf16 out' },
      { id: 'S4q-int32', x1: [256, 2048], x2: [2048, 2048], variant: 'int32', what: 'bare GEMM (int32 out)' },
    ];
  }
  return [
    { id: 'S1', x1: [15, 11264], x2: [11264, 6912], variant: 'fp16', what: 'decode-sized m, 78 MB weight' },
    { id: 'S2', x1: [15, 1, 512], x2: [15, 512, 128], variant: 'fp16', what: 'batched decode' },
    { id: 'S3', x1: [1, 256, 768], x2: [31, 768, 16], variant: 'fp16', what: 'broadcast x1, n = 16' },
    { id: 'S4', x1: [512, 4096], x2: [4096, 4096], variant: 'fp16', what: 'prefill' },
    { id: 'S5', x1: [2048, 4096], x2: [4096, 11008], variant: 'fp16', what: 'large prefill' },
    { id: 'S6-hot', x1: [1, 4096], x2: [4096, 4096], variant: 'fp16', what: 'decode, weight cached in L2/L3' },
    { id: 'S6-cold', x1: [1, 4096], x2: [4096, 4096], variant: 'fp16', cold: true, what: 'decode, weight evicted (256 MB read) first' },
    { id: 'S4-int4', x1: [512, 4096], x2: [4096, 4096], variant: 'int4', what: 'int4 x int4 (ORT: int8)' },
    { id: 'S6-int4', x1: [1, 4096], x2: [4096, 4096], variant: 'int4', what: 'int4 decode, hot (ORT: int8)' },
    { id: 'S1-pt-bf16', x1: [15, 11264], x2: [11264, 6912], variant: 'pt-bf16', what: 'pertoken, float32 scale, bf16 out' },
    { id: 'S4-int32', x1: [512, 4096], x2: [4096, 4096], variant: 'int32', what: 'bare GEMM (int32 out)' },
  ];
}

// ---------------------------------------------------------------- one shape

interface Prepared {
  run: () => Tensor;
  runNd: (() => Tensor) | null;
  runAsync: () => Promise<Tensor>;
  ortInputs: { x: Int8Array; xDims: number[]; w: Int8Array; wDims: number[]; scale: Float32Array; outDims: number[] };
  weightBytes: number;
}

function prepare(s: Shape): Prepared {
  const m = s.x1[s.x1.length - 2];
  const k = s.x1[s.x1.length - 1];
  const n = s.x2[s.x2.length - 1];
  const xb = s.x1.slice(0, -2);
  const wb = s.x2.slice(0, -2);
  const outBatch = xb.length >= wb.length ? xb.map((d, i) => Math.max(d, wb[i - (xb.length - wb.length)] ?? 1)) : wb.map((d, i) => Math.max(d, xb[i - (wb.length - xb.length)] ?? 1));
  const outDims = [...outBatch, m, n];
  const scale = Float32Array.from({ length: n }, (_, j) => 1 / (2000 + (j % 97)));
  const wNd = randomInt8(prod(s.x2), 7); // logical (…, k, n), row-major
  const xNd = randomInt8(prod(s.x1), 3);

  let x1: Tensor;
  let x2: Tensor;
  let x2Nd: Tensor | null = null;
  let weightBytes: number;
  let xOrt = xNd;
  let wOrt = wNd;
  if (s.variant === 'int4') {
    // int4 values: x1 (m, k/8) int32; weight stored (n, k/8) int32, passed as .t()
    const xv = Int8Array.from(xNd, (v) => v >> 4);
    const wv = Int8Array.from(wNd, (v) => v >> 4);
    const x1p = new Int32Array((m * k) / 8);
    for (let i = 0; i < m * k; i++) x1p[i >> 3] |= (xv[i] & 0xf) << (4 * (i & 7));
    const w2p = new Int32Array((n * k) / 8);
    for (let kk = 0; kk < k; kk++) for (let j = 0; j < n; j++) w2p[(j * k + kk) >> 3] |= (wv[kk * n + j] & 0xf) << (4 * (kk & 7));
    x1 = tensor(x1p, [m, k / 8], 'int32');
    x2 = npuFormatCastSync(tensor(w2p, [n, k / 8], 'int32'), 29, { customizeDtype: 'int32' }).t(); // NZ, C0 = 8 int32
    weightBytes = w2p.byteLength;
    xOrt = xv;
    wOrt = wv;
  } else {
    x1 = tensor(xNd, s.x1, 'int8');
    x2 = npuFormatCastSync(tensor(wNd, s.x2, 'int8'), 29); // FRACTAL_NZ, the packed weight form
    x2Nd = tensor(transposeLast2(wNd, s.x2), [...s.x2.slice(0, -2), n, k], 'int8').t(); // the seed's (n,k) weight, as w.t()
    weightBytes = wNd.byteLength;
  }
  const scaleF = tensor(scale, [n], 'float32');
  let sc: Tensor;
  let opts: QuantMatmulOptions;
  if (s.variant === 'pt-bf16') {
    sc = scaleF;
    opts = { outputDtype: 'bfloat16', pertokenScale: tensor(Float32Array.from({ length: m }, (_, i) => 0.5 + (i % 7) / 8), [m], 'float32') };
  } else if (s.variant === 'int32') {
    sc = scaleF;
    opts = { outputDtype: 'int32' };
  } else {
    sc = npuTransQuantParamSync(scaleF); // int64 scale: the fixpipe fp16 path
    opts = { outputDtype: 'float16' };
  }
  const nd = x2Nd;
  return {
    run: () => npuQuantMatmulSync(x1, x2, sc, opts),
    runNd: nd ? () => npuQuantMatmulSync(x1, nd, sc, opts) : null,
    runAsync: () => npuQuantMatmul(x1, x2, sc, opts),
    weightBytes,
    ortInputs: { x: xOrt, xDims: s.x1, w: wOrt, wDims: s.x2, scale, outDims },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ort = any;

function loadOrt(): Ort | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('onnxruntime-node');
  } catch {
    return undefined;
  }
}

/** ORT sessions for a shape: MatMulInteger + dequant, and MatMulIntegerToFloat (null when a model fails to load). */
async function ortRunners(ort: Ort, p: Prepared, s: Shape, threads: number): Promise<{ mmi: (() => Promise<unknown>) | null; mmitf: (() => Promise<unknown>) | null; release: () => Promise<void> }> {
  const { x, xDims, w, wDims, scale, outDims } = p.ortInputs;
  // uint8 activations with zero point 128: the same values, in MLAS's fast u8 x s8 form
  const xu8 = Uint8Array.from(x, (v) => (v + 128) & 0xff);
  const feeds = { x: new ort.Tensor('uint8', xu8, xDims) };
  const opts = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  const models: Array<['mmi' | 'mmitf', Uint8Array]> = [
    ['mmi', matMulIntegerModel(xDims, wDims, w, scale, outDims, s.variant !== 'pt-bf16' && s.variant !== 'int32')],
    ['mmitf', matMulIntegerToFloatModel(xDims, wDims, w, scale, outDims)],
  ];
  const out: { mmi: (() => Promise<unknown>) | null; mmitf: (() => Promise<unknown>) | null; release: () => Promise<void> } = { mmi: null, mmitf: null, release: async () => undefined };
  const sessions: Ort[] = [];
  for (const [name, bytes] of models) {
    try {
      const session = await ort.InferenceSession.create(bytes, opts); // prepacks the constant weight
      await session.run(feeds); // warm-up
      sessions.push(session);
      out[name] = () => session.run(feeds);
    } catch (e) {
      process.stderr.write(`onnxruntime ${name} on ${s.id}: ${(e as Error).message.split('\n')[0]}\n`);
    }
  }
  out.release = async () => {
    for (const x of sessions) await x.release?.();
  };
  return out;
}

/**
 * Times several runners in alternating blocks (A A A .. B B B .. C C C .., then
 * again) so that every one sees the same machine conditions (shared VMs drift
 * by tens of percent within a minute) while each block keeps its own weight
 * hot in the caches. The first call of a block is a warm-up (unless `cold`);
 * a pause between blocks lets spinning worker threads (ours and
 * onnxruntime's) go idle, and the order of the blocks rotates every round, so
 * no runner always follows the same one (a block right after onnxruntime's
 * runs measurably slower). Medians in ms; a null runner gives null.
 */
async function timeInterleaved(fns: Array<(() => unknown) | null>, opts: { minReps: number; maxReps: number; budgetMs: number; warmupMs: number; cold?: boolean }): Promise<{ ms: Array<number | null>; reps: number }> {
  const t: number[][] = fns.map(() => []);
  const start = now();
  const blockMs = Math.max(50, opts.budgetMs / 8 / fns.length);
  const pause = () => new Promise((r) => setTimeout(r, 20));
  const enough = () => t.every((x, i) => !fns[i] || x.length >= opts.minReps);
  // warm-up: JIT tiers and allocator state settle over the first few thousand
  // calls (a 20 us call measured 25 us in blocks of 300 after 6,000 calls, 15 us
  // after 60,000), so each runner first runs for a while untimed
  if (!opts.cold) {
    for (const f of fns) {
      if (!f) continue;
      const w0 = now();
      for (let n = 0; n < 5000 && now() - w0 < opts.warmupMs; n++) {
        const r = f();
        if (r instanceof Promise) await r;
      }
    }
  }
  for (let round = 0; !enough() || (now() - start < opts.budgetMs && t.some((x, i) => fns[i] && x.length < opts.maxReps)); round++) {
    for (let j = 0; j < fns.length; j++) {
      const i = (j + round) % fns.length;
      const f = fns[i];
      if (!f) continue;
      await pause();
      const b0 = now();
      for (let n = 0; n < opts.maxReps; n++) {
        if (opts.cold) evictCaches();
        const t0 = now();
        const r = f();
        if (r instanceof Promise) await r;
        if (opts.cold || n > 0) t[i].push(now() - t0);
        if (now() - b0 > blockMs && n >= 1) break;
      }
    }
  }
  return { ms: t.map((x) => (x.length ? median(x) : null)), reps: Math.min(...t.filter((x, i) => fns[i]).map((x) => x.length)) };
}

// ---------------------------------------------------------------- report

function fmt(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(digits);
}

const ratio = (v: number | null) => (v === null || !Number.isFinite(v) ? 'n/a' : `${v.toFixed(2)}×`);

export function markdownTable(r: BenchReport): string {
  const lines: string[] = [];
  const mc = r.machine;
  lines.push(`Machine: ${mc.cpu} (${mc.cpuFlags}), ${mc.threads} compute threads, ${mc.memGiB} GiB; kernel \`${mc.kernel}\`; Node ${mc.node}; onnxruntime-node ${mc.ort ?? 'missing'}; oneDNN ${mc.onednn ?? 'not installed'}; ${mc.date}.`);
  lines.push(`Measured limits (${mc.limitsFrom}): int8 dot-product peak ${fmt(mc.peakGops as number | null)} GOPS (all threads), DRAM read ${fmt(mc.dramGBps as number | null)} GB/s.`);
  lines.push('');
  lines.push('| shape | x1 @ x2 | ours NZ ms | ours ND ms | ND / NZ | ours Promise ms | oneDNN ms | ORT ms | best peer / ours | GOPS | % of peak | DRAM floor ms | × floor |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const x of r.results) {
    const ndRatio = x.oursNdMs !== null ? x.oursNdMs / x.oursMs : null;
    lines.push(
      `| ${x.id} | (${x.x1.join(',')})@(${x.x2.join(',')}) ${x.variant} | ${fmt(x.oursMs)} | ${fmt(x.oursNdMs)} | ${ratio(ndRatio)} | ${fmt(x.oursAsyncMs)} | ${fmt(x.oneDnnMs)} | ${fmt(x.ortBestMs)} | ${ratio(x.speedupBest)} | ${fmt(x.gops, 0)} | ${x.peakPct === null ? 'n/a' : x.peakPct.toFixed(0) + '%'} | ${fmt(x.dramFloorMs)} | ${fmt(x.floorRatio, 2)} |`,
    );
  }
  if (r.overhead) lines.push('', `Full op (fp16 out, int64 scale) vs bare GEMM (int32 out) on ${r.overhead.shape}: ${fmt(r.overhead.fullMs)} ms vs ${fmt(r.overhead.bareMs)} ms (${r.overhead.pct >= 0 ? '+' : ''}${r.overhead.pct.toFixed(1)}%).`);
  lines.push('', 'oneDNN: s8×s8→s32 matmul with the weight prepacked (int32 output, no dequantization); ORT: the faster of MatMulInteger+dequant and MatMulIntegerToFloat, weight a constant initializer. "best peer / ours" > 1 means ours is faster.');
  return lines.join('\n');
}

function writeBenchmarksMd(file: string, table: string): string {
  const begin = '<!-- bench:begin (generated by `npm run bench -- --write`) -->';
  const end = '<!-- bench:end -->';
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const block = `${begin}\n${table}\n${end}`;
  const i = text.indexOf(begin.slice(0, 18));
  const j = text.indexOf(end);
  text = i >= 0 && j > i ? text.slice(0, i) + block + text.slice(j + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  fs.writeFileSync(file, text);
  return file;
}

// ---------------------------------------------------------------- main

export function shapeIds(quick: boolean): string[] {
  return shapes(quick).map((s) => s.id);
}

/** The ids in --only that are not shapes of this run. */
export function unknownShapeIds(opts: BenchOptions): string[] {
  if (!opts.only) return [];
  const known = new Set(shapeIds(Boolean(opts.quick)));
  return opts.only.split(',').filter((id) => !known.has(id));
}

function cpuFlags(): string {
  try {
    const flags = new Set((fs.readFileSync('/proc/cpuinfo', 'utf8').match(/^(flags|Features)\s*:(.*)$/m)?.[2] ?? '').trim().split(/\s+/));
    return ['amx_int8', 'avx512_vnni', 'avx_vnni', 'avx2', 'i8mm', 'asimddp'].filter((f) => flags.has(f)).join(', ') || 'no int8 dot-product extension';
  } catch {
    return 'flags unknown';
  }
}

export async function runBench(opts: BenchOptions): Promise<void> {
  const quick = Boolean(opts.quick);
  const json = Boolean(opts.json);
  const only = opts.only ? new Set(opts.only.split(',')) : undefined;
  const log = (s: string) => (json ? process.stderr : process.stdout).write(s + '\n');

  const info = backendInfo();
  const h = hooks();
  const threads = Number(process.env.QMM_NUM_THREADS) || os.cpus().length;
  const ort = loadOrt();
  if (!ort) log('onnxruntime-node is not installed: its column is n/a (npm install --save-dev onnxruntime-node@1.30.0)');
  const dnnl: OneDnn | null = oneDnnRunner(threads, (s) => log(s));

  log('probing this machine ...');
  const given = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) && v > 0 ? v : null);
  const peakGops = h?.probeKernelPeakGops ? h.probeKernelPeakGops(quick ? 0.2 : 0.5) : given(opts.peakGops);
  const dramGBps = h?.probeDramReadGBps ? h.probeDramReadGBps(256 << 20, quick ? 3 : 5) : given(opts.dramGbps);
  const limitsFrom = h?.probeKernelPeakGops ? 'native probes' : peakGops !== null ? 'given on the command line' : 'unknown';
  if (peakGops === null) log('(the native probes are not exposed by this build: % of peak and DRAM floor are n/a; see --peak-gops)');

  const machine: BenchReport['machine'] = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpuFlags: cpuFlags(),
    arch: process.arch,
    threads,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    backend: info.backend,
    kernel: info.detail,
    node: process.versions.node,
    ort: ort ? (ort.env?.versions?.node ?? 'present') : null,
    onednn: dnnl?.version ?? null,
    peakGops,
    dramGBps,
    limitsFrom,
    date: new Date().toISOString().slice(0, 10),
  };
  log(`${machine.cpu} (${machine.cpuFlags}) | ${info.backend}: ${info.detail} | peak ${fmt(peakGops)} GOPS | DRAM ${fmt(dramGBps)} GB/s`);

  // per shape: ours (NZ sync, ND sync, Promise) and both ORT models interleaved, then oneDNN in its process
  const budget = quick ? { minReps: 3, maxReps: 60, budgetMs: 1500, warmupMs: 50 } : { minReps: 5, maxReps: 300, budgetMs: 6000, warmupMs: 300 };
  const results: BenchResult[] = [];
  for (const s of shapes(quick)) {
    if (only && !only.has(s.id)) continue;
    const p = prepare(s);
    p.run(); // warm-up (the NZ weight's pack is made here)
    p.runNd?.();
    await p.runAsync();
    const o = ort ? await ortRunners(ort, p, s, threads) : { mmi: null, mmitf: null, release: async () => undefined };
    const timed = await timeInterleaved([p.run, p.runNd, p.runAsync, o.mmi, o.mmitf], { ...budget, cold: s.cold });
    await o.release();
    const [oursMs, oursNdMs, oursAsyncMs, mmiMs, mmitfMs] = timed.ms;
    const oneDnnMs = dnnl && s.variant !== 'int4' && !s.cold ? dnnl.time(s.x1, s.x2, budget.budgetMs / 3, budget.maxReps) : null;
    const m = s.x1[s.x1.length - 2];
    const k = s.x1[s.x1.length - 1];
    const n = s.x2[s.x2.length - 1];
    const outBatches = prod(p.ortInputs.outDims.slice(0, -2));
    const gop = (2 * outBatches * m * k * n) / 1e9;
    const ours = oursMs as number;
    const gops = gop / (ours / 1e3);
    const ortBest = mmiMs !== null && mmitfMs !== null ? Math.min(mmiMs, mmitfMs) : (mmiMs ?? mmitfMs);
    const peers = [ortBest, oneDnnMs].filter((v): v is number => v !== null);
    const floor = dramGBps ? (p.weightBytes / (dramGBps * 1e9)) * 1e3 : null;
    const r: BenchResult = {
      id: s.id,
      what: s.what,
      x1: s.x1,
      x2: s.x2,
      variant: s.variant,
      gop,
      weightBytes: p.weightBytes,
      oursMs: ours,
      oursNdMs,
      oursAsyncMs: oursAsyncMs as number,
      oneDnnMs,
      ortMmiMs: mmiMs,
      ortMmitfMs: mmitfMs,
      ortBestMs: ortBest,
      speedup: ortBest !== null ? ortBest / ours : null,
      speedupBest: peers.length > 0 ? Math.min(...peers) / ours : null,
      gops,
      peakPct: peakGops ? (100 * gops) / peakGops : null,
      dramFloorMs: floor,
      floorRatio: floor ? ours / floor : null,
      reps: timed.reps,
    };
    results.push(r);
    log(
      `${s.id.padEnd(12)} ours ${fmt(r.oursMs).padStart(8)} ms (ND ${fmt(r.oursNdMs)}, async ${fmt(r.oursAsyncMs)}) ${fmt(gops, 0).padStart(5)} GOPS` +
        `${r.peakPct !== null ? ` ${r.peakPct.toFixed(0)}% peak` : ''} | oneDNN ${fmt(oneDnnMs)} | ORT ${fmt(ortBest)} | best peer / ours ${ratio(r.speedupBest)}` +
        `${floor ? ` | floor ${fmt(floor)} ms (x${fmt(r.floorRatio, 2)})` : ''}`,
    );
  }

  const full = results.find((r) => r.variant === 'fp16' && (r.id === 'S4' || r.id === 'S4q'));
  const bare = results.find((r) => r.variant === 'int32');
  const report: BenchReport = {
    machine,
    results,
    overhead: full && bare ? { shape: full.id, fullMs: full.oursMs, bareMs: bare.oursMs, pct: (100 * (full.oursMs - bare.oursMs)) / bare.oursMs } : null,
  };
  const table = markdownTable(report);
  if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else log('\n' + table);
  if (opts.write) log(`wrote ${writeBenchmarksMd(path.resolve(opts.write), table)}`);
}
