// numpy array storage: decoding raw array bytes into typed arrays (always copied, so they are
// aligned and native little-endian), and the reads converters need (as float64 / int, in C order,
// one field of a structured array).
import { makeDType, type DType } from './dtype.js';
import { PickleError, limitError } from './limits.js';
import { halfToFloat, type NdArray, type NdData, type PyValue } from './values.js';

/** Product of a shape, refusing anything that is not a small non-negative integer. */
export function elementCount(shape: readonly number[], maxElements: number): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new PickleError('MALFORMED', `array dimension ${d} is not a non-negative integer`);
    n *= d;
    if (n > maxElements) throw limitError('maxArrayElements', `array of shape [${shape.join(', ')}] has more than ${maxElements} elements`);
  }
  return n;
}

/** Bytes the elements of a dtype occupy, validated. */
export function byteLength(dtype: DType, count: number): number {
  const n = dtype.itemsize * count;
  if (!Number.isSafeInteger(n)) throw new PickleError('MALFORMED', `array of ${count} × ${dtype.itemsize} bytes is too large`);
  return n;
}

/** Decode `count` elements of `dtype` from `raw` (which must hold exactly their bytes). */
export function decodeArrayBytes(dtype: DType, raw: Uint8Array, count: number): NdData {
  const need = byteLength(dtype, count);
  if (raw.length !== need) {
    throw new PickleError('MALFORMED', `array data is ${raw.length} bytes but ${count} elements of ${dtype.str} need ${need}`);
  }
  // Copy into a fresh buffer: typed arrays need aligned offsets, and big-endian data is swapped in place.
  const bytes = new Uint8Array(raw);
  const swap = dtype.byteorder === '>' && dtype.itemsize > 1;
  const size = dtype.itemsize;
  const swapWords = (width: number) => {
    if (!swap) return;
    for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
  };
  const buf = bytes.buffer;
  switch (dtype.char) {
    case 'b': return { type: 'bool', values: bytes };
    case 'i': case 'u': {
      swapWords(size);
      const signed = dtype.char === 'i';
      if (size === 1) return { type: 'number', values: signed ? new Int8Array(buf) : bytes };
      if (size === 2) return { type: 'number', values: signed ? new Int16Array(buf) : new Uint16Array(buf) };
      if (size === 4) return { type: 'number', values: signed ? new Int32Array(buf) : new Uint32Array(buf) };
      return { type: 'bigint', values: signed ? new BigInt64Array(buf) : new BigUint64Array(buf) };
    }
    case 'f':
      swapWords(size);
      if (size === 2) return { type: 'float16', values: new Uint16Array(buf) };
      return { type: 'number', values: size === 4 ? new Float32Array(buf) : new Float64Array(buf) };
    case 'c':
      swapWords(size / 2);
      return { type: 'complex', values: size === 8 ? new Float32Array(buf) : new Float64Array(buf) };
    case 'M': case 'm':
      swapWords(8);
      return { type: 'datetime', values: new BigInt64Array(buf) };
    case 'U': {
      const chars = size / 4;
      const out: string[] = new Array(count);
      const view = new DataView(buf);
      for (let e = 0; e < count; e++) {
        let s = '';
        for (let c = 0; c < chars; c++) {
          const cp = view.getUint32(e * size + c * 4, !swap);
          if (cp === 0) break; // numpy strips trailing NULs
          if (cp > 0x10ffff) throw new PickleError('MALFORMED', `invalid code point ${cp} in a numpy str array`);
          s += String.fromCodePoint(cp);
        }
        out[e] = s;
      }
      return { type: 'string', values: out };
    }
    case 'S': {
      const out: Uint8Array[] = new Array(count);
      for (let e = 0; e < count; e++) {
        const item = bytes.subarray(e * size, (e + 1) * size);
        let end = item.length;
        while (end > 0 && item[end - 1] === 0) end--;
        out[e] = item.slice(0, end);
      }
      return { type: 'bytes', values: out };
    }
    case 'V':
      if (swap) throw new PickleError('UNSUPPORTED', `big-endian structured arrays (${dtype.str}) are not supported`);
      return { type: 'records', bytes };
    case 'O':
      throw new PickleError('MALFORMED', 'object arrays carry a list of values, not raw bytes');
  }
}

/** Shape-only C/F reordering: index of element (C order position) inside F-ordered storage. */
function fToCIndex(shape: readonly number[]): Int32Array | undefined {
  if (shape.length < 2) return undefined;
  const n = shape.reduce((a, b) => a * b, 1);
  const map = new Int32Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  const fStrides: number[] = [];
  let s = 1;
  for (const d of shape) { fStrides.push(s); s *= d; }
  for (let c = 0; c < n; c++) {
    let f = 0;
    for (let k = 0; k < shape.length; k++) f += idx[k] * fStrides[k];
    map[c] = f;
    for (let k = shape.length - 1; k >= 0; k--) {
      if (++idx[k] < shape[k]) break;
      idx[k] = 0;
    }
  }
  return map;
}

