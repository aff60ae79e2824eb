/**
 * Every op ends the same way, whatever it is (lib/ops/define.ts): an abort
 * rejects with an AbortError (code ERR_QMM_ABORTED, cause = the signal's
 * reason), and a call that fails or is aborted frees the device memory of its
 * outputs at once, not at the next GC. The memory checks run where tensors
 * have device memory: the CANN backend over the mock runtime, whose counters
 * see every allocation (`npm test` runs this file there too).
 */

import { pbkdf2 } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  backendInfo,
  npuDynamicQuant,
  npuDynamicQuantSync,
  npuFormatCast,
  npuFormatCastSync,
  npuQuantize,
  npuQuantizeSync,
  npuQuantMatmul,
  npuQuantMatmulSync,
  npuTransQuantParam,
  npuTransQuantParamSync,
  prepareModel,
  QmmError,
  tensor,
  writeSafetensors,
  type Tensor,
} from '../lib/index';
import { loadNative } from '../lib/native';
import { buildModel, standardSpec, writeModel } from './model-fixtures';

const place = (t: Tensor): Tensor => (backendInfo().deviceCount > 0 ? t.npu(0) : t);

function inputs() {
  return {
    x1: place(tensor(Int8Array.from({ length: 64 }, (_, i) => (i % 7) - 3), [4, 16], 'int8')),
    x2: place(tensor(Int8Array.from({ length: 128 }, (_, i) => (i % 5) - 2), [16, 8], 'int8')),
    scale: place(tensor(new Float32Array(8).fill(0.5), [8], 'float32')),
    weight: place(tensor(new Int8Array(16 * 32), [16, 32], 'int8')),
    half: place(tensor(new Uint16Array(32).fill(0x3c00), [4, 8], 'float16')),
    halfScale: place(tensor(new Uint16Array([0x3c00]), [1], 'float16')),
  };
}

type Inputs = ReturnType<typeof inputs>;

// Each op once, in its Promise and its sync form; the float32 scale of the
// matmul is packed by npuTransQuantParam first (a staged input freed by the call).
const OPS: Record<string, { async: (i: Inputs, signal?: AbortSignal) => Promise<unknown>; sync: (i: Inputs) => unknown; fault: string }> = {
  npuQuantMatmul: {
    async: (i, signal) => npuQuantMatmul(i.x1, i.x2, i.scale, { signal }),
    sync: (i) => npuQuantMatmulSync(i.x1, i.x2, i.scale),
    fault: 'aclnnQuantMatmulV5',
  },
  npuTransQuantParam: {
    async: (i) => npuTransQuantParam(i.scale),
    sync: (i) => npuTransQuantParamSync(i.scale),
    fault: 'aclnnTransQuantParamV3',
  },
  npuFormatCast: {
    async: (i) => npuFormatCast(i.weight, 29),
    sync: (i) => npuFormatCastSync(i.weight, 29),
    fault: 'aclnnNpuFormatCast',
  },
  npuQuantize: {
    async: (i, signal) => npuQuantize(i.half, i.halfScale, null, { signal }),
    sync: (i) => npuQuantizeSync(i.half, i.halfScale),
    fault: 'aclnnAscendQuantV3',
  },
  npuDynamicQuant: {
    async: (i, signal) => npuDynamicQuant(i.half, { signal }),
    sync: (i) => npuDynamicQuantSync(i.half),
    fault: 'aclnnDynamicQuant',
  },
};
const ABORTABLE = ['npuQuantMatmul', 'npuQuantize', 'npuDynamicQuant'];

/** Keeps every thread of the libuv pool busy for a while, so work queued now waits. */
function occupyThreadPool(): Promise<unknown> {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  return Promise.all(Array.from({ length: threads }, () => new Promise((done) => pbkdf2('pw', 'salt', 300_000, 64, 'sha512', done))));
}

/** The device allocations the mock CANN sees now, or undefined when ops do not run on it. */
function liveDeviceAllocs(): number | undefined {
  return backendInfo().backend === 'cann' ? loadNative().cannMock.stats()?.liveDeviceAllocs : undefined;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/**
 * The count before a call: earlier tests' garbage collected first (device
 * buffers are freed by finalizers that run after the collection), so what
 * the call leaves behind is what changes it. No collection runs after the call.
 */
async function baseline(): Promise<number | undefined> {
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((done) => setImmediate(done));
  }
  return liveDeviceAllocs();
}

