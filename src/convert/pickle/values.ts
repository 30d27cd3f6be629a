// The object model the safe pickle reader builds: plain data only. Every value is tagged with
// `kind`, so a Python int is never confused with a float, a tuple with a list, or bytes with a
// str. Nothing here holds code: instances of allow-listed classes are records of the class name,
// the constructor arguments and the state that pickle would have handed to `__setstate__`.
import type { DType } from './dtype.js';

export type PyValue =
  | PyNone
  | PyBool
  | PyInt
  | PyFloat
  | PyComplex
  | PyStr
  | PyBytes
  | PyList
  | PyTuple
  | PyDict
  | PySet
  | PySlice
  | PyGlobal
  | PyObject
  | NdArray
  | NpScalar
  | DType
  | PyPickleBuffer;

export interface PyNone { readonly kind: 'none' }
export interface PyBool { readonly kind: 'bool'; readonly value: boolean }
/** `value` is a number while it is a safe integer, else a bigint. */
export interface PyInt { readonly kind: 'int'; readonly value: number | bigint }
export interface PyFloat { readonly kind: 'float'; readonly value: number }
export interface PyComplex { readonly kind: 'complex'; readonly real: number; readonly imag: number }
export interface PyStr { readonly kind: 'str'; readonly value: string }
/** bytes, or bytearray when `mutable`. */
export interface PyBytes { readonly kind: 'bytes'; readonly value: Uint8Array; readonly mutable: boolean }
export interface PyList { readonly kind: 'list'; readonly items: PyValue[]; depth: number }
export interface PyTuple { readonly kind: 'tuple'; readonly items: readonly PyValue[]; readonly depth: number }
/** Insertion-ordered, keyed by a canonical hash of the Python key (see `hashKey`). */
export interface PyDict {
  readonly kind: 'dict';
  readonly entries: Map<string, { key: PyValue; value: PyValue }>;
  /** 'collections.OrderedDict' when built from it. */
  readonly className?: string;
  depth: number;
}
export interface PySet { readonly kind: 'set'; readonly items: Map<string, PyValue>; readonly frozen: boolean; depth: number }
export interface PySlice { readonly kind: 'slice'; readonly start: PyValue; readonly stop: PyValue; readonly step: PyValue }
/** A reference to an allow-listed class or function that was not called (e.g. `dtype=numpy.float64`). */
export interface PyGlobal { readonly kind: 'global'; readonly module: string; readonly name: string }
/**
 * An instance of an allow-listed class, as data: what `cls(*args, **kwargs)` or
 * `cls.__new__(cls, *args)` would have been called with, and the state BUILD would have set.
 */
export interface PyObject {
  readonly kind: 'object';
  /** Fully qualified name as written in the pickle, e.g. `sklearn.tree._tree.Tree`. */
  readonly className: string;
  /** How the instance was made: a call of the class (REDUCE/INST/OBJ) or `__new__` (NEWOBJ*). */
  readonly via: 'call' | 'new';
  readonly args: readonly PyValue[];
  readonly kwargs?: PyDict;
  /** The BUILD state (a dict for ordinary objects, a tuple (dict, slots) for objects with slots). */
  state?: PyValue;
  /** Items appended / set on list- or dict-like instances (APPEND(S), SETITEM(S)). */
  listItems?: PyValue[];
  dictItems?: PyDict;
  depth: number;
}
/** A numpy scalar (`numpy.core.multiarray.scalar(dtype, bytes)`): a 0-d array. */
export interface NpScalar { readonly kind: 'scalar'; readonly array: NdArray }
/** A protocol-5 PickleBuffer (in-band or out-of-band); numpy's `_frombuffer` turns it into an array. */
export interface PyPickleBuffer { readonly kind: 'picklebuffer'; readonly value: Uint8Array; readonly readonly: boolean }

/** Array element storage; the variant follows `dtype.char`. */
export type NdData =
  | { readonly type: 'bool'; readonly values: Uint8Array }
  | { readonly type: 'number'; readonly values: NumericArray }
  | { readonly type: 'bigint'; readonly values: BigInt64Array | BigUint64Array }
  /** float16: the raw IEEE half bits (decode with `halfToFloat`). */
  | { readonly type: 'float16'; readonly values: Uint16Array }
  /** complex64/128: interleaved real, imaginary. */
  | { readonly type: 'complex'; readonly values: Float32Array | Float64Array }
  | { readonly type: 'string'; readonly values: string[] }
  | { readonly type: 'bytes'; readonly values: Uint8Array[] }
  | { readonly type: 'object'; readonly values: PyValue[] }
  /** Structured / void dtypes: the raw little-endian records; read fields with `recordField`. */
  | { readonly type: 'records'; readonly bytes: Uint8Array }
  /** datetime64 / timedelta64: int64 counts in the dtype's unit. */
  | { readonly type: 'datetime'; readonly values: BigInt64Array };

export type NumericArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

export interface NdArray {
  readonly kind: 'ndarray';
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Memory order of `data`: 'F' means the first index varies fastest. */
  readonly order: 'C' | 'F';
  readonly data: NdData;
}

