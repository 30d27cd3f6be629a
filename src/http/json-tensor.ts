// V2 JSON tensor data <-> typed arrays. Decoding walks the (flat or nested) JSON array once and
// writes straight into a typed array of the size the shape gives; encoding builds the JSON text of
// the flat data without intermediate JS arrays of elements.
import {
  ARRAY_OF,
  INT64_RANGE,
  INTEGER_RANGE,
  UINT64_RANGE,
  isBinaryOnly,
  type Datatype,
  type FixedDatatype,
  type NumericArray,
} from '../core/datatypes.js';
import { badRequest } from '../core/errors.js';
import { bytesElement, elementCount, type BytesData, type TensorData } from '../core/tensor.js';
import { MAX_JSON_DEPTH, type JsonValue } from './exact-json.js';

type Writer = (value: JsonValue, index: number) => void;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

function describe(value: JsonValue): string {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && !Number.isFinite(value)) return 'a number beyond the range of a double';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Decodes the `data` of input `where` (e.g. "input 'x'") for the given datatype and shape.
 * Throws a 400 naming the input, the element and the problem.
 *
 * `data` may be flat or nested, but nested data must be regular (an N-dimensional array): every
 * array at one depth has the same length and holds only arrays or only values. Ragged data is
 * refused, not flattened (flattening [[1,2],[3]] to three elements hides a client bug). The
 * element count the nesting gives is checked against the shape before the typed array is
 * allocated, so a tiny body naming a huge shape allocates nothing.
 */
export function decodeJsonData(where: string, datatype: Datatype, shape: readonly number[], data: JsonValue): TensorData {
  if (isBinaryOnly(datatype)) {
    throw badRequest(
      `${where}: receiving ${datatype} data via JSON is not supported; send it with the binary tensor data extension`,
    );
  }
  const count = elementCount(shape);
  if (!Array.isArray(data)) {
    // A bare scalar is accepted for a one-element tensor, as Triton's reader does.
    if (count !== 1 || data === null || typeof data === 'object') {
      throw badRequest(`${where}: 'data' must be an array`);
    }
    data = [data];
  }
  const dims = nestedDims(where, data);
  let leaves = 1;
  for (const d of dims) leaves *= d;
  if (leaves !== count) {
    checkRegular(where, data, dims); // ragged data says so, rather than miscounting
    throw countMismatch(where, shape, count, leaves);
  }
  if (datatype === 'BYTES') return decodeBytes(where, count, data, dims);
  const array = new ARRAY_OF[datatype](count);
  const write = writerFor(where, datatype, array);
  if (dims.length === 1) {
    for (let i = 0; i < count; i++) write(data[i], i);
    return array;
  }
  let n = 0;
  walkRegular(where, data, dims, (v) => write(v, n++));
  return array;
}

/** The lengths along the first element at each depth: [rows, cols, ...] for regular data. */
function nestedDims(where: string, data: JsonValue[]): number[] {
  const dims: number[] = [];
  let node: JsonValue = data;
  while (Array.isArray(node)) {
    if (dims.length >= MAX_JSON_DEPTH) throw badRequest(`${where}: 'data' nested deeper than ${MAX_JSON_DEPTH}`);
    dims.push(node.length);
    if (node.length === 0) break;
    node = node[0];
  }
  return dims;
}

function raggedError(where: string, path: string, problem: string): Error {
  return badRequest(`${where}: 'data' is ragged: data${path} ${problem} (nested data must be a regular N-dimensional array)`);
}

/**
 * Visits the values of regular nested data in row-major order; throws naming the first place
 * where it is not regular.
 */
function walkRegular(where: string, data: JsonValue[], dims: readonly number[], visit: (value: JsonValue) => void): void {
  const last = dims.length - 1;
  const walk = (node: JsonValue[], depth: number, path: string): void => {
    if (node.length !== dims[depth]) throw raggedError(where, path, `has ${node.length} elements where data${'[0]'.repeat(depth)} has ${dims[depth]}`);
    for (let i = 0; i < node.length; i++) {
      const v = node[i];
      if (depth < last) {
        if (!Array.isArray(v)) throw raggedError(where, `${path}[${i}]`, `is a value where an array of ${dims[depth + 1]} is expected`);
        walk(v, depth + 1, `${path}[${i}]`);
      } else {
        if (Array.isArray(v)) throw raggedError(where, `${path}[${i}]`, 'is an array where a value is expected');
        visit(v);
      }
    }
  };
  walk(data, 0, '');
}

/** Throws if `data` is not regular (used to explain an element count that does not match). */
function checkRegular(where: string, data: JsonValue[], dims: readonly number[]): void {
  walkRegular(where, data, dims, () => undefined);
}

function countMismatch(where: string, shape: readonly number[], expected: number, got: number): Error {
  return badRequest(`${where}: shape [${shape.join(',')}] needs ${expected} elements but 'data' has ${got}`);
}

