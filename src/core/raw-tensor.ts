// Raw tensor bytes <-> tensor data. One layout serves Triton's HTTP binary extension and gRPC's
// raw_input_contents / raw_output_contents: little-endian, row-major, no padding; BOOL one byte;
// BYTES as a 4-byte little-endian length before each element.
import { ARRAY_OF, elementSize, type Datatype, type FixedDatatype, type NumericArray } from './datatypes.js';
import { badRequest } from './errors.js';
import { elementCount, isBytesData, type BytesData, type TensorData } from './tensor.js';

/**
 * Decodes `bytes` (a view into a larger body, usually) into data that owns its buffer: one copy,
 * which also aligns it and makes it transferable to a worker.
 */
export function decodeRaw(where: string, datatype: Datatype, shape: readonly number[], bytes: Uint8Array): TensorData {
  const count = elementCount(shape);
  if (datatype === 'BYTES') return decodeRawBytes(where, count, bytes);
  const size = elementSize(datatype as FixedDatatype);
  if (bytes.byteLength !== count * size) {
    throw badRequest(
      `${where}: shape [${shape.join(',')}] of ${datatype} needs ${count * size} bytes but ${bytes.byteLength} were given`,
    );
  }
  const array = new ARRAY_OF[datatype as FixedDatatype](count);
  new Uint8Array(array.buffer).set(bytes);
  return array;
}

function decodeRawBytes(where: string, count: number, bytes: Uint8Array): BytesData {
  // Every element takes at least its 4-byte length: a count the bytes cannot hold is refused
  // before its offsets are allocated.
  if (count * 4 > bytes.byteLength) {
    throw badRequest(`${where}: ${count} BYTES elements need at least ${count * 4} bytes but ${bytes.byteLength} were given`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offsets = new Uint32Array(count + 1);
  let pos = 0;
  let total = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 4 > bytes.byteLength) {
      throw badRequest(`${where}: BYTES data ends after ${i} of ${count} elements`);
    }
    const length = view.getUint32(pos, true);
    pos += 4 + length;
    if (pos > bytes.byteLength) {
      throw badRequest(`${where}: BYTES element ${i} claims ${length} bytes but the data ends before them`);
    }
    total += length;
    offsets[i + 1] = total;
  }
  if (pos !== bytes.byteLength) {
    throw badRequest(`${where}: ${bytes.byteLength - pos} bytes left over after ${count} BYTES elements`);
  }
  const values = new Uint8Array(total);
  pos = 0;
  for (let i = 0; i < count; i++) {
    const length = offsets[i + 1] - offsets[i];
    values.set(bytes.subarray(pos + 4, pos + 4 + length), offsets[i]);
    pos += 4 + length;
  }
  return { kind: 'bytes', values, offsets };
}

/** The raw bytes of tensor data: a view (no copy) for fixed-size types, framed for BYTES. */
export function encodeRaw(data: TensorData): Uint8Array {
  if (!isBytesData(data)) {
    const a = data as NumericArray;
    return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  }
  const n = data.offsets.length - 1;
  const out = new Uint8Array(4 * n + data.values.byteLength);
  const view = new DataView(out.buffer);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const start = data.offsets[i];
    const length = data.offsets[i + 1] - start;
    view.setUint32(pos, length, true);
    out.set(data.values.subarray(start, start + length), pos + 4);
    pos += 4 + length;
  }
  return out;
}

/** Byte size of the raw form, without building it. */
export function rawByteLength(data: TensorData): number {
  if (!isBytesData(data)) return (data as NumericArray).byteLength;
  return 4 * (data.offsets.length - 1) + data.values.byteLength;
}
