/**
 * Backend choice: QMM_BACKEND=auto|cpu|cann or setBackend(). `auto` uses
 * CANN when it loads and sees a device, else the CPU emulator, quietly;
 * backendInfo() says what was chosen and why (or why nothing could be), and
 * QMM_DEBUG=1 prints it. Choosing never kills the process.
 */

import { invalidArgValue } from './arg_errors';
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
  /** The backend ops run on (when `available`), or the one that was asked for and could not be loaded. */
  backend: BackendName;
  /** False when no backend could be loaded: ops then throw ERR_QMM_BACKEND, and `reason` says why. */
  available: boolean;
  /** What was asked for (QMM_BACKEND or setBackend()). */
  requested: BackendRequest;
  /** Why this backend was chosen, or why it cannot be used. */
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
    deviceCount: i.deviceCount,
    hasDeviceMemory: i.hasDeviceMemory,
    detail: i.detail,
  };
}

function parseRequest(v: unknown, argument: string): BackendRequest {
  if (v === 'auto' || v === 'cpu' || v === 'cann') return v;
  throw invalidArgValue(`${argument} must be 'auto', 'cpu' or 'cann', got ${describe(v)}`);
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
  return { backend: b.name, available: true, requested, reason, detail: b.detail, deviceCount: b.deviceCount, binding: nativePath() };
}

function requestFromEnv(): BackendRequest {
  const env = process.env.QMM_BACKEND;
  const req = env === undefined || env === '' ? 'auto' : env;
  if (req !== 'auto' && req !== 'cpu' && req !== 'cann') {
    throw new QmmError('ERR_QMM_BACKEND', `QMM_BACKEND must be 'auto', 'cpu' or 'cann', got ${describe(req)}`, { argument: 'QMM_BACKEND' });
  }
  return req;
}

/** The backend ops run on; chosen on first use from QMM_BACKEND (default 'auto'). */
export function currentBackend(): ActiveBackend {
  if (!active) choose(requestFromEnv());
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

/**
 * What backend runs and why. Never throws: when no backend can be loaded
 * (e.g. QMM_BACKEND=cann without CANN) it says so with `available: false`.
 */
export function backendInfo(): BackendInfo {
  try {
    currentBackend();
    return { ...(info as BackendInfo) };
  } catch (e) {
    return unavailableInfo(e);
  }
}

function unavailableInfo(e: unknown): BackendInfo {
  const message = e instanceof Error ? e.message : String(e);
  const env = process.env.QMM_BACKEND;
  const requested = (env === undefined || env === '' ? 'auto' : env) as BackendRequest;
  const reason = e instanceof QmmError && e.argument === 'QMM_BACKEND'
    ? message
    : `${requested === 'cann' ? 'CANN was requested but cannot be used' : 'the native addon cannot be loaded'}: ${message}`;
  return { backend: requested === 'cann' ? 'cann' : 'cpu', available: false, requested, reason, detail: '', deviceCount: 0, binding: nativePath() };
}
