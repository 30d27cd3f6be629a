// The request context: what a front end knows about one request, built once by the front end and
// handed to the dataplane with it. The dataplane never looks at headers or gRPC metadata.
//
// - id: the V2 request `id` when the request has one, else the client's id (HTTP `x-request-id`,
//   gRPC metadata `x-request-id`), else one generated here. Every log line of the request has it.
// - deadline: an absolute time (ms since the epoch) from the client: gRPC's `grpc-timeout`, HTTP's
//   `x-request-timeout` header (see parseTimeout). The dataplane combines it with the model's
//   request_timeout: a request still unanswered at the earlier of the two fails with
//   DEADLINE_EXCEEDED (504) and leaves the queue if it is still waiting.
// - cancellation: makes, on demand, the signal that the client went away (most requests never
//   queue, and making the signal and its listeners costs on every request).
// - identity: the caller a valid bearer token names (src/security/); undefined without auth.
// - log: a child logger carrying `requestId`, made on first use.
import type { Logger } from 'pino';
import { badRequest } from './errors.js';

/** The front end a request came through. */
export type Protocol = 'http' | 'grpc' | 'mlflow';

export interface Identity {
  /** Who the caller is (a user, a service account, a key id). */
  subject: string;
  /** What the caller may do: `infer`, `read`, `admin`, `metrics` (src/security/scopes.ts). */
  scopes: readonly string[];
}

export interface RequestContext {
  readonly id: string;
  readonly protocol: Protocol;
  /** Absolute deadline in ms since the epoch (Date.now's clock); undefined: none from the client. */
  readonly deadline: number | undefined;
  readonly cancellation: (() => AbortSignal) | undefined;
  identity: Identity | undefined;
  readonly log: Logger;
}

export interface ContextInit {
  /** The client's id, if it gave one; else one is generated. */
  id?: string | undefined;
  protocol: Protocol;
  deadline?: number | undefined;
  cancellation?: (() => AbortSignal) | undefined;
  identity?: Identity | undefined;
  /** The logger the request's child logger derives from. */
  logger: Logger;
  /** A child logger already carrying the request id (fastify makes one per request). */
  log?: Logger | undefined;
}

let generated = 0;
const prefix = `${process.pid.toString(36)}-${Date.now().toString(36)}`;

/** A new request id, unique in this process and across restarts. */
export function generateRequestId(): string {
  return `${prefix}-${(++generated).toString(36)}`;
}

export function createContext(init: ContextInit): RequestContext {
  const id = init.id !== undefined && init.id !== '' ? init.id : generateRequestId();
  let log = init.log;
  return {
    id,
    protocol: init.protocol,
    deadline: init.deadline,
    cancellation: init.cancellation,
    identity: init.identity,
    get log(): Logger {
      return (log ??= init.logger.child({ requestId: id }));
    },
  };
}

/**
 * A client timeout as milliseconds: a number of seconds (`2`, `0.5`) or a number with a unit
 * (`1500ms`, `2s`, `1m`). Throws 400 naming `where` for anything else.
 */
export function parseTimeout(where: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(text);
  if (m === null) throw badRequest(`${where} '${text}' is not a timeout: use seconds (2, 0.5) or a unit (1500ms, 2s, 1m)`);
  const value = Number(m[1]);
  const unit = m[2] ?? 's';
  return value * (unit === 'ms' ? 1 : unit === 's' ? 1000 : 60_000);
}

/** The earlier of two optional deadlines. */
export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return Math.min(a, b);
}
