// V2 JSON inference request -> core request, core response -> V2 JSON text.
// The envelope is checked with zod (tensor data is left to the typed-array decoder, so zod never
// walks element arrays); errors name the field: "inputs[0].shape: ...".
import { z } from 'zod';
import { isDatatype } from '../core/datatypes.js';
import { invalidArgument } from '../core/errors.js';
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
  data: z.custom<JsonValue>((v) => v !== undefined, { error: "is required" }),
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

/** Decodes a parsed V2 inference request body. */
export function decodeInferenceRequest(body: JsonValue | undefined): InferenceRequest {
  if (body === undefined) throw invalidArgument('the request body is empty: an inference request needs inputs');
  const parsed = requestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = fieldPath(issue.path);
    throw invalidArgument(field === '' ? issue.message : `${field}: ${issue.message}`);
  }
  const r = parsed.data;
  const inputs: Tensor[] = r.inputs.map((input, i) => {
    const where = `inputs[${i}] '${input.name}'`;
    if (!isDatatype(input.datatype)) throw invalidArgument(`${where}: unknown datatype '${input.datatype}'`);
    const shape = input.shape.map((d) => {
      if (typeof d === 'bigint' || !Number.isSafeInteger(d)) throw invalidArgument(`${where}: dimension ${d} is too large`);
      return d;
    });
    const data = decodeJsonData(`input '${input.name}'`, input.datatype, shape, input.data as JsonValue);
    const tensor: Tensor = { name: input.name, datatype: input.datatype, shape, data };
    if (input.parameters !== undefined) tensor.parameters = input.parameters;
    return tensor;
  });
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

/** The V2 JSON text of a response; tensor data is written flat, 64-bit integers exactly. */
export function encodeInferenceResponse(response: InferenceResponse): string {
  let out = '{"model_name":' + JSON.stringify(response.modelName);
  if (response.modelVersion !== undefined) out += ',"model_version":' + JSON.stringify(response.modelVersion);
  if (response.id !== undefined) out += ',"id":' + JSON.stringify(response.id);
  if (response.parameters !== undefined) out += ',"parameters":' + encodeParameters(response.parameters);
  out += ',"outputs":[';
  response.outputs.forEach((o, i) => {
    if (i > 0) out += ',';
    out += '{"name":' + JSON.stringify(o.name) + ',"datatype":"' + o.datatype + '","shape":[' + o.shape.join(',') + ']';
    if (o.parameters !== undefined) out += ',"parameters":' + encodeParameters(o.parameters);
    out += ',"data":' + encodeJsonData(o.datatype, o.data) + '}';
  });
  return out + ']}';
}
