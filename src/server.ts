// The composition root: settings -> worker pool -> registry and dataplane -> front ends.
// The CLI calls startServer; so do the tests, with an ephemeral port and their own logger.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { loadServerSettings, settingsReader, type ServerSettingsSources } from './config/load.js';
import { resolveLimits } from './config/limits.js';
import { setHeapGrowingPercent } from './lifecycle/heap.js';
import { listenError } from './lifecycle/listen.js';
import { shutdown } from './lifecycle/shutdown.js';
import type { ServerSettings } from './config/schema.js';
import { DataPlane } from './core/dataplane.js';
import { BatchingBackend } from './batching/backend.js';
import { ModelLoader } from './core/loader.js';
import { ModelRepository } from './core/model-repository.js';
import { ModelRegistry } from './core/registry.js';
import { discoverModels, type DiscoveredModel, type DiscoveryOptions } from './core/repository.js';
import { StatisticsStore, observers, type InferenceObserver } from './core/statistics.js';
import { Metrics } from './metrics/metrics.js';
import { metricsSurface } from './metrics/http.js';
import { startMetricsServer, type MetricsServer } from './metrics/server.js';
import { closeGrpc, createGrpcServer, listenGrpc } from './grpc/server.js';
import { createHttpApp, type HttpSurface } from './http/app.js';
import { runtimes } from './runtimes/registry.js';
import { createSecurity } from './security/index.js';
import { conversionCacheDir } from './convert/cache.js';
import { mlflowSurface } from './http/plugins/mlflow.js';
import { MLFLOW_RUNTIME } from './mlflow/serving.js';
import { WorkerPool, defaultWorkerCount } from './workers/pool.js';

export const PACKAGE_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Extensions Tessera implements (reported by GET /v2 with the configured ones). */
export const BUILTIN_EXTENSIONS: readonly string[] = ['binary_tensor_data', 'model_repository', 'statistics', 'model_configuration'];

/** gRPC message limit when grpc_max_message_length is not set: the HTTP body default. */
export const DEFAULT_GRPC_MESSAGE_LENGTH = 64 * 1024 * 1024;

export interface StartOptions extends ServerSettingsSources {
  logger?: Logger;
  /** More HTTP surfaces (fastify plugins with their own routes and error shape), e.g. MLflow's. */
  httpSurfaces?: HttpSurface[];
  /**
   * Where models come from instead of scanning the repository folder, asked at start-up and by
   * the repository API (`tessera serve`: the one model its URI names, at the version it serves).
   */
  modelSource?: () => DiscoveredModel[];
  /** false: no gRPC listener (`tessera serve` without --grpc-port). Default true. */
  grpc?: boolean;
  /**
   * Serve metrics_endpoint on the HTTP listener instead of metrics_port (`tessera serve`: one
   * port). Default: only when metrics_port equals a non-zero http_port.
   */
  metricsOnHttp?: boolean;
}

export interface RunningServer {
  settings: ServerSettings;
  repositoryRoot: string;
  dataplane: DataPlane;
  repository: ModelRepository;
  pool: WorkerPool;
  backend: BatchingBackend;
  http: FastifyInstance;
  /** Base URL of the HTTP listener, e.g. http://127.0.0.1:8080 */
  url: string;
  /** host:port of the gRPC listener; '' when gRPC is off. */
  grpcAddress: string;
  /** Base URL of the metrics listener (the HTTP one when metricsOnHttp); undefined when metrics_endpoint is null. */
  metricsUrl: string | undefined;
  metrics: Metrics | undefined;
  /** Settles when the start-up model loads have all finished (successfully or not). */
  loaded: Promise<void>;
  close(): Promise<void>;
}

