// V2 JSON inference request -> core request, core response -> V2 JSON text.
// The envelope is checked with zod (tensor data is left to the typed-array decoder, so zod never
// walks element arrays); errors name the field: "inputs[0].shape: ...".
import { z } from 'zod';
import { isDatatype } from '../core/datatypes.js';
import { badRequest } from '../core/errors.js';
import { DEFAULT_TENSOR_LIMITS, ElementBudget, type TensorLimits } from '../core/limits.js';
import { decodeRaw, encodeRaw, rawByteLength } from '../core/raw-tensor.js';
import type { Tensor } from '../core/tensor.js';
import type { InferenceRequest, InferenceResponse, Parameters } from '../core/types.js';
import type { JsonValue } from './exact-json.js';
import { decodeJsonData, encodeJsonData } from './json-tensor.js';

const parameterValue = z.union([z.string(), z.number(), z.boolean(), z.bigint()], {
  error: 'expected a string, number or boolean',
});
const parameters = z.record(z.string(), parameterValue, { error: 'expected an object' });
const dim = z.union([z.number().int().min(0), z.bigint().min(0n)], { error: 'expected a non-negative integer' });

const requestInput = z.object({
  name: z.string({ error: 'expected a string' }),
  shape: z.array(dim, { error: 'expected an array of non-negative integers' }),
  datatype: z.string({ error: 'expected a string' }),
  parameters: parameters.optional(),
  data: z.custom<JsonValue>().optional(),
});

const requestSchema = z.object(
  {
    id: z.string({ error: 'expected a string' }).optional(),
    parameters: parameters.optional(),
    inputs: z.array(requestInput, { error: 'expected an array of inputs' }).min(1, { error: 'at least one input is required' }),
    outputs: z
      .array(z.object({ name: z.string({ error: 'expected a string' }), parameters: parameters.optional() }), {
        error: 'expected an array',
      })
      .optional(),
  },
  { error: 'the request body must be a JSON object' },
);

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}

type Envelope = z.output<typeof requestSchema>;

const isObject = (v: unknown): v is Record<string, JsonValue> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The envelope of the common request, checked by hand: an optional string id, inputs with a
 * string name and datatype, a shape of non-negative integers and data, and nothing else that
 * needs checking (no parameters, no outputs). What zod would return for it, at a fraction of the
 * cost; anything else (including every malformed body) returns undefined and goes through zod,
 * whose messages name the field.
 */
function plainEnvelope(body: JsonValue): Envelope | undefined {
  if (!isObject(body)) return undefined;
  const { id, inputs } = body;
  if ((id !== undefined && typeof id !== 'string') || body.parameters !== undefined || body.outputs !== undefined) return undefined;
  if (!Array.isArray(inputs) || inputs.length === 0) return undefined;
  const out: Envelope['inputs'] = new Array(inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    if (!isObject(input)) return undefined;
    const { name, shape, datatype, data } = input;
    if (typeof name !== 'string' || typeof datatype !== 'string' || data === undefined || input.parameters !== undefined || !Array.isArray(shape)) return undefined;
    for (let d = 0; d < shape.length; d++) {
      const v = shape[d];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return undefined;
    }
    out[i] = { name, shape: shape as number[], datatype, data };
  }
  return id === undefined ? { inputs: out } : { id, inputs: out };
}

/**
 * Decodes a parsed V2 inference request. `binary` is the binary section that follows the JSON
 * header under Triton's binary tensor extension: inputs with parameters.binary_data_size take
 * their bytes from it, in the order they appear. Shapes are checked against `limits` before any
 * tensor memory is allocated.
 */
