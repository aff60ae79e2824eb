/**
 * The accuracy report of `qmm quantize --report`: every quantized layer is
 * prepared and run through QuantLinear (npuDynamicQuant of the activations,
 * then npuQuantMatmul, as on the device) on random LLM-like activations
 * (activations.ts), and compared with its float original computed in float64
 * from the input checkpoint: y = x·Wᵀ + b. Per layer and overall: the relative
 * error ‖y_q − y‖ / ‖y‖ (Frobenius) and the largest |y_q − y| relative to max |y|.
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { backendInfo } from '../../backend';
import { describe as describeValue } from '../../errors';
import { fromFloat32 } from '../../tensor';
import { readModelConfig } from '../description';
import { modelFileError } from '../errors';
import type { ModelOutputDtype } from '../manifest';
import { readManifest } from '../manifest';
import { prepareModel } from '../prepare';
import { QuantLinear } from '../quant_linear';
import { ModelSource, type TensorRef } from '../source';
import { ACTIVATIONS_DESCRIPTION, llmActivations } from './activations';
import { decodeValues, elementBytes, type FloatDtype } from './per_channel';
import { checkAborted } from './stream';

export interface ReportOptions {
  /** Activation rows (tokens) per layer (default 16). */
  tokens?: number;
  /** Seed of the activations (default 1234). */
  seed?: number;
  onProgress?: (p: { phase: 'prepare' | 'layers'; done: number; total: number; item?: string }) => void;
  signal?: AbortSignal;
}

export interface LayerAccuracy {
  readonly name: string;
  readonly n: number;
  readonly k: number;
  /** ‖y_q − y‖ / ‖y‖ over the tokens × n outputs. */
  readonly relError: number;
  /** max |y_q − y| / max |y|. */
  readonly maxRelError: number;
}

export interface QuantizeReport {
  readonly tokens: number;
  readonly seed: number;
  readonly activations: string;
  /** The activation / output dtype QuantLinear ran with. */
  readonly outputDtype: ModelOutputDtype;
  readonly backend: string;
  readonly layers: readonly LayerAccuracy[];
  readonly overall: {
    /** sqrt(Σ‖y_q − y‖² / Σ‖y‖²) over all layers. */
    readonly relError: number;
    readonly meanRelError: number;
    readonly worstLayer: string;
    readonly worstRelError: number;
  };
}

function positiveInt(v: unknown, name: string, d: number): number {
  if (v === undefined) return d;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new TypeError(`options.${name} must be a positive integer, got ${describeValue(v)}`);
  return v;
}

/** y = x·Wᵀ + b in float64, W streamed from the float checkpoint in chunks of rows. */
async function floatForward(source: ModelSource, w: TensorRef, bias: TensorRef | undefined, x: Float64Array, tokens: number): Promise<Float64Array> {
  const [n, k] = w.info.shape;
  const dtype = w.info.dtype as FloatDtype;
  const rowBytes = k * elementBytes(dtype);
  const rowsPer = Math.max(1, Math.min(n, Math.floor((4 << 20) / rowBytes)));
  const raw = new Uint8Array(rowsPer * rowBytes);
  const rows = new Float64Array(rowsPer * k);
  const y = new Float64Array(tokens * n);
  if (bias !== undefined) {
    const b = new Float64Array(n);
    const braw = new Uint8Array(bias.info.byteLength);
    await source.readInto(bias, braw);
    decodeValues(braw, bias.info.dtype as FloatDtype, n, b);
    for (let t = 0; t < tokens; t++) y.set(b, t * n);
  }
  for (let r0 = 0; r0 < n; r0 += rowsPer) {
    const count = Math.min(rowsPer, n - r0);
    await source.readInto(w, raw.subarray(0, count * rowBytes), r0 * rowBytes);
    decodeValues(raw, dtype, count * k, rows);
    for (let t = 0; t < tokens; t++) {
      const xo = t * k;
      for (let r = 0; r < count; r++) {
        let acc = 0;
        const wo = r * k;
        for (let c = 0; c < k; c++) acc += x[xo + c] * rows[wo + c];
        y[t * n + r0 + r] += acc;
      }
    }
  }
  return y;
}

