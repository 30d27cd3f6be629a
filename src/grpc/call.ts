// The one call wrapper every gRPC handler goes through, unary and streaming alike (the role
// MLServer's interceptors play): it builds the request context (id, deadline, cancellation),
// authorizes the call, maps errors to gRPC status codes from the error catalogue, and reports each
// call (or each message of ModelStreamInfer) to the metrics and the access log.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { createContext, type RequestContext } from '../core/context.js';
import { asTesseraError, cancelled, TesseraError } from '../core/errors.js';
import type { Metrics } from '../metrics/metrics.js';

/**
 * Decides whether the caller may make this call; throws UNAUTHENTICATED / PERMISSION_DENIED if not.
 * Authentication fills `ctx.identity` here. The default lets every call through.
 */
export type Authorize = (ctx: RequestContext, method: string, metadata: grpc.Metadata) => void | Promise<void>;

export const allowAll: Authorize = () => undefined;

export interface CallOptions {
  logger: Logger;
  /** One info line per call (MLServer's `debug` setting). */
  accessLog: boolean;
  metrics: Metrics | undefined;
  authorize: Authorize;
}

type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/** The client's deadline (ms since the epoch) from its grpc-timeout, if it set one. */
function deadlineOf(call: AnyCall): number | undefined {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : undefined;
}

/** The signal, made on first use, that a call was cancelled (or passed its deadline: grpc-js cancels it). */
function cancellationOf(call: AnyCall): () => AbortSignal {
  let controller: AbortController | undefined;
  return () => {
    if (controller === undefined) {
      const made = (controller = new AbortController());
      if (call.cancelled) made.abort();
      else (call as grpc.ServerUnaryCall<unknown, unknown>).once('cancelled', () => made.abort());
    }
    return controller.signal;
  };
}

/**
 * The request context of a call (or of one message of a stream, `id` being its V2 id, sharing the
 * stream's cancellation signal).
 */
export function callContext(call: AnyCall, options: CallOptions, id: string | undefined, cancellation = cancellationOf(call)): RequestContext {
  const metadataId = call.metadata.get('x-request-id')[0];
  return createContext({
    id: id !== undefined && id !== '' ? id : typeof metadataId === 'string' ? metadataId : undefined,
    protocol: 'grpc',
    deadline: deadlineOf(call),
    // A cancelled call takes its request out of the queue.
    cancellation,
    logger: options.logger,
  });
}

export function grpcStatus(error: unknown): Partial<grpc.StatusObject> {
  const e = asTesseraError(error);
  return { code: e.grpcCode as grpc.status, details: e.message };
}

/**
 * Reports a finished call (or stream message): metrics by method and code, the access log line,
 * and the error line for internal failures.
 */
export function report(options: CallOptions, ctx: RequestContext, method: string, started: number, error?: unknown): void {
  const e = error === undefined ? undefined : asTesseraError(error);
  const code = grpc.status[e === undefined ? grpc.status.OK : (e.grpcCode as grpc.status)];
  const seconds = (performance.now() - started) / 1000;
  options.metrics?.grpcSeconds.observe({ method, code }, seconds);
  const internal = error !== undefined && (!(error instanceof TesseraError) || error.kind === 'internal');
  if (internal) ctx.log.error({ err: error, method }, 'gRPC call failed');
  else if (e !== undefined && options.logger.isLevelEnabled('debug')) ctx.log.debug({ method, code, reason: e.message }, 'gRPC call refused');
  if (options.accessLog) ctx.log.info({ method, code, ms: Math.round(seconds * 1e6) / 1000, ...(e ? { reason: e.message } : {}) }, 'call completed');
}

/** A unary handler: its result, or its error mapped to a gRPC status, goes to the callback. */
export function unary<Req, Res>(
  options: CallOptions,
  method: string,
  handler: (request: Req, ctx: RequestContext, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const started = performance.now();
    const ctx = callContext(call as AnyCall, options, (call.request as { id?: string } | null)?.id);
    Promise.resolve()
      .then(() => options.authorize(ctx, method, call.metadata))
      .then(() => handler(call.request, ctx, call))
      .then(
        (result) => {
          callback(null, result);
          report(options, ctx, method, started);
        },
        (error: unknown) => {
          callback(grpcStatus(error));
          report(options, ctx, method, started, error);
        },
      );
  };
}

/**
 * A server-streaming handler: it writes to the call and resolves when the stream is done (or the
 * client went away); a thrown error ends the stream with its status.
 */
export function serverStream<Req, Res>(
  options: CallOptions,
  method: string,
  handler: (call: grpc.ServerWritableStream<Req, Res>, ctx: RequestContext) => Promise<void>,
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const started = performance.now();
    const ctx = callContext(call as AnyCall, options, undefined);
    Promise.resolve()
      .then(() => options.authorize(ctx, method, call.metadata))
      .then(() => handler(call, ctx))
      .then(
        () => {
          if (!call.cancelled) call.end();
          report(options, ctx, method, started, call.cancelled ? cancelled('the client went away') : undefined);
        },
        (error: unknown) => {
          if (!call.cancelled) call.destroy(Object.assign(new Error(asTesseraError(error).message), grpcStatus(error)));
          report(options, ctx, method, started, error);
        },
      );
  };
}

/**
 * A bidirectional stream whose every message is a request of its own (ModelStreamInfer): each
 * gets its own context (with the message's id), authorization and report; `handle` answers it.
 * Answers go out in message order; the stream ends after the last answer once the client ends it.
 */
export function bidiStream<Req extends { id?: string }, Res>(
  options: CallOptions,
  method: string,
  handle: (message: Req, ctx: RequestContext) => Promise<Res>,
  failed: (message: Req, error: unknown) => Res,
): grpc.handleBidiStreamingCall<Req, Res> {
  return (call) => {
    let tail: Promise<void> = Promise.resolve();
    const cancellation = cancellationOf(call as AnyCall);
    call.on('data', (message: Req) => {
      const started = performance.now();
      const ctx = callContext(call as AnyCall, options, message.id, cancellation);
      const result = Promise.resolve()
        .then(() => options.authorize(ctx, method, call.metadata))
        .then(() => handle(message, ctx))
        .then(
          (response) => {
            report(options, ctx, method, started);
            return response;
          },
          (error: unknown) => {
            report(options, ctx, method, started, error);
            return failed(message, error);
          },
        );
      tail = tail.then(async () => {
        const out = await result;
        if (!call.cancelled) call.write(out);
      });
    });
    call.on('end', () => void tail.then(() => call.end()));
    call.on('error', () => undefined);
  };
}
