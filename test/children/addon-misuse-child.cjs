// A seeded misuse fuzz of the raw native addon, bypassing lib/: every export,
// class, method and accessor it can reach, called with the wrong `this` and
// wrong arguments. Every call must return, or throw (or reject with) a
// TypeError, a RangeError or an Error with an ERR_QMM_* code; anything else is
// counted as bad. A crash kills this process, which the parent sees.
//
// Usage: node addon-misuse-child.cjs <binding.node> <family> <calls> <seed>
//   family: construct  the classes' constructors called from JS, then the results used
//           receiver   methods and accessors called on objects of other classes
//           owner      ops and copies handed device buffers of another backend (or freed ones)
//           all        any of the above, mixed with plain wrong arguments
// Writes each call to stderr before making it (the last line names a crash),
// then one JSON line to stdout: {calls, ok, rejected, bad, badCount}.
'use strict';

const [bindingPath, family = 'all', callsArg = '2000', seedArg = '1'] = process.argv.slice(2);
const addon = require(bindingPath);
const calls = Number(callsArg);

// mulberry32: small, seeded, reproducible
let state = Number(seedArg) >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (list) => list[Math.floor(random() * list.length)];
const chance = (p) => random() < p;

function tryOr(fn, fallback) {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

// --- what there is to misuse -------------------------------------------------
const cpu = addon.openBackend('cpu');
const cann = tryOr(() => addon.openBackend('cann'), undefined); // only with a (mock) CANN
const newToken = () => (typeof addon.createCancelToken === 'function' ? addon.createCancelToken() : new addon.CancelToken());
const newBuffer = () => (cann ? tryOr(() => cann.alloc(0, 56), undefined) : undefined);
const freedBuffer = () => {
  const b = newBuffer();
  if (b) b.free();
  return b;
};

const classes = new Map(); // name -> constructor
for (const [name, v] of Object.entries(addon)) if (typeof v === 'function' && v.prototype && Object.getOwnPropertyNames(v.prototype).length > 1) classes.set(name, v);
classes.set('BackendHandle', cpu.constructor);
classes.set('CancelToken', newToken().constructor);

// [label, holder, fn] for every exported function, nested ones included
const functions = [];
(function walk(obj, label, seen) {
  if (seen.has(obj)) return;
  seen.add(obj);
  for (const key of Object.getOwnPropertyNames(obj)) {
    const v = obj[key];
    if (typeof v === 'function') functions.push([`${label}.${key}`, obj, v]);
    else if (v && typeof v === 'object') walk(v, `${label}.${key}`, seen);
  }
})(addon, 'addon', new Set());

// [label, className, kind, fn] for every prototype method and accessor
const members = [];
for (const [name, ctor] of classes) {
  for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(ctor.prototype))) {
    if (key === 'constructor') continue;
    if (typeof d.value === 'function') members.push([`${name}.prototype.${key}`, name, 'method', d.value]);
    if (typeof d.get === 'function') members.push([`${name}.prototype.${key} (get)`, name, 'getter', d.get]);
  }
}
const opNames = members.filter(([, cls, kind, fn]) => cls === 'BackendHandle' && kind === 'method' && /Sync$|^(quantMatmul|transQuantParam|formatCast|quantize|dynamicQuant)$/.test(fn.name)).map(([, , , fn]) => fn.name);

// --- values to pass ----------------------------------------------------------
// numbers stay outside the ranges of the bench probes, which would run for seconds
const NUMBERS = [0, -1, 1, 2, 56, 4096, 2 ** 40, 2 ** 53, NaN, Infinity, -0, -0.5];
const STRINGS = ['cpu', 'cann', '', 'x', 'aclrtMalloc', 'scalar'];