export async function startServer(options: StartOptions): Promise<RunningServer> {
  const { settings, repositoryRoot, warnings } = loadServerSettings(options);
  const logger = options.logger ?? pino({ level: settings.debug ? 'debug' : settings.log_level });
  for (const w of warnings) logger.warn(w);
  setHeapGrowingPercent(settings.heap_growing_percent);
  // Auth, TLS, CORS, path redaction (src/security/): a bad tokens or PEM file stops start-up here.
  const security = createSecurity(settings, { logger, repositoryRoot });
  // Timeouts, connection caps, body and element budgets, shutdown timing (src/config/limits.ts).
  const limits = resolveLimits(settings);

  if (settings.root_path !== '') {
    logger.info({ root_path: settings.root_path }, 'root_path: the API docs assume a proxy strips this prefix; routes are served without it');
  }
  const discoveryOptions: DiscoveryOptions = { env: options.env ?? process.env, settings: settingsReader, runtimes };
  const discovery = !settings.load_models_at_startup
    ? { models: [], warnings: [] }
    : options.modelSource !== undefined
      ? { models: options.modelSource(), warnings: [] }
      : discoverModels(repositoryRoot, discoveryOptions);
  for (const w of discovery.warnings) logger.warn(w);

  let workers = settings.parallel_workers ?? defaultWorkerCount();
  if (workers < 1) {
    logger.warn('parallel_workers 0 would run models on the main thread; using 1 worker instead');
    workers = 1;
  }
  const pool = new WorkerPool({
    workers,
    logger,
    niceIncrement: settings.worker_nice,
    ...(settings.worker_max_heap_mb !== undefined ? { maxHeapMb: settings.worker_max_heap_mb } : {}),
    // A model no worker can hold any more (its replacement could not load it) no longer serves:
    // it says so in /v2/models, and readiness follows.
    onModelLost: (key, reason) => {
      const entry = registry.all().find((m) => m.spec?.key === key);
      if (entry === undefined) return;
      entry.state = 'UNAVAILABLE';
      entry.reason = reason;
      entry.spec = undefined;
      logger.error({ model: entry.name, version: entry.version || undefined, reason }, 'model no longer serves');
      void backend.unload(key);
    },
  });
  const registry = new ModelRegistry();
  const statistics = new StatisticsStore();
  // Metrics read pool, scheduler and registry state when scraped; requests only feed counters.
  const metrics: Metrics | undefined =
    settings.metrics_endpoint === null
      ? undefined
      : new Metrics({
          pending: (): { model: string; version: string; queued: number }[] => backend.pending(),
          workers: () => pool.workers().map((w) => ({ worker: w.id, inflight: w.inflight, busySeconds: w.busySeconds })),
          inflight: () => pool.inflight(),
          models: () =>
            registry.all().map((m) => ({
              model: m.name,
              version: m.version,
              state: m.state,
              loadSeconds: m.loadMs === undefined ? undefined : m.loadMs / 1000,
            })),
        });
  const observer: InferenceObserver = metrics === undefined ? statistics : observers(statistics, metrics);
  const backend: BatchingBackend = new BatchingBackend(pool, observer, { logger });
  // A relative conversion_cache_dir resolves against the settings folder, as model_repository_root does.
  const cacheDir = conversionCacheDir(settings.conversion_cache_dir, options.env ?? process.env, resolve(options.folder));
  const loader = new ModelLoader({ registry, backend, runtimes, logger, cacheDir });
  const dataplane = new DataPlane({
    registry,
    backend,
    statistics,
    observer,
    server: {
      name: settings.server_name,
      version: settings.server_version ?? PACKAGE_VERSION,
      extensions: [...new Set([...BUILTIN_EXTENSIONS, ...settings.extensions])],
    },
  });
  dataplane.strictReadiness = settings.strict_readiness;
  // Registered before listening, so readiness is false until every model has been tried.
  const entries = discovery.models.map((m) => loader.register(m));

  const repository = new ModelRepository(repositoryRoot, discoveryOptions, registry, loader, options.modelSource);
  const metricsOnHttp = options.metricsOnHttp ?? (settings.metrics_port === settings.http_port && settings.http_port !== 0);
  const surfaces = [...(options.httpSurfaces ?? [])];
  if (metricsOnHttp && metrics !== undefined && settings.metrics_endpoint !== null) surfaces.push(metricsSurface(metrics, settings.metrics_endpoint));
  // MLflow's scoring routes (/ping, /health, /version, /invocations): on, off, or when an MLflow model is found at start-up.
  const mlflowFound = discovery.models.some((m) => m.runtime === MLFLOW_RUNTIME);
  if (settings.mlflow_scoring === 'on' || (settings.mlflow_scoring === 'auto' && mlflowFound)) {
    surfaces.push(mlflowSurface({ model: settings.mlflow_scoring_model, serverVersion: settings.server_version ?? PACKAGE_VERSION }));
  }
  const http = createHttpApp({
    dataplane,
    repository,
    logger,
    bodyLimit: settings.http_max_input_size,
    accessLog: settings.debug,
    metrics,
    compress: settings.gzip_enabled,
    rootPath: settings.root_path,
    version: dataplane.serverMetadata().version,
    surfaces,
    security: security.http,
    docs: settings.docs_enabled,
    limits: limits.http,
    tensorLimits: limits.tensors,
  });
  try {
    await http.listen({ host: settings.host, port: settings.http_port, listenTextResolver: (a) => `HTTP listening on ${a}` });
  } catch (error) {
    await pool.close();
    throw listenError(error, 'HTTP', settings.host, settings.http_port, 'http_port');
  }
  const grpcServer = createGrpcServer({
    dataplane,
    repository,
    logger,
    maxMessageLength: settings.grpc_max_message_length ?? DEFAULT_GRPC_MESSAGE_LENGTH,
    forceRawOutput: settings.grpc_force_raw_output,
    accessLog: settings.debug,
    metrics,
    authorize: security.grpc.authorize,
    reflection: security.grpc.reflection,
    redact: security.grpc.redact,
    connections: limits.grpc,
    tensorLimits: limits.tensors,
    keepalive: {
      timeMs: settings.grpc_keepalive_time,
      timeoutMs: settings.grpc_keepalive_timeout,
      permitWithoutCalls: settings.grpc_keepalive_permit_without_calls,
      maxPingsWithoutData: settings.grpc_http2_max_pings_without_data,
      minPingIntervalWithoutDataMs: settings.grpc_http2_min_recv_ping_interval_without_data,
      maxPingStrikes: settings.grpc_http2_max_ping_strikes,
    },
  });
  let grpcPort: number | undefined;
  if (options.grpc !== false) {
    try {
      grpcPort = await listenGrpc(grpcServer, settings.host, settings.grpc_port, security.grpc.credentials, {
        maxConnections: limits.grpc.maxConnections,
        logger,
      });
    } catch (error) {
      await http.close();
      await pool.close();
      throw listenError(error, 'gRPC', settings.host, settings.grpc_port, 'grpc_port');
    }
    logger.info(`gRPC listening on ${settings.host}:${grpcPort}`);
  }
  let metricsServer: MetricsServer | undefined;
  if (metrics !== undefined && settings.metrics_endpoint !== null && !metricsOnHttp) {
    try {
      metricsServer = await startMetricsServer(metrics, {
        host: settings.host,
        port: settings.metrics_port,
        endpoint: settings.metrics_endpoint,
        logger,
        https: security.metrics.https,
        guard: security.metrics.guard,
      });
    } catch (error) {
      await Promise.all([http.close(), closeGrpc(grpcServer, 0)]);
      await pool.close();
      throw listenError(error, 'metrics', settings.host, settings.metrics_port, 'metrics_port');
    }
  }
  const address = http.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const localHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
  const url = `${security.scheme}://${localHost}:${address.port}`;
  const grpcAddress = grpcPort === undefined ? '' : `${localHost}:${grpcPort}`;

  const loaded = (async () => {
    await pool.started();
    await Promise.all(entries.map((e) => loader.load(e)));
    dataplane.startupComplete = true;
    const ready = entries.filter((e) => e.state === 'READY').length;
    if (entries.length === 0) {
      const readiness = settings.strict_readiness ? 'ready (strict_readiness: no model to wait for)' : 'not ready until a model is loaded (strict_readiness false)';
      logger.warn({ repository: repositoryRoot, workers }, `no models found under ${repositoryRoot}: the server is ${readiness}; load one with POST /v2/repository/models/<name>/load`);
    } else {
      logger.info({ ready, failed: entries.length - ready, workers }, 'models loaded');
    }
  })();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      // Drain, stop admitting, finish admitted work within the grace, then stop the workers (src/lifecycle/shutdown.ts).
      await shutdown(
        {
          lifecycle: dataplane.lifecycle,
          http,
          grpc: grpcPort === undefined ? undefined : grpcServer,
          backend,
          pool,
          closeMetrics: async () => metricsServer?.close(),
          loaded,
          logger,
        },
        limits.shutdown,
      );
      security.close();
    })());

  return {
    settings, repositoryRoot, dataplane, repository, pool, backend, http, url, grpcAddress,
    metricsUrl: metricsServer !== undefined ? `${security.scheme}://${localHost}:${metricsServer.port}` : metricsOnHttp && metrics !== undefined ? url : undefined,
    metrics, loaded, close,
  };
}
