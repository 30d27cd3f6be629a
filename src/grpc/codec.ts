// gRPC messages (as @grpc/proto-loader objects) <-> core inference types. Raw contents decode
// with one copy per tensor; typed contents go through the repeated fields protobuf gives us.
import { ARRAY_OF, INTEGER_RANGE, type Datatype, type FixedDatatype, type NumericArray, isDatatype } from '../core/datatypes.js';
import { badRequest } from '../core/errors.js';
import { DEFAULT_TENSOR_LIMITS, ElementBudget, type TensorLimits } from '../core/limits.js';
import { decodeRaw, encodeRaw } from '../core/raw-tensor.js';
import { bytesElement, bytesFromArrays, isBytesData, type Tensor, type TensorData } from '../core/tensor.js';
import type { InferenceRequest, InferenceResponse, Parameters, ParameterValue } from '../core/types.js';

/** 64-bit integers arrive as decimal strings (proto-loader `longs: String`). */
type Long = string | number;

export interface InferParameterMessage {
  bool_param?: boolean;
  int64_param?: Long;
  string_param?: string;
  double_param?: number;
  uint64_param?: Long;
  parameter_choice?: string;
}

export interface TensorContentsMessage {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: Long[];
  uint_contents?: number[];
  uint64_contents?: Long[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface InferInputMessage {
  name: string;
  datatype: string;
  shape: Long[];
  parameters?: Record<string, InferParameterMessage>;
  contents?: TensorContentsMessage | null;
}

export interface ModelInferRequestMessage {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: Record<string, InferParameterMessage>;
  inputs: InferInputMessage[];
  outputs: { name: string; parameters?: Record<string, InferParameterMessage> }[];
  raw_input_contents: Uint8Array[];
}

export interface InferOutputMessage {
  name: string;
  datatype: string;
  shape: Long[];
  parameters: Record<string, InferParameterMessage>;
  contents?: TensorContentsMessage;
}

export interface ModelInferResponseMessage {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, InferParameterMessage>;
  outputs: InferOutputMessage[];
  raw_output_contents: Uint8Array[];
}

function longValue(v: Long): number | bigint {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : BigInt(v);
}

export function decodeParameters(map: Record<string, InferParameterMessage> | undefined): Parameters | undefined {
  if (map === undefined) return undefined;
  const out: Parameters = {};
  let any = false;
  for (const [key, p] of Object.entries(map)) {
    let value: ParameterValue;
    switch (p.parameter_choice) {
      case 'bool_param':
        value = p.bool_param ?? false;
        break;
      case 'int64_param':
        value = longValue(p.int64_param ?? 0);
        break;
      case 'uint64_param':
        value = longValue(p.uint64_param ?? 0);
        break;
      case 'double_param':
        value = p.double_param ?? 0;
        break;
      case 'string_param':
        value = p.string_param ?? '';
        break;
      default:
        continue; // an unset oneof carries no value
    }
    out[key] = value;
    any = true;
  }
  return any ? out : undefined;
}

/** What encodes an absent parameter map: one shared, empty, never written object (no garbage per call). */
const NO_PARAMETERS: Record<string, InferParameterMessage> = Object.freeze({}) as Record<string, InferParameterMessage>;

export function encodeParameters(parameters: Parameters | undefined): Record<string, InferParameterMessage> {
  if (parameters === undefined) return NO_PARAMETERS;
  const out: Record<string, InferParameterMessage> = {};
  for (const [key, v] of Object.entries(parameters ?? {})) {
    if (typeof v === 'boolean') out[key] = { bool_param: v };
    else if (typeof v === 'string') out[key] = { string_param: v };
    else if (typeof v === 'bigint') out[key] = v < 0n ? { int64_param: v.toString() } : { uint64_param: v.toString() };
    else if (Number.isInteger(v)) out[key] = { int64_param: v };
    else out[key] = { double_param: v };
  }
  return out;
}

function hasContents(c: TensorContentsMessage | null | undefined): boolean {
  if (c === null || c === undefined) return false;
  return Object.values(c).some((v) => Array.isArray(v) && v.length > 0);
}

/** Typed `contents` -> tensor data, with range checks for the types carried in wider fields. */
function decodeContents(where: string, datatype: Datatype, c: TensorContentsMessage): TensorData {
  const take = <T>(field: keyof TensorContentsMessage): T[] => (c[field] as T[] | undefined) ?? [];
  switch (datatype) {
    case 'BOOL':
      return Uint8Array.from(take<boolean>('bool_contents'), (b) => (b ? 1 : 0));
    case 'INT8':
    case 'INT16':
    case 'INT32':
    case 'UINT8':
    case 'UINT16':
    case 'UINT32': {
      const values = take<number>(datatype.startsWith('U') ? 'uint_contents' : 'int_contents');
      const [lo, hi] = INTEGER_RANGE[datatype]!;
      const array = new ARRAY_OF[datatype](values.length) as Exclude<NumericArray, BigInt64Array | BigUint64Array>;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (v < lo || v > hi) throw badRequest(`${where}: element ${i} is ${v}, expected an integer in [${lo}, ${hi}] for ${datatype}`);
        array[i] = v;
      }
      return array;
    }
    case 'INT64':
      return BigInt64Array.from(take<Long>('int64_contents'), (v) => BigInt(v));
    case 'UINT64':
      return BigUint64Array.from(take<Long>('uint64_contents'), (v) => BigInt(v));
    case 'FP32':
      return Float32Array.from(take<number>('fp32_contents'));
    case 'FP64':
      return Float64Array.from(take<number>('fp64_contents'));
    case 'BYTES':
      return bytesFromArrays(take<Uint8Array>('bytes_contents'));
    default:
      throw badRequest(`${where}: ${datatype} has no typed contents field; send it in raw_input_contents`);
  }
}

function shapeOf(where: string, shape: Long[]): number[] {
  return shape.map((d) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0) throw badRequest(`${where}: dimension ${d} is not a valid size`);
    return n;
  });
}

