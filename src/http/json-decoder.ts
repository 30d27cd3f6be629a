// The JSON thread: parses and decodes large V2 JSON inference bodies, and encodes large JSON
// answers, off the main thread (json-offload.ts decides which, and runs this module in a small
// piscina pool). The same code as the main thread's path (splitInferBody + decodeInferenceRequest;
// encodeInferenceResponseParts), so bodies and error messages are identical; decoded tensors and
// encoded bodies come back moved, not copied.
import { Piscina } from 'piscina';
import { TesseraError } from '../core/errors.js';
import type { TensorLimits } from '../core/limits.js';
import { transferables } from '../core/tensor.js';
import type { InferenceRequest, InferenceResponse } from '../core/types.js';
import { splitInferBody } from './binary-body.js';
import { decodeInferenceRequest, encodeInferenceResponseParts } from './json-codec.js';

export interface DecodeTask {
  /** The whole request body (moved here). */
  body: Uint8Array;
  /** The Inference-Header-Content-Length header, if any. */
  header: string | undefined;
  limits: TensorLimits | undefined;
}

export type DecodeResult = { request: InferenceRequest } | { error: { code: TesseraError['code']; message: string } };

/** A response to write as JSON (every output as JSON data); its output buffers moved here. */
export interface EncodeTask {
  response: InferenceResponse;
}

/** The UTF-8 JSON body, moved back to the main thread. */
export interface EncodeResult {
  body: Uint8Array;
}

const NO_BINARY_OUTPUTS: ReadonlySet<string> = new Set();

/** Moves `list` with `value` instead of cloning it (piscina's transfer wrapper). */
function moving<T>(value: T, list: ArrayBuffer[]): T {
  return Piscina.move({
    get [Piscina.transferableSymbol]() {
      return list;
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  } as never) as unknown as T;
}

function encode(task: EncodeTask): EncodeResult {
  const { json } = encodeInferenceResponseParts(task.response, NO_BINARY_OUTPUTS);
  const body = Buffer.from(json);
  // Buffer.from copies into a buffer of its own (large strings are not pooled): it can move.
  const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return owned ? moving({ body: bytes }, [bytes.buffer as ArrayBuffer]) : { body: bytes };
}

export default function run(task: DecodeTask | EncodeTask): DecodeResult | EncodeResult {
  return 'response' in task ? encode(task) : decode(task);
}

function decode(task: DecodeTask): DecodeResult {
  try {
    const body = Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength);
    const split = splitInferBody(body, task.header);
    const request = decodeInferenceRequest(split.json, split.binary, task.limits);
    const result: DecodeResult = { request };
    return moving(result, transferables(request.inputs));
  } catch (error) {
    // The request's own faults keep their code (a 400 naming the field) across the thread.
    if (error instanceof TesseraError) return { error: { code: error.code, message: error.message } };
    throw error;
  }
}
