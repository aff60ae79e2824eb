/**
 * Loads the native addon: QMM_BINDING_PATH if set, else the prebuilt binary
 * for this platform (prebuilds/) or the local build (build/Release) through
 * node-gyp-build. A binary of another ABI version is stale and refused. A
 * failure lists every candidate tried and what to do. The addon's `constants`
 * are the one copy of the dtype and format codes and the emulator's device count.
 */

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { DTYPE_NAMES, type DType } from './dtypes';
import { QmmError } from './errors';
import type { Format } from './tensor';

export interface NativeDeviceBuffer {
  readonly byteLength: number;
  readonly device: number;
  free(): void;
}

export interface NativeCancelToken {
  cancel(): void;
  readonly cancelled: boolean;
}

export interface NativeTensorDesc {
  data: ArrayBufferView | NativeDeviceBuffer;
  dtype: number;
  format: number;
  shape: readonly number[];
  strides: readonly number[];
  offset: number;
  storageShape: readonly number[];
}

/** The ops of binding/ops.cc's table: `name` returns a Promise, `name + 'Sync'` blocks. */
export type NativeOpName = 'quantMatmul' | 'transQuantParam' | 'formatCast' | 'quantize' | 'dynamicQuant';

/** An op's arguments by the names of constants.opArgs: tensor descriptors, numbers, and `cancel`. */
export interface NativeOpArgs {
  [key: string]: NativeTensorDesc | number | NativeCancelToken | undefined;
  cancel?: NativeCancelToken;
}

/** What lib/ops/encode.ts makes of NativeOpArgs for a native op method (binding/marshal.h ArgReader). */
export type NativeOpData = ReadonlyArray<ArrayBufferView | NativeDeviceBuffer | undefined>;
type NativeOpMethod<R> = (meta: Float64Array, data: NativeOpData, cancel?: NativeCancelToken) => R;

export interface NativeBackendInfo {
  name: 'cpu' | 'cann';
  detail: string;
  deviceCount: number;
  hasDeviceMemory: boolean;
}

export type NativeBackend = {
  info(): NativeBackendInfo;
  alloc(device: number, bytes: number): NativeDeviceBuffer;
  upload(dst: NativeDeviceBuffer, dstByteOffset: number, src: ArrayBufferView): void;
  download(src: NativeDeviceBuffer, srcByteOffset: number, dst: ArrayBufferView): void;
  copyDevice(dst: NativeDeviceBuffer, dstByteOffset: number, src: NativeDeviceBuffer, srcByteOffset: number, bytes: number): void;
} & { [K in NativeOpName]: NativeOpMethod<Promise<void>> } & { [K in NativeOpName as `${K}Sync`]: NativeOpMethod<void> };

/** The facts the addon owns (binding/tensor.h, binding/emulator/emulator.h). */
export interface NativeConstants {
  /** aclDataType codes by dtype name. */
  readonly dtypes: Readonly<Record<string, number>>;
  /** aclFormat codes: ND and FRACTAL_NZ. */
  readonly formats: Readonly<Record<string, number>>;
  readonly maxRank: number;
  /** npu:0 .. npu:N-1 on the cpu backend. */
  readonly emulatedDeviceCount: number;
  /** Each op's argument slots, in the order the addon reads them. */
  readonly opArgs: Readonly<Record<NativeOpName, readonly string[]>>;
}

/** exports.util of the addon (binding/util_ops.h): bounds-checked, TypeError/RangeError on bad arguments. */
export interface NativeUtilOps {
  transposeInt8(src: Int8Array, srcCols: number, r0: number, r1: number, c0: number, c1: number, dst: Int8Array, dstStride: number, dstCol: number): void;
  /** -1, or the index in src of the first value outside [-8, 7]. */
  packInt4(src: Int8Array, k: number, dst: Int32Array): number;
}

export interface MockCannStats {
  liveDeviceAllocs: number;
  liveDeviceBytes: number;
  liveHostAllocs: number;
  liveTensors: number;
  liveIntArrays: number;
  liveExecutors: number;
  liveStreams: number;
  deviceRefs: number;
  violations: number;
  initialized: number;
  totalCalls: number;
}

export interface NativeEmulatorHooks {
  kernelName(): string;
  kernelNote(): string;
  kernelsAvailable(): string;
  selectKernel(name: string): boolean;
  /** Test builds only (QMM_BUILD_TESTS): packs owned by FRACTAL_NZ weights, how many were made since the start, and the bytes alive now. */
  packs?: { made(): number; liveBytes(): number };
  /** Bench probes: only in a build with the test option (QMM_BUILD_TESTS). */
  probeKernelPeakGops?(seconds: number): number;
  probeDramReadGBps?(bytes: number, repeats: number): number;
}

export interface NativeAddon {
  abiVersion: number;
  constants: NativeConstants;
  openBackend(name: 'cpu' | 'cann'): NativeBackend;
  createCancelToken(): NativeCancelToken;
  /** The classes, for instanceof; their constructors refuse calls from JS. */
  BackendHandle: abstract new () => NativeBackend;
  CancelToken: abstract new () => NativeCancelToken;
  DeviceBuffer: abstract new () => NativeDeviceBuffer;
  emulator: NativeEmulatorHooks;
  /** The native loops of `qmm prepare` (binding/util_ops.h). */
  util: NativeUtilOps;
  /** Controls of the mock CANN runtime: only in a build with the test option (QMM_BUILD_TESTS). */
  cannMock?: {
    stats(): MockCannStats | null;
    setFault(name: string, nth: number): boolean;
    clearFaults(): boolean;
    lastViolation(): string;
  };
}

