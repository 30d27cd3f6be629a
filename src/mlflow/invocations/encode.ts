// `{"predictions": P}` written exactly as MLflow's scoring server writes it (json.dumps with
// NumpyEncoder; reference §1.4, §2): numbers as Python prints them (float32 outputs widened to
// float64 and printed shortest, e.g. 75.07771301269531), integer labels as integers, text as
// strings, ", " and ": " separators.
import { isBytesData, elementCount, type Tensor } from '../../core/tensor.js';
import { badRequest, UNEXPECTED_PREDICT_ERROR } from '../errors.js';
import type { ResponseShape } from '../plan.js';
import { pythonJsonFloat, pythonJsonString, type NonFiniteStyle } from './python-json-encode.js';

export interface EncodeOptions {
  /** NaN and ±Infinity: 'python' writes NaN / Infinity as MLflow does (default); 'null' writes null. */
  nonFinite?: NonFiniteStyle;
}

type CellWriter = (i: number) => string;

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Writes element i of a tensor as Python's json.dumps would. */
export function cellWriter(t: Tensor, options: EncodeOptions = {}): CellWriter {
  const nonFinite = options.nonFinite ?? 'python';
  const d = t.data;
  if (isBytesData(d)) {
    const dec = new TextDecoder();
    return (i) => pythonJsonString(dec.decode(d.values.subarray(d.offsets[i], d.offsets[i + 1])));
  }
  switch (t.datatype) {
    case 'FP32':
    case 'FP64':
      return (i) => pythonJsonFloat(d[i] as number, nonFinite);
    case 'FP16':
      return (i) => pythonJsonFloat(halfToFloat(d[i] as number), nonFinite);
    case 'BF16': {
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      return (i) => ((u[0] = (d[i] as number) << 16), pythonJsonFloat(f[0], nonFinite));
    }
    case 'BOOL':
      return (i) => (d[i] ? 'true' : 'false');
    default:
      return (i) => String(d[i]);
  }
}

/** ndarray.tolist() as JSON for the elements [start, start + product(shape)). */
function nested(shape: readonly number[], write: CellWriter, start: number): string {
  if (shape.length === 0) return write(start);
  const [n, ...rest] = shape;
  const step = elementCount(rest);
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = rest.length === 0 ? write(start + i) : nested(rest, write, start + i * step);
  return `[${parts.join(', ')}]`;
}

/** The whole tensor as nested lists. */
export function tensorToJson(t: Tensor, options: EncodeOptions = {}): string {
  return nested(t.shape, cellWriter(t, options), 0);
}

/** Rows [from, to) of a tensor's dim 0, each as JSON (a scalar or a nested list). */
function rowItems(t: Tensor, write: CellWriter, from: number, to: number): string[] {
  const rest = t.shape.slice(1);
  const step = elementCount(rest);
  const out = new Array<string>(to - from);
  for (let r = from; r < to; r++) out[r - from] = nested(rest, write, r * step);
  return out;
}

function findOutput(outputs: Tensor[], name: string): Tensor {
  const t = outputs.find((o) => o.name === name);
  if (!t) throw badRequest(UNEXPECTED_PREDICT_ERROR, `the model returned no output '${name}'`);
  return t;
}

/**
 * Records as MLflow's ONNX flavor builds them for a DataFrame input: one member per output, each
 * output flattened (`reshape(-1)`). When the outputs flatten to different lengths MLflow fails;
 * Tessera instead gives each row its slice of every output (a list for a multi-column output).
 */
function recordItems(outputs: Tensor[], options: EncodeOptions): string[] {
  const counts = outputs.map((o) => elementCount(o.shape));
  const keys = outputs.map((o) => pythonJsonString(o.name));
  const writers = outputs.map((o) => cellWriter(o, options));
  if (counts.every((c) => c === counts[0])) {
    const items = new Array<string>(counts[0]);
    for (let r = 0; r < counts[0]; r++) items[r] = `{${keys.map((k, j) => `${k}: ${writers[j](r)}`).join(', ')}}`;
    return items;
  }
  const rows = outputs[0].shape[0];
  if (outputs.some((o) => o.shape.length === 0 || o.shape[0] !== rows)) {
    throw badRequest(UNEXPECTED_PREDICT_ERROR, `the outputs do not share their first dimension: ${outputs.map((o) => `${o.name} ${JSON.stringify(o.shape)}`).join(', ')}`);
  }
  const columns = outputs.map((o, j) => rowItems(o, writers[j], 0, rows));
  const items = new Array<string>(rows);
  for (let r = 0; r < rows; r++) items[r] = `{${keys.map((k, j) => `${k}: ${columns[j][r]}`).join(', ')}}`;
  return items;
}

/** P of `{"predictions": P}` for one response shape. */
export function encodePredictionsValue(outputs: Tensor[], shape: ResponseShape, options: EncodeOptions = {}): string {
  switch (shape.kind) {
    case 'predict':
      return tensorToJson(findOutput(outputs, shape.output), options);
    case 'records':
      return `[${recordItems(outputs, options).join(', ')}]`;
    case 'outputs-dict':
      return `{${outputs.map((o) => `${pythonJsonString(o.name)}: ${tensorToJson(o, options)}`).join(', ')}}`;
  }
}

/** The /invocations response body: `{"predictions": P}`. */
export function encodeInvocationsResponse(outputs: Tensor[], shape: ResponseShape, options: EncodeOptions = {}): string {
  return `{"predictions": ${encodePredictionsValue(outputs, shape, options)}}`;
}

/** The items of one chunk for streamed output: list items (predict, records) or one list per output. */
export function chunkItems(outputs: Tensor[], shape: ResponseShape, options: EncodeOptions = {}): string[][] {
  switch (shape.kind) {
    case 'predict': {
      const t = findOutput(outputs, shape.output);
      if (t.shape.length === 0) throw badRequest(UNEXPECTED_PREDICT_ERROR, `output '${t.name}' is a scalar and cannot be streamed`);
      return [rowItems(t, cellWriter(t, options), 0, t.shape[0])];
    }
    case 'records':
      return [recordItems(outputs, options)];
    case 'outputs-dict':
      return outputs.map((o) => {
        if (o.shape.length === 0) throw badRequest(UNEXPECTED_PREDICT_ERROR, `output '${o.name}' is a scalar and cannot be streamed`);
        return rowItems(o, cellWriter(o, options), 0, o.shape[0]);
      });
  }
}