function decodeBytes(where: string, count: number, data: JsonValue[], dims: readonly number[]): BytesData {
  const parts: Uint8Array[] = new Array<Uint8Array>(count);
  let n = 0;
  walkRegular(where, data, dims, (v) => {
    if (typeof v !== 'string') throw badRequest(`${where}: element ${n} is ${describe(v)}, expected a string for BYTES`);
    // A lone surrogate (an escape such as "\ud800") is not Unicode text: encoding it would
    // silently become U+FFFD. The body itself was checked to be valid UTF-8 before parsing.
    if (!(v as WellFormed).isWellFormed()) throw badRequest(`${where}: element ${n} is not valid Unicode text (a lone surrogate escape)`);
    parts[n++] = utf8.encode(v);
  });
  const offsets = new Uint32Array(count + 1);
  let total = 0;
  for (let i = 0; i < count; i++) offsets[i + 1] = total += parts[i].length;
  const values = new Uint8Array(total);
  for (let i = 0; i < count; i++) values.set(parts[i], offsets[i]);
  return { kind: 'bytes', values, offsets };
}

/** String.prototype.isWellFormed (ES2024, in every supported Node) until the TypeScript lib has it. */
type WellFormed = string & { isWellFormed(): boolean };

function writerFor(where: string, datatype: FixedDatatype, array: NumericArray): Writer {
  const bad = (value: JsonValue, index: number, expected: string): never => {
    throw badRequest(`${where}: element ${index} is ${describe(value)}, expected ${expected}`);
  };
  switch (datatype) {
    case 'BOOL': {
      const a = array as Uint8Array;
      return (v, i) => {
        if (typeof v === 'boolean') a[i] = v ? 1 : 0;
        else if (v === 0 || v === 1) a[i] = v;
        else bad(v, i, 'a boolean for BOOL');
      };
    }
    case 'FP32':
    case 'FP64': {
      const a = array as Float32Array | Float64Array;
      const range = datatype === 'FP32' ? '±3.4028235e38' : '±1.7976931348623157e308';
      return (v, i) => {
        if (typeof v === 'number') {
          a[i] = v;
          // A finite literal beyond the type's range (1e400, or 1e39 for FP32) would become
          // Infinity without a word; infinities are sent as the strings "Infinity"/"-Infinity".
          if (a[i] - a[i] !== 0) bad(v, i, `a number within ${range} for ${datatype} (send "Infinity" or "-Infinity" for an infinite value)`);
        } else if (v === null) a[i] = NaN; // JSON has no NaN; MLServer reads null as NaN too
        else if (typeof v === 'bigint') a[i] = Number(v);
        else if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') a[i] = Number(v);
        else bad(v, i, `a number for ${datatype}`);
      };
    }
    case 'INT64':
    case 'UINT64': {
      const a = array as BigInt64Array | BigUint64Array;
      const [lo, hi] = datatype === 'INT64' ? INT64_RANGE : UINT64_RANGE;
      return (v, i) => {
        let b: bigint;
        if (typeof v === 'bigint') b = v;
        else if (typeof v === 'number' && Number.isInteger(v)) b = BigInt(v);
        else return bad(v, i, `an integer for ${datatype}`);
        if (b < lo || b > hi) bad(v, i, `an integer in [${lo}, ${hi}] for ${datatype}`);
        a[i] = b;
      };
    }
    default: {
      const [lo, hi] = INTEGER_RANGE[datatype]!;
      const a = array as Exclude<NumericArray, BigInt64Array | BigUint64Array>;
      return (v, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v)) bad(v, i, `an integer for ${datatype}`);
        else if (v < lo || v > hi) bad(v, i, `an integer in [${lo}, ${hi}] for ${datatype}`);
        else a[i] = v;
      };
    }
  }
}

/**
 * The JSON text of a tensor's data, flat and row-major. Integer arrays (BigInt ones included) join
 * to exact decimal text; floats print the shortest text that reads back to the same value, and
 * NaN/±Infinity, which JSON cannot hold, become null.
 */
export function encodeJsonData(datatype: Datatype, data: TensorData): string {
  if (datatype === 'BYTES') {
    const bytes = data as BytesData;
    const n = bytes.offsets.length - 1;
    let out = '[';
    for (let i = 0; i < n; i++) {
      if (i > 0) out += ',';
      out += JSON.stringify(utf8Decoder.decode(bytesElement(bytes, i)));
    }
    return out + ']';
  }
  if (isBinaryOnly(datatype)) {
    throw badRequest(`sending ${datatype} data via JSON is not supported; request it as binary data`);
  }
  const array = data as NumericArray;
  if (datatype === 'BOOL') {
    let out = '[';
    for (let i = 0; i < array.length; i++) out += i === 0 ? (array[i] ? 'true' : 'false') : array[i] ? ',true' : ',false';
    return out + ']';
  }
  if (datatype === 'FP32' || datatype === 'FP64') {
    const floats = array as Float32Array | Float64Array;
    let finite = true;
    for (let i = 0; i < floats.length; i++) {
      const x = floats[i];
      if (x - x !== 0) {
        finite = false;
        break;
      }
    }
    if (!finite) {
      let out = '[';
      for (let i = 0; i < floats.length; i++) {
        if (i > 0) out += ',';
        out += Number.isFinite(floats[i]) ? String(floats[i]) : 'null';
      }
      return out + ']';
    }
  }
  return '[' + Array.prototype.join.call(array, ',') + ']';
}
