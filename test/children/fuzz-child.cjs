// Fuzzes every public function of the built package with fast-check. Runs in
// a child process so that a crash (segfault, abort) shows as a failed run
// instead of a lost test file. Every call must return a result or throw a
// QmmError / TypeError / RangeError; anything else is reported and counted.
// Usage: node fuzz-child.cjs <numRuns> <seed>
'use strict';
const fc = require('fast-check');
const build = require('./dist.cjs');
const qmm = build.lib('index');
const { Tensor } = qmm;

const numRuns = Number(process.argv[2] || 1000);
const seed = Number(process.argv[3] || 42);
const DTYPES = ['int8', 'uint8', 'int32', 'int64', 'float16', 'bfloat16', 'float32'];
const ARRAYS = { int8: Int8Array, uint8: Uint8Array, int32: Int32Array, int64: BigInt64Array, float16: Uint16Array, bfloat16: Uint16Array, float32: Float32Array };

const weirdNumber = fc.oneof(
  fc.integer({ min: -3, max: 40 }),
  fc.constantFrom(0, -1, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, 1.5, -0, 65536, 1e12),
);
const shapeArb = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 0, maxLength: 7 }),
  fc.array(weirdNumber, { minLength: 0, maxLength: 9 }),
  fc.constantFrom(undefined, null, 'x', [[2]], {}),
);
const dtypeArb = fc.oneof(fc.constantFrom(...DTYPES), fc.constantFrom('int4', 'float64', '', 5, undefined, null));

let seq = 0;
// A tensor built honestly, or a malformed one made through the (internal) constructor.
const tensorArb = fc
  .record({
    dtype: fc.constantFrom(...DTYPES),
    shape: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 6 }),
    mode: fc.constantFrom('plain', 'plain', 'plain', 'transposed', 'npu', 'nz', 'lying', 'detached', 'short', 'nz-lying'),
    stridesNoise: fc.array(fc.integer({ min: -2, max: 1e6 }), { minLength: 0, maxLength: 8 }),
    offset: fc.oneof(fc.constant(0), fc.integer({ min: -5, max: 1e7 })),
    fill: fc.integer({ min: -128, max: 127 }),
  })
  .map((r) => {
    seq++;
    const n = r.shape.reduce((a, b) => a * b, 1);
    const Arr = ARRAYS[r.dtype];
    const data = new Arr(n);
    for (let i = 0; i < n; i++) data[i] = r.dtype === 'int64' ? BigInt(r.fill + (i % 3)) : (r.fill + i) & 0x7f;
    try {
      const t = qmm.tensor(data, r.shape, r.dtype);
      switch (r.mode) {
        case 'transposed':
          return r.shape.length >= 2 ? t.t() : t;
        case 'npu':
          return t.npu();
        case 'nz':
          return qmm.npuFormatCastSync(t, 29);
        case 'lying':
          return new Tensor({ dtype: r.dtype, shape: r.shape, strides: r.stridesNoise.slice(0, r.shape.length), offset: r.offset, format: 'ND', device: 'cpu', storage: { host: data, length: data.length } });
        case 'detached': {
          structuredClone(data.buffer, { transfer: [data.buffer] });
          return t;
        }
        case 'short':
          return new Tensor({ dtype: r.dtype, shape: r.shape.map((d) => d + 1), strides: t.strides.map((s) => s + 1), offset: 0, format: 'ND', device: 'cpu', storage: { host: data, length: data.length } });
        case 'nz-lying':
          return new Tensor({ dtype: r.dtype, shape: [...r.shape, 3, 5].slice(-Math.max(2, r.shape.length)), strides: [1, 1, 1, 1, 1, 1, 1, 1].slice(0, Math.max(2, r.shape.length)), offset: 0, format: 'FRACTAL_NZ', storageShape: [1, 16, 2], device: 'cpu', storage: { host: data, length: data.length } });
        default:
          return t;
      }
    } catch (e) {
      return data; // construction itself refused: pass the raw array (a wrong JS type for the ops)
    }
  });

const anyArg = fc.oneof(tensorArb, fc.constantFrom(undefined, null, 0, 'npu', [], {}, new Int8Array(3)));
const optionsArb = fc.oneof(
  fc.constantFrom(undefined, null, 3, 'x'),
  fc.record(
    {
      offset: anyArg,
      pertokenScale: anyArg,
      bias: anyArg,
      outputDtype: dtypeArb,
      signal: fc.constantFrom(undefined, null, 'abort'),
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
);

// Raw descriptors straight into the native backend: the C++ checks must hold on their own.
const { loadNative } = build.lib('native');
const { encodeOpArgs } = build.lib('ops/encode');
const backend = loadNative().openBackend('cpu');
const descArb = fc.record({
  data: fc.oneof(
    fc.integer({ min: 0, max: 64 }).map((n) => new Int8Array(n)),
    fc.integer({ min: 0, max: 16 }).map((n) => new BigInt64Array(n)),
    fc.constantFrom(undefined, 3, 'x', {}),
  ),
  dtype: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 9, 10, 27), weirdNumber),
  format: fc.oneof(fc.constantFrom(2, 29), weirdNumber),
  shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 70000 }), { maxLength: 9 }), shapeArb),
  strides: fc.oneof(fc.array(fc.integer({ min: -3, max: 1e9 }), { maxLength: 9 }), shapeArb),
  offset: weirdNumber,
  storageShape: fc.oneof(fc.array(fc.integer({ min: -1, max: 64 }), { maxLength: 9 }), shapeArb),
});
const nativeArgs = fc.record({ x1: descArb, x2: descArb, scale: descArb, out: descArb, bias: fc.option(descArb, { nil: undefined }), src: descArb, dst: descArb, roundMode: fc.constantFrom(0, 1, 7, 'x') });