export function decodeInferenceRequest(
  body: JsonValue | undefined,
  binary: Uint8Array | null = null,
  limits: TensorLimits = DEFAULT_TENSOR_LIMITS,
): InferenceRequest {
  if (body === undefined) throw badRequest('the request body is empty: an inference request needs inputs');
  let r = plainEnvelope(body);
  if (r === undefined) {
    const parsed = requestSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = fieldPath(issue.path);
      throw badRequest(field === '' ? issue.message : `${field}: ${issue.message}`);
    }
    r = parsed.data;
  }
  let offset = 0;
  const budget = new ElementBudget(limits);
  const inputs: Tensor[] = r.inputs.map((input, i) => {
    const where = `inputs[${i}] '${input.name}'`;
    if (!isDatatype(input.datatype)) throw badRequest(`${where}: unknown datatype '${input.datatype}'`);
    const shape = input.shape.map((d) => {
      if (typeof d === 'bigint' || !Number.isSafeInteger(d)) throw badRequest(`${where}: dimension ${d} is too large`);
      return d;
    });
    budget.take(`input '${input.name}'`, shape);
    const { binary_data_size: binarySize, ...parameters } = input.parameters ?? {};
    let data;
    if (binarySize !== undefined) {
      if (input.data !== undefined) {
        throw badRequest(`input '${input.name}' must set only one of 'data' and 'parameters.binary_data_size'`);
      }
      if (typeof binarySize !== 'number' || !Number.isSafeInteger(binarySize) || binarySize < 0) {
        throw badRequest(`input '${input.name}': parameters.binary_data_size must be a non-negative integer`);
      }
      if (binary === null) {
        throw badRequest(
          `input '${input.name}' has parameters.binary_data_size but the request carries no binary data (set the Inference-Header-Content-Length header)`,
        );
      }
      if (offset + binarySize > binary.byteLength) {
        throw badRequest(
          `input '${input.name}': unexpected size: expecting ${binarySize} bytes of binary data but only ${binary.byteLength - offset} are left`,
        );
      }
      data = decodeRaw(`input '${input.name}'`, input.datatype, shape, binary.subarray(offset, offset + binarySize));
      offset += binarySize;
    } else {
      if (input.data === undefined) throw badRequest(`inputs[${i}].data: is required (or parameters.binary_data_size with binary data)`);
      data = decodeJsonData(`input '${input.name}'`, input.datatype, shape, input.data as JsonValue);
    }
    const tensor: Tensor = { name: input.name, datatype: input.datatype, shape, data };
    if (Object.keys(parameters).length > 0) tensor.parameters = parameters;
    return tensor;
  });
  if (binary !== null && offset !== binary.byteLength) {
    throw badRequest(`unexpected additional input data: ${binary.byteLength - offset} bytes after the last binary input`);
  }
  const request: InferenceRequest = { inputs };
  if (r.id !== undefined) request.id = r.id;
  if (r.parameters !== undefined) request.parameters = r.parameters;
  if (r.outputs !== undefined) request.outputs = r.outputs;
  return request;
}

function encodeParameters(p: Parameters): string {
  let out = '{';
  let first = true;
  for (const [k, v] of Object.entries(p)) {
    out += (first ? '' : ',') + JSON.stringify(k) + ':' + (typeof v === 'bigint' ? v.toString() : JSON.stringify(v));
    first = false;
  }
  return out + '}';
}

export interface EncodedResponse {
  /** The JSON text (the whole body when `binary` is empty). */
  json: string;
  /** Binary output blocks that follow the JSON, in output order. */
  binary: Uint8Array[];
}

/**
 * Encodes a response: outputs named in `binaryOutputs` go as binary blocks after the JSON (with
 * parameters.binary_data_size), the rest as JSON data, written flat with exact 64-bit integers.
 */
export function encodeInferenceResponseParts(response: InferenceResponse, binaryOutputs: ReadonlySet<string>): EncodedResponse {
  const binary: Uint8Array[] = [];
  let out = '{"model_name":' + JSON.stringify(response.modelName);
  if (response.modelVersion !== undefined) out += ',"model_version":' + JSON.stringify(response.modelVersion);
  if (response.id !== undefined) out += ',"id":' + JSON.stringify(response.id);
  if (response.parameters !== undefined) out += ',"parameters":' + encodeParameters(response.parameters);
  out += ',"outputs":[';
  response.outputs.forEach((o, i) => {
    if (i > 0) out += ',';
    out += '{"name":' + JSON.stringify(o.name) + ',"datatype":"' + o.datatype + '","shape":[' + o.shape.join(',') + ']';
    if (binaryOutputs.has(o.name)) {
      const parameters = { ...o.parameters, binary_data_size: rawByteLength(o.data) };
      out += ',"parameters":' + encodeParameters(parameters) + '}';
      binary.push(encodeRaw(o.data));
      return;
    }
    if (o.parameters !== undefined) out += ',"parameters":' + encodeParameters(o.parameters);
    out += ',"data":' + encodeJsonData(o.datatype, o.data) + '}';
  });
  return { json: out + ']}', binary };
}
