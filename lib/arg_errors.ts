/**
 * TypeError / RangeError with Node's argument codes, as `node:` APIs throw
 * them: `err.code` is `ERR_INVALID_ARG_TYPE` (a value of the wrong JS type),
 * `ERR_INVALID_ARG_VALUE` (the right type, not an accepted value) or
 * `ERR_OUT_OF_RANGE` (a number outside its range), and the stack's first line
 * reads `TypeError [ERR_INVALID_ARG_TYPE]: …` like Node's own.
 */

export type ArgErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' | 'ERR_OUT_OF_RANGE';

export type ArgTypeError = TypeError & { readonly code: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE' };
export type ArgRangeError = RangeError & { readonly code: 'ERR_OUT_OF_RANGE' };

function withCode<E extends Error>(e: E, code: ArgErrorCode, helper: (message: string, options?: ErrorOptions) => Error): E {
  Object.defineProperty(e, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  // Node's own way: the stack header is formatted from `name` when the stack is captured.
  Object.defineProperty(e, 'name', { value: `${e.name} [${code}]`, enumerable: false, writable: true, configurable: true });
  Error.captureStackTrace(e, helper); // the stack starts where the error was thrown
  void e.stack;
  delete (e as { name?: string }).name;
  return e;
}

/** `argument` holds a value of the wrong JS type. */
export function invalidArgType(message: string, options?: ErrorOptions): ArgTypeError {
  return withCode(new TypeError(message, options), 'ERR_INVALID_ARG_TYPE', invalidArgType) as ArgTypeError;
}

/** `argument` has the right JS type but not one of the accepted values. */
export function invalidArgValue(message: string, options?: ErrorOptions): ArgTypeError {
  return withCode(new TypeError(message, options), 'ERR_INVALID_ARG_VALUE', invalidArgValue) as ArgTypeError;
}

/** A number outside the range `argument` accepts. */
export function outOfRange(message: string, options?: ErrorOptions): ArgRangeError {
  return withCode(new RangeError(message, options), 'ERR_OUT_OF_RANGE', outOfRange) as ArgRangeError;
}
