// The HTTP front end: a fastify app made of one plugin per surface (V2 inference, statistics and
// configuration, repository, docs; MLflow adds its own), each with its own error handler so each
// answers in its own error shape. The app itself holds what every surface shares: bodies kept as
// raw bytes, request body inflation, the access log and metrics, request ids, the 404 answer and
// the list of documented routes (collected as fastify registers them, for the OpenAPI document).
import { createGunzip, createInflate } from 'node:zlib';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { DataPlane } from '../core/dataplane.js';
import { badRequest } from '../core/errors.js';
import type { ModelRepository } from '../core/model-repository.js';
import type { Metrics } from '../metrics/metrics.js';
import { installHttpSecurity, type HttpSecurity } from '../security/http.js';
import { v2ErrorHandler } from './errors.js';
import { httpServerOptions, installHttpLimits, nodeServerOptions, type HttpLimits } from './limits.js';
import type { TensorLimits } from '../core/limits.js';
import type { DocumentedRoute, Schema } from './openapi.js';
import { docsPlugin } from './plugins/docs.js';
import { repositoryPlugin } from './plugins/repository.js';
import { statisticsPlugin } from './plugins/statistics.js';
import type { SurfaceOptions } from './plugins/surface.js';
import { v2Plugin } from './plugins/v2.js';
import { bodySender, sendJson } from './send.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's OpenAPI operation; routes without one are left out of the API document. */
    openapi?: Schema | false;
  }
  interface FastifyInstance {
    /** Every route registered with an OpenAPI operation, in registration order. */
    documentedRoutes: DocumentedRoute[];
  }
}

export interface HttpOptions {
  dataplane: DataPlane;
  repository: ModelRepository;
  logger: Logger;
  bodyLimit: number;
  /** One info line per request (MLServer's `debug` setting). */
  accessLog: boolean;
  metrics?: Metrics | undefined;
  /** Compress large responses when the client accepts it (gzip_enabled). */
  compress: boolean;
  /** The path prefix a proxy in front strips (root_path), for the API docs. */
  rootPath: string;
  /** Reported in the API document. */
  version: string;
  /** More surfaces (MLflow's, say), registered after the built-in ones. */
  surfaces?: HttpSurface[] | undefined;
  /** Auth, CORS, the cross-origin rule, TLS and path redaction for every surface (src/security/). */
  security?: HttpSecurity | undefined;
  /** Serve the Swagger UI and the OpenAPI document (docs_enabled); default true. */
  docs?: boolean | undefined;
  /** Timeouts, connection cap and in-flight body budget of the listener (src/http/limits.ts). */
  limits?: HttpLimits | undefined;
  /** Element limits on inference requests (max_tensor_elements, max_request_elements). */
  tensorLimits?: TensorLimits | undefined;
}

/** A surface added to the app: a fastify plugin given the dataplane, with its own error handler. */
export interface HttpSurface {
  name: string;
  plugin: FastifyPluginAsync<SurfaceOptions>;
}

export function createHttpApp(options: HttpOptions): FastifyInstance {
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
    // Timeouts, and V2-shaped answers to what Node and fastify refuse themselves (limits.ts).
    ...(options.limits !== undefined ? httpServerOptions(options.limits) : {}),
    // HTTPS when TLS is on (the instance type is the same for what the app uses of it).
    ...((options.security?.https
      ? { https: { ...(options.limits !== undefined ? nodeServerOptions(options.limits) : {}), ...options.security.https } } // the limits' timeouts too
      : {}) as object),
  });

  // First: every route is classified (and its API operation marked) before it is documented.
  if (options.security !== undefined) installHttpSecurity(app, options.security);

  const documented: DocumentedRoute[] = [];
  app.decorate('documentedRoutes', documented);
  app.addHook('onRoute', (route) => {
    const operation = route.config?.openapi;
    if (operation === undefined || operation === false) return;
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') documented.push({ method, url: route.url, operation });
    }
  });

  // Bodies stay raw bytes here: JSON may come with no Content-Type, with application/json, or
  // inside application/octet-stream (real clients send each), and with Triton's binary extension
  // the JSON is only the first Inference-Header-Content-Length bytes. Routes parse what they need.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  // Content-Encoding: gzip / deflate request bodies are inflated before the body limit applies,
  // so the limit bounds the decompressed size.
  // A callback hook, not an async one: most bodies are not encoded, and that answer needs no promise.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const encoding = request.headers['content-encoding']?.trim().toLowerCase();
    if (encoding === undefined || encoding === '' || encoding === 'identity') return done(null, payload);
    let inflater;
    if (encoding === 'gzip' || encoding === 'x-gzip') inflater = createGunzip();
    else if (encoding === 'deflate') inflater = createInflate();
    else return done(badRequest(`unsupported Content-Encoding '${encoding}': use gzip, deflate or identity`));
    // fastify checks Content-Length against the bytes received on the wire, not the inflated ones.
    const counted = inflater as typeof inflater & { receivedEncodedLength: number };
    counted.receivedEncodedLength = 0;
    payload.on('data', (chunk: Buffer) => (counted.receivedEncodedLength += chunk.length));
    payload.on('error', (error) => inflater.destroy(error));
    done(null, payload.pipe(inflater));
  });

  // After inflation, so the in-flight budget counts the bytes the server holds; and after the
  // security hooks, so a refused caller reserves nothing.
  if (options.limits !== undefined) {
    installHttpLimits(app, { limits: options.limits, lifecycle: options.dataplane.lifecycle, logger: options.logger });
  }

  const { metrics, accessLog } = options;
  if (metrics !== undefined || accessLog) {
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics?.observeHttp(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
      if (accessLog) {
        request.log.info(
          { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 1000) / 1000 },
          'request completed',
        );
      }
      done();
    });
  }

  // Errors outside any surface (a hook before routing), and unknown routes, in the V2 shape.
  app.setErrorHandler(v2ErrorHandler(options.bodyLimit));
  app.setNotFoundHandler((request, reply) => sendJson(reply, 404, { error: `Not Found: ${request.method} ${request.url.split('?')[0]}` }));

  const surface: SurfaceOptions = {
    dataplane: options.dataplane,
    repository: options.repository,
    logger: options.logger,
    bodyLimit: options.bodyLimit,
    send: bodySender(options.compress),
    tensorLimits: options.tensorLimits,
  };
  void app.register(v2Plugin, surface);
  void app.register(statisticsPlugin, surface);
  void app.register(repositoryPlugin, surface);
  for (const extra of options.surfaces ?? []) void app.register(extra.plugin, surface);
  if (options.docs !== false) void app.register(docsPlugin, {
    version: options.version,
    rootPath: options.rootPath,
    bodyLimit: options.bodyLimit,
    routes: () => documented,
  });
  return app;
}
