/**
 * Backend choice (DESIGN decision 2): QMM_BACKEND=auto|cpu|cann or
 * setBackend(). `auto` uses CANN when it loads and sees a device, else the
 * CPU emulator, quietly; backendInfo() says what was chosen and why, and
 * QMM_DEBUG=1 prints it. Choosing never kills the process.
 */

import { describe, fromNativeError, QmmError } from './errors';
import { loadNative, nativePath, type NativeBackend } from './native';

export type BackendName = 'cpu' | 'cann';
export type BackendRequest = 'auto' | BackendName;

export interface ActiveBackend {
  readonly name: BackendName;
  readonly handle: NativeBackend;
  readonly deviceCount: number;
  readonly hasDeviceMemory: boolean;
  readonly detail: string;
}

export interface BackendInfo {
  /** The backend ops run on. */
  backend: BackendName;
  /** What was asked for (QMM_BACKEND or setBackend()). */
  requested: BackendRequest;
  /** Why this backend was chosen, in one sentence. */
  reason: string;
  /** Backend details: kernel and threads (cpu), library paths and version (cann). */
  detail: string;
  /** Devices usable as npu:N (emulated devices on the cpu backend). */
  deviceCount: number;
  /** Path of the native addon in use. */
  binding: string | undefined;
  /** Why CANN was not used, when `auto` fell back to the emulator. */
  cannError?: string;
}

let active: ActiveBackend | undefined;
let info: BackendInfo | undefined;

const EMULATED_DEVICES = 8;

function open(name: BackendName): ActiveBackend {
  let handle: NativeBackend;
  try {
    handle = loadNative().openBackend(name);
  } catch (e) {
    throw fromNativeError(e);
  }
  const i = handle.info();
  return {
    name,
    handle,
    deviceCount: name === 'cpu' ? EMULATED_DEVICES : i.deviceCount,
    hasDeviceMemory: i.hasDeviceMemory,
    detail: i.detail,
  };
}

function parseRequest(v: unknown, argument: string): BackendRequest {
  if (v === 'auto' || v === 'cpu' || v === 'cann') return v;
  throw new TypeError(`${argument} must be 'auto', 'cpu' or 'cann', got ${describe(v)}`);
}

function choose(requested: BackendRequest): void {
  if (requested === 'cpu') {
    active = open('cpu');
    info = makeInfo(active, requested, 'the CPU emulator was requested');
  } else if (requested === 'cann') {
    active = open('cann'); // throws ERR_QMM_BACKEND with the paths tried
    info = makeInfo(active, requested, 'CANN was requested and loaded');
  } else {
    try {
      active = open('cann');
      info = makeInfo(active, requested, `CANN loaded and sees ${active.deviceCount} device(s)`);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      active = open('cpu');
      info = makeInfo(active, requested, 'CANN is not available here, so the bit-faithful CPU emulator runs instead');
      info.cannError = msg;
    }
  }
  if (process.env.QMM_DEBUG === '1') {
    process.stderr.write(`[ascend-quant-matmul] backend=${info.backend} (${info.reason}); ${info.detail}${info.cannError ? `; CANN: ${info.cannError}` : ''}\n`);
  }
}

function makeInfo(b: ActiveBackend, requested: BackendRequest, reason: string): BackendInfo {
  return { backend: b.name, requested, reason, detail: b.detail, deviceCount: b.deviceCount, binding: nativePath() };
}

/** The backend ops run on; chosen on first use from QMM_BACKEND (default 'auto'). */
export function currentBackend(): ActiveBackend {
  if (!active) {
    const env = process.env.QMM_BACKEND;
    const req = env === undefined || env === '' ? 'auto' : env;
    if (req !== 'auto' && req !== 'cpu' && req !== 'cann') {
      throw new QmmError('ERR_QMM_BACKEND', `QMM_BACKEND must be 'auto', 'cpu' or 'cann', got ${describe(req)}`, { argument: 'QMM_BACKEND' });
    }
    choose(req);
  }
  return active as ActiveBackend;
}

/**
 * Switches backend for the ops that follow. Tensors already on npu devices of
 * the previous backend stay usable only with it; move them with .cpu() first.
 */
export function setBackend(name: BackendRequest): BackendInfo {
  choose(parseRequest(name, 'backend'));
  return backendInfo();
}

/** What backend runs and why. */
export function backendInfo(): BackendInfo {
  currentBackend();
  return { ...(info as BackendInfo) };
}
