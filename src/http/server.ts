// The V2 REST front end: a thin fastify adapter over the dataplane. Bodies are parsed here (JSON
// with exact 64-bit integers), handed to the dataplane as core types, and responses are written as
// prebuilt JSON text. Every failure answers {"error": "..."}.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { DataPlane } from '../core/dataplane.js';
import { TesseraError, asTesseraError } from '../core/errors.js';
import { parseJson, type JsonValue } from './exact-json.js';
import { decodeInferenceRequest, encodeInferenceResponse } from './json-codec.js';

export interface HttpOptions {
  dataplane: DataPlane;
  logger: Logger;
  bodyLimit: number;
  accessLog: boolean;
}

type ModelParams = { model: string; version?: string };

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json').send(JSON.stringify(body));
}

export function createHttpServer(options: HttpOptions): FastifyInstance {
  const { dataplane } = options;
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: !options.accessLog }),
    bodyLimit: options.bodyLimit,
    routerOptions: { ignoreTrailingSlash: true },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    keepAliveTimeout: 75_000, // longer than common load balancer idle timeouts (60 s)
  });

  // One parser for every body: JSON with no Content-Type, with application/json, or inside
  // application/octet-stream — real clients send each.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0) return done(null, undefined);
    try {
      done(null, parseJson(text));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof TesseraError) {
      if (error.kind === 'internal') request.log.error({ err: error.cause ?? error }, error.message);
      return sendJson(reply, error.httpStatus, { error: error.message });
    }
    const e = error as { code?: string; statusCode?: number; message?: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendJson(reply, 413, {
        error: `request body is larger than the limit of ${options.bodyLimit} bytes (setting http_max_input_size)`,
      });
    }
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return sendJson(reply, e.statusCode, { error: e.message ?? 'bad request' });
    }
    const wrapped = asTesseraError(error);
    request.log.error({ err: error }, 'request failed');
    return sendJson(reply, wrapped.httpStatus, { error: wrapped.message });
  });

  app.setNotFoundHandler((request, reply) =>
    sendJson(reply, 404, { error: `Not Found: ${request.method} ${request.url.split('?')[0]}` }),
  );

  app.get('/v2/health/live', (_req, reply) => sendJson(reply, dataplane.live() ? 200 : 503, { live: dataplane.live() }));
  app.get('/v2/health/ready', (_req, reply) => {
    const ready = dataplane.ready();
    return sendJson(reply, ready ? 200 : 503, { ready });
  });

  app.get('/v2', (_req, reply) => sendJson(reply, 200, dataplane.serverMetadata()));

  app.get('/v2/models', (_req, reply) => sendJson(reply, 200, { models: dataplane.listModels() }));

  const modelRoutes = (prefix: string): void => {
    app.get(prefix, (req: FastifyRequest<{ Params: ModelParams }>, reply) =>
      sendJson(reply, 200, dataplane.modelMetadata(req.params.model, req.params.version)),
    );
    app.get(`${prefix}/ready`, (req: FastifyRequest<{ Params: ModelParams }>, reply) => {
      const ready = dataplane.modelReady(req.params.model, req.params.version);
      return sendJson(reply, ready ? 200 : 503, { name: req.params.model, ready });
    });
    app.post(`${prefix}/infer`, async (req: FastifyRequest<{ Params: ModelParams }>, reply) => {
      // Resolve the model first: an unknown or unloaded model answers 404/503 before any decoding.
      const entry = dataplane.servable(req.params.model, req.params.version);
      const request = decodeInferenceRequest(req.body as JsonValue | undefined);
      const response = await dataplane.infer(entry, request);
      return reply.code(200).type('application/json').send(encodeInferenceResponse(response));
    });
  };
  modelRoutes('/v2/models/:model');
  modelRoutes('/v2/models/:model/versions/:version');

  return app;
}