export const PY_NONE: PyNone = Object.freeze({ kind: 'none' });
export const PY_TRUE: PyBool = Object.freeze({ kind: 'bool', value: true });
export const PY_FALSE: PyBool = Object.freeze({ kind: 'bool', value: false });

export function pyInt(value: number | bigint): PyInt {
  if (typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return { kind: 'int', value: Number(value) };
  }
  return { kind: 'int', value };
}
export const pyFloat = (value: number): PyFloat => ({ kind: 'float', value });
export const pyStr = (value: string): PyStr => ({ kind: 'str', value });
export const pyBool = (value: boolean): PyBool => (value ? PY_TRUE : PY_FALSE);

/** Nesting depth of a value as far as the reader tracks it (containers count one level each). */
export function depthOf(v: PyValue): number {
  switch (v.kind) {
    case 'list': case 'tuple': case 'dict': case 'set': case 'object': return v.depth;
    case 'ndarray': return v.data.type === 'object' ? 2 : 1;
    case 'scalar': return 2;
    default: return 0;
  }
}

export function newDict(className?: string): PyDict {
  return className ? { kind: 'dict', entries: new Map(), className, depth: 1 } : { kind: 'dict', entries: new Map(), depth: 1 };
}

/**
 * A canonical string for a hashable Python value, so dict keys and set members compare as in
 * Python (1 == 1.0 == True; ('a', 1) as a tuple). Unhashable values throw.
 */
export function hashKey(v: PyValue): string {
  switch (v.kind) {
    case 'none': return 'N';
    case 'bool': return `n:${v.value ? 1 : 0}`;
    case 'int': return `n:${v.value.toString()}`;
    case 'float': return Number.isInteger(v.value) && Math.abs(v.value) < 2 ** 63 ? `n:${BigInt(v.value).toString()}` : `n:${v.value}`;
    case 'complex': return v.imag === 0 ? hashKey(pyFloat(v.real)) : `c:${v.real},${v.imag}`;
    case 'str': return `s:${v.value}`;
    case 'bytes': if (!v.mutable) return `b:${Buffer.from(v.value).toString('latin1')}`; break;
    case 'tuple': return `t(${v.items.map(hashKey).join('\u0000')})`;
    case 'set': if (v.frozen) return `f{${[...v.items.keys()].sort().join('\u0000')}}`; break;
    case 'global': return `g:${v.module}.${v.name}`;
    case 'scalar': {
      const first = firstElement(v.array);
      if (first !== undefined) return hashKey(first);
      break;
    }
    case 'object': return `o:${objectId(v)}`;
    case 'dtype': return `d:${v.str}`;
    default: break;
  }
  throw new TypeError(`unhashable type: '${typeName(v)}'`);
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
function objectId(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) { id = nextObjectId++; objectIds.set(o, id); }
  return id;
}

/** The first element of an array as a Python value (numpy scalars hash like their value). */
export function firstElement(a: NdArray): PyValue | undefined {
  const d = a.data;
  switch (d.type) {
    case 'bool': return d.values.length ? pyBool(d.values[0] !== 0) : undefined;
    case 'number': return d.values.length ? (a.dtype.char === 'f' ? pyFloat(d.values[0]) : pyInt(d.values[0])) : undefined;
    case 'bigint': case 'datetime': return d.values.length ? pyInt(d.values[0]) : undefined;
    case 'float16': return d.values.length ? pyFloat(halfToFloat(d.values[0])) : undefined;
    case 'string': return d.values.length ? pyStr(d.values[0]) : undefined;
    case 'bytes': return d.values.length ? { kind: 'bytes', value: d.values[0], mutable: false } : undefined;
    case 'object': return d.values[0];
    default: return undefined;
  }
}

/** Decode an IEEE 754 half-precision bit pattern. */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Python's name for the type of a value, for error messages. */
export function typeName(v: PyValue): string {
  switch (v.kind) {
    case 'none': return 'NoneType';
    case 'bytes': return v.mutable ? 'bytearray' : 'bytes';
    case 'set': return v.frozen ? 'frozenset' : 'set';
    case 'object': return v.className;
    case 'global': return `${v.module}.${v.name} (class or function)`;
    case 'ndarray': return `numpy.ndarray[${v.dtype.name}]`;
    case 'scalar': return `numpy.${v.array.dtype.name}`;
    case 'dtype': return 'numpy.dtype';
    case 'dict': return v.className ?? 'dict';
    default: return v.kind;
  }
}

/** A short, bounded description of a value for error messages (never walks deep structures). */
export function describe(v: PyValue, budget = 60): string {
  let s: string;
  switch (v.kind) {
    case 'none': s = 'None'; break;
    case 'bool': s = v.value ? 'True' : 'False'; break;
    case 'int': case 'float': s = String(v.value); break;
    case 'str': s = JSON.stringify(v.value); break;
    case 'ndarray': s = `array(shape=[${v.shape.join(',')}], dtype=${v.dtype.name})`; break;
    case 'list': case 'tuple': s = `${v.kind} of ${v.items.length}`; break;
    case 'dict': s = `dict of ${v.entries.size}`; break;
    default: s = typeName(v);
  }
  return s.length > budget ? `${s.slice(0, budget)}…` : s;
}
