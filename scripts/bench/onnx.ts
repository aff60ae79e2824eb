/**
 * A minimal ONNX model writer (protobuf wire format by hand, no onnx
 * dependency) for the comparison models of the benchmark: onnxruntime's
 * MatMulInteger with the weight as a constant initializer followed by the
 * dequantization, and com.microsoft MatMulIntegerToFloat.
 */

// ---------------------------------------------------------------- protobuf wire format

class Writer {
  private parts: Uint8Array[] = [];
  private len = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.len += b.length;
  }

  varint(v: number | bigint): this {
    let x = BigInt(v);
    if (x < 0n) x = BigInt.asUintN(64, x);
    const out: number[] = [];
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) byte |= 0x80;
      out.push(byte);
    } while (x !== 0n);
    this.push(Uint8Array.from(out));
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  int(field: number, v: number | bigint): this {
    return this.tag(field, 0).varint(v);
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2).varint(b.length);
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, w: Writer): this {
    return this.bytes(field, w.finish());
  }

  packedInts(field: number, vs: readonly number[]): this {
    const inner = new Writer();
    for (const v of vs) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.len);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------- ONNX messages

/** TensorProto.DataType */
export const OnnxType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, FLOAT16: 10, BFLOAT16: 16 } as const;

export interface Initializer {
  name: string;
  type: number;
  dims: number[];
  raw: Uint8Array;
}

export interface NodeSpec {
  op: string;
  domain?: string;
  inputs: string[];
  outputs: string[];
  intAttrs?: Record<string, number>;
}

export interface ValueSpec {
  name: string;
  type: number;
  dims: number[];
}

function valueInfo(v: ValueSpec): Writer {
  const shape = new Writer();
  for (const d of v.dims) shape.message(1, new Writer().int(1, d)); // Dimension.dim_value
  const tensorType = new Writer().int(1, v.type).message(2, shape); // TypeProto.Tensor
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType));
}

function node(n: NodeSpec, index: number): Writer {
  const w = new Writer();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, `n${index}_${n.op}`);
  w.string(4, n.op);
  for (const [name, v] of Object.entries(n.intAttrs ?? {})) {
    w.message(5, new Writer().string(1, name).int(3, v).int(20, 2)); // AttributeProto INT
  }
  if (n.domain) w.string(7, n.domain);
  return w;
}

function initializer(t: Initializer): Writer {
  return new Writer().packedInts(1, t.dims).int(2, t.type).string(8, t.name).bytes(9, t.raw);
}

/** ModelProto bytes for one graph (opset 17 + com.microsoft 1). */
export function buildModel(graph: { nodes: NodeSpec[]; inits: Initializer[]; inputs: ValueSpec[]; outputs: ValueSpec[] }): Uint8Array {
  const g = new Writer();
  graph.nodes.forEach((n, i) => g.message(1, node(n, i)));
  g.string(2, 'qmm_bench');
  for (const t of graph.inits) g.message(5, initializer(t));
  for (const v of graph.inputs) g.message(11, valueInfo(v));
  for (const v of graph.outputs) g.message(12, valueInfo(v));
  const m = new Writer();
  m.int(1, 8); // ir_version
  m.string(2, 'ascend-quant-matmul-bench');
  m.message(7, g);
  m.message(8, new Writer().string(1, '').int(2, 17));
  m.message(8, new Writer().string(1, 'com.microsoft').int(2, 1));
  return m.finish();
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/**
 * MatMulInteger(x [..., m, k], W int8 initializer [..., k, n]) -> int32, then
 * Cast(float) * scale[n] (-> Cast(float16) when `toF16`). x is uint8 with
 * zero point 128 (the u8 x s8 form onnxruntime's MLAS kernels are built for;
 * feed x_int8 ^ 0x80, the same values shifted), or int8 when `xType` says so.
 */
export function matMulIntegerModel(xDims: number[], wDims: number[], w: Int8Array, scale: Float32Array, outDims: number[], toF16: boolean, xType: number = OnnxType.UINT8): Uint8Array {
  const u8 = xType === OnnxType.UINT8;
  const nodes: NodeSpec[] = [
    { op: 'MatMulInteger', inputs: u8 ? ['x', 'w', 'x_zp'] : ['x', 'w'], outputs: ['acc'] },
    { op: 'Cast', inputs: ['acc'], outputs: ['accf'], intAttrs: { to: OnnxType.FLOAT } },
    { op: 'Mul', inputs: ['accf', 'scale'], outputs: toF16 ? ['yf'] : ['y'] },
  ];
  if (toF16) nodes.push({ op: 'Cast', inputs: ['yf'], outputs: ['y'], intAttrs: { to: OnnxType.FLOAT16 } });
  return buildModel({
    nodes,
    inits: [
      { name: 'w', type: OnnxType.INT8, dims: wDims, raw: bytesOf(w) },
      { name: 'scale', type: OnnxType.FLOAT, dims: [scale.length], raw: bytesOf(scale) },
      ...(u8 ? [{ name: 'x_zp', type: OnnxType.UINT8, dims: [], raw: Uint8Array.of(128) }] : []),
    ],
    inputs: [{ name: 'x', type: xType, dims: xDims }],
    outputs: [{ name: 'y', type: toF16 ? OnnxType.FLOAT16 : OnnxType.FLOAT, dims: outDims }],
  });
}

/** com.microsoft MatMulIntegerToFloat(x, W int8 initializer, a_scale scalar, b_scale[n][, a_zero_point 128]) -> float. */
export function matMulIntegerToFloatModel(xDims: number[], wDims: number[], w: Int8Array, scale: Float32Array, outDims: number[], xType: number = OnnxType.UINT8): Uint8Array {
  const u8 = xType === OnnxType.UINT8;
  return buildModel({
    nodes: [{ op: 'MatMulIntegerToFloat', domain: 'com.microsoft', inputs: u8 ? ['x', 'w', 'a_scale', 'b_scale', 'x_zp'] : ['x', 'w', 'a_scale', 'b_scale'], outputs: ['y'] }],
    inits: [
      { name: 'w', type: OnnxType.INT8, dims: wDims, raw: bytesOf(w) },
      { name: 'a_scale', type: OnnxType.FLOAT, dims: [], raw: bytesOf(Float32Array.of(0.5)) },
      { name: 'b_scale', type: OnnxType.FLOAT, dims: [scale.length], raw: bytesOf(scale) },
      ...(u8 ? [{ name: 'x_zp', type: OnnxType.UINT8, dims: [], raw: Uint8Array.of(128) }] : []),
    ],
    inputs: [{ name: 'x', type: xType, dims: xDims }],
    outputs: [{ name: 'y', type: OnnxType.FLOAT, dims: outDims }],
  });
}
