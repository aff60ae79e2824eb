// What the children of the CANN suites share (cann-child.cjs,
// cann-quantize-child.cjs): the library from dist/ and the mock's controls,
// outputs as hex, errors and the mock's counters as JSON, device memory freed
// per run, and running the scenario named on the command line.
'use strict';
const build = require('./dist.cjs');

const q = build.lib('index');
const { loadNative } = build.lib('native');
const mock = () => loadNative().cannMock;

/** The demo's deterministic generator (mulberry32). */
const seeded = build.scripts('demo/random').seeded;
const numel = (s) => s.reduce((a, b) => a * b, 1);

const hex = (t) => {
  const d = t.cpu().data;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex');
};

const errInfo = (e) => ({ name: e?.name, code: e?.code, status: e?.status, call: e?.call, message: e?.message, deviceMessage: e?.deviceMessage, tried: e?.tried });

/** `{ failed: false }`, or the error `fn` throws (sync) or rejects with. */
async function attempt(fn) {
  try {
    await fn();
    return { failed: false };
  } catch (e) {
    return errInfo(e);
  }
}

// Lets GC collect dropped device tensors (run with --expose-gc) before counting.
async function stats() {
  for (let i = 0; i < 3; i++) {
    global.gc?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return mock().stats();
}

/** Collects the device memory of tensors (`own` returns the tensor) and frees it all at once. */
function deviceOwner() {
  const owned = [];
  return {
    own: (t) => {
      if (t.storage.device) owned.push(t.storage.device);
      return t;
    },
    free: () => {
      for (const d of new Set(owned)) d.free();
      owned.length = 0;
    },
  };
}

/**
 * Runs each named case with a fresh runner (freed afterwards): name → show(the
 * case's result), or `error <code>: <message>`.
 */
async function runCases(cases, names, newRunner, show = (v) => v) {
  const out = {};
  for (const name of names) {
    const R = newRunner();
    try {
      out[name] = show(await cases[name](R));
    } catch (e) {
      out[name] = `error ${e.code}: ${e.message}`;
    } finally {
      R.free();
    }
  }
  return out;
}

/** Runs scenarios[argv[2]] and prints its result (if any) as one JSON line; a throw prints { fatal }. */
function runScenario(scenarios) {
  scenarios[process.argv[2]]()
    .then((res) => {
      if (res !== undefined) process.stdout.write(`${JSON.stringify(res, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
    })
    .catch((e) => {
      process.stdout.write(`${JSON.stringify({ fatal: errInfo(e), stack: e?.stack })}\n`);
      process.exitCode = 1;
    });
}

module.exports = { q, loadNative, mock, seeded, numel, hex, errInfo, attempt, stats, deviceOwner, runCases, runScenario };
