/**
 * QuantLinear: one prepared linear layer, its tensors built once at load
 * (weight (k, n) ND or FRACTAL_NZ, deq/weight scales, biases), and a forward
 * that does what vllm-ascend's apply does (docs/semantics.md §10.2.2, §10.2.3, §10.3):
 *
 *   W8A8:          xq = npuQuantize(x, act_scale_recip, act_offset)   (both in x's dtype)
 *                  y  = npuQuantMatmul(xq, W, deq_scale, { bias: quant_bias, outputDtype })
 *   W8A8_DYNAMIC:  { y: xq, scale } = npuDynamicQuant(x)
 *                  y  = npuQuantMatmul(xq, W, weight_scale, { pertokenScale: scale, bias, outputDtype })
 *   W4A4_DYNAMIC:  xq, scale = int4 per-row quantization (host, see int4_quant.ts)
 *                  y  = npuQuantMatmul(xq, Wpacked.t(), weight_scale, { pertokenScale: scale, bias, outputDtype })
 *
 * x is (…, k) in the layer's output dtype; it is flattened to (M, k) rows and
 * the result reshaped to (…, n). No weight is transposed or cast per call.
 */

import { invalidArgType, invalidArgValue } from '../arg_errors';
import type { Device } from '../device';
import { describe as describeValue, QmmError } from '../errors';
import { npuQuantize, npuQuantizeSync, npuDynamicQuant, npuDynamicQuantSync } from '../ops/quantize';
import { npuQuantMatmul, npuQuantMatmulSync } from '../ops/quant_matmul';
import { fmtShape, fromFloat32, tensor, Tensor } from '../tensor';
import { dynamicQuantInt4 } from './int4_quant';
import type { QuantType } from './layers';
import { readManifest, type ManifestLayer, type ManifestPart, type ModelOutputDtype, type PreparedManifest } from './manifest';
import { PreparedFiles } from './prepared_files';

export interface QuantLinearLoadOptions {
  /** Where the weights live: 'cpu' (default) or 'npu:N'. */
  device?: Device | 'npu';
  /** Use the FRACTAL_NZ weight when the directory has one (default true). */
  preferNz?: boolean;
}

export interface ForwardOptions {
  /** Cancels the queued matmul (Promise form). */
  signal?: AbortSignal;
}

interface LayerTensors {
  /** x2 as npuQuantMatmul takes it: (k, n) ND / NZ, or the int4 (n, k/8) weight's .t() view. */
  weight: Tensor;
  /** deq_scale (W8A8) or weight_scale (dynamic types). */
  scale: Tensor;
  bias?: Tensor;
  actScaleRecip?: Tensor;
  actOffset?: Tensor;
}

