/**
 * Loads the native addon: QMM_BINDING_PATH if set, else the prebuilt binary
 * for this platform (prebuilds/) or the local build (build/Release) through
 * node-gyp-build. A failure lists every candidate tried and what to do.
 */

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { QmmError } from './errors';

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
  shape: number[];
  strides: number[];
  offset: number;
  storageShape: number[];
}

export interface NativeQuantMatmulArgs {
  x1: NativeTensorDesc;
  x2: NativeTensorDesc;
  scale: NativeTensorDesc;
  offset?: NativeTensorDesc;
  pertokenScale?: NativeTensorDesc;
  bias?: NativeTensorDesc;
  out: NativeTensorDesc;
  cancel?: NativeCancelToken;
}

export interface NativeTransQuantParamArgs {
  scale: NativeTensorDesc;
  offset?: NativeTensorDesc;
  roundMode: number;
  out: NativeTensorDesc;
  cancel?: NativeCancelToken;
}

export interface NativeFormatCastArgs {
  src: NativeTensorDesc;
  dst: NativeTensorDesc;
  cancel?: NativeCancelToken;
}

export interface NativeQuantizeArgs {
  x: NativeTensorDesc;
  scale: NativeTensorDesc;
  offset?: NativeTensorDesc;
  out: NativeTensorDesc;
  cancel?: NativeCancelToken;
}

export interface NativeDynamicQuantArgs {
  x: NativeTensorDesc;
  out: NativeTensorDesc;
  scaleOut: NativeTensorDesc;
  cancel?: NativeCancelToken;
}

export interface NativeBackendInfo {
  name: 'cpu' | 'cann';
  detail: string;
  deviceCount: number;
  hasDeviceMemory: boolean;
}

export interface NativeBackend {
  info(): NativeBackendInfo;
  quantMatmul(a: NativeQuantMatmulArgs): Promise<void>;
  quantMatmulSync(a: NativeQuantMatmulArgs): void;
  transQuantParam(a: NativeTransQuantParamArgs): Promise<void>;
  transQuantParamSync(a: NativeTransQuantParamArgs): void;
  formatCast(a: NativeFormatCastArgs): Promise<void>;
  formatCastSync(a: NativeFormatCastArgs): void;
  quantize(a: NativeQuantizeArgs): Promise<void>;
  quantizeSync(a: NativeQuantizeArgs): void;
  dynamicQuant(a: NativeDynamicQuantArgs): Promise<void>;
  dynamicQuantSync(a: NativeDynamicQuantArgs): void;
  alloc(device: number, bytes: number): NativeDeviceBuffer;
  upload(dst: NativeDeviceBuffer, dstByteOffset: number, src: ArrayBufferView): void;
  download(src: NativeDeviceBuffer, srcByteOffset: number, dst: ArrayBufferView): void;
  copyDevice(dst: NativeDeviceBuffer, dstByteOffset: number, src: NativeDeviceBuffer, srcByteOffset: number, bytes: number): void;
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
  packCache: {
    clear(): void;
    release(view: ArrayBufferView): number;
    bytes(): number;
    entries(): number;
    hits(): number;
    misses(): number;
    setMode(mode: string): boolean;
    mode(): string;
    setLimit(bytes: number): void;
    limit(): number;
  };
  /** Bench probes: only in a build with the test option (QMM_BUILD_TESTS). */
  probeKernelPeakGops?(seconds: number): number;
  probeDramReadGBps?(bytes: number, repeats: number): number;
}

export interface NativeAddon {
  emulator: NativeEmulatorHooks;
  abiVersion: number;
  openBackend(name: 'cpu' | 'cann'): NativeBackend;
  CancelToken: new () => NativeCancelToken;
  /** Controls of the mock CANN runtime: only in a build with the test option (QMM_BUILD_TESTS). */
  cannMock?: {
    stats(): MockCannStats | null;
    setFault(name: string, nth: number): boolean;
    clearFaults(): boolean;
    lastViolation(): string;
  };
}

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

export function loadNative(): NativeAddon {
  if (cached) return cached;
  const tried: string[] = [];
  const errors: string[] = [];
  const override = process.env.QMM_BINDING_PATH;
  const root = packageRoot();
  const req = createRequire(path.join(root, 'package.json'));
  const attempt = (file: string): NativeAddon | undefined => {
    tried.push(file);
    try {
      const mod = req(file) as NativeAddon;
      loadedFrom = file;
      return mod;
    } catch (e) {
      errors.push(`${file}: ${(e as Error).message.split('\n')[0]}`);
      return undefined;
    }
  };
  if (override) {
    cached = attempt(path.resolve(override));
  } else {
    try {
      const ngb = req('node-gyp-build') as { resolve?: (dir: string) => string };
      if (typeof ngb.resolve === 'function') {
        const file = ngb.resolve(root);
        cached = attempt(file);
      }
    } catch (e) {
      errors.push(`node-gyp-build: ${(e as Error).message.split('\n')[0]}`);
    }
    if (!cached) cached = attempt(path.join(root, 'build', 'Release', 'ascend_quant_matmul.node'));
  }
  if (!cached) {
    throw new QmmError(
      'ERR_QMM_BACKEND',
      `could not load the ascend-quant-matmul native addon for ${process.platform}-${process.arch} (Node ${process.versions.node}, N-API ${process.versions.napi}).\n` +
        `Tried:\n  ${errors.join('\n  ')}\n` +
        'Fix: reinstall the package (npm install ascend-quant-matmul) so a prebuilt binary is picked, or build from source with ' +
        '`npx cmake-js build` (needs cmake and a C++17 compiler), or point QMM_BINDING_PATH at a built .node file.',
      { tried },
    );
  }
  return cached;
}

export function nativePath(): string | undefined {
  return loadedFrom;
}
