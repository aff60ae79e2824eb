/**
 * The int8 source weights of the layers that are transposed (W8A8,
 * W8A8_DYNAMIC), read one layer ahead: taking layer i starts reading layer
 * i+1 into the other of two buffers, so the read overlaps the conversion of
 * layer i and memory holds at most two layers' weights. Taking a layer also
 * hashes its bytes (ShardHasher) in the order layers are taken.
 */

import { QmmError } from '../errors';
import type { StackedInt8 } from './convert';
import type { LayerPlan } from './layers';
import type { Scratch } from './scratch';
import type { ShardHasher } from './shard_hasher';
import type { ModelSource, TensorRef } from './source';

export class WeightPrefetch {
  private readonly order: readonly LayerPlan[];
  private readonly loads = new Map<LayerPlan, Promise<StackedInt8>>();

  /** `layers` in the order they will be taken; W4A4 layers (streamed by rows) are skipped. */
  constructor(
    layers: readonly LayerPlan[],
    private readonly source: ModelSource,
    private readonly scratch: Scratch,
    private readonly hasher: ShardHasher,
  ) {
    this.order = layers.filter((l) => l.quantType !== 'W4A4_DYNAMIC');
    if (this.order.length > 0) this.start(0); // overlaps whatever comes before the first layer
  }

  /** The layer's weights, stacked along n and hashed; the buffer is reused two takes later. */
  async take(plan: LayerPlan): Promise<StackedInt8> {
    const i = this.order.indexOf(plan);
    if (i < 0) throw new QmmError('ERR_QMM_INTERNAL', `no prefetched weight for layer ${plan.name}`);
    const load = this.start(i);
    if (i + 1 < this.order.length) this.start(i + 1);
    const weights = await load;
    this.loads.delete(plan);
    for (let p = 0; p < plan.parts.length; p++) {
      const ref = plan.parts[p].tensors.get('weight') as TensorRef;
      const part = weights.parts[p];
      await this.hasher.add(ref.shard, ref.info.byteOffset, new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
    }
    return weights;
  }

  /** Waits for reads still running (after an error), ignoring their failures. */
  async settle(): Promise<void> {
    await Promise.all([...this.loads.values()].map((p) => p.catch(() => undefined)));
    this.loads.clear();
  }

  private start(i: number): Promise<StackedInt8> {
    const plan = this.order[i];
    let load = this.loads.get(plan);
    if (load === undefined) {
      load = this.read(plan, `weight-${i % 2}`);
      load.catch(() => undefined); // observed when taken, or by settle()
      this.loads.set(plan, load);
    }
    return load;
  }

  private async read(plan: LayerPlan, slot: string): Promise<StackedInt8> {
    const all = this.scratch.int8(slot, plan.k * plan.n);
    const parts: Int8Array[] = [];
    let off = 0;
    for (const p of plan.parts) {
      const view = all.subarray(off, off + p.n * plan.k);
      await this.source.readInto(p.tensors.get('weight') as TensorRef, new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
      parts.push(view);
      off += view.length;
    }
    return { parts, rows: plan.parts.map((p) => p.n), k: plan.k };
  }
}
