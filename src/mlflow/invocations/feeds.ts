// From what reached MLflow's predict to the runtime's inputs, as the flavors feed their models:
// a column DataFrame becomes one [n, k] matrix for a single-input model (sklearn, xgboost, and the
// ONNX flavor's `{input: df.values}`) or one column per input by name; arrays go to the single
// input or to the inputs of the same names. Values are cast to each input's datatype (the ONNX
// flavor casts float64 to float32; FP64 stays FP64 for float64 graphs).
import { ARRAY_OF, type Datatype, type FixedDatatype, type NumericArray } from '../../core/datatypes.js';
import { dataLength, isBytesData, type Tensor, type TensorData } from '../../core/tensor.js';
import type { TensorMetadata } from '../../core/types.js';
import { badRequest, invalidParameter } from '../errors.js';
import type { ServingPlan } from '../plan.js';
import { pyTuple } from '../signature.js';
import type { ModelInput } from './decode.js';

/** The runtime's inputs, in the runtime's order. */
export function toRuntimeFeeds(input: ModelInput, plan: ServingPlan): Tensor[] {
  const runtime = plan.runtimeInputs;
  if (input.kind === 'columns') {
    const schema = plan.inputSchema;
    if (schema.kind !== 'columns') throw new Error('column input for a tensor schema');
    if (runtime.length === 1) {
      const target = runtime[0];
      const missing = input.columns.findIndex((c) => c === undefined);
      if (missing >= 0) {
        throw invalidParameter(`Column '${schema.columns[missing].name}' is optional in the signature, but the model's input '${target.name}' needs every column`);
      }
      const cols = input.columns as Tensor[];
      const rows = input.rows;
      const shape = target.shape.length === 1 ? [rows] : [rows, cols.length];
      return [checkShape({ name: target.name, datatype: target.datatype, shape, data: stackColumns(cols, rows, target.datatype) }, target)];
    }
    return runtime.map((target) => {
      const i = schema.columns.findIndex((c) => c.name === target.name);
      const col = input.columns[i];
      if (col === undefined) throw invalidParameter(`Column '${target.name}' is optional in the signature, but the model needs it`);
      const shape = target.shape.length === 2 ? [input.rows, 1] : [input.rows];
      return checkShape({ name: target.name, datatype: target.datatype, shape, data: castData(col.data, col.datatype, target.datatype, target.name) }, target);
    });
  }
  const schema = plan.inputSchema;
  if (schema.kind !== 'tensors') throw new Error('tensor input for a column schema');
  if (!schema.named) {
    const target = runtime[0];
    const t = input.tensors[0];
    return [checkShape({ name: target.name, datatype: target.datatype, shape: t.shape, data: castData(t.data, t.datatype, target.datatype, target.name) }, target)];
  }
  return runtime.map((target) => {
    const i = schema.tensors.findIndex((s) => s.name === target.name);
    const t = input.tensors[i];
    return checkShape({ name: target.name, datatype: target.datatype, shape: t.shape, data: castData(t.data, t.datatype, target.datatype, target.name) }, target);
  });
}

/** The runtime's rank and fixed dimensions, checked here so the error speaks MLflow's language. */
function checkShape(t: Tensor, target: TensorMetadata): Tensor {
  const ok = t.shape.length === target.shape.length && target.shape.every((d, i) => d < 0 || d === t.shape[i]);
  if (!ok) {
    throw invalidParameter(`Shape of input ${pyTuple(t.shape)} does not match the model's input '${target.name}' of shape ${pyTuple(target.shape)}.`);
  }
  return t;
}

/** Columns side by side as one row-major [rows, k] array of the target datatype. */
function stackColumns(cols: Tensor[], rows: number, datatype: Datatype): TensorData {
  const k = cols.length;
  if (datatype === 'BYTES') {
    const parts: Uint8Array[] = [];
    for (let r = 0; r < rows; r++) {
      for (const c of cols) {
        if (!isBytesData(c.data)) throw badRequest(`column '${c.name}' is not text but the model's input is`);
        parts.push(c.data.values.subarray(c.data.offsets[r], c.data.offsets[r + 1]));
      }
    }
    const offsets = new Uint32Array(parts.length + 1);
    let total = 0;
    parts.forEach((p, i) => (offsets[i + 1] = total += p.length));
    const values = new Uint8Array(total);
    parts.forEach((p, i) => values.set(p, offsets[i]));
    return { kind: 'bytes', values, offsets };
  }
  if (datatype === 'FP16' || datatype === 'BF16') throw badRequest(`the model's input is ${datatype}, which /invocations cannot feed`);
  const out = new ARRAY_OF[datatype as FixedDatatype](rows * k) as NumericArray;
  const big = out instanceof BigInt64Array || out instanceof BigUint64Array;
  for (let c = 0; c < k; c++) {
    const src = cols[c].data;
    if (isBytesData(src)) throw badRequest(`column '${cols[c].name}' is text but the model's input is ${datatype}`);
    for (let r = 0; r < rows; r++) {
      const v = src[r];
      if (big) (out as BigInt64Array)[r * k + c] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
      else (out as Float64Array)[r * k + c] = Number(v);
    }
  }
  return out;
}

/** Element-wise cast between numeric datatypes (BOOL as 0/1); BYTES only to BYTES. */
export function castData(data: TensorData, from: Datatype, to: Datatype, name: string): TensorData {
  if (from === to) return data;
  if (to === 'FP16' || to === 'BF16') throw badRequest(`the model's input '${name}' is ${to}, which /invocations cannot feed (send float32 or float64 models)`);
  if (isBytesData(data) || to === 'BYTES') {
    throw badRequest(`input '${name}' is ${from} but the model's input is ${to}`);
  }
  const n = dataLength(data);
  const out = new ARRAY_OF[to as FixedDatatype](n) as NumericArray;
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) {
      const v = data[i];
      out[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    }
  } else if (to === 'BOOL') {
    for (let i = 0; i < n; i++) out[i] = Number(data[i]) !== 0 ? 1 : 0;
  } else if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) (out as Float64Array)[i] = Number(data[i]);
  } else {
    (out as Float64Array).set(data as Float64Array);
  }
  return out;
}
