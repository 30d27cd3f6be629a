// HTTP errors: whatever a route or fastify throws, as a TesseraError from the catalogue. Each
// surface (plugin) renders it in its own shape; the V2 surfaces answer {"error": "<message>"}.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  badRequest,
  bodyTooLarge,
  internal,
  notFound,
  permissionDenied,
  rateLimited,
  TesseraError,
  unauthenticated,
  unsupportedMediaType,
} from '../core/errors.js';
import { sendJson } from './send.js';

const BY_STATUS: Record<number, (message: string) => TesseraError> = {
  401: unauthenticated,
  403: permissionDenied,
  404: notFound,
  413: bodyTooLarge,
  415: unsupportedMediaType,
  429: rateLimited,
};

/** Any error of an HTTP request as a catalogued error (fastify's own errors by their code). */
export function httpError(error: unknown, request: FastifyRequest, bodyLimit: number): TesseraError {
  if (error instanceof TesseraError) return error;
  const e = error as Partial<FastifyError> & { code?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return bodyTooLarge(`request body is larger than the limit of ${bodyLimit} bytes (setting http_max_input_size)`);
  }
  if (e.code === 'Z_DATA_ERROR' || e.code === 'Z_BUF_ERROR') {
    return badRequest(`the request body is not valid ${request.headers['content-encoding']} data: ${e.message}`);
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return (BY_STATUS[e.statusCode] ?? badRequest)(e.message ?? 'bad request');
  }
  return internal(e.message ?? String(error), error);
}

/** Logs a failed request: internal failures with their stack, refusals at debug level. */
export function logFailure(request: FastifyRequest, error: TesseraError): void {
  if (error.kind === 'internal') request.log.error({ err: error.cause ?? error, code: error.code }, error.message);
  else request.log.debug({ status: error.httpStatus, code: error.code, reason: error.message }, 'request refused');
}

/** Seconds a client is asked to wait before retrying a 503 (a full queue, a busy or stopping server). */
export const RETRY_AFTER_SECONDS = 1;

/** Sets Retry-After on an answer whose error says to come back later (every 503 of the catalogue). */
export function retryAfter(reply: FastifyReply, error: TesseraError): void {
  if (error.kind === 'unavailable') void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
}

/** The V2 surfaces' error handler: {"error": "<message>"} with the code's HTTP status. */
export function v2ErrorHandler(bodyLimit: number) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const e = httpError(error, request, bodyLimit);
    logFailure(request, e);
    retryAfter(reply, e);
    return sendJson(reply, e.httpStatus, { error: e.message });
  };
}

