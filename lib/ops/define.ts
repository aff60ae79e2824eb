/**
 * Each op is one declarative definition, from which both its sync and its
 * Promise function are made: plan (the checks of lib/validate) → staged input
 * (another op run first) → outputs → native arguments → the native method of
 * binding/ops.cc → result. The backend is read once per call, and a call that
 * fails or is aborted frees the device memory of its outputs at once.
 */

import { currentBackend, type ActiveBackend } from '../backend';
import type { Device } from '../device';
import { abortError, fromNativeError, QmmError } from '../errors';
import { loadNative, type NativeCancelToken, type NativeOpData, type NativeOpName } from '../native';
import type { Tensor } from '../tensor';
import { encodeCall } from './encode';
import { allocOutput, releaseOutputs, type OutputSpec } from './operands';

/** What every plan carries: where the outputs go and the abort signal (Promise form). */
export interface OpPlan {
  device: Device;
  signal?: AbortSignal;
}

/** A tensor another op computes for this call from `args`; freed when the call ends. */
export interface StagedInput {
  op: Op<unknown[], Tensor>;
  args: readonly unknown[];
}

export interface OpDefinition<A extends unknown[], P extends OpPlan, K extends string, R> {
  /** The method pair of the native backend: `native` returns a Promise, `native + 'Sync'` blocks. */
  native: NativeOpName;
  /** Checks the JS arguments; throws the typed error of the first problem. */
  plan(...args: A): P;
  /** The result when no native call is needed (e.g. a format cast to the same format). */
  shortcut?(plan: P): R | undefined;
  stage?(plan: P): StagedInput | undefined;
  /** Input tensors by native key, each with the argument name errors use; undefined ones are left out. */
  inputs(plan: P, staged: Tensor | undefined): Record<string, readonly [Tensor | undefined, string]>;
  /** Numbers the native op takes, by key. */
  scalars?(plan: P): Record<string, number>;
  /** The outputs to allocate on plan.device, by native key. */
  outputs(plan: P): Record<K, OutputSpec>;
  result(outputs: Record<K, Tensor>, plan: P): R;
}

/** The two functions of an op, and the entry points another op's definition stages through. */
export interface Op<A extends unknown[], R> {
  sync(...args: A): R;
  async(...args: A): Promise<R>;
  /** Runs on `backend` rather than choosing one (a staged input of another op runs on its backend). */
  runSync(args: A, backend?: ActiveBackend): R;
  runAsync(args: A, backend?: ActiveBackend): Promise<R>;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError('the operation was aborted', signal);
}

/** A native failure as a QmmError; an abort gets the signal's reason as its cause. */
function nativeFailure(e: unknown, signal: AbortSignal | undefined): unknown {
  const err = fromNativeError(e);
  return err instanceof QmmError && err.code === 'ERR_QMM_ABORTED' ? abortError(err.message, signal) : err;
}

/** Runs `start` with a native cancel token that `signal` trips. */
async function withCancel(signal: AbortSignal | undefined, start: (cancel: NativeCancelToken | undefined) => Promise<void>): Promise<void> {
  if (!signal) return start(undefined);
  const token = loadNative().createCancelToken();
  const onAbort = (): void => token.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await start(token);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

export function defineOp<A extends unknown[], P extends OpPlan, K extends string, R>(def: OpDefinition<A, P, K, R>): Op<A, R> {
  const syncName = `${def.native}Sync` as const;
  const allocate = (backend: ActiveBackend, plan: P): Record<K, Tensor> => {
    const outs = {} as Record<K, Tensor>;
    try {
      for (const [key, spec] of Object.entries(def.outputs(plan)) as [K, OutputSpec][]) outs[key] = allocOutput(backend, spec, plan.device);
    } catch (e) {
      releaseOutputs(Object.values<Tensor>(outs));
      throw e;
    }
    return outs;
  };

  // Allocates the outputs, runs `call` on the wire form of the call and hands the outputs over, or frees them if it fails.
  const withOutputs = <T>(backend: ActiveBackend, plan: P, staged: Tensor | undefined, call: (meta: Float64Array, data: NativeOpData) => T): [T, Record<K, Tensor>] => {
    const outs = allocate(backend, plan);
    try {
      const { meta, data } = encodeCall(def.native, backend, def.inputs(plan, staged), outs, def.scalars?.(plan));
      return [call(meta, data), outs];
    } catch (e) {
      releaseOutputs(Object.values<Tensor>(outs));
      throw e;
    }
  };

  const runSync = (args: A, chosen?: ActiveBackend): R => {
    const plan = def.plan(...args);
    const short = def.shortcut?.(plan);
    if (short !== undefined) return short;
    const backend = chosen ?? currentBackend();
    const stage = def.stage?.(plan);
    const staged = stage ? stage.op.runSync([...stage.args], backend) : undefined;
    try {
      const [, outs] = withOutputs(backend, plan, staged, (meta, data) => {
        try {
          backend.handle[syncName](meta, data);
        } catch (e) {
          throw fromNativeError(e);
        }
      });
      return def.result(outs, plan);
    } finally {
      if (staged) releaseOutputs([staged]);
    }
  };

  const runAsync = async (args: A, chosen?: ActiveBackend): Promise<R> => {
    const plan = def.plan(...args);
    const short = def.shortcut?.(plan);
    if (short !== undefined) return short;
    const { signal } = plan;
    throwIfAborted(signal);
    const backend = chosen ?? currentBackend();
    const stage = def.stage?.(plan);
    const staged = stage ? await stage.op.runAsync([...stage.args], backend) : undefined;
    try {
      const [done, outs] = withOutputs(backend, plan, staged, (meta, data) => {
        throwIfAborted(signal);
        // withCancel calls back before its first await: the addon reads meta before anything can reuse it
        return withCancel(signal, (cancel) => backend.handle[def.native](meta, data, cancel));
      });
      try {
        await done;
      } catch (e) {
        releaseOutputs(Object.values<Tensor>(outs));
        throw nativeFailure(e, signal);
      }
      return def.result(outs, plan);
    } finally {
      if (staged) releaseOutputs([staged]);
    }
  };

  return { sync: (...args: A) => runSync(args), async: (...args: A) => runAsync(args), runSync, runAsync };
}
