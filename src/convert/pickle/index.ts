// The safe pickle reader's public API. `readModelPickle` takes a model file as MLflow or a user
// wrote it (pickle, cloudpickle or joblib, joblib possibly zlib/gzip-compressed) and returns the
// data it describes; nothing in the file is ever executed.
import { joblibPayload } from './joblib.js';
import { DEFAULT_PICKLE_LIMITS, type PickleLimits } from './limits.js';
import { readPickle, type ReadPickleOptions } from './machine.js';
import type { PyValue } from './values.js';

export type PickleFormat = 'pickle' | 'cloudpickle' | 'joblib';

export interface ReadModelPickleOptions {
  /** How the file was written. cloudpickle and pickle read identically; joblib may be compressed. */
  format?: PickleFormat;
  limits?: Partial<PickleLimits>;
  /** Protocol-5 out-of-band buffers, in order (rare in files; pickle.dumps(buffer_callback=…)). */
  buffers?: readonly Uint8Array[];
}

/** Read a pickled model file into data. Throws PickleError naming the global, limit or defect. */
export function readModelPickle(bytes: Uint8Array, options: ReadModelPickleOptions = {}): PyValue {
  const limits = { ...DEFAULT_PICKLE_LIMITS, ...options.limits };
  // A joblib file is recognised by its compression magic whatever `format` says: a plain pickle
  // never starts with those bytes, and joblib's uncompressed layout is handled by the interpreter.
  const payload = joblibPayload(bytes, limits.maxInputBytes);
  const opts: ReadPickleOptions = { limits };
  if (options.buffers) opts.buffers = options.buffers;
  return readPickle(payload, opts);
}

export { readPickle, type ReadPickleOptions } from './machine.js';
export { DEFAULT_PICKLE_LIMITS, PickleError, type PickleErrorCode, type PickleLimits } from './limits.js';
export { allowedGlobals, resolveGlobal, shortClassName, type AllowedGlobal } from './allowlist.js';
export { PyObj, LayoutError, strEntries, type F64 } from './access.js';
export { toFloat64, toValues, recordField, recordFieldNames, numberOf, elementCount } from './ndarray.js';
export { detectCompression } from './joblib.js';
export type { DType, DTypeField } from './dtype.js';
export * from './values.js';
