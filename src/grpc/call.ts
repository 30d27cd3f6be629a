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
  /**
   * Rewrites what answers show (absolute paths out of messages and model reasons, see
   * src/security/paths.ts): `text` for error messages, `value` for a method's answer.
   */
  redact?: { text(text: string): string; value(method: string, value: unknown): unknown } | undefined;
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

export function grpcStatus(error: unknown, redact?: CallOptions['redact']): Partial<grpc.StatusObject> {
  const e = asTesseraError(error);
  return { code: e.grpcCode as grpc.status, details: redact ? redact.text(e.message) : e.message };
}

/**
 * What a streaming call is ended with: an error carrying the status, which grpc-js sends when it
 * is emitted as the call's 'error' (destroying the call would end it without a status).
 */
export function endStatus(error: unknown, options: Pick<CallOptions, 'redact'>): Error & Partial<grpc.StatusObject> {
  const status = grpcStatus(error, options.redact);
  return Object.assign(new Error(status.details), status);
}

/**
 * Reports a finished call (or stream message): metrics by method and code, the access log line,
 * and the error line for internal failures.
 */
export function report(options: CallOptions, ctx: RequestContext, method: string, started: number, error?: unknown): void {
  const e = error === undefined ? undefined : asTesseraError(error);
  const code = grpc.status[e === undefined ? grpc.status.OK : (e.grpcCode as grpc.status)];
  const seconds = (performance.now() - started) / 1000;
  options.metrics?.observeGrpc(method, code, seconds);
  const internal = error !== undefined && (!(error instanceof TesseraError) || error.kind === 'internal');
  if (internal) ctx.log.error({ err: error, method }, 'gRPC call failed');
  else if (e !== undefined && options.logger.isLevelEnabled('debug')) ctx.log.debug({ method, code, reason: e.message }, 'gRPC call refused');
  if (options.accessLog) {
    // The caller's subject (never its token) when authentication named one.
    const who = ctx.identity === undefined ? {} : { subject: ctx.identity.subject };
    ctx.log.info({ method, code, ms: Math.round(seconds * 1e6) / 1000, ...who, ...(e ? { reason: e.message } : {}) }, 'call completed');
  }
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
    // Without authentication (allowAll) the handler starts at once: two promise turns fewer per call.
    const answer =
      options.authorize === allowAll
        ? new Promise<Res>((resolve) => resolve(handler(call.request, ctx, call)))
        : Promise.resolve()
            .then(() => options.authorize(ctx, method, call.metadata))
            .then(() => handler(call.request, ctx, call));
    answer
      .then(
        (result) => {
          callback(null, options.redact ? (options.redact.value(method, result) as Res) : result);
          report(options, ctx, method, started);
        },
        (error: unknown) => {
          callback(grpcStatus(error, options.redact));
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
          // 'error' (not destroy) makes grpc-js end the call with this status.
          if (!call.cancelled) call.emit('error', endStatus(error, options));
          report(options, ctx, method, started, error);
        },
      );
  };
}

/**
 * A bidirectional stream whose every message is a request of its own (ModelStreamInfer): each
 * gets its own context (with the message's id), authorization and report; `handle` answers it.
 * Answers go out in message order; the stream ends after the last answer once the client ends it.
 * The call's metadata (its token) is authorized once, when the stream opens: a refused stream
 * ends at once with UNAUTHENTICATED / PERMISSION_DENIED, and each message carries the identity.
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
    const opened = performance.now();
    const streamCtx = callContext(call as AnyCall, options, undefined, cancellation);
    let refused = false;
    const authorized: Promise<boolean> = Promise.resolve()
      .then(() => options.authorize(streamCtx, method, call.metadata))
      .then(
        () => true,
        (error: unknown) => {
          refused = true;
          if (!call.cancelled) call.emit('error', endStatus(error, options));
          report(options, streamCtx, method, opened, error);
          return false;
        },
      );
    call.on('data', (message: Req) => {
      if (refused) return;
      const started = performance.now();
      const ctx = callContext(call as AnyCall, options, message.id, cancellation);
      const result = authorized.then(async (ok) => {
        if (!ok) return null; // the stream was refused: nothing to answer
        ctx.identity = streamCtx.identity;
        try {
          const response = await handle(message, ctx);
          report(options, ctx, method, started);
          return response;
        } catch (error) {
          report(options, ctx, method, started, error);
          const e = asTesseraError(error);
          const shown = options.redact ? options.redact.text(e.message) : e.message;
          return failed(message, shown === e.message ? error : new TesseraError(e.code, shown, { cause: error }));
        }
      });
      tail = tail.then(async () => {
        const out = await result;
        if (out !== null && !call.cancelled) call.write(out);
      });
    });
    call.on('end', () => void tail.then(() => !refused && call.end()));
    call.on('error', () => undefined);
  };
}
