// JSON values cast to a tensor datatype the way numpy / pandas cast them when MLflow builds its
// arrays (np.array(values, dtype) and DataFrame.astype): ints to floats, numeric strings to
// numbers, null to NaN for floats, floats truncated for ints. Failures carry numpy's exception
// class and text, which MLflow puts in its messages.
import { ARRAY_OF, type Datatype, type FixedDatatype, type NumericArray } from '../../core/datatypes.js';
import { bytesFromArrays, type TensorData } from '../../core/tensor.js';
import { DATATYPE_NUMPY_NAME, pyStr } from '../signature.js';
import { pythonFloatRepr } from './python-json-encode.js';
import { pyTypeName, type PyJson } from './python-json.js';

/** A cast that numpy would refuse: its exception class and message. */
export class CellError extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(message);
  }
  /** repr(exception) as Python prints it: ValueError("…") */
  get pyRepr(): string {
    const m = this.message;
    const quote = m.includes("'") && !m.includes('"') ? '"' : "'";
    return `${this.pyType}(${quote}${m.replaceAll('\\', '\\\\').replaceAll(quote, `\\${quote}`)}${quote})`;
  }
}

/** Python's str(x) of a JSON value. */
export function pyStrOf(v: PyJson | undefined): string {
  return typeof v === 'string' ? v : pyRepr(v);
}

/** Python's repr(x) of a JSON value (shortened past `limit` characters). */
export function pyRepr(v: PyJson | undefined, limit = 200): string {
  const s = reprInner(v, limit);
  return s.length > limit ? `${s.slice(0, limit)}...` : s;
}

function reprInner(v: PyJson | undefined, budget: number): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 1e16 ? String(v) : pythonFloatRepr(v);
  if (typeof v === 'string') return pyStr(v);
  const parts: string[] = [];
  let used = 0;
  const entries = Array.isArray(v) ? v.map((x) => reprInner(x, budget)) : Object.entries(v).map(([k, x]) => `${pyStr(k)}: ${reprInner(x, budget)}`);
  for (const e of entries) {
    if (used > budget) {
      parts.push('...');
      break;
    }
    parts.push(e);
    used += e.length + 2;
  }
  return Array.isArray(v) ? `[${parts.join(', ')}]` : `{${parts.join(', ')}}`;
}

const FLOAT_TEXT = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|inf(?:inity)?|nan)$/i;
const INT_TEXT = /^[+-]?\d+$/;

export function castFloat(v: PyJson | undefined): number {
  if (typeof v === 'number') return v;
  if (v === null || v === undefined) return NaN;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') {
    const s = v.trim().replaceAll('_', '');
    if (FLOAT_TEXT.test(s)) {
      const lower = s.toLowerCase().replace(/^\+/, '');
      if (lower.endsWith('nan')) return NaN;
      if (lower.endsWith('inf') || lower.endsWith('infinity')) return lower.startsWith('-') ? -Infinity : Infinity;
      return Number(s);
    }
    throw new CellError('ValueError', `could not convert string to float: ${pyStr(v)}`);
  }
  throw new CellError('TypeError', `float() argument must be a string or a real number, not '${pyTypeName(v)}'`);
}

export function castInteger(v: PyJson | undefined): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new CellError('ValueError', `cannot convert float ${Number.isNaN(v) ? 'NaN' : 'infinity'} to integer`);
    return BigInt(Math.trunc(v));
  }
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'string') {
    const s = v.trim().replaceAll('_', '');
    if (INT_TEXT.test(s)) return BigInt(s);
    throw new CellError('ValueError', `invalid literal for int() with base 10: ${pyStr(v)}`);
  }
  throw new CellError('TypeError', `int() argument must be a string, a bytes-like object or a real number, not '${pyTypeName(v)}'`);
}

export function castBool(v: PyJson | undefined): boolean {
  if (typeof v === 'boolean') return v;
  if (v === null || v === undefined) return false;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (s === 'true' || s === '1') return true;
    if (s === 'false' || s === '0') return false;
    throw new CellError('ValueError', `invalid literal for bool: ${pyStr(v)}`);
  }
  throw new CellError('TypeError', `bool() argument must be a scalar, not '${pyTypeName(v)}'`);
}

/** Text of a string cell; numbers and booleans as Python's str() prints them. */
export function castString(v: PyJson | undefined): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return pyStrOf(v);
  if (v === null || v === undefined) throw new CellError('TypeError', 'expected a string, got None (missing value)');
  throw new CellError('TypeError', `expected a string, got '${pyTypeName(v)}'`);
}

const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/;
export function castBase64(v: PyJson | undefined): Uint8Array {
  const s = castString(v);
  if (!BASE64.test(s)) throw new CellError('binascii.Error', 'Incorrect padding or invalid base64 characters');
  return new Uint8Array(Buffer.from(s, 'base64'));
}

const INT_BOUNDS: Partial<Record<Datatype, readonly [bigint, bigint]>> = {
  INT8: [-128n, 127n],
  INT16: [-32768n, 32767n],
  INT32: [-(2n ** 31n), 2n ** 31n - 1n],
  INT64: [-(2n ** 63n), 2n ** 63n - 1n],
  UINT8: [0n, 255n],
  UINT16: [0n, 65535n],
  UINT32: [0n, 2n ** 32n - 1n],
  UINT64: [0n, 2n ** 64n - 1n],
};

/** Fills a typed array of one datatype, one cell at a time. */
export interface CellSink {
  readonly datatype: Datatype;
  set(i: number, v: PyJson | undefined): void;
  finish(): TensorData;
}

export function cellSink(datatype: Datatype, length: number, options: { base64?: boolean } = {}): CellSink {
  if (datatype === 'BYTES') {
    const items = new Array<Uint8Array>(length);
    const enc = new TextEncoder();
    return {
      datatype,
      set(i, v) {
        items[i] = options.base64 ? castBase64(v) : enc.encode(castString(v));
      },
      finish: () => bytesFromArrays(items),
    };
  }
  if (datatype === 'FP16' || datatype === 'BF16') {
    throw new CellError('TypeError', `${datatype} inputs cannot be read from JSON`);
  }
  const data = new ARRAY_OF[datatype as FixedDatatype](length) as NumericArray;
  if (datatype === 'FP32' || datatype === 'FP64') {
    const f = data as Float32Array | Float64Array;
    return { datatype, set: (i, v) => void (f[i] = castFloat(v)), finish: () => data };
  }
  if (datatype === 'BOOL') {
    const b = data as Uint8Array;
    return { datatype, set: (i, v) => void (b[i] = castBool(v) ? 1 : 0), finish: () => data };
  }
  const [lo, hi] = INT_BOUNDS[datatype]!;
  const name = DATATYPE_NUMPY_NAME[datatype];
  const check = (x: bigint): bigint => {
    if (x < lo || x > hi) throw new CellError('OverflowError', `Python integer ${x} out of bounds for ${name}`);
    return x;
  };
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return { datatype, set: (i, v) => void (data[i] = check(castInteger(v))), finish: () => data };
  }
  const n = data as Exclude<NumericArray, BigInt64Array | BigUint64Array>;
  return { datatype, set: (i, v) => void (n[i] = Number(check(castInteger(v)))), finish: () => data };
}
