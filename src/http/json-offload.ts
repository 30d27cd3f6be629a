// Large JSON inference bodies are parsed and decoded, and large JSON answers encoded, off the main
// thread. JSON.parse of a 16 MiB tensor (4 Mi numbers) takes the thread that runs it for hundreds
// of milliseconds, and writing 4 Mi numbers as JSON about as long; on the main thread every other
// request, health probes included, waits that long. A body whose JSON part is OFFLOAD_MIN_BYTES or
// more, and an answer with OFFLOAD_MIN_ELEMENTS or more values to write as JSON, go to a JSON
// thread instead (a small piscina pool, started on the first such body and stopped when idle, so a
// server that never sees one pays nothing); the main thread keeps answering small requests
// meanwhile. Bodies and tensors move between the threads without a copy when they own their memory.
import { Piscina } from 'piscina';
import { TesseraError } from '../core/errors.js';
import type { TensorLimits } from '../core/limits.js';
import { dataLength, transferables } from '../core/tensor.js';
import type { InferenceRequest, InferenceResponse } from '../core/types.js';
import { availableCpus } from '../workers/cpus.js';
import { workerExecArgv } from '../workers/pool.js';
import type { DecodeResult, DecodeTask, EncodeResult, EncodeTask } from './json-decoder.js';

/**
 * JSON parts of this many bytes or more are decoded off the main thread: 512 KiB of numeric JSON
 * takes 3-5 ms to parse and decode on the reference machine, about 20 hand-offs to a thread; less
 * than that stays on the main thread, where the hand-off would cost more than it saves.
 */
export const OFFLOAD_MIN_BYTES = 512 * 1024;

/**
 * Answers with this many values or more to write as JSON are encoded off the main thread: 64 Ki
 * numbers are ~1 MB of JSON, several ms to write; fewer stay on the main thread.
 */
export const OFFLOAD_MIN_ELEMENTS = 64 * 1024;

/** Values an answer writes as JSON data (outputs sent as binary blocks left out). */
export function jsonOutputElements(response: InferenceResponse, binaryOutputs: ReadonlySet<string>): number {
  let n = 0;
  for (const o of response.outputs) if (!binaryOutputs.has(o.name)) n += dataLength(o.data);
  return n;
}

/** Decoder threads stop after this long without a body to decode (their memory goes back). */
const IDLE_MS = 30_000;

// Compiled (dist/): the decoder is plain JavaScript beside this file; from the sources, a tsx shim.
const DECODER_ENTRY = import.meta.url.endsWith('.js') ? new URL('./json-decoder.js', import.meta.url) : new URL('./json-decoder-entry.mjs', import.meta.url);

/** The bytes of a body's JSON part: all of it, or the Inference-Header-Content-Length first bytes. */
export function jsonPartLength(body: Buffer | undefined, header: string | string[] | undefined): number {
  if (body === undefined) return 0;
  if (header === undefined) return body.length;
  const n = Number(Array.isArray(header) ? header[0] : header);
  return Number.isSafeInteger(n) && n >= 0 ? Math.min(n, body.length) : 0;
}

export class JsonThreads {
  private pool: Piscina | undefined;

  constructor(private readonly threads = Math.max(1, Math.min(4, availableCpus() - 1))) {}

  private threadPool(): Piscina {
    this.pool ??= new Piscina({
      filename: DECODER_ENTRY.href,
      minThreads: 0,
      maxThreads: this.threads,
      idleTimeout: IDLE_MS,
      execArgv: workerExecArgv(process.execArgv),
    });
    return this.pool;
  }

  /** Decodes a request body in a decoder thread; a bad body rejects with the same 400 as on the main thread. */
  async decode(body: Buffer, header: string | string[] | undefined, limits: TensorLimits | undefined): Promise<InferenceRequest> {
    // Move the body when it owns its memory (large bodies do), else copy it once.
    const owned = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    const bytes = owned ? new Uint8Array(body.buffer, 0, body.byteLength) : new Uint8Array(body);
    const task: DecodeTask = { body: bytes, header: Array.isArray(header) ? header[0] : header, limits };
    const result = (await this.threadPool().run(task, { transferList: [bytes.buffer as ArrayBuffer] })) as DecodeResult;
    if ('error' in result) throw new TesseraError(result.error.code, result.error.message);
    return result.request;
  }

  /**
   * Encodes an answer as one JSON body in a JSON thread (every output as JSON data). Its output
   * buffers move there when they own their memory (the worker's answers do); the caller does not
   * use the response after.
   */
  async encode(response: InferenceResponse): Promise<Buffer> {
    const task: EncodeTask = { response };
    const result = (await this.threadPool().run(task, { transferList: transferables(response.outputs) })) as EncodeResult;
    return Buffer.from(result.body.buffer, result.body.byteOffset, result.body.byteLength);
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }
}
