/**
 * Typed errors. Every failure the package reports on purpose is a `QmmError`
 * with one of the `ERR_QMM_*` codes below, or a plain `TypeError` /
 * `RangeError` for a JS value of the wrong type or out of range. Messages name
 * the argument, what was expected and what was given.
 */

export type QmmErrorCode =
  | 'ERR_QMM_SHAPE'
  | 'ERR_QMM_DTYPE'
  | 'ERR_QMM_FORMAT'
  | 'ERR_QMM_BROADCAST'
  | 'ERR_QMM_UNSUPPORTED'
  | 'ERR_QMM_DEVICE'
  | 'ERR_QMM_BACKEND'
  | 'ERR_QMM_ABORTED'
  | 'ERR_QMM_FILE'
  | 'ERR_QMM_MEMORY'
  | 'ERR_QMM_INTERNAL';

export const QMM_ERROR_CODES: readonly QmmErrorCode[] = [
  'ERR_QMM_SHAPE',
  'ERR_QMM_DTYPE',
  'ERR_QMM_FORMAT',
  'ERR_QMM_BROADCAST',
  'ERR_QMM_UNSUPPORTED',
  'ERR_QMM_DEVICE',
  'ERR_QMM_BACKEND',
  'ERR_QMM_ABORTED',
  'ERR_QMM_FILE',
  'ERR_QMM_MEMORY',
  'ERR_QMM_INTERNAL',
];

export interface QmmErrorDetails {
  /** The argument the error is about, e.g. `'x2'` or `'options.bias'`. */
  argument?: string;
  /** aclnn / acl status number (ERR_QMM_DEVICE). */
  status?: number;
  /** The device call that failed, e.g. `'aclnnQuantMatmulV5GetWorkspaceSize'`. */
  call?: string;
  /** `aclGetRecentErrMsg()` text, when the device gave one. */
  deviceMessage?: string;
  /** File path (ERR_QMM_FILE). */
  file?: string;
  /** What was tried (ERR_QMM_BACKEND: library paths). */
  tried?: string[];
  cause?: unknown;
}

/**
 * A QmmError. Its `name` is 'QmmError', or 'AbortError' for ERR_QMM_ABORTED
 * (Node's convention for aborts; the `cause` is then the signal's reason).
 */
export class QmmError extends Error {
  readonly code: QmmErrorCode;
  // `declare`: no own property unless set, so an uncaught error prints no `status: undefined`
  declare readonly argument?: string;
  declare readonly status?: number;
  declare readonly call?: string;
  declare readonly deviceMessage?: string;
  declare readonly file?: string;
  declare readonly tried?: string[];

  constructor(code: QmmErrorCode, message: string, details: QmmErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = code === 'ERR_QMM_ABORTED' ? 'AbortError' : 'QmmError';
    this.code = code;
    if (details.argument !== undefined) this.argument = details.argument;
    if (details.status !== undefined) this.status = details.status;
    if (details.call !== undefined) this.call = details.call;
    if (details.deviceMessage !== undefined) this.deviceMessage = details.deviceMessage;
    if (details.file !== undefined) this.file = details.file;
    if (details.tried !== undefined) this.tried = details.tried;
  }
}

/** The ERR_QMM_ABORTED error of a call stopped by `signal`: name 'AbortError', cause signal.reason. */
export function abortError(message: string, signal: AbortSignal | undefined): QmmError {
  return new QmmError('ERR_QMM_ABORTED', message, signal?.aborted ? { cause: signal.reason } : {});
}

export function isQmmError(e: unknown): e is QmmError {
  return e instanceof QmmError;
}

/** Turns an Error thrown by the native addon (it carries `code`) into a QmmError. */
export function fromNativeError(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (QMM_ERROR_CODES as readonly string[]).includes(code)) {
    const n = e as Error & { status?: number; call?: string; deviceMessage?: string; tried?: string[] };
    const details: QmmErrorDetails = {};
    if (typeof n.status === 'number' && n.status !== 0) details.status = n.status;
    if (typeof n.call === 'string' && n.call !== '') details.call = n.call;
    if (typeof n.deviceMessage === 'string' && n.deviceMessage !== '') details.deviceMessage = n.deviceMessage;
    if (Array.isArray(n.tried)) details.tried = n.tried;
    return new QmmError(code as QmmErrorCode, e.message, details);
  }
  return e;
}

/** `describe(value)` for messages: short, unambiguous, never throws. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of length ${(v as unknown as { length?: number }).length ?? v.byteLength}`;
  if (typeof v === 'object') {
    const name = (v as object).constructor?.name;
    return name && name !== 'Object' ? `a ${name}` : 'an object';
  }
  return typeof v;
}
