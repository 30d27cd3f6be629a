// The request context of an HTTP request: its id (the V2 `id` when the body has one, else the
// client's x-request-id, else fastify's generated id), its deadline from the `x-request-timeout`
// header, and the signal that the client went away (made only if the request has to queue).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { createContext, parseTimeout, type RequestContext } from '../core/context.js';

/** The header a client sets its deadline with: seconds (2, 0.5) or with a unit (1500ms, 2s, 1m). */
export const TIMEOUT_HEADER = 'x-request-timeout';

/** The client's deadline from the request's headers (ms since the epoch), if it set one. */
export function headerDeadline(request: FastifyRequest): number | undefined {
  const header = request.headers[TIMEOUT_HEADER];
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header[0] : header;
  return Date.now() + parseTimeout(`header ${TIMEOUT_HEADER}`, text);
}

export function httpContext(
  request: FastifyRequest,
  reply: FastifyReply,
  logger: Logger,
  options: { id?: string | undefined; protocol?: RequestContext['protocol']; deadline?: number | undefined } = {},
): RequestContext {
  const ownId = options.id !== undefined && options.id !== '';
  return createContext({
    id: ownId ? options.id : request.id,
    protocol: options.protocol ?? 'http',
    deadline: 'deadline' in options ? options.deadline : headerDeadline(request),
    // A client that goes away before the answer takes its request out of the queue.
    cancellation: () => {
      const gone = new AbortController();
      if (reply.raw.destroyed) gone.abort();
      reply.raw.once('close', () => {
        if (!reply.raw.writableFinished) gone.abort();
      });
      return gone.signal;
    },
    logger,
    // The caller a bearer token named (src/security/http.ts); undefined without auth.
    identity: request.identity,
    // fastify's per-request logger already carries the request id, unless the body brought its own.
    log: ownId ? undefined : (request.log as unknown as Logger),
  });
}
