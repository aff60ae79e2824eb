/**
 * The CPU emulator's packed-weight cache (DESIGN decision 9). A weight is
 * packed once into the kernel's layout and reused: FRACTAL_NZ weights (made by
 * npuFormatCast) automatically, plain ND weights when the mode is 'all'. The
 * cache adds at most the weight's own size per entry and is capped in total.
 *
 * Contract: a cached weight is treated as immutable, as an NZ weight is on the
 * device (SPEC §5.2). If you write into its memory, call `packCache.release(w)`
 * before the next matmul. On the CANN backend the cache is not used.
 */

import { invalidArgType, invalidArgValue, outOfRange } from './arg_errors';
import { describe as describeValue } from './errors';
import { loadNative } from './native';
import { Tensor } from './tensor';

export type PackCacheMode = 'off' | 'nz' | 'all';

export interface PackCacheStats {
  /** 'nz' (default: FRACTAL_NZ weights), 'all' (ND weights too) or 'off'. */
  mode: PackCacheMode;
  /** Bytes held by cached packings, and how many weights. */
  bytes: number;
  entries: number;
  /** Reuses and packings made since the process started. */
  hits: number;
  misses: number;
  /** Upper bound of `bytes` (QMM_PACK_CACHE_MAX_MB, default 4096 MiB). */
  limitBytes: number;
  /** The CPU kernel in use ('vnni512', 'avx2', 'neon' or 'scalar') and why, when QMM_KERNEL was not honoured. */
  kernel: string;
  kernelNote: string;
}

const MODES: readonly PackCacheMode[] = ['off', 'nz', 'all'];

function hooks() {
  return loadNative().emulator;
}

export const packCache = {
  stats(): PackCacheStats {
    const h = hooks();
    const c = h.packCache;
    return {
      mode: c.mode() as PackCacheMode,
      bytes: c.bytes(),
      entries: c.entries(),
      hits: c.hits(),
      misses: c.misses(),
      limitBytes: c.limit(),
      kernel: h.kernelName(),
      kernelNote: h.kernelNote(),
    };
  },

  /** Drops every cached packing. */
  clear(): void {
    hooks().packCache.clear();
  },

  /** Drops the packings made from `weight`'s memory; returns how many were dropped. */
  release(weight: Tensor): number {
    if (!(weight instanceof Tensor)) throw invalidArgType(`weight must be a Tensor, got ${describeValue(weight)}`);
    const host = weight.storage.host;
    return host ? hooks().packCache.release(host) : 0;
  },

  /** Sets the mode and/or the size limit; returns the new stats. */
  configure(options: { mode?: PackCacheMode; limitBytes?: number }): PackCacheStats {
    if (options === null || typeof options !== 'object') throw invalidArgType(`options must be an object, got ${describeValue(options)}`);
    const { mode, limitBytes } = options;
    if (mode !== undefined && !MODES.includes(mode)) throw invalidArgValue(`options.mode must be 'off', 'nz' or 'all', got ${describeValue(mode)}`);
    if (limitBytes !== undefined && !(typeof limitBytes === 'number' && Number.isSafeInteger(limitBytes) && limitBytes >= 0)) {
      throw outOfRange(`options.limitBytes must be a non-negative safe integer, got ${describeValue(limitBytes)}`);
    }
    const c = hooks().packCache;
    if (mode !== undefined) c.setMode(mode);
    if (limitBytes !== undefined) c.setLimit(limitBytes);
    return packCache.stats();
  },
};
