// What each route and RPC needs: every HTTP route and gRPC method belongs to one class, and each
// class is granted by some token scopes (or open to everyone, when listed in `auth_open`).
//
//   class    | what                                                     | granted by scopes
//   health   | liveness, readiness, model readiness, grpc.health.v1      | any valid token (open by default)
//   metrics  | Prometheus metrics                                        | metrics, admin (open by default)
//   docs     | Swagger UI, the OpenAPI document, gRPC reflection         | read, infer, admin
//   read     | server and model metadata, model list, statistics, config | read, infer, admin
//   infer    | inference (V2, MLflow /invocations, ModelInfer, stream)   | infer
//   admin    | repository index/load/unload, log settings                | admin
//
// A route's class comes from its own `config.scope` when its surface sets one, else from the
// tables below (another method of a known path has the path's class: those routes answer 405),
// else from its method: GET/HEAD routes are `read`, every other method `admin`
// (the safe side: a new state-changing route needs an admin token until it is classified).
// gRPC methods not in the table are `admin` for the same reason.

export const SCOPES = ['infer', 'read', 'admin', 'metrics'] as const;
export type Scope = (typeof SCOPES)[number];

export const ROUTE_CLASSES = ['health', 'metrics', 'docs', 'read', 'infer', 'admin'] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

/** The classes `auth_open` may leave open (inference and administration always need a token). */
export const OPENABLE_CLASSES = ['health', 'metrics', 'docs', 'read'] as const;

/** The scopes that grant each class; `any`: every valid token. */
export const GRANTED_BY: Record<RouteClass, readonly Scope[] | 'any'> = {
  health: 'any',
  metrics: ['metrics', 'admin'],
  docs: ['read', 'infer', 'admin'],
  read: ['read', 'infer', 'admin'],
  infer: ['infer'],
  admin: ['admin'],
};

export function grants(scopes: readonly string[], cls: RouteClass): boolean {
  const needed = GRANTED_BY[cls];
  return needed === 'any' || scopes.some((s) => (needed as readonly string[]).includes(s));
}

/** The scope to name in a 403 (the narrowest that grants the class). */
export function neededScope(cls: RouteClass): string {
  const needed = GRANTED_BY[cls];
  return needed === 'any' ? '' : needed[0];
}

/** Classes by fastify route pattern and method ('*': any method). */
const HTTP_ROUTES: Record<string, Partial<Record<string, RouteClass>>> = {
  '/v2/health/live': { GET: 'health' },
  '/v2/health/ready': { GET: 'health' },
  '/v2/models/:model/ready': { GET: 'health' },
  '/v2/models/:model/versions/:version/ready': { GET: 'health' },
  '/v2': { GET: 'read' },
  '/v2/': { GET: 'read' },
  '/v2/models': { GET: 'read' },
  '/v2/models/:model': { GET: 'read' },
  '/v2/models/:model/versions/:version': { GET: 'read' },
  '/v2/models/stats': { GET: 'read' },
  '/v2/models/:model/stats': { GET: 'read' },
  '/v2/models/:model/versions/:version/stats': { GET: 'read' },
  '/v2/models/:model/config': { GET: 'read' },
  '/v2/models/:model/versions/:version/config': { GET: 'read' },
  '/v2/models/:model/infer': { POST: 'infer' },
  '/v2/models/:model/versions/:version/infer': { POST: 'infer' },
  '/v2/repository/index': { '*': 'admin' },
  '/v2/repository/:repository/index': { '*': 'admin' },
  '/v2/repository/models/:model/load': { '*': 'admin' },
  '/v2/repository/:repository/models/:model/load': { '*': 'admin' },
  '/v2/repository/models/:model/unload': { '*': 'admin' },
  '/v2/repository/:repository/models/:model/unload': { '*': 'admin' },
  '/v2/logging': { '*': 'admin' },
  '/v2/docs': { GET: 'docs' },
  '/v2/docs/dataplane.json': { GET: 'docs' },
  '/v2/docs/assets/:file': { GET: 'docs' },
  // MLflow's scoring server (tessera serve, and the /invocations surface)
  '/invocations': { POST: 'infer' },
  '/endpoints/:model/invocations': { POST: 'infer' },
  '/ping': { GET: 'health' },
  '/health': { GET: 'health' },
  '/version': { GET: 'read' },
};

/** The class of an HTTP route: its own config, the table, the metrics endpoint, else by method. */
export function httpRouteClass(method: string, url: string, options: { configured?: unknown; metricsEndpoint?: string | null } = {}): RouteClass {
  if (typeof options.configured === 'string' && (ROUTE_CLASSES as readonly string[]).includes(options.configured)) return options.configured as RouteClass;
  const m = method === 'HEAD' ? 'GET' : method;
  const entry = HTTP_ROUTES[url] ?? HTTP_ROUTES[url.replace(/\/+$/, '')];
  // A known path's other methods (405 answers) keep the path's class.
  const known = entry === undefined ? undefined : (entry[m] ?? entry['*'] ?? Object.values(entry)[0]);
  if (known !== undefined) return known;
  if (options.metricsEndpoint != null && url === options.metricsEndpoint && m === 'GET') return 'metrics';
  return m === 'GET' ? 'read' : 'admin';
}

/** Classes of gRPC methods (the wrapper names them without their service). */
const GRPC_METHODS: Record<string, RouteClass> = {
  ServerLive: 'health',
  ServerReady: 'health',
  ModelReady: 'health',
  Check: 'health',
  Watch: 'health',
  ServerMetadata: 'read',
  ModelMetadata: 'read',
  ModelStatistics: 'read',
  ModelConfig: 'read',
  ModelInfer: 'infer',
  ModelStreamInfer: 'infer',
  RepositoryIndex: 'admin',
  RepositoryModelLoad: 'admin',
  RepositoryModelUnload: 'admin',
  LogSettings: 'admin',
  TraceSetting: 'admin',
  ServerReflectionInfo: 'docs',
};

export function grpcMethodClass(method: string): RouteClass {
  const name = method.slice(method.lastIndexOf('/') + 1);
  return GRPC_METHODS[name] ?? 'admin';
}
