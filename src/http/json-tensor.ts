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
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Decodes the `data` of input `where` (e.g. "input 'x'") for the given datatype and shape.
 * Throws a 400 naming the input, the element and the problem.
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
  if (datatype === 'BYTES') return decodeBytes(where, shape, count, data);
  const array = new ARRAY_OF[datatype](count);
  const write = writerFor(where, datatype, array);
  let n = 0;
  const walk = (node: JsonValue[], depth: number): void => {
    if (depth > MAX_JSON_DEPTH) throw badRequest(`${where}: 'data' nested deeper than ${MAX_JSON_DEPTH}`);
    for (let i = 0; i < node.length; i++) {
      const v = node[i];
      if (Array.isArray(v)) {
        walk(v, depth + 1);
      } else {
        if (n >= count) throw countMismatch(where, shape, count, n + 1);
        write(v, n++);
      }
    }
  };
  walk(data, 1);
  if (n !== count) throw countMismatch(where, shape, count, n);
  return array;
}

function countMismatch(where: string, shape: readonly number[], expected: number, got: number): Error {
  const more = got > expected ? 'at least ' : '';
  return badRequest(
    `${where}: shape [${shape.join(',')}] needs ${expected} elements but 'data' has ${more}${got}`,
  );
}

function decodeBytes(where: string, shape: readonly number[], count: number, data: JsonValue[]): BytesData {
  const parts: Uint8Array[] = [];
  const walk = (node: JsonValue[], depth: number): void => {
    if (depth > MAX_JSON_DEPTH) throw badRequest(`${where}: 'data' nested deeper than ${MAX_JSON_DEPTH}`);
    for (const v of node) {
      if (Array.isArray(v)) walk(v, depth + 1);
      else if (typeof v === 'string') parts.push(utf8.encode(v));
      else throw badRequest(`${where}: element ${parts.length} is ${describe(v)}, expected a string for BYTES`);
    }
  };
  walk(data, 1);
  if (parts.length !== count) throw countMismatch(where, shape, count, parts.length);
  const offsets = new Uint32Array(count + 1);
  let total = 0;
  for (let i = 0; i < count; i++) offsets[i + 1] = total += parts[i].length;
  const values = new Uint8Array(total);
  for (let i = 0; i < count; i++) values.set(parts[i], offsets[i]);
  return { kind: 'bytes', values, offsets };
}

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
      return (v, i) => {
        if (typeof v === 'number') a[i] = v;
        else if (v === null) a[i] = NaN; // JSON has no NaN; MLServer reads null as NaN too
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
