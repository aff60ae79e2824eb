/** A worker_threads worker running quantizeRows on shared memory for kernel_pool.ts. */

import { parentPort } from 'node:worker_threads';
import { quantizeRows } from './per_channel';
import type { KernelJob, KernelReply } from './kernel_pool';

parentPort?.on('message', (j: KernelJob) => {
  let reply: KernelReply;
  try {
    const bad = quantizeRows(new Uint8Array(j.input, j.inOffset, j.inBytes), j.dtype, j.rows, j.k, new Int8Array(j.output, j.outOffset, j.rows * j.k), new Float32Array(j.scales, j.scalesOffset * 4, j.rows), 0);
    reply = { id: j.id, bad };
  } catch (e) {
    reply = { id: j.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort?.postMessage(reply);
});
