// Large JSON inference bodies are parsed and decoded off the main thread. JSON.parse of a 16 MiB
// tensor (4 Mi numbers) takes the thread that runs it for hundreds of milliseconds; on the main
// thread every other request, health probes included, waits that long. A body whose JSON part is
// OFFLOAD_MIN_BYTES or more goes to a decoder thread instead (a small piscina pool, started on the
// first such body and stopped when idle, so a server that never sees one pays nothing); the main
// thread keeps answering small requests meanwhile. The body moves to the thread without a copy
// when it owns its memory, and the decoded tensors move back.
import { Piscina } from 'piscina';
import { TesseraError } from '../core/errors.js';
import type { TensorLimits } from '../core/limits.js';
import type { InferenceRequest } from '../core/types.js';
import { availableCpus } from '../workers/cpus.js';
import { workerExecArgv } from '../workers/pool.js';
import type { DecodeResult, DecodeTask } from './json-decoder.js';

/**
 * JSON parts of this many bytes or more are decoded off the main thread: 512 KiB of numeric JSON
 * takes 3-5 ms to parse and decode on the reference machine, about 20 hand-offs to a thread; less
 * than that stays on the main thread, where the hand-off would cost more than it saves.
 */
export const OFFLOAD_MIN_BYTES = 512 * 1024;

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

export class JsonDecoders {
  private pool: Piscina | undefined;

  constructor(private readonly threads = Math.max(1, Math.min(4, availableCpus() - 1))) {}

  /** Decodes a request body in a decoder thread; a bad body rejects with the same 400 as on the main thread. */
  async decode(body: Buffer, header: string | string[] | undefined, limits: TensorLimits | undefined): Promise<InferenceRequest> {
    this.pool ??= new Piscina({
      filename: DECODER_ENTRY.href,
      minThreads: 0,
      maxThreads: this.threads,
      idleTimeout: IDLE_MS,
      execArgv: workerExecArgv(process.execArgv),
    });
    // Move the body when it owns its memory (large bodies do), else copy it once.
    const owned = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    const bytes = owned ? new Uint8Array(body.buffer, 0, body.byteLength) : new Uint8Array(body);
    const task: DecodeTask = { body: bytes, header: Array.isArray(header) ? header[0] : header, limits };
    const result = (await this.pool.run(task, { transferList: [bytes.buffer as ArrayBuffer] })) as DecodeResult;
    if ('error' in result) throw new TesseraError(result.error.code, result.error.message);
    return result.request;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }
}
