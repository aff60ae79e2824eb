// Random arguments for the addon's util ops (binding/util_ops.cc): every call
// must return (undefined / a number) or throw a TypeError or RangeError; a
// crash kills this process, which test/util-ops.test.ts reports.
//   node util-ops-fuzz.cjs <calls> <seed>  → one JSON summary line
'use strict';

// the addon the library of dist/ loads (the test build, or QMM_BINDING_PATH)
const { lib } = require('./dist.cjs');
const addon = lib('native').loadNative();
const { transposeInt8, packInt4 } = addon.util;

const calls = Number(process.argv[2] ?? 1000);
let s = Number(process.argv[3] ?? 1) >>> 0 || 1;
const next = () => {
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  return (s >>> 0) / 2 ** 32;
};
const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
const pick = (xs) => xs[int(0, xs.length - 1)];

function array(kinds) {
  const len = pick([0, 1, 7, 16, 63, 64, 100, 257, 1024]);
  const Ctor = pick(kinds);
  const shared = next() < 0.2;
  const buf = new (shared ? SharedArrayBuffer : ArrayBuffer)(len * Ctor.BYTES_PER_ELEMENT + 16);
  const off = int(0, 2) * Ctor.BYTES_PER_ELEMENT;
  const a = new Ctor(buf, off, len);
  if (!shared && next() < 0.05) structuredClone(buf, { transfer: [buf] }); // detached
  return a;
}

function index() {
  return pick([
    () => int(0, 40),
    () => int(0, 300),
    () => -int(1, 5),
    () => 0.5 + int(0, 9),
    () => 2 ** 53,
    () => 2 ** 52 + int(0, 3),
    () => Number.MAX_SAFE_INTEGER,
    () => Number.NaN,
    () => Infinity,
    () => '3',
    () => null,
    () => undefined,
    () => ({}),
  ])();
}

function arg(kinds) {
  return next() < 0.9 ? array(kinds) : pick([null, undefined, 3, 'x', [1, 2], {}, new DataView(new ArrayBuffer(8))]);
}

const bytes = [Int8Array, Uint8Array, Int16Array, Float32Array, Uint8ClampedArray];
const summary = { calls: 0, ok: 0, typed: 0, bad: [] };
for (let i = 0; i < calls; i++) {
  let args;
  let fn;
  if (next() < 0.75) {
    fn = transposeInt8;
    args = [arg(bytes), index(), index(), index(), index(), index(), arg(bytes), index(), index()];
    if (next() < 0.5) {
      // a plausible call with one argument perturbed, so the bounds checks are reached
      const rows = int(0, 20), cols = int(0, 20);
      const src = new Int8Array(Math.max(0, rows * cols + int(-2, 2)));
      const w = int(0, rows);
      const stride = w + int(-1, 3);
      args = [src, cols, 0, w, 0, cols, new Int8Array(Math.max(0, cols * stride + int(-3, 3))), stride, int(0, 2)];
      if (next() < 0.5) args[int(0, 8)] = index();
    }
    args.length = int(Math.max(0, args.length - 2), args.length);
  } else {
    fn = packInt4;
    args = [arg([Int8Array, Uint8Array, Int32Array]), pick([0, 8, 16, 12, -8, 2 ** 53, Number.NaN]), arg([Int32Array, Uint32Array, Int8Array])];
  }
  summary.calls++;
  try {
    const r = fn(...args);
    if (r === undefined || typeof r === 'number') summary.ok++;
    else summary.bad.push(`call ${i}: returned ${typeof r}`);
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError) summary.typed++;
    else if (summary.bad.length < 10) summary.bad.push(`call ${i}: ${e && e.constructor && e.constructor.name}: ${e && e.message}`);
  }
}
console.log(JSON.stringify(summary));