/** Decodes a ModelInferRequest; shapes are checked against `limits` before any tensor memory is allocated. */
export function decodeInferRequest(
  message: ModelInferRequestMessage,
  limits: TensorLimits = DEFAULT_TENSOR_LIMITS,
): { request: InferenceRequest; raw: boolean } {
  const raw = message.raw_input_contents.length > 0;
  if (raw && message.raw_input_contents.length !== message.inputs.length) {
    throw badRequest(
      `raw_input_contents has ${message.raw_input_contents.length} entries but the request has ${message.inputs.length} inputs`,
    );
  }
  const budget = new ElementBudget(limits);
  const inputs: Tensor[] = message.inputs.map((input, i) => {
    const where = `input '${input.name}'`;
    if (!isDatatype(input.datatype)) throw badRequest(`inputs[${i}] '${input.name}': unknown datatype '${input.datatype}'`);
    const shape = shapeOf(where, input.shape);
    budget.take(where, shape);
    let data: TensorData;
    if (raw) {
      if (hasContents(input.contents)) throw badRequest(`${where}: contents must not be set when raw_input_contents is used`);
      data = decodeRaw(where, input.datatype, shape, message.raw_input_contents[i]);
    } else {
      if (!hasContents(input.contents) && shape.reduce((a, b) => a * b, 1) !== 0) {
        throw badRequest(`${where}: no data: set its contents or raw_input_contents`);
      }
      data = decodeContents(where, input.datatype, input.contents ?? {});
    }
    const tensor: Tensor = { name: input.name, datatype: input.datatype, shape, data };
    const parameters = decodeParameters(input.parameters);
    if (parameters !== undefined) tensor.parameters = parameters;
    return tensor;
  });
  const request: InferenceRequest = { inputs };
  if (message.id !== '') request.id = message.id;
  const parameters = decodeParameters(message.parameters);
  if (parameters !== undefined) request.parameters = parameters;
  if (message.outputs.length > 0) {
    request.outputs = message.outputs.map((o) => {
      const p = decodeParameters(o.parameters);
      return p === undefined ? { name: o.name } : { name: o.name, parameters: p };
    });
  }
  return { request, raw };
}

/** Typed contents for one output: the repeated field its datatype uses. */
function encodeContents(datatype: Datatype, data: TensorData): TensorContentsMessage {
  if (isBytesData(data)) {
    const n = data.offsets.length - 1;
    const out: Uint8Array[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = bytesElement(data, i);
    return { bytes_contents: out };
  }
  const a = data as NumericArray;
  switch (datatype as FixedDatatype) {
    case 'BOOL':
      return { bool_contents: Array.from(a as Uint8Array, (v) => v !== 0) };
    case 'INT8':
    case 'INT16':
    case 'INT32':
      return { int_contents: Array.from(a as Int32Array) };
    case 'UINT8':
    case 'UINT16':
    case 'UINT32':
      return { uint_contents: Array.from(a as Uint32Array) };
    case 'INT64':
      return { int64_contents: Array.from(a as BigInt64Array, String) };
    case 'UINT64':
      return { uint64_contents: Array.from(a as BigUint64Array, String) };
    case 'FP32':
      return { fp32_contents: Array.from(a as Float32Array) };
    case 'FP64':
      return { fp64_contents: Array.from(a as Float64Array) };
    default:
      throw badRequest(`output datatype ${datatype} has no typed contents field; request raw outputs`);
  }
}

/** Raw output contents when `raw` (the request used raw inputs, or the server forces it). */
export function encodeInferResponse(response: InferenceResponse, raw: boolean): ModelInferResponseMessage {
  const outputs: InferOutputMessage[] = [];
  const rawContents: Uint8Array[] = [];
  for (const o of response.outputs) {
    // int64 dims as numbers: protobufjs encodes a number as readily as proto-loader's decimal string.
    const out: InferOutputMessage = { name: o.name, datatype: o.datatype, shape: o.shape, parameters: encodeParameters(o.parameters) };
    if (raw) rawContents.push(encodeRaw(o.data));
    else out.contents = encodeContents(o.datatype, o.data);
    outputs.push(out);
  }
  return {
    model_name: response.modelName,
    model_version: response.modelVersion ?? '',
    id: response.id ?? '',
    parameters: encodeParameters(response.parameters),
    outputs,
    raw_output_contents: rawContents,
  };
}
