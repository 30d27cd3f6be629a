// Triton's binary tensor data extension on the HTTP side: splitting a body into its JSON header and
// binary section, the raw single-input body, and the binary response layout.
import type { Datatype, FixedDatatype } from '../core/datatypes.js';
import { elementSize } from '../core/datatypes.js';
import { badRequest, invalidInput } from '../core/errors.js';
import { decodeRaw } from '../core/raw-tensor.js';
import type { InferenceRequest, InferenceResponse, Parameters, TensorMetadata } from '../core/types.js';
import { parseJsonBytes, type JsonValue } from './exact-json.js';

export const HEADER_LENGTH = 'inference-header-content-length';

export interface InferBody {
  /** The JSON part (undefined for an empty body or a raw single-input body). */
  json: JsonValue | undefined;
  /** Bytes after the JSON header, when Inference-Header-Content-Length was given. */
  binary: Uint8Array | null;
  /** The whole body when Inference-Header-Content-Length is 0: one input's raw bytes. */
  rawInput: Uint8Array | null;
}

export function splitInferBody(body: Buffer | undefined, header: string | string[] | undefined): InferBody {
  const bytes = body ?? Buffer.alloc(0);
  if (header === undefined) {
    return { json: bytes.length === 0 ? undefined : parseJsonBytes(bytes), binary: null, rawInput: null };
  }
  const text = Array.isArray(header) ? header[0] : header;
  if (!/^\s*\d+\s*$/.test(text)) throw badRequest(`Inference-Header-Content-Length '${text}' is not a non-negative integer`);
  const length = Number(text);
  if (length > bytes.length) {
    throw badRequest(`Inference-Header-Content-Length ${length} is beyond the ${bytes.length}-byte body`);
  }
  if (length === 0) return { json: undefined, binary: null, rawInput: bytes };
  return { json: parseJsonBytes(bytes.subarray(0, length)), binary: bytes.subarray(length), rawInput: null };
}

/**
 * A raw binary request (Inference-Header-Content-Length: 0): the body is the bytes of the model's
 * only input, taken as batch 1; the one remaining variable dimension follows from the byte count.
 */
export function rawInputRequest(model: { name: string; inputs: readonly TensorMetadata[] }, bytes: Uint8Array): InferenceRequest {
  if (model.inputs.length !== 1) {
    throw invalidInput(
      `a raw binary request (Inference-Header-Content-Length: 0) needs a model with exactly one input; '${model.name}' has ${model.inputs.length}`,
    );
  }
  const input = model.inputs[0];
  const shape = [...input.shape];
  if (shape.length > 0 && shape[0] === -1 && shape.filter((d) => d === -1).length > 1) shape[0] = 1; // batch 1
  const variable = shape.filter((d) => d === -1).length;
  const where = `input '${input.name}'`;
  if (input.datatype === 'BYTES') {
    for (let i = 0; i < shape.length; i++) if (shape[i] === -1) shape[i] = 1;
  } else if (variable > 1) {
    throw badRequest(`${where}: a raw binary body cannot fill shape [${input.shape.join(',')}], which has more than one variable dimension`);
  } else if (variable === 1) {
    const fixed = shape.reduce((n, d) => (d === -1 ? n : n * d), 1) * elementSize(input.datatype as FixedDatatype);
    if (fixed === 0 || bytes.byteLength % fixed !== 0) {
      throw badRequest(`${where}: a raw body of ${bytes.byteLength} bytes is not a whole number of ${fixed}-byte rows of shape [${input.shape.join(',')}]`);
    }
    shape[shape.indexOf(-1)] = bytes.byteLength / fixed;
  }
  return { inputs: [{ name: input.name, datatype: input.datatype as Datatype, shape, data: decodeRaw(where, input.datatype, shape, bytes) }] };
}

function flag(parameters: Parameters | undefined, key: string): boolean | undefined {
  const v = parameters?.[key];
  return typeof v === 'boolean' ? v : undefined;
}

const NONE: ReadonlySet<string> = new Set();

/** Outputs to send binary: per-output binary_data, else the request's binary_data_output. */
export function binaryOutputs(request: InferenceRequest, response: InferenceResponse, all: boolean): ReadonlySet<string> {
  const byDefault = all || flag(request.parameters, 'binary_data_output') === true;
  // The common JSON request asks for nothing binary: no set made.
  if (!byDefault && request.outputs === undefined) return NONE;
  const out = new Set<string>();
  for (const o of response.outputs) {
    const asked = request.outputs?.find((r) => r.name === o.name);
    if (flag(asked?.parameters, 'binary_data') ?? byDefault) out.add(o.name);
  }
  return out;
}
