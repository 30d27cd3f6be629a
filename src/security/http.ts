// Security on the HTTP listener, installed once on the fastify app so that every surface (V2,
// statistics, repository, docs, MLflow, metrics, and any added later) is covered without edits:
//   - each route gets its access class when fastify registers it (its own `config.scope`, else
//     the tables of scopes.ts), kept in `app.routeClasses` and in the route's config;
//   - an onRequest hook answers CORS preflights, adds CORS headers for allowed origins, refuses
//     simple cross-origin requests that would change state (cors.ts), then checks the bearer
//     token against the route's class (policy.ts) and puts the caller's identity on the request.
//     Refusals are thrown, so each surface's own error handler answers them in its shape (V2
//     {"error"}, MLflow {"error_code", "message"}); 401s carry `WWW-Authenticate: Bearer`;
//   - an onSend hook takes absolute paths out of every error answer and out of every JSON answer
//     that is not inference (model reasons in /v2/models, the repository index).
// With auth on, the OpenAPI document marks each protected operation with the bearer scheme.
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Identity } from '../core/context.js';
import { permissionDenied } from '../core/errors.js';
import { crossOriginRefusal, type CorsPolicy } from './cors.js';
import type { Redactor } from './paths.js';
import type { AccessPolicy } from './policy.js';
import { GRANTED_BY, httpRouteClass, type RouteClass } from './scopes.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route's access class (see src/security/scopes.ts); derived from the route when absent. */
    scope?: RouteClass;
    /** The access class of each of the route's methods, as derived at registration. */
    access?: Record<string, RouteClass>;
  }
  interface FastifyRequest {
    /** The caller a valid bearer token names; undefined without auth or without a token. */
    identity: Identity | undefined;
  }
  interface FastifyInstance {
    /** Every route with its method and access class, in registration order. */
    routeClasses: { method: string; url: string; scope: RouteClass }[];
  }
}

export interface HttpSecurity {
  policy: AccessPolicy;
  cors: CorsPolicy;
  redact: Redactor;
  /** Node https options when TLS is on. */
  https: HttpsServerOptions | null;
  /** metrics_endpoint, when metrics are served on this listener. */
  metricsEndpoint: string | null;
}

/** Bodies larger than this are never rewritten (no error or listing is that large). */
const REDACT_LIMIT = 1024 * 1024;

/** Answers (below 400) that never carry a file path: inference results, static docs, probes, metrics. */
const UNREDACTED: ReadonlySet<RouteClass> = new Set(['infer', 'docs', 'health', 'metrics']);

type Operation = Record<string, unknown> & { responses?: Record<string, unknown>; description?: string };

/** The route's OpenAPI operation marked with the bearer scheme and its 401/403 answers. */
function securedOperation(operation: Operation, cls: RouteClass): Operation {
  const needed = GRANTED_BY[cls];
  const scopes = needed === 'any' ? 'any valid token' : `a token with one of the scopes ${needed.map((s) => `\`${s}\``).join(', ')}`;
  const error = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });
  return {
    ...operation,
    description: `${operation.description ?? ''}${operation.description ? '\n\n' : ''}Needs ${scopes}.`.trim(),
    security: [{ bearerAuth: [] }],
    'x-tessera-scope': cls,
    responses: {
      ...(operation.responses ?? {}),
      401: error('no bearer token, or one that is not valid'),
      403: error('the token lacks the scope this operation needs, or a cross-origin request was refused'),
    },
  };
}

const isText = (type: unknown): boolean => typeof type === 'string' && (type.includes('json') || type.startsWith('text/'));

export function installHttpSecurity(app: FastifyInstance, security: HttpSecurity): void {
  const { policy, cors, redact } = security;
  const routes: FastifyInstance['routeClasses'] = [];
  app.decorate('routeClasses', routes);
  app.decorateRequest('identity', undefined);

  app.addHook('onRoute', (route) => {
    const access: Record<string, RouteClass> = {};
    for (const method of [route.method].flat()) {
      const scope = httpRouteClass(method, route.url, { configured: route.config?.scope, metricsEndpoint: security.metricsEndpoint });
      access[method] = scope;
      routes.push({ method, url: route.url, scope });
    }
    const config = { ...(route.config ?? {}), access };
    const operation = config.openapi;
    const first = Object.values(access)[0];
    if (policy.enabled && operation !== undefined && operation !== false && first !== undefined && !policy.isOpen(first)) {
      config.openapi = securedOperation(operation as Operation, first);
    }
    route.config = config;
  });

  const classOf = (request: FastifyRequest): RouteClass => {
    // Unmatched routes (404s) need what reading does, so unknown paths cannot be probed anonymously.
    return request.routeOptions.config?.access?.[request.method] ?? 'read';
  };

  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const headers = request.headers;
    const origin = headers.origin;
    if (origin !== undefined) {
      const asked = headers['access-control-request-method'];
      if (request.method === 'OPTIONS' && typeof asked === 'string') {
        const answer = cors.preflight(origin, asked, headers['access-control-request-headers']);
        if (!answer.ok) return done(permissionDenied(`CORS preflight refused: ${answer.reason}`));
        void reply.code(204).headers(answer.headers).send();
        return;
      }
      const allowed = cors.responseHeaders(origin);
      if (allowed !== null) void reply.headers(allowed);
    }
    if (origin !== undefined || headers['sec-fetch-site'] !== undefined) {
      const refusal = crossOriginRefusal(request);
      if (refusal !== null) return done(permissionDenied(refusal));
    }
    if (policy.enabled) {
      const what = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`;
      const decision = policy.decide(classOf(request), headers.authorization, what, 'header');
      if (!decision.ok) {
        void reply.header('www-authenticate', decision.challenge);
        return done(decision.error);
      }
      request.identity = decision.identity;
      // Every log line of the request (the access log too) names the caller, never the token.
      if (decision.identity !== undefined) request.log = request.log.child({ subject: decision.identity.subject });
    }
    done();
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    if (reply.statusCode < 400 && UNREDACTED.has(classOf(request))) return done(null, payload);
    if (typeof payload === 'string') return done(null, redact(payload));
    if (Buffer.isBuffer(payload) && payload.length <= REDACT_LIMIT && reply.getHeader('content-encoding') === undefined && isText(reply.getHeader('content-type'))) {
      const text = payload.toString('utf8');
      const clean = redact(text);
      return done(null, clean === text ? payload : Buffer.from(clean, 'utf8'));
    }
    done(null, payload);
  });
}
