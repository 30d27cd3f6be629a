// Limits of the HTTP listener, so no client can stall, exhaust or kill the server through it:
//
// - timeouts: a request's headers must arrive within http_headers_timeout and the whole request
//   within http_request_timeout (a body trickled at 1 byte / 10 s is closed with 408), an idle
//   keep-alive connection is closed after http_keep_alive_timeout, and a connection with no
//   traffic either way after http_idle_timeout;
// - a cap on open connections (http_max_connections): further ones are closed at once;
// - a cap on request-body bytes in flight across the server (http_max_inflight_bytes): a body
//   counts from its first byte until its answer is sent; while the server holds more, new uploads
//   get 503 with Retry-After instead of being read into memory;
// - Node's and fastify's own refusals (malformed requests, oversized headers, bad URLs, long path
//   segments, timeouts) answer {"error": "..."} with the catalogue's status, as the V2 routes do;
// - the lifecycle: while draining, answers carry `Connection: close`; once the server no longer
//   admits, new requests get 503 (SHUTTING_DOWN).
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import { Transform } from 'node:stream';
import type { FastifyError, FastifyHttpOptions, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import {
  badRequest,
  headersTooLarge,
  overloaded,
  requestTimeout,
  shuttingDown,
  type TesseraError,
  uriTooLong,
} from '../core/errors.js';
import type { Lifecycle } from '../core/lifecycle.js';
import { retryAfter } from './errors.js';
import { sendJson } from './send.js';

export interface HttpLimits {
  /** Whole request (headers and body) must arrive within this, ms; 0: no limit. */
  requestTimeoutMs: number;
  /** Headers must arrive within this, ms (at most requestTimeoutMs). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this, ms. */
  keepAliveTimeoutMs: number;
  /** A connection with no traffic either way is closed after this, ms; 0: never. */
  idleTimeoutMs: number;
  /** Open connections on the port; 0: no cap. */
  maxConnections: number;
  /** Request-body bytes in flight across the server; 0: no cap. */
  maxInflightBytes: number;
}

/** Node's limit on the size of request headers (its --max-http-header-size default). */
const MAX_HEADER_BYTES = 16 * 1024;

/** Shown paths are cut to this many characters (they are the client's own text). */
const SHOWN_PATH = 80;

const shortPath = (path: string): string => (path.length > SHOWN_PATH ? `${path.slice(0, SHOWN_PATH)}...` : path);

/**
 * How often Node checks the request and header timeouts: a quarter of the shorter one, between
 * 100 ms and 1 s (Node's default, 30 s, would let a 1 s timeout fire 30 s late).
 */
function checkingInterval(limits: HttpLimits): number {
  const shortest = Math.min(...[limits.requestTimeoutMs, limits.headersTimeoutMs].filter((ms) => ms > 0), 4000);
  return Math.max(100, Math.min(1000, Math.floor(shortest / 4)));
}

/** Node server settings from the limits (headersTimeout may not exceed requestTimeout). */
function nodeServerSettings(limits: HttpLimits): { requestTimeout: number; headersTimeout: number; keepAliveTimeout: number } {
  const headersTimeout = limits.requestTimeoutMs > 0 ? Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) : limits.headersTimeoutMs;
  return { requestTimeout: limits.requestTimeoutMs, headersTimeout, keepAliveTimeout: limits.keepAliveTimeoutMs };
}

/**
 * The fastify options the limits set: timeouts (also given to Node's http.createServer, which is
 * where the header timeout and the checking interval live) and the handlers of Node's and
 * fastify's own refusals. A TLS server (fastify's `https` option) does not take `http`:
 * installHttpLimits sets the same values on whichever server fastify made.
 */
export function httpServerOptions(limits: HttpLimits): Partial<FastifyHttpOptions<Server>> {
  const node = nodeServerSettings(limits);
  return {
    requestTimeout: node.requestTimeout,
    keepAliveTimeout: node.keepAliveTimeout,
    connectionTimeout: limits.idleTimeoutMs,
    http: nodeServerOptions(limits),
    // Draining is handled by installHttpLimits (fastify's own 503 body is not the V2 shape).
    return503OnClosing: false,
    clientErrorHandler: (error: Error & { code?: string }, socket: Socket) => answerClientError(error, socket, limits),
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const path = shortPath(request.raw.url ?? '');
      let e: TesseraError;
      if (error.code === 'FST_ERR_BAD_URL') e = badRequest(`the URL '${path}' is not valid (malformed percent-encoding)`);
      else if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') e = uriTooLong(`a path segment of '${path}' is longer than 100 characters`);
      else e = badRequest(error.message);
      request.log.debug({ status: e.httpStatus, code: e.code, reason: e.message }, 'request refused');
      void sendJson(reply, e.httpStatus, { error: e.message });
    },
  };
}

/**
 * The options Node's http.createServer (and https.createServer, for a TLS listener) takes from the
 * limits: the timeouts and how often they are checked.
 */
export function nodeServerOptions(limits: HttpLimits): ReturnType<typeof nodeServerSettings> & { connectionsCheckingInterval: number } {
  return { ...nodeServerSettings(limits), connectionsCheckingInterval: checkingInterval(limits) };
}

