// Merging requests along dim 0 and splitting the outputs back.
// Merge copies each request's data once into one buffer (transferable to a worker); split hands each
// request views into the batch's output buffers, not copies.
import { ARRAY_OF, type FixedDatatype, type NumericArray } from '../core/datatypes.js';
import { internal } from '../core/errors.js';
import { elementCount, isBytesData, type BytesData, type Tensor, type TensorData } from '../core/tensor.js';

/** Requests can share a batch when their inputs agree on names, datatypes and every dim but dim 0. */
export function batchSignature(inputs: readonly Tensor[]): string {
  // One input (the common case) needs no sorting; every queued request of a batching model pays this.
  if (inputs.length === 1) return inputSignature(inputs[0]);
  return inputs.map(inputSignature).sort().join('|');
}

function inputSignature(t: Tensor): string {
  let dims = '';
  for (let i = 1; i < t.shape.length; i++) dims += i === 1 ? `${t.shape[i]}` : `x${t.shape[i]}`;
  return `${t.name}:${t.datatype}:${dims}:${t.shape.length}`;
}

/** Rows along dim 0, or -1 when the inputs disagree (or a scalar input): such a request runs alone. */
export function batchRows(inputs: readonly Tensor[]): number {
  let rows = -1;
  for (const t of inputs) {
    if (t.shape.length === 0) return -1;
    if (rows === -1) rows = t.shape[0];
    else if (t.shape[0] !== rows) return -1;
  }
  return rows;
}

function concatBytes(parts: BytesData[]): BytesData {
  const count = parts.reduce((n, p) => n + p.offsets.length - 1, 0);
  const total = parts.reduce((n, p) => n + p.values.byteLength, 0);
  const values = new Uint8Array(total);
  const offsets = new Uint32Array(count + 1);
  let v = 0;
  let e = 0;
  for (const p of parts) {
    values.set(p.values, v);
    const n = p.offsets.length - 1;
    for (let i = 1; i <= n; i++) offsets[e + i] = v + p.offsets[i];
    v += p.values.byteLength;
    e += n;
  }
  return { kind: 'bytes', values, offsets };
}

/** One input tensor per name, rows of every request in order. */
export function mergeInputs(requests: readonly (readonly Tensor[])[]): Tensor[] {
  const first = requests[0];
  return first.map((template) => {
    const parts = requests.map((inputs) => inputs.find((t) => t.name === template.name)!);
    const rows = parts.reduce((n, t) => n + t.shape[0], 0);
    const shape = [rows, ...template.shape.slice(1)];
    let data: TensorData;
    if (isBytesData(template.data)) {
      data = concatBytes(parts.map((t) => t.data as BytesData));
    } else {
      const merged = new ARRAY_OF[template.datatype as FixedDatatype](elementCount(shape));
      let offset = 0;
      for (const t of parts) {
        const a = t.data as NumericArray;
        (merged as Float32Array).set(a as Float32Array, offset);
        offset += a.length;
      }
      data = merged;
    }
    return { name: template.name, datatype: template.datatype, shape, data };
  });
}

function sliceRows(t: Tensor, start: number, rows: number): Tensor {
  const perRow = elementCount(t.shape.slice(1));
  const shape = [rows, ...t.shape.slice(1)];
  if (isBytesData(t.data)) {
    const from = start * perRow;
    const to = (start + rows) * perRow;
    const base = t.data.offsets[from];
    const offsets = t.data.offsets.slice(from, to + 1).map((o) => o - base);
    return { name: t.name, datatype: t.datatype, shape, data: { kind: 'bytes', values: t.data.values.subarray(base, t.data.offsets[to]), offsets } };
  }
  const a = t.data as NumericArray;
  return { name: t.name, datatype: t.datatype, shape, data: a.subarray(start * perRow, (start + rows) * perRow) as NumericArray };
}

/**
 * Splits batch outputs by each request's row count. A model that answers with a different batch
 * dimension than it was given fails the whole batch: rows could not be attributed.
 */
export function splitOutputs(outputs: readonly Tensor[], rowsPerRequest: readonly number[], model: string): Tensor[][] {
  const total = rowsPerRequest.reduce((a, b) => a + b, 0);
  for (const o of outputs) {
    if (o.shape.length === 0 || o.shape[0] !== total) {
      throw internal(
        `model '${model}' returned output '${o.name}' with shape [${o.shape.join(',')}] for a batch of ${total} rows: its first dimension must be the batch dimension`,
      );
    }
  }
  const out: Tensor[][] = [];
  let start = 0;
  for (const rows of rowsPerRequest) {
    out.push(outputs.map((o) => sliceRows(o, start, rows)));
    start += rows;
  }
  return out;
}