async function rejection(p: Promise<unknown>): Promise<QmmError> {
  try {
    await p;
  } catch (e) {
    return e as QmmError;
  }
  throw new Error('expected a rejection');
}

describe('aborts', () => {
  for (const name of ABORTABLE) {
    it(`${name} with an aborted signal rejects with an AbortError whose cause is the reason`, async () => {
      const i = inputs();
      const ac = new AbortController();
      const reason = new Error('user gave up');
      ac.abort(reason);
      const e = await rejection(OPS[name].async(i, ac.signal));
      expect(e).toBeInstanceOf(QmmError);
      expect(e).toMatchObject({ name: 'AbortError', code: 'ERR_QMM_ABORTED' });
      expect(e.cause).toBe(reason);
    });

    it(`${name} aborted while queued rejects the same way and frees its outputs at once`, async () => {
      const i = inputs();
      const before = await baseline();
      const busy = occupyThreadPool();
      const ac = new AbortController();
      const call = rejection(OPS[name].async(i, ac.signal));
      ac.abort('shutting down');
      const e = await call;
      expect(e).toMatchObject({ name: 'AbortError', code: 'ERR_QMM_ABORTED', cause: 'shutting down' });
      expect(liveDeviceAllocs()).toBe(before);
      await busy;
    });
  }
});

describe('the other aborts of the package', () => {
  it('prepareModel and writeSafetensors reject with an AbortError whose cause is the reason', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'qmm-abort-'));
    try {
      const model = path.join(work, 'model');
      await writeModel(buildModel(standardSpec('bfloat16')), model);
      const ac = new AbortController();
      ac.abort('stop');
      const prepared = await rejection(prepareModel(model, path.join(work, 'out'), { signal: ac.signal }));
      expect(prepared).toMatchObject({ name: 'AbortError', code: 'ERR_QMM_ABORTED', cause: 'stop' });
      const written = await rejection(writeSafetensors(path.join(work, 'a.safetensors'), { a: { dtype: 'U8', shape: [1], data: Uint8Array.of(1) } }, undefined, { signal: ac.signal }));
      expect(written).toMatchObject({ name: 'AbortError', code: 'ERR_QMM_ABORTED', cause: 'stop' });
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('QmmError names', () => {
  it('is QmmError for other codes', () => {
    expect(new QmmError('ERR_QMM_SHAPE', 'x').name).toBe('QmmError');
    expect(new QmmError('ERR_QMM_ABORTED', 'x').name).toBe('AbortError');
  });
});

const mock = () => loadNative().cannMock;

describe.skipIf(liveDeviceAllocs() === undefined)('a call the device fails frees its outputs at once (mock CANN)', () => {
  for (const [name, op] of Object.entries(OPS)) {
    for (const form of ['sync', 'async'] as const) {
      it(`${name} (${form}), ${op.fault} failing`, async () => {
        const i = inputs();
        const before = await baseline();
        mock().setFault(op.fault, 1);
        try {
          const e = form === 'sync' ? (() => { try { op.sync(i); } catch (err) { return err as QmmError; } throw new Error('expected a throw'); })() : await rejection(op.async(i));
          expect(e).toMatchObject({ code: 'ERR_QMM_DEVICE', call: op.fault });
        } finally {
          mock().clearFaults();
        }
        expect(liveDeviceAllocs()).toBe(before);
        expect(mock().lastViolation()).toBe('');
      });
    }
  }

  it('npuDynamicQuant whose second output cannot be allocated frees the first', async () => {
    const i = inputs();
    const before = await baseline();
    mock().setFault('aclrtMalloc', 2);
    try {
      expect(() => npuDynamicQuantSync(i.half)).toThrow(expect.objectContaining({ code: 'ERR_QMM_DEVICE' }));
    } finally {
      mock().clearFaults();
    }
    expect(liveDeviceAllocs()).toBe(before);
  });
});