const calls = fc.oneof(
  fc.tuple(fc.constant('native'), nativeArgs, fc.constantFrom('quantMatmulSync', 'transQuantParamSync', 'formatCastSync'), fc.constant(0), fc.constant(0)),
  fc.tuple(fc.constant('nativeRaw'), fc.oneof(anyArg, nativeArgs), fc.constantFrom('quantMatmulSync', 'transQuantParamSync', 'formatCastSync'), fc.constant(0), fc.constant(0)),
  fc.tuple(fc.constant('quantMatmulSync'), anyArg, anyArg, anyArg, optionsArb),
  fc.tuple(fc.constant('quantMatmul'), anyArg, anyArg, anyArg, optionsArb),
  fc.tuple(fc.constant('transQuantParamSync'), anyArg, anyArg, fc.oneof(fc.constant(undefined), fc.record({ roundMode: weirdNumber }))),
  fc.tuple(fc.constant('formatCastSync'), anyArg, fc.constantFrom(29, 2, 'ND', 'FRACTAL_NZ', 3, -1, NaN, 'x', undefined), fc.constantFrom(undefined, { customizeDtype: 'int32' }, { customizeDtype: 'x' }, 7)),
  fc.tuple(fc.constant('tensor'), fc.oneof(fc.constant(new Int8Array(6)), fc.constant([1, 2, 3]), fc.constant('abc'), fc.constant(new Float64Array(2))), shapeArb, dtypeArb, fc.constantFrom(undefined, { device: 'npu:1' }, { device: 'gpu' }, { format: 'FRACTAL_NZ' }, { c0: 8 }, 1)),
  fc.tuple(fc.constant('view'), tensorArb, fc.integer({ min: -8, max: 8 }), fc.integer({ min: -8, max: 8 }), shapeArb),
);

// native errors carry an ERR_QMM_* code (the facade turns them into QmmError)
const ALLOWED = (e) =>
  e instanceof qmm.QmmError || e instanceof TypeError || e instanceof RangeError || (e instanceof Error && /^ERR_QMM_/.test(String(e.code)));
let ok = 0;
let rejected = 0;
const bad = [];

function check(e, label) {
  if (ALLOWED(e)) {
    rejected++;
    return;
  }
  bad.push(`${label}: ${e && e.constructor ? e.constructor.name : typeof e}: ${e && e.message}`);
}

function verifyResult(r) {
  if (r instanceof Tensor) {
    r.toFloat32Array(); // reading the result back must work too
  }
  ok++;
}

async function runOne([kind, a, b, c, d]) {
  const label = kind;
  try {
    if (d && typeof d === 'object' && d.signal === 'abort') {
      const ac = new AbortController();
      ac.abort();
      d = { ...d, signal: ac.signal };
    }
    switch (kind) {
      case 'native': {
        // garbled descriptors in the wire form (a value JS cannot make a number of throws a TypeError here)
        const { meta, data } = encodeOpArgs(b.replace(/Sync$/, ''), a);
        backend[b](meta, data);
        return verifyResult(undefined);
      }
      case 'nativeRaw':
        backend[b](a);
        return verifyResult(undefined);
      case 'quantMatmulSync':
        return verifyResult(qmm.npuQuantMatmulSync(a, b, c, d));
      case 'quantMatmul':
        return verifyResult(await qmm.npuQuantMatmul(a, b, c, d));
      case 'transQuantParamSync':
        return verifyResult(qmm.npuTransQuantParamSync(a, b, c));
      case 'formatCastSync':
        return verifyResult(qmm.npuFormatCastSync(a, b, c));
      case 'tensor':
        return verifyResult(qmm.tensor(a, b, c, d));
      case 'view': {
        if (!(a instanceof Tensor)) return verifyResult(a);
        const v = a.transpose(b, c);
        verifyResult(v.contiguous());
        return verifyResult(a.reshape(d));
      }
    }
  } catch (e) {
    check(e, label);
  }
}

(async () => {
  await fc.assert(
    fc.asyncProperty(calls, async (call) => {
      await runOne(call);
      return true;
    }),
    { numRuns, seed },
  );
  const total = ok + rejected + bad.length;
  process.stdout.write(`${JSON.stringify({ total, ok, rejected, bad: bad.slice(0, 20), badCount: bad.length })}\n`);
  process.exit(bad.length === 0 ? 0 : 1);
})().catch((e) => {
  process.stdout.write(`${JSON.stringify({ fatal: String(e && e.stack) })}\n`);
  process.exit(2);
});