/** Numeric elements as float64 in C (row-major) order; refuses non-numeric dtypes. */
export function toFloat64(a: NdArray): Float64Array {
  const d = a.data;
  let flat: Float64Array;
  switch (d.type) {
    case 'bool': flat = Float64Array.from(d.values); break;
    case 'number': flat = d.values instanceof Float64Array ? d.values : Float64Array.from(d.values); break;
    case 'bigint': flat = Float64Array.from(d.values, (x) => Number(x)); break;
    case 'float16': flat = Float64Array.from(d.values, halfToFloat); break;
    case 'object': {
      flat = new Float64Array(d.values.length);
      d.values.forEach((v, i) => {
        const x = numberOf(v);
        if (x === undefined) throw new PickleError('MALFORMED', `object array element ${i} is a ${v.kind}, not a number`);
        flat[i] = x;
      });
      break;
    }
    default: throw new PickleError('MALFORMED', `array of dtype ${a.dtype.name} is not numeric`);
  }
  return cOrder(a, flat);
}

/** A number from a Python int/float/bool or numpy scalar, else undefined. */
export function numberOf(v: PyValue): number | undefined {
  switch (v.kind) {
    case 'int': return Number(v.value);
    case 'float': return v.value;
    case 'bool': return v.value ? 1 : 0;
    case 'scalar': {
      const a = v.array;
      if (a.data.type === 'object' || a.data.type === 'string' || a.data.type === 'bytes' || a.data.type === 'records' || a.data.type === 'complex') return undefined;
      return toFloat64(a)[0];
    }
    default: return undefined;
  }
}

/** Any elementwise storage reordered from F to C order (no-op for C arrays and rank < 2). */
export function cOrder<T extends ArrayLike<unknown> & { slice(): T }>(a: NdArray, flat: T): T {
  if (a.order !== 'F') return flat;
  const map = fToCIndex(a.shape);
  if (!map) return flat;
  const out = flat.slice();
  const w = out as unknown as Record<number, unknown>;
  const r = flat as unknown as Record<number, unknown>;
  for (let c = 0; c < map.length; c++) w[c] = r[map[c]];
  return out;
}

/** Elements of an object / str / bytes array (in C order) as Python values or strings. */
export function toValues(a: NdArray): PyValue[] {
  const d = a.data;
  switch (d.type) {
    case 'object': return cOrder(a, d.values);
    case 'string': return cOrder(a, d.values).map((value) => ({ kind: 'str', value }));
    case 'bytes': return cOrder(a, d.values).map((value) => ({ kind: 'bytes', value, mutable: false }));
    case 'bool': return Array.from(cOrder(a, d.values), (x) => ({ kind: 'bool', value: x !== 0 }));
    case 'bigint': return Array.from(cOrder(a, d.values), (x) => ({ kind: 'int', value: x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x }));
    case 'number': return a.dtype.char === 'f'
      ? Array.from(cOrder(a, d.values), (value) => ({ kind: 'float', value }))
      : Array.from(cOrder(a, d.values), (value) => ({ kind: 'int', value }));
    case 'float16': return Array.from(cOrder(a, d.values), (x) => ({ kind: 'float', value: halfToFloat(x) }));
    default: throw new PickleError('MALFORMED', `array of dtype ${a.dtype.name} cannot be read as values`);
  }
}

/**
 * One field of a structured (record) array, e.g. sklearn's tree `nodes['threshold']`, as float64
 * (or the exact int values for integer fields, which are safe for node indices).
 */
export function recordField(a: NdArray, field: string): Float64Array {
  if (a.data.type !== 'records' || !a.dtype.fields) throw new PickleError('MALFORMED', `array of dtype ${a.dtype.name} has no fields`);
  const f = a.dtype.fields.find((x) => x.name === field);
  if (!f) throw new PickleError('MALFORMED', `record array has no field '${field}' (fields: ${a.dtype.fields.map((x) => x.name).join(', ')})`);
  const count = a.dtype.itemsize === 0 ? 0 : a.data.bytes.length / a.dtype.itemsize;
  const view = new DataView(a.data.bytes.buffer, a.data.bytes.byteOffset, a.data.bytes.byteLength);
  const out = new Float64Array(count);
  const le = f.dtype.byteorder !== '>';
  const read = fieldReader(f.dtype, view, le);
  for (let i = 0; i < count; i++) out[i] = read(i * a.dtype.itemsize + f.offset);
  return cOrder(a, out);
}

/** The field names of a structured array's dtype. */
export function recordFieldNames(a: NdArray): string[] {
  return a.dtype.fields?.map((f) => f.name) ?? [];
}

function fieldReader(t: DType, v: DataView, le: boolean): (off: number) => number {
  const key = `${t.char}${t.itemsize}`;
  switch (key) {
    case 'b1': case 'u1': return (o) => v.getUint8(o);
    case 'i1': return (o) => v.getInt8(o);
    case 'i2': return (o) => v.getInt16(o, le);
    case 'u2': return (o) => v.getUint16(o, le);
    case 'i4': return (o) => v.getInt32(o, le);
    case 'u4': return (o) => v.getUint32(o, le);
    case 'i8': return (o) => Number(v.getBigInt64(o, le));
    case 'u8': return (o) => Number(v.getBigUint64(o, le));
    case 'f2': return (o) => halfToFloat(v.getUint16(o, le));
    case 'f4': return (o) => v.getFloat32(o, le);
    case 'f8': return (o) => v.getFloat64(o, le);
    default: throw new PickleError('UNSUPPORTED', `record field of dtype ${t.name} cannot be read as a number`);
  }
}

/** An empty float64 dtype array helper for building arrays in tests and converters. */
export function float64Array(values: Float64Array, shape: number[]): NdArray {
  return { kind: 'ndarray', dtype: makeDType('f', 8), shape, order: 'C', data: { type: 'number', values } };
}
