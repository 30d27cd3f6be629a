// Limits that bound what a (possibly malicious) pickle can make the reader do, and the one error
// type the reader throws. Every limit is checked before the work it guards (a declared length is
// compared with the bytes that remain before anything is allocated).

export interface PickleLimits {
  /** Largest input accepted, after decompression (bytes). */
  maxInputBytes: number;
  /** Opcodes executed, over the whole stream (and any pickle nested in a joblib file). */
  maxOpcodes: number;
  /** Distinct memo entries. */
  maxMemoEntries: number;
  /** Values on the stack at once (all mark frames together). */
  maxStackSize: number;
  /** Open MARKs, and nesting of containers / objects in the built data. */
  maxDepth: number;
  /** Bytes of one LONG1/LONG4 integer, or digits of one text INT/LONG. */
  maxIntBytes: number;
  /** Elements of one numpy array (product of its shape). */
  maxArrayElements: number;
  /** Pickles nested inside a joblib file (object arrays are pickled inline). */
  maxNestedPickles: number;
}

export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimits> = Object.freeze({
  maxInputBytes: 1024 * 1024 * 1024,
  maxOpcodes: 20_000_000,
  maxMemoEntries: 2_000_000,
  maxStackSize: 2_000_000,
  maxDepth: 200,
  maxIntBytes: 4096,
  maxArrayElements: 500_000_000,
  maxNestedPickles: 100_000,
});

export type PickleErrorCode =
  /** A global outside the allow-list (the message names it). */
  | 'FORBIDDEN_GLOBAL'
  /** A limit of `PickleLimits` was reached (the message names it). */
  | 'LIMIT'
  /** The stream ended before STOP or before a declared length. */
  | 'TRUNCATED'
  /** Structurally wrong: stack underflow, bad memo key, wrong argument shapes. */
  | 'MALFORMED'
  /** Valid pickle the reader deliberately does not handle (unknown opcode, persistent ids, bz2…). */
  | 'UNSUPPORTED';

export class PickleError extends Error {
  override readonly name = 'PickleError';
  /** Byte offset of the opcode being executed, when known. */
  offset?: number;
  constructor(readonly code: PickleErrorCode, message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    if (offset !== undefined) this.offset = offset;
  }
}

export function limitError(limit: keyof PickleLimits, detail: string, offset?: number): PickleError {
  return new PickleError('LIMIT', `pickle exceeds the limit ${limit}: ${detail}`, offset);
}