function checkOptions(v: unknown): { device: Device | 'npu' | undefined; preferNz: boolean } {
  if (v === undefined || v === null) return { device: undefined, preferNz: true };
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidArgType(`options must be an object, got ${describeValue(v)}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'device' && k !== 'preferNz') throw invalidArgValue(`options.${k} is not a known option; expected device, preferNz`);
  if (o.preferNz !== undefined && typeof o.preferNz !== 'boolean') throw invalidArgType(`options.preferNz must be a boolean, got ${describeValue(o.preferNz)}`);
  if (o.device !== undefined && typeof o.device !== 'string') throw invalidArgType(`options.device must be 'cpu' or 'npu:N', got ${describeValue(o.device)}`);
  return { device: o.device as Device | 'npu' | undefined, preferNz: o.preferNz !== false };
}

function place(t: Tensor, device: Device | 'npu' | undefined): Tensor {
  if (device === undefined || device === 'cpu') return t;
  return t.npu(device === 'npu' ? 0 : device);
}

export class QuantLinear {
  readonly name: string;
  readonly quantType: QuantType;
  /** k */
  readonly inFeatures: number;
  /** n */
  readonly outFeatures: number;
  /** The activation and output dtype. */
  readonly outputDtype: ModelOutputDtype;
  /** Fused parts and their output columns (one part for an unfused layer). */
  readonly parts: readonly ManifestPart[];
  /** 'FRACTAL_NZ' when the NZ weight is in use. */
  readonly weightFormat: 'ND' | 'FRACTAL_NZ';
  private readonly t: LayerTensors;

  private constructor(layer: ManifestLayer, t: LayerTensors) {
    this.name = layer.name;
    this.quantType = layer.quantType;
    this.inFeatures = layer.k;
    this.outFeatures = layer.n;
    this.outputDtype = layer.outputDtype;
    this.parts = layer.parts;
    this.weightFormat = t.weight.format;
    this.t = t;
  }

  /** Loads one layer of a directory written by prepareModel. */
  static async load(preparedDir: string, layerName: string, options?: QuantLinearLoadOptions): Promise<QuantLinear> {
    if (typeof preparedDir !== 'string' || preparedDir === '') throw invalidArgType(`preparedDir must be a directory path, got ${describeValue(preparedDir)}`);
    if (typeof layerName !== 'string') throw invalidArgType(`layerName must be a string, got ${describeValue(layerName)}`);
    const opts = checkOptions(options);
    const manifest = await readManifest(preparedDir);
    const layer = manifest.layers.find((l) => l.name === layerName);
    if (layer === undefined) {
      const some = manifest.layers.slice(0, 3).map((l) => l.name).join(', ');
      throw new QmmError('ERR_QMM_FILE', `layerName: no layer ${JSON.stringify(layerName)} in ${preparedDir} (it has ${manifest.layers.length}${some ? `, e.g. ${some}` : ''})`, { argument: 'layerName', file: preparedDir });
    }
    const files = new PreparedFiles(preparedDir);
    try {
      return await QuantLinear.fromManifest(files, layer, opts);
    } finally {
      await files.close();
    }
  }

  /** @internal */
  static async fromManifest(files: PreparedFiles, layer: ManifestLayer, opts: { device: Device | 'npu' | undefined; preferNz: boolean }): Promise<QuantLinear> {
    const tt = layer.tensors;
    const need = (role: keyof typeof tt) => {
      const e = tt[role];
      if (e === undefined) throw new QmmError('ERR_QMM_FILE', `${files.dir}: layer ${layer.name} (${layer.quantType}) has no ${role} tensor in the manifest`, { file: files.dir });
      return e;
    };
    const expectShape = (role: keyof typeof tt, shape: number[]) => {
      const e = tt[role];
      if (e !== undefined && (e.logicalShape.length !== shape.length || e.logicalShape.some((d, i) => d !== shape[i]))) {
        throw new QmmError('ERR_QMM_FILE', `${files.dir}: layer ${layer.name}: the manifest gives ${role} the shape [${e.logicalShape.join(', ')}] but k = ${layer.k}, n = ${layer.n} need [${shape.join(', ')}]`, { file: files.dir });
      }
    };
    expectShape('weight', layer.quantType === 'W4A4_DYNAMIC' ? [layer.n, layer.k / 8] : [layer.k, layer.n]);
    expectShape('weight_nz', [layer.k, layer.n]);
    for (const role of ['deq_scale', 'quant_bias', 'weight_scale', 'bias'] as const) expectShape(role, [layer.n]);
    // an NZ weight cannot have k or n equal to 1 (docs/semantics.md §1.5): use the ND copy then
    const nzUsable = tt.weight_nz !== undefined && opts.preferNz && layer.k > 1 && layer.n > 1;
    let weight = await files.tensor(nzUsable ? need('weight_nz') : need('weight'));
    weight = place(weight, opts.device);
    if (layer.quantType === 'W4A4_DYNAMIC') weight = weight.t();
    const t: LayerTensors = { weight, scale: place(await files.tensor(layer.quantType === 'W8A8' ? need('deq_scale') : need('weight_scale')), opts.device) };
    if (layer.quantType === 'W8A8') {
      t.bias = place(await files.tensor(need('quant_bias')), opts.device);
      // npuQuantize gets the activation parameters in x's dtype, rounded once (RNE) from the
      // stored float32 values: aclnnAscendQuantV3 takes only a scale of x's dtype for a
      // float16/bfloat16 x, and vllm-ascend passes them in params_dtype too.
      const asX = async (role: 'act_scale_recip' | 'act_offset') => {
        const f = await files.tensor(need(role));
        return place(fromFloat32(f.toFloat32Array(), [...f.shape], layer.outputDtype), opts.device);
      };
      t.actScaleRecip = await asX('act_scale_recip');
      t.actOffset = await asX('act_offset');
    } else if (tt.bias !== undefined) {
      let bias = await files.tensor(tt.bias);
      // a half bias must match the output dtype (docs/semantics.md §1.5); otherwise widen it once, exactly
      if ((bias.dtype === 'float16' || bias.dtype === 'bfloat16') && bias.dtype !== layer.outputDtype) {
        bias = tensor(bias.toFloat32Array(), [...bias.shape], 'float32');
      }
      t.bias = place(bias, opts.device);
    }
    return new QuantLinear(layer, t);
  }

  private checkX(x: unknown): { x2: Tensor; outShape: number[] } {
    if (!(x instanceof Tensor)) throw invalidArgType(`x must be a Tensor, got ${describeValue(x)}`);
    if (x.format !== 'ND') throw new QmmError('ERR_QMM_FORMAT', `x: must be in ND format, got ${x.format}`, { argument: 'x' });
    if (x.dtype !== this.outputDtype) {
      throw new QmmError('ERR_QMM_DTYPE', `x: ${this.name} takes ${this.outputDtype} activations (its output dtype), got ${x.dtype}`, { argument: 'x' });
    }
    const k = this.inFeatures;
    if (x.ndim < 1 || x.shape[x.ndim - 1] !== k) {
      throw new QmmError('ERR_QMM_SHAPE', `x: the last dim must be in_features ${k} of ${this.name}, got shape ${fmtShape(x.shape)}`, { argument: 'x' });
    }
    const rows = x.numel / k;
    if (rows === 0) throw new QmmError('ERR_QMM_SHAPE', `x: has no rows, got shape ${fmtShape(x.shape)}`, { argument: 'x' });
    return { x2: x.reshape([rows, k]), outShape: [...x.shape.slice(0, -1), this.outFeatures] };
  }

  /** (…, k) activations in the output dtype → (…, n) in the output dtype. */
  async forward(x: Tensor, options?: ForwardOptions): Promise<Tensor> {
    const { x2, outShape } = this.checkX(x);
    const signal = options?.signal;
    const t = this.t;
    const outputDtype = this.outputDtype;
    let y: Tensor;
    if (this.quantType === 'W8A8') {
      const xq = await npuQuantize(x2, t.actScaleRecip as Tensor, t.actOffset, signal ? { signal } : undefined);
      y = await npuQuantMatmul(xq, t.weight, t.scale, { bias: t.bias ?? null, outputDtype, signal: signal ?? null });
    } else {
      const q = this.quantType === 'W8A8_DYNAMIC' ? await npuDynamicQuant(x2, signal ? { signal } : undefined) : dynamicQuantInt4(x2);
      y = await npuQuantMatmul(q.y, t.weight, t.scale, { pertokenScale: q.scale, bias: t.bias ?? null, outputDtype, signal: signal ?? null });
    }
    return y.reshape(outShape);
  }

  /** Synchronous forward (blocks the event loop for the call). */
  forwardSync(x: Tensor): Tensor {
    const { x2, outShape } = this.checkX(x);
    const t = this.t;
    const outputDtype = this.outputDtype;
    let y: Tensor;
    if (this.quantType === 'W8A8') {
      const xq = npuQuantizeSync(x2, t.actScaleRecip as Tensor, t.actOffset);
      y = npuQuantMatmulSync(xq, t.weight, t.scale, { bias: t.bias ?? null, outputDtype });
    } else {
      const q = this.quantType === 'W8A8_DYNAMIC' ? npuDynamicQuantSync(x2) : dynamicQuantInt4(x2);
      y = npuQuantMatmulSync(q.y, t.weight, t.scale, { pertokenScale: q.scale, bias: t.bias ?? null, outputDtype });
    }
    return y.reshape(outShape);
  }
}

export interface QuantModel {
  readonly manifest: PreparedManifest;
  /** Every prepared layer by name. */
  readonly layers: ReadonlyMap<string, QuantLinear>;
  /** A pass-through (FLOAT) tensor, read on demand. */
  floatTensor(name: string): Promise<Tensor>;
}

/** Loads every layer of a directory written by prepareModel. */
export async function loadModel(preparedDir: string, options?: QuantLinearLoadOptions): Promise<QuantModel> {
  if (typeof preparedDir !== 'string' || preparedDir === '') throw invalidArgType(`preparedDir must be a directory path, got ${describeValue(preparedDir)}`);
  const opts = checkOptions(options);
  const manifest = await readManifest(preparedDir);
  const files = new PreparedFiles(preparedDir);
  const layers = new Map<string, QuantLinear>();
  try {
    for (const l of manifest.layers) layers.set(l.name, await QuantLinear.fromManifest(files, l, opts));
  } finally {
    await files.close();
  }
  const floats = new Map(manifest.floatTensors.map((f) => [f.name, f]));
  return {
    manifest,
    layers,
    async floatTensor(name: string): Promise<Tensor> {
      const f = floats.get(name);
      if (f === undefined) throw new QmmError('ERR_QMM_FILE', `name: no float tensor ${JSON.stringify(name)} in ${preparedDir}`, { argument: 'name', file: preparedDir });
      const pf = new PreparedFiles(preparedDir);
      try {
        return place(await pf.tensor({ ...f, format: 2, logicalShape: f.shape, storageShape: f.shape, layout: 'VECTOR_N' }), opts.device);
      } finally {
        await pf.close();
      }
    },
  };
}
