// The V2 REST front end: a thin fastify adapter over the dataplane. Bodies are parsed here (JSON
// with exact 64-bit integers), handed to the dataplane as core types, and responses are written as
// prebuilt JSON text. Every failure answers {"error": "..."}.
import { promisify } from 'node:util';
import { createGunzip, createInflate, deflate, gzip } from 'node:zlib';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { DataPlane } from '../core/dataplane.js';
import type { ModelRepository } from '../core/model-repository.js';
import { TesseraError, asTesseraError } from '../core/errors.js';
import { invalidArgument } from '../core/errors.js';
import { HEADER_LENGTH, binaryOutputs, rawInputRequest, splitInferBody } from './binary-body.js';
import type { Metrics } from '../metrics/metrics.js';
import { registerDocs } from './docs.js';
import { parseJson, type JsonValue } from './exact-json.js';
import { decodeInferenceRequest, encodeInferenceResponseParts } from './json-codec.js';

const gzipAsync = promisify(gzip);
const deflateAsync = promisify(deflate);

/** Responses smaller than this are not worth compressing. */
export const COMPRESS_MIN_BYTES = 1024;

/** gzip or deflate if the client accepts it (q > 0), preferring gzip. */
function acceptedEncoding(header: string | undefined): 'gzip' | 'deflate' | null {
  if (header === undefined) return null;
  const accepted = new Set<string>();
  for (const part of header.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) accepted.add(name);
  }
  if (accepted.has('gzip') || accepted.has('*')) return 'gzip';
  return accepted.has('deflate') ? 'deflate' : null;
}

async function sendBody(request: FastifyRequest, reply: FastifyReply, body: Buffer): Promise<FastifyReply> {
  const encoding = body.length >= COMPRESS_MIN_BYTES ? acceptedEncoding(request.headers['accept-encoding']) : null;
  if (encoding === null) return reply.send(body);
  const compressed = encoding === 'gzip' ? await gzipAsync(body) : await deflateAsync(body);
  return reply.header('content-encoding', encoding).header('vary', 'accept-encoding').send(compressed);
}

export interface HttpOptions {
  dataplane: DataPlane;
  repository: ModelRepository;
  logger: Logger;
  bodyLimit: number;
  /** One info line per request (MLServer's `debug` setting). */
  accessLog: boolean;
  metrics?: Metrics | undefined;
}

type ModelParams = { model: string; version?: string };

function sendJson(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json').send(JSON.stringify(body));
}

