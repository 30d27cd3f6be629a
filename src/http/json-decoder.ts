// The decoder thread: parses and decodes large V2 JSON inference bodies off the main thread
// (json-offload.ts decides which, and runs this module in a small piscina pool). The same code as
// the main thread's path (splitInferBody + decodeInferenceRequest), so answers and error messages
// are identical; the decoded tensors come back moved, not copied.
import { Piscina } from 'piscina';
import { TesseraError } from '../core/errors.js';
import type { TensorLimits } from '../core/limits.js';
import { transferables } from '../core/tensor.js';
import type { InferenceRequest } from '../core/types.js';
import { splitInferBody } from './binary-body.js';
import { decodeInferenceRequest } from './json-codec.js';

export interface DecodeTask {
  /** The whole request body (moved here). */
  body: Uint8Array;
  /** The Inference-Header-Content-Length header, if any. */
  header: string | undefined;
  limits: TensorLimits | undefined;
}

export type DecodeResult = { request: InferenceRequest } | { error: { code: TesseraError['code']; message: string } };

export default function decode(task: DecodeTask): DecodeResult {
  try {
    const body = Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength);
    const split = splitInferBody(body, task.header);
    const request = decodeInferenceRequest(split.json, split.binary, task.limits);
    const result: DecodeResult = { request };
    const list = transferables(request.inputs);
    return Piscina.move({
      get [Piscina.transferableSymbol]() {
        return list;
      },
      get [Piscina.valueSymbol]() {
        return result;
      },
    } as never) as unknown as DecodeResult;
  } catch (error) {
    // The request's own faults keep their code (a 400 naming the field) across the thread.
    if (error instanceof TesseraError) return { error: { code: error.code, message: error.message } };
    throw error;
  }
}
