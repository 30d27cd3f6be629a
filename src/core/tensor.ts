// Tensors: a name, a datatype, a shape and the data in one typed array. BYTES tensors keep all
// elements in one buffer with offsets, so they too cross to workers as transferable buffers.
import type { Datatype, NumericArray } from './datatypes.js';
import type { Parameters } from './types.js';

/** Variable-length elements packed end to end: element i is values[offsets[i] .. offsets[i+1]). */
export interface BytesData {
  readonly kind: 'bytes';
  readonly values: Uint8Array;
  readonly offsets: Uint32Array;
}

export type TensorData = NumericArray | BytesData;

export interface Tensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: TensorData;
  parameters?: Parameters;
}

export function isBytesData(data: TensorData): data is BytesData {
  return (data as BytesData).kind === 'bytes';
}

/** Product of the dims; the empty shape is a scalar with one element. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function dataLength(data: TensorData): number {
  return isBytesData(data) ? data.offsets.length - 1 : data.length;
}

export function bytesElement(data: BytesData, i: number): Uint8Array {
  return data.values.subarray(data.offsets[i], data.offsets[i + 1]);
}

const utf8 = new TextEncoder();

/** Packs strings as UTF-8 into one BytesData. */
export function bytesFromStrings(strings: readonly string[]): BytesData {
  const encoded = strings.map((s) => utf8.encode(s));
  return bytesFromArrays(encoded);
}

export function bytesFromArrays(elements: readonly Uint8Array[]): BytesData {
  const offsets = new Uint32Array(elements.length + 1);
  let total = 0;
  for (let i = 0; i < elements.length; i++) {
    total += elements[i].length;
    offsets[i + 1] = total;
  }
  const values = new Uint8Array(total);
  for (let i = 0; i < elements.length; i++) values.set(elements[i], offsets[i]);
  return { kind: 'bytes', values, offsets };
}

/**
 * The buffers to move (not copy) to another thread. A view over part of a larger buffer (a slice of
 * a socket read, say) cannot be transferred without detaching its neighbours, so it is left to be
 * cloned; decoders allocate whole buffers for the hot path.
 */
export function transferables(tensors: readonly Tensor[], into: ArrayBuffer[] = []): ArrayBuffer[] {
  const add = (view: ArrayBufferView): void => {
    const buffer = view.buffer;
    if (buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buffer.byteLength && !into.includes(buffer)) {
      into.push(buffer);
    }
  };
  for (const t of tensors) {
    if (isBytesData(t.data)) {
      add(t.data.values);
      add(t.data.offsets);
    } else {
      add(t.data);
    }
  }
  return into;
}