export function createHttpServer(options: HttpOptions): FastifyInstance {
  const { dataplane } = options;
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Every log line about a request carries `requestId`: the client's x-request-id, else one
    // generated here; an infer request's V2 `id` replaces it once the body is read. fastify's own
    // request lines are off: the access log below is written when the request id is final.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    requestIdHeader: 'x-request-id',
    bodyLimit: options.bodyLimit,
    routerOptions: { ignoreTrailingSlash: true },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    keepAliveTimeout: 75_000, // longer than common load balancer idle timeouts (60 s)
  });

  // Bodies stay raw bytes here: JSON may come with no Content-Type, with application/json, or
  // inside application/octet-stream (real clients send each), and with Triton's binary extension
  // the JSON is only the first Inference-Header-Content-Length bytes. Routes parse what they need.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  // Content-Encoding: gzip / deflate request bodies are inflated before the body limit applies,
  // so the limit bounds the decompressed size.
  app.addHook('preParsing', async (request, _reply, payload) => {
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding === undefined || encoding === '' || encoding === 'identity') return payload;
    let inflater;
    if (encoding === 'gzip' || encoding === 'x-gzip') inflater = createGunzip();
    else if (encoding === 'deflate') inflater = createInflate();
    else throw invalidArgument(`unsupported Content-Encoding '${encoding}': use gzip, deflate or identity`);
    // fastify checks Content-Length against the bytes received on the wire, not the inflated ones.
    const counted = inflater as typeof inflater & { receivedEncodedLength: number };
    counted.receivedEncodedLength = 0;
    payload.on('data', (chunk: Buffer) => (counted.receivedEncodedLength += chunk.length));
    payload.on('error', (error) => inflater.destroy(error));
    return payload.pipe(inflater);
  });

  const { metrics, accessLog } = options;
  if (metrics !== undefined || accessLog) {
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics?.httpSeconds.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
      if (accessLog) {
        request.log.info(
          { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 1000) / 1000 },
          'request completed',
        );
      }
      done();
    });
  }

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof TesseraError) {
      if (error.kind === 'internal') request.log.error({ err: error.cause ?? error }, error.message);
      else request.log.debug({ status: error.httpStatus, reason: error.message }, 'request refused');
      return sendJson(reply, error.httpStatus, { error: error.message });
    }
    const e = error as { code?: string; statusCode?: number; message?: string };
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return sendJson(reply, 413, {
        error: `request body is larger than the limit of ${options.bodyLimit} bytes (setting http_max_input_size)`,
      });
    }
    if (e.code === 'Z_DATA_ERROR' || e.code === 'Z_BUF_ERROR') {
      return sendJson(reply, 400, { error: `the request body is not valid ${request.headers['content-encoding']} data: ${e.message}` });
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
  app.get('/v2/models/stats', (_req, reply) => sendJson(reply, 200, { model_stats: dataplane.statistics() }));

  registerDocs(app, dataplane.serverMetadata().version);

  const modelRoutes = (prefix: string): void => {
    app.get(prefix, (req: FastifyRequest<{ Params: ModelParams }>, reply) =>
      sendJson(reply, 200, dataplane.modelMetadata(req.params.model, req.params.version)),
    );
    app.get(`${prefix}/stats`, (req: FastifyRequest<{ Params: ModelParams }>, reply) =>
      sendJson(reply, 200, { model_stats: dataplane.statistics(req.params.model, req.params.version) }),
    );
    app.get(`${prefix}/config`, (req: FastifyRequest<{ Params: ModelParams }>, reply) =>
      sendJson(reply, 200, dataplane.modelConfig(req.params.model, req.params.version)),
    );
    app.get(`${prefix}/ready`, (req: FastifyRequest<{ Params: ModelParams }>, reply) => {
      const ready = dataplane.modelReady(req.params.model, req.params.version);
      return sendJson(reply, ready ? 200 : 503, { name: req.params.model, ready });
    });
    app.post(`${prefix}/infer`, async (req: FastifyRequest<{ Params: ModelParams }>, reply) => {
      // Resolve the model first: an unknown or unloaded model answers 404/503 before any decoding.
      const entry = dataplane.servable(req.params.model, req.params.version);
      const body = splitInferBody(req.body as Buffer | undefined, req.headers[HEADER_LENGTH]);
      const request = body.rawInput !== null ? rawInputRequest(entry, body.rawInput) : decodeInferenceRequest(body.json, body.binary);
      if (request.id !== undefined && request.id !== '') req.log = options.logger.child({ requestId: request.id });
      // A client that goes away before the answer takes its request out of the queue.
      const cancellation = (): AbortSignal => {
        const gone = new AbortController();
        if (reply.raw.destroyed) gone.abort();
        reply.raw.once('close', () => {
          if (!reply.raw.writableFinished) gone.abort();
        });
        return gone.signal;
      };
      const response = await dataplane.infer(entry, request, cancellation);
      const { json, binary } = encodeInferenceResponseParts(response, binaryOutputs(request, response, body.rawInput !== null));
      if (binary.length === 0) return sendBody(req, reply.code(200).type('application/json'), Buffer.from(json));
      const header = Buffer.from(json);
      reply.code(200).type('application/octet-stream').header('inference-header-content-length', header.length);
      return sendBody(req, reply, Buffer.concat([header, ...binary]));
    });
  };
  modelRoutes('/v2/models/:model');
  modelRoutes('/v2/models/:model/versions/:version');

  // Model repository extension. Triton also accepts a repository name in the path; Tessera has one
  // repository, so the name is accepted and not used.
  const { repository } = options;
  const jsonBody = (req: FastifyRequest): Record<string, JsonValue> => {
    const body = req.body as Buffer | undefined;
    if (body === undefined || body.length === 0) return {};
    const value = parseJson(body.toString('utf8'));
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgument('the request body must be a JSON object');
    return value as Record<string, JsonValue>;
  };
  for (const base of ['/v2/repository', '/v2/repository/:repository']) {
    app.post(`${base}/index`, (req, reply) => {
      const ready = jsonBody(req).ready;
      if (ready !== undefined && typeof ready !== 'boolean') throw invalidArgument("'ready' must be a boolean");
      return sendJson(reply, 200, repository.index(ready === true));
    });
    app.post(`${base}/models/:model/load`, async (req: FastifyRequest<{ Params: ModelParams }>, reply) => {
      jsonBody(req); // validated; load parameters (Triton's config overrides) are not supported
      await repository.load(req.params.model);
      return sendJson(reply, 200, { name: req.params.model, load: true });
    });
    app.post(`${base}/models/:model/unload`, async (req: FastifyRequest<{ Params: ModelParams }>, reply) => {
      jsonBody(req);
      await repository.unload(req.params.model);
      return sendJson(reply, 200, { name: req.params.model, unload: true });
    });
  }

  return app;
}
