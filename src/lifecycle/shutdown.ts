// Graceful shutdown (SIGTERM, SIGINT, or RunningServer.close()), in this order:
//
// 1. Draining (drain_delay): readiness answers 503 at once, so load balancers and Kubernetes stop
//    sending, but every request and new connection is still served; HTTP answers carry
//    `Connection: close`, so clients open fresh connections instead of reusing ones about to go.
// 2. Closing: new requests get 503 (SHUTTING_DOWN) and gRPC connections get GOAWAY; the listeners
//    stop accepting (after a drain delay, half a second later, so racing clients get a 503).
//    Requests already admitted, queued or running, finish, until the shutdown grace (counted
//    from the signal) ends.
// 3. What is still queued then could not start in time: it gets 503 / UNAVAILABLE (SHUTTING_DOWN).
//    Executions already running always finish: a worker is never terminated inside an
//    onnxruntime run, which would abort the whole process (exit 134, issue #14 finding 4).
// 4. Only then the worker pool closes, the answers flush, the last connections close.
//
// Every step is logged; the whole takes about the grace, plus the longest running execution.
import { Server as NetServer } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { BatchingBackend } from '../batching/backend.js';
import { shuttingDown } from '../core/errors.js';
import type { Lifecycle } from '../core/lifecycle.js';
import { stopListening } from '../grpc/limits.js';
import type { WorkerPool } from '../workers/pool.js';

export interface ShutdownParts {
  lifecycle: Lifecycle;
  http: FastifyInstance;
  grpc: grpc.Server | undefined;
  backend: BatchingBackend;
  pool: WorkerPool;
  /** Closed last: scrapes keep working while the server drains. */
  closeMetrics: () => Promise<void>;
  /** The start-up loads; the pool closes after them. */
  loaded: Promise<void>;
  logger: Logger;
}

export interface ShutdownTiming {
  /** Draining before the listeners close, ms. */
  drainDelayMs: number;
  /** From the start of the shutdown until what is still queued is refused, ms (drain delay included). */
  graceMs: number;
}

/**
 * How long the HTTP listener stays open once new requests are refused: a client that connects as
 * it closes would see its connection reset (the kernel had accepted it); one that connects in
 * this window gets a 503 that tells it to go elsewhere.
 */
const REFUSAL_WINDOW_MS = 500;
/** How often idle keep-alive connections are looked for once the HTTP listener no longer accepts. */
const IDLE_SWEEP_MS = 50;
/** How long answers get to flush before the last connections are closed. */
const FLUSH_MS = 500;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, deadline = Infinity): Promise<boolean> {
  while (!check()) {
    if (performance.now() >= deadline) return false;
    await sleep(10);
  }
  return true;
}

/**
 * Stops the HTTP listener accepting connections; resolves when the last open one has closed.
 * Connections with a request in flight stay until it is answered (the answer says `Connection:
 * close`); idle keep-alive ones are closed as soon as no accepted connection is still waiting for
 * its first request (a slow one is bounded by http_headers_timeout).
 */
function stopAcceptingHttp(app: FastifyInstance): { closed: Promise<void>; stop: () => void } {
  const server = app.server;
  // Node counts a connection whose request has not been read yet as idle too: closing it would
  // reset a client whose request is on its way. Idle connections are closed once there is none.
  const unserved = app.hasDecorator('unservedConnections') ? app.unservedConnections : () => 0;
  const sweep = (): void => {
    if (unserved() === 0) server.closeIdleConnections();
  };
  let sweeper: NodeJS.Timeout | undefined;
  const closed = new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    NetServer.prototype.close.call(server, () => resolve());
    sweep();
    sweeper = setInterval(sweep, IDLE_SWEEP_MS);
  });
  void closed.then(() => clearInterval(sweeper));
  return { closed, stop: () => clearInterval(sweeper) };
}

/** Stops the gRPC server accepting (GOAWAY to every connection); resolves when its calls are done. */
function stopAcceptingGrpc(server: grpc.Server | undefined): Promise<void> {
  if (server === undefined) return Promise.resolve();
  stopListening(server);
  return new Promise((resolve) => server.tryShutdown(() => resolve()));
}

export async function shutdown(parts: ShutdownParts, timing: ShutdownTiming): Promise<void> {
  const { lifecycle, http, backend, pool, logger } = parts;
  const started = performance.now();
  const graceEnds = started + timing.graceMs;
  lifecycle.phase = 'draining';
  if (timing.drainDelayMs > 0) {
    logger.info({ drainDelayMs: timing.drainDelayMs }, 'draining: readiness answers 503, requests are still served until the drain delay ends');
    await sleep(Math.min(timing.drainDelayMs, timing.graceMs));
  }

  lifecycle.phase = 'closing';
  logger.info({ graceMs: Math.max(0, Math.round(graceEnds - performance.now())) }, 'no longer admitting: finishing admitted requests');
  const grpcDone = stopAcceptingGrpc(parts.grpc);
  // Only after a drain delay: clients were told to leave, and the ones racing the close learn it
  // from a 503. Without one (a test, `docker stop`) the listener closes at once.
  if (timing.drainDelayMs > 0) await sleep(Math.max(0, Math.min(REFUSAL_WINDOW_MS, graceEnds - performance.now())));
  const httpStop = stopAcceptingHttp(http);
  let httpDone = false;
  let grpcIdle = false;
  void httpStop.closed.then(() => (httpDone = true));
  void grpcDone.then(() => (grpcIdle = true));
  const finished = await until(() => httpDone && grpcIdle && backend.busy() === 0, graceEnds);

  if (!finished) {
    const queued = backend.busy();
    if (queued > 0) logger.warn({ requests: queued }, 'shutdown grace over: refusing what has not started; running executions finish');
    backend.close(() => shuttingDown('the server is shutting down: the request could not start before its shutdown grace ended'));
    pool.stopStarting(); // and what waits in a worker's own queue
  }
  await until(() => backend.busy() === 0); // running executions end; none is ever interrupted
  await parts.loaded.catch(() => undefined);
  await pool.close();

  // The last answers flush; then whatever is still open (a stalled upload, a stuck stream) goes.
  await Promise.race([Promise.all([httpStop.closed, grpcDone]), sleep(FLUSH_MS)]);
  httpStop.stop();
  http.server.closeAllConnections();
  parts.grpc?.forceShutdown();
  await http.close().catch(() => undefined);
  await parts.closeMetrics().catch(() => undefined);
  logger.info({ ms: Math.round(performance.now() - started) }, 'shutdown complete');
}