/**
 * Measures the quantization error of `quantizedDir` (written by quantizeModel
 * from `floatDir`) layer by layer through QuantLinear. The prepared copy it
 * needs lives in a temporary directory beside `quantizedDir` and is removed.
 */
export async function quantizationReport(floatDir: string, quantizedDir: string, options?: ReportOptions): Promise<QuantizeReport> {
  if (typeof floatDir !== 'string' || floatDir === '') throw new TypeError(`floatDir must be a directory path, got ${describeValue(floatDir)}`);
  if (typeof quantizedDir !== 'string' || quantizedDir === '') throw new TypeError(`quantizedDir must be a directory path, got ${describeValue(quantizedDir)}`);
  const o = options ?? {};
  const tokens = positiveInt(o.tokens, 'tokens', 16);
  const seed = o.seed === undefined ? 1234 : positiveInt(o.seed, 'seed', 1234);
  const config = await readModelConfig(path.resolve(quantizedDir));
  const outputDtype: ModelOutputDtype = config.paramsDtype === 'float16' ? 'float16' : 'bfloat16';
  const abs = path.resolve(quantizedDir);
  const work = path.join(path.dirname(abs), `.${path.basename(abs)}.qmm-report-${process.pid}`);
  const source = await ModelSource.open(path.resolve(floatDir));
  try {
    await prepareModel(abs, work, {
      nz: false,
      outputDtype,
      overwrite: true,
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: (p) => p.phase === 'convert' && o.onProgress?.({ phase: 'prepare', done: p.done, total: p.total }),
    });
    const manifest = await readManifest(work);
    const layers: LayerAccuracy[] = [];
    let se = 0;
    let sy = 0;
    for (const l of manifest.layers) {
      checkAborted(o.signal);
      o.onProgress?.({ phase: 'layers', done: layers.length, total: manifest.layers.length, item: l.name });
      const w = source.find(`${l.name}.weight`);
      if (w === undefined) throw modelFileError(path.resolve(floatDir), `has no ${l.name}.weight, which ${quantizedDir} quantized; is this the model it was made from?`);
      const lin = await QuantLinear.load(work, l.name);
      const xt = fromFloat32(llmActivations(tokens, l.k, seed, l.name), [tokens, l.k], outputDtype);
      const x = Float64Array.from(xt.toFloat32Array()); // the values QuantLinear sees, exactly
      const yq = (await lin.forward(xt)).toFloat32Array();
      const yf = await floatForward(source, w, source.find(`${l.name}.bias`), x, tokens);
      let e2 = 0;
      let y2 = 0;
      let emax = 0;
      let ymax = 0;
      for (let i = 0; i < yf.length; i++) {
        const d = yq[i] - yf[i];
        e2 += d * d;
        y2 += yf[i] * yf[i];
        emax = Math.max(emax, Math.abs(d));
        ymax = Math.max(ymax, Math.abs(yf[i]));
      }
      se += e2;
      sy += y2;
      layers.push({ name: l.name, n: l.n, k: l.k, relError: y2 > 0 ? Math.sqrt(e2 / y2) : Math.sqrt(e2), maxRelError: ymax > 0 ? emax / ymax : emax });
    }
    o.onProgress?.({ phase: 'layers', done: layers.length, total: manifest.layers.length });
    const worst = layers.reduce((a, b) => (b.relError > a.relError ? b : a), layers[0]);
    return {
      tokens,
      seed,
      activations: ACTIVATIONS_DESCRIPTION,
      outputDtype,
      backend: backendInfo().backend,
      layers,
      overall: {
        relError: sy > 0 ? Math.sqrt(se / sy) : Math.sqrt(se),
        meanRelError: layers.reduce((a, l) => a + l.relError, 0) / Math.max(1, layers.length),
        worstLayer: worst?.name ?? '',
        worstRelError: worst?.relError ?? 0,
      },
    };
  } finally {
    await source.close().catch(() => undefined);
    await fs.promises.rm(work, { recursive: true, force: true });
  }
}
