// The messages that cross between the main thread and pool workers: piscina's one task per worker
// (`hello`, which hands the worker its channel), then requests and replies on that channel.
import type { MessagePort } from 'node:worker_threads';
import type { ModelArtifact, ModelSpec, RuntimeMetadata } from '../core/backend.js';
import type { ErrorCode } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { Parameters } from '../core/types.js';

/** piscina's task, the first and only one of every worker: its channel; it answers with its status words. */
export interface HelloTask {
  op: 'hello';
  port: MessagePort;
  /** The thread the channel is for: a worker handed another's channel refuses it. */
  worker: number;
}

/** A request on a worker's channel; the reply carries the same id. */
export interface ChannelRequest {
  id: number;
  task: WorkerTask;
}

export type ChannelReply = { id: number; result: unknown; error?: undefined } | { id: number; error: Error; result?: undefined };

export type WorkerTask =
  /** The runtime's prepare step, in one worker: answers with the artifact, if the runtime makes one. */
  | { op: 'prepare'; spec: ModelSpec }
  | { op: 'load'; spec: ModelSpec }
  /** Runs a model the worker holds (a load for it was sent first). */
  | { op: 'infer'; key: string; inputs: Tensor[]; outputs: string[]; parameters?: Parameters; deadline?: number }
  | { op: 'unload'; key: string }
  | { op: 'status' };

/**
 * Words a worker shares with the main thread (an Int32Array over a SharedArrayBuffer), read
 * without asking the worker, which may be blocked.
 */
export const STATUS = {
  /** Calls into non-terminable (native) runtimes in progress: the worker must not be terminated. */
  NATIVE: 0,
  /**
   * Set by the main thread before it terminates the worker: no native call may start from then on.
   * With NATIVE this makes a handshake (each side writes its word, then reads the other's), so a
   * termination and a native call never overlap.
   */
  CLOSING: 1,
  /**
   * Set by the main thread when the server stops: an infer task that has not started yet refuses
   * at once (SHUTTING_DOWN) instead of running; one already running finishes.
   */
  SHUTDOWN: 2,
  LENGTH: 3,
} as const;

export interface HelloResult {
  status: Int32Array;
}

export interface PrepareResult {
  artifact: ModelArtifact | undefined;
}

export interface LoadResult {
  metadata: RuntimeMetadata;
  /** Milliseconds spent loading (0 when this worker already had it). */
  loadMs: number;
}

export interface InferResult {
  outputs: Tensor[];
  /** When the run started and ended, in ms since the epoch (comparable across threads). */
  startedAt: number;
  endedAt: number;
}

export type { RunClock } from '../core/scheduling.js';

/** Milliseconds since the epoch with sub-ms precision, the same clock in every thread. */
export const epochMs = (): number => performance.timeOrigin + performance.now();

/** An error of the request found in a worker (a bad input, a deadline), sent back with its code. */
export interface WorkerError {
  error: { code: ErrorCode; message: string };
}
