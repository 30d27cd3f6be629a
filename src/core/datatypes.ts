// V2 datatypes, their element sizes and the typed arrays that hold them.

export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BF16',
  'BYTES',
] as const;
export type Datatype = (typeof DATATYPES)[number];

const DATATYPE_SET: ReadonlySet<string> = new Set(DATATYPES);
export function isDatatype(value: string): value is Datatype {
  return DATATYPE_SET.has(value);
}

/** Every fixed-size datatype; BYTES is the only variable-size one. */
export type FixedDatatype = Exclude<Datatype, 'BYTES'>;

export type NumericArray =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Float32Array
  | Float64Array;

type ArrayCtor = { new (length: number): NumericArray; new (buffer: ArrayBuffer, byteOffset: number, length: number): NumericArray; BYTES_PER_ELEMENT: number };

/**
 * The typed array that stores each fixed-size datatype. BOOL is one byte 0/1 (as in the binary
 * protocol); FP16 and BF16 are kept as their raw 16-bit patterns.
 */
export const ARRAY_OF: Record<FixedDatatype, ArrayCtor> = {
  BOOL: Uint8Array,
  UINT8: Uint8Array,
  UINT16: Uint16Array,
  UINT32: Uint32Array,
  UINT64: BigUint64Array,
  INT8: Int8Array,
  INT16: Int16Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
  BF16: Uint16Array,
};

export function elementSize(datatype: FixedDatatype): number {
  return ARRAY_OF[datatype].BYTES_PER_ELEMENT;
}

/** Inclusive ranges of the integer datatypes that fit a JS number exactly. */
export const INTEGER_RANGE: Partial<Record<Datatype, readonly [number, number]>> = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
};

export const INT64_RANGE = [-(2n ** 63n), 2n ** 63n - 1n] as const;
export const UINT64_RANGE = [0n, 2n ** 64n - 1n] as const;

/** Datatypes that cannot travel as JSON numbers (Triton rejects them too): binary only. */
export function isBinaryOnly(datatype: Datatype): boolean {
  return datatype === 'FP16' || datatype === 'BF16';
}