/**
 * The version of the interface between this file and the addon
 * (binding/addon.cc kAbiVersion): a binary with another one is stale.
 */
export const ABI_VERSION = 4;

let cached: NativeAddon | undefined;
let loadedFrom: string | undefined;

/** The package root: the nearest directory above this file with our package.json. */
export function packageRoot(): string {
  const starts = [typeof __dirname === 'string' ? __dirname : '', process.cwd()].filter((s) => s !== '');
  for (const start of starts) {
    let dir = start;
    for (;;) {
      const pj = path.join(dir, 'package.json');
      try {
        if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'ascend-quant-matmul') return dir;
      } catch {
        // unreadable package.json: keep walking up
      }
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return starts[0];
}

/** The addon, loaded once; see loadAddon. */
export function loadNative(): NativeAddon {
  cached ??= loadAddon(ABI_VERSION);
  return cached;
}

/**
 * Loads the first candidate binary that loads and has `expectedAbi`
 * (loadNative passes ABI_VERSION; tests pass another to see a stale binary
 * refused). Throws one ERR_QMM_BACKEND naming every candidate and why it failed.
 */
export function loadAddon(expectedAbi: number): NativeAddon {
  const tried: string[] = [];
  const errors: string[] = [];
  const stale: string[] = [];
  const override = process.env.QMM_BINDING_PATH;
  const root = packageRoot();
  const req = createRequire(path.join(root, 'package.json'));
  const attempt = (file: string): NativeAddon | undefined => {
    if (tried.includes(file)) return undefined;
    tried.push(file);
    let mod: NativeAddon;
    try {
      mod = req(file) as NativeAddon;
    } catch (e) {
      errors.push(`${file}: ${(e as Error).message.split('\n')[0]}`);
      return undefined;
    }
    const found = (mod as { abiVersion?: unknown }).abiVersion;
    const why = found !== expectedAbi
      ? `${file} has ABI version ${String(found)}, but this version of ascend-quant-matmul expects ${expectedAbi}`
      : missingCodes(mod, file);
    if (why) {
      stale.push(why);
      errors.push(why);
      return undefined;
    }
    loadedFrom = file;
    return mod;
  };
  let mod: NativeAddon | undefined;
  if (override) {
    mod = attempt(path.resolve(override));
  } else {
    try {
      const ngb = req('node-gyp-build') as { resolve?: (dir: string) => string };
      if (typeof ngb.resolve === 'function') mod = attempt(ngb.resolve(root));
    } catch (e) {
      errors.push(`node-gyp-build: ${(e as Error).message.split('\n')[0]}`);
    }
    mod ??= attempt(path.join(root, 'build', 'Release', 'ascend_quant_matmul.node'));
  }
  if (mod) return mod;
  const fix = stale.length > 0
    ? `Fix: the binary is stale; rebuild it (\`npx cmake-js build\`) or reinstall the package${override ? ', or point QMM_BINDING_PATH at a build of this version' : ''}.`
    : 'Fix: reinstall the package (npm install ascend-quant-matmul) so a prebuilt binary is picked, or build from source with ' +
      '`npx cmake-js build` (needs cmake and a C++17 compiler), or point QMM_BINDING_PATH at a built .node file.';
  throw new QmmError(
    'ERR_QMM_BACKEND',
    (stale.length > 0 ? `stale native addon: ${stale.join('; ')}.\n` : '') +
      `could not load the ascend-quant-matmul native addon for ${process.platform}-${process.arch} (Node ${process.versions.node}, N-API ${process.versions.napi}).\n` +
      `Tried:\n  ${errors.join('\n  ')}\n${fix}`,
    { tried },
  );
}

const FORMAT_NAMES: readonly Format[] = ['ND', 'FRACTAL_NZ'];

/** Why the addon's constants cannot serve lib/ (a dtype or format it has no code for), or ''. */
function missingCodes(mod: NativeAddon, file: string): string {
  const c = mod.constants;
  const lacks = [
    ...DTYPE_NAMES.filter((d) => typeof c?.dtypes?.[d] !== 'number'),
    ...FORMAT_NAMES.filter((f) => typeof c?.formats?.[f] !== 'number'),
  ];
  return lacks.length > 0 ? `${file} has no code for ${lacks.join(', ')}` : '';
}

let codes: { dtype: Readonly<Record<DType, number>>; format: Readonly<Record<Format, number>> } | undefined;

/** The addon's aclDataType and aclFormat codes, by the names lib/ uses (read once: ops ask on every call). */
export function nativeCodes(): { dtype: Readonly<Record<DType, number>>; format: Readonly<Record<Format, number>> } {
  if (!codes) {
    const c = loadNative().constants;
    codes = { dtype: c.dtypes as Record<DType, number>, format: c.formats as Record<Format, number> };
  }
  return codes;
}

export function nativePath(): string | undefined {
  return loadedFrom;
}