function detached() {
  const a = new Int8Array(56);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

// an instance of one class dressed as another (its prototype swapped)
function disguised() {
  const target = pick([...classes.values()]);
  const victim = pick([newToken, newBuffer, () => addon.openBackend('cpu')])();
  return victim ? Object.setPrototypeOf(victim, target.prototype) : {};
}

// made from JS, where the constructor lets it (the addon's own constructors must not)
function constructedFromJs() {
  return tryOr(() => new (pick([...classes.values()]))(), {});
}

function nativeObject() {
  return pick([() => cpu, () => cann ?? cpu, newToken, newBuffer, freedBuffer, disguised, constructedFromJs, () => Object.create(pick([...classes.values()]).prototype)])();
}

function plainValue() {
  return pick([
    () => undefined,
    () => null,
    () => true,
    () => pick(NUMBERS),
    () => pick(STRINGS),
    () => 12n,
    () => Symbol('s'),
    () => ({}),
    () => [],
    () => [1, 2],
    () => new Int8Array(56),
    () => new Float32Array(14),
    () => new BigInt64Array(7),
    () => new Int8Array(new SharedArrayBuffer(56)),
    detached,
    () => new DataView(new ArrayBuffer(8)),
    () => new ArrayBuffer(8),
    () => function () {},
    () => new Proxy({}, {}),
  ])();
}

// data for a descriptor: host memory, or device memory from any backend
function dataValue() {
  return chance(0.5) ? pick([newBuffer, freedBuffer, disguised, newToken])() : pick([() => new Int8Array(64), () => new Float32Array(16), () => new Int32Array(16), detached, () => new Int8Array(new SharedArrayBuffer(64)), () => 3])();
}

// a descriptor that passes the shape checks (7 x 8 int8), sometimes garbled
function descriptor(data) {
  const d = { data, dtype: 2, format: 2, shape: [7, 8], strides: [8, 1], offset: 0, storageShape: [56] };
  if (chance(0.2)) d[pick(Object.keys(d))] = plainValue();
  return d;
}

function nzDescriptor(data) {
  return { data, dtype: 2, format: 29, shape: [7, 8], strides: [8, 1], offset: 0, storageShape: [1, 1, 16, 32] };
}

// an argument object for any op, its tensors on memory of either backend
function opArgs(dataFor) {
  const a = {};
  for (const key of ['x1', 'x2', 'scale', 'out', 'src', 'x', 'scaleOut', 'offset', 'pertokenScale', 'bias']) {
    if (chance(0.8)) a[key] = descriptor(dataFor());
  }
  a.dst = chance(0.5) ? nzDescriptor(dataFor()) : descriptor(dataFor());
  a.roundMode = pick([0, 1, 7, 'x']);
  if (chance(0.3)) a.cancel = pick([newToken, nativeObject, plainValue])();
  return a;
}

// an argument object in the wire form of lib/ops/encode.ts, garbled values and all
function wire(op, a) {
  const num = (v) => {
    try {
      return Number(v);
    } catch {
      return NaN; // a Symbol
    }
  };
  const dims = (v) => (Array.isArray(v) ? [v.length, ...v] : [v]);
  const meta = [];
  const data = [];
  for (const name of addon.constants.opArgs[op.replace(/Sync$/, '')] ?? []) {
    const v = a[name];
    if (v === undefined) meta.push(0);
    else if (typeof v !== 'object' || v === null) meta.push(v);
    else meta.push(1, v.dtype, v.format, v.offset, ...dims(v.shape), ...dims(v.strides), ...dims(v.storageShape));
    data.push(v && typeof v === 'object' ? v.data : undefined);
  }
  return [Float64Array.from(meta, num), data, a.cancel];
}

function anyValue() {
  return pick([plainValue, plainValue, nativeObject, () => opArgs(dataValue)])();
}

function args(n, gen = anyValue) {
  return Array.from({ length: n }, gen);
}

// --- the calls ---------------------------------------------------------------
const instanceOf = {
  BackendHandle: () => pick([cpu, cann ?? cpu]),
  CancelToken: newToken,
  DeviceBuffer: () => newBuffer() ?? {},
};

function constructCall() {
  const [name, ctor] = pick([...classes.entries()]);
  const a = args(Math.floor(random() * 3));
  return [`new ${name}(${a.length} args), then its members`, () => {
    const o = new ctor(...a);
    for (const [, cls, kind, fn] of members) if (cls === name) kind === 'getter' ? fn.call(o) : fn.call(o, ...args(2));
    return o;
  }];
}

function receiverCall() {
  const [label, , kind, fn] = pick(members);
  const self = pick([nativeObject, nativeObject, plainValue])();
  return [`${label} on ${describe(self)}`, () => (kind === 'getter' ? fn.call(self) : fn.call(self, ...args(Math.floor(random() * 4))))];
}

function ownerCall() {
  const handle = pick([cpu, cann ?? cpu]);
  if (chance(0.7)) {
    const op = pick(opNames);
    return [`${handle === cpu ? 'cpu' : 'cann'}.${op}(foreign data)`, () => handle[op](...wire(op, opArgs(dataValue)))];
  }
  const method = pick(['upload', 'download', 'copyDevice']);
  const a = [dataValue(), pick([0, 8, 56]), chance(0.5) ? dataValue() : new Int8Array(8), 0, 8];
  return [`${handle === cpu ? 'cpu' : 'cann'}.${method}(foreign buffers)`, () => handle[method](...a)];
}

function functionCall() {
  const [label, holder, fn] = pick(functions);
  const a = args(Math.floor(random() * 4));
  if (chance(0.2)) return [`new ${label}(${a.length} args)`, () => new fn(...a)];
  const self = chance(0.7) ? holder : anyValue();
  return [`${label}(${a.map(describe).join(', ')})`, () => fn.call(self, ...a)];
}

function memberCall() {
  const [label, cls, kind, fn] = pick(members);
  const self = instanceOf[cls]();
  return [`${label}(wrong args)`, () => (kind === 'getter' ? fn.call(self) : fn.call(self, ...args(Math.floor(random() * 5))))];
}

const FAMILIES = {
  construct: [constructCall],
  receiver: [receiverCall],
  owner: [ownerCall],
  all: [constructCall, receiverCall, ownerCall, functionCall, memberCall],
};

function describe(v) {
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint' || typeof v === 'symbol') return typeof v;
  if (typeof v === 'function') return 'a function';
  const proto = Object.getPrototypeOf(v);
  return `a ${proto && proto.constructor ? proto.constructor.name : 'null-prototype object'}`;
}

const typed = (e) => e instanceof TypeError || e instanceof RangeError || (e instanceof Error && /^ERR_QMM_/.test(String(e.code)));

(async () => {
  const makers = FAMILIES[family];
  if (!makers) throw new Error(`unknown family ${family}`);
  let ok = 0;
  let rejected = 0;
  const bad = [];
  for (let i = 0; i < calls; i++) {
    const [label, run] = pick(makers)();
    process.stderr.write(`call ${i}: ${label}\n`);
    try {
      const r = run();
      if (r && typeof r.then === 'function') await r;
      ok++;
    } catch (e) {
      if (typed(e)) rejected++;
      else bad.push(`${label}: ${e && e.constructor ? e.constructor.name : typeof e}: ${e && e.message}`);
    }
  }
  const mock = addon.cannMock && tryOr(() => addon.cannMock.stats(), null);
  const violation = mock ? addon.cannMock.lastViolation() : '';
  process.stdout.write(`${JSON.stringify({ calls, ok, rejected, bad: bad.slice(0, 20), badCount: bad.length, mockViolations: mock ? mock.violations : 0, violation })}\n`);
})().catch((e) => {
  process.stdout.write(`${JSON.stringify({ fatal: String(e && e.stack) })}\n`);
  process.exitCode = 2;
});