/** Answers a request Node refused before fastify saw it (parse error, oversized headers, timeout). */
function answerClientError(error: Error & { code?: string; reason?: string }, socket: Socket, limits: HttpLimits): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let e: TesseraError;
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    const { requestTimeout: total, headersTimeout } = nodeServerSettings(limits);
    e = requestTimeout(
      `the request did not arrive in time: headers are allowed ${headersTimeout / 1000} s (http_headers_timeout), the whole request ${total / 1000} s (http_request_timeout)`,
    );
  } else if (error.code === 'HPE_HEADER_OVERFLOW') {
    e = headersTooLarge(`the request line and headers are larger than ${MAX_HEADER_BYTES} bytes`);
  } else {
    e = badRequest(`malformed HTTP request: ${error.reason ?? error.message}`);
  }
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: e.message });
  socket.end(
    `HTTP/1.1 ${e.httpStatus} ${STATUS_CODES[e.httpStatus] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  // A client still sending (a trickled body) gets its answer, then the connection goes.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** Request-body bytes held by the server: reserved when a request starts, released when it is answered. */
class InflightBytes {
  held = 0;
  private readonly tickets = new WeakMap<IncomingMessage, { bytes: number }>();

  reserve(request: IncomingMessage, bytes: number): { bytes: number } {
    const ticket = { bytes };
    this.held += bytes;
    this.tickets.set(request, ticket);
    return ticket;
  }

  grow(ticket: { bytes: number }, bytes: number): void {
    ticket.bytes += bytes;
    this.held += bytes;
  }

  release(request: IncomingMessage): void {
    const ticket = this.tickets.get(request);
    if (ticket === undefined) return;
    this.tickets.delete(request);
    this.held -= ticket.bytes;
  }

  ticket(request: IncomingMessage): { bytes: number } | undefined {
    return this.tickets.get(request);
  }
}

export interface HttpLimitsInstall {
  limits: HttpLimits;
  lifecycle: Lifecycle;
  logger: Logger;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Connections accepted that have not sent a request yet (installHttpLimits). The shutdown
     * closes idle connections only when there are none: Node counts such a connection as idle,
     * and closing it resets a client whose request is on its way.
     */
    unservedConnections: () => number;
  }
}

/** Counted request-body bytes (for tests and status). */
export interface HttpLimitsState {
  inflightBytes(): number;
}

/**
 * Installs the connection cap, the in-flight body budget and the lifecycle hooks on the app.
 * Call it after any preParsing hook that inflates bodies, so inflated bytes are what is counted.
 */
export function installHttpLimits(app: FastifyInstance, options: HttpLimitsInstall): HttpLimitsState {
  const { limits, lifecycle, logger } = options;
  const server = app.server;
  // Set again on the server fastify made: a TLS server did not get the `http` options.
  Object.assign(server, nodeServerSettings(limits));
  if (limits.maxConnections > 0) {
    server.maxConnections = limits.maxConnections;
    let lastWarning = 0;
    server.on('drop', () => {
      const now = Date.now();
      if (now - lastWarning < 10_000) return;
      lastWarning = now;
      logger.warn(`HTTP connection refused: ${limits.maxConnections} connections are open (setting http_max_connections)`);
    });
  }

  // Connections that have not sent a request yet (TLS: counted once the handshake is done).
  const unserved = new Set<object>();
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (socket: Socket) => {
    unserved.add(socket);
    socket.once('close', () => unserved.delete(socket));
  });
  server.on('request', (req: IncomingMessage) => unserved.delete(req.socket));
  app.decorate('unservedConnections', () => unserved.size);

  const inflight = new InflightBytes();
  const budget = limits.maxInflightBytes;

  app.addHook('onRequest', (request, reply, done) => {
    if (!lifecycle.admitting) {
      const e = shuttingDown('the server is shutting down: send the request to another instance');
      retryAfter(reply, e);
      reply.header('connection', 'close');
      void sendJson(reply, e.httpStatus, { error: e.message });
      return;
    }
    if (lifecycle.draining) reply.header('connection', 'close');
    const raw = request.raw;
    const lengthHeader = raw.headers['content-length'];
    const hasBody = lengthHeader !== undefined ? lengthHeader !== '0' : raw.headers['transfer-encoding'] !== undefined;
    if (!hasBody || budget <= 0) return done();
    // A body of known size is reserved whole now; one of unknown final size (chunked, or
    // compressed) is counted as its bytes arrive (preParsing below).
    const encoded = (raw.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    const known = lengthHeader !== undefined && (encoded === 'identity' || encoded === '') ? Number(lengthHeader) : 0;
    const reserve = Number.isFinite(known) && known > 0 ? known : 0;
    if (inflight.held > 0 && inflight.held + Math.max(reserve, 1) > budget) {
      const e = overloaded(
        `the server is receiving ${inflight.held} bytes of request bodies, over its limit of ${budget} (setting http_max_inflight_bytes): retry later`,
      );
      retryAfter(reply, e);
      reply.header('connection', 'close'); // the unread body is not read
      request.log.debug({ status: e.httpStatus, code: e.code, reason: e.message }, 'request refused');
      void sendJson(reply, e.httpStatus, { error: e.message });
      return;
    }
    inflight.reserve(raw, reserve);
    reply.raw.once('close', () => inflight.release(raw));
    done();
  });

  if (budget > 0) {
    app.addHook('preParsing', async (request, _reply, payload) => {
      const raw = request.raw;
      const ticket = inflight.ticket(raw);
      if (ticket === undefined || ticket.bytes > 0) return payload; // nothing to count, or reserved whole
      let counted = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          counted += chunk.length;
          inflight.grow(ticket, chunk.length);
          callback(null, chunk);
        },
      });
      // fastify compares Content-Length with the bytes on the wire, which an inflating stream before
      // this one reports as receivedEncodedLength.
      const upstream = payload as typeof payload & { receivedEncodedLength?: number };
      Object.defineProperty(counter, 'receivedEncodedLength', { get: () => upstream.receivedEncodedLength ?? counted });
      payload.on('error', (error) => counter.destroy(error));
      return payload.pipe(counter);
    });
  }

  return { inflightBytes: () => inflight.held };
}
