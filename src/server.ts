// The composition root: settings -> worker pool -> registry and dataplane -> front ends.
// The CLI calls startServer; so do the tests, with an ephemeral port and their own logger.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { loadServerSettings, settingsReader, type ServerSettingsSources } from './config/load.js';
import type { ServerSettings } from './config/schema.js';
import { DataPlane } from './core/dataplane.js';
import { BatchingBackend } from './batching/backend.js';
import { ModelLoader } from './core/loader.js';
import { ModelRepository } from './core/model-repository.js';
import { ModelRegistry } from './core/registry.js';
import { discoverModels, type DiscoveryOptions } from './core/repository.js';
import { StatisticsStore, observers, type InferenceObserver } from './core/statistics.js';
import { Metrics } from './metrics/metrics.js';
import { startMetricsServer, type MetricsServer } from './metrics/server.js';
import { closeGrpc, createGrpcServer, listenGrpc } from './grpc/server.js';
import { createHttpApp, type HttpSurface } from './http/app.js';
import { runtimes } from './runtimes/registry.js';
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
  /** host:port of the gRPC listener. */
  grpcAddress: string;
  /** Base URL of the metrics listener; undefined when metrics_endpoint is null. */
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

  if (settings.root_path !== '') {
    logger.info({ root_path: settings.root_path }, 'root_path: the API docs assume a proxy strips this prefix; routes are served without it');
  }
  const discoveryOptions: DiscoveryOptions = { env: options.env ?? process.env, settings: settingsReader, runtimes };
  const discovery = settings.load_models_at_startup ? discoverModels(repositoryRoot, discoveryOptions) : { models: [], warnings: [] };
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
          models: () =>
            registry.all().map((m) => ({
              model: m.name,
              version: m.version,
              state: m.state,
              loadSeconds: m.loadMs === undefined ? undefined : m.loadMs / 1000,
            })),
        });
  const observer: InferenceObserver = metrics === undefined ? statistics : observers(statistics, metrics);
  const backend: BatchingBackend = new BatchingBackend(pool, observer);
  const loader = new ModelLoader({ registry, backend, runtimes, logger });
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
  // Registered before listening, so readiness is false until every model has been tried.
  const entries = discovery.models.map((m) => loader.register(m));

  const repository = new ModelRepository(repositoryRoot, discoveryOptions, registry, loader);
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
    surfaces: options.httpSurfaces,
  });
  try {
    await http.listen({ host: settings.host, port: settings.http_port, listenTextResolver: (a) => `HTTP listening on ${a}` });
  } catch (error) {
    await pool.close();
    throw error;
  }
  const grpcServer = createGrpcServer({
    dataplane,
    repository,
    logger,
    maxMessageLength: settings.grpc_max_message_length ?? DEFAULT_GRPC_MESSAGE_LENGTH,
    forceRawOutput: settings.grpc_force_raw_output,
    accessLog: settings.debug,
    metrics,
    keepalive: {
      timeMs: settings.grpc_keepalive_time,
      timeoutMs: settings.grpc_keepalive_timeout,
      permitWithoutCalls: settings.grpc_keepalive_permit_without_calls,
      maxPingsWithoutData: settings.grpc_http2_max_pings_without_data,
      minPingIntervalWithoutDataMs: settings.grpc_http2_min_recv_ping_interval_without_data,
      maxPingStrikes: settings.grpc_http2_max_ping_strikes,
    },
  });
  let grpcPort: number;
  try {
    grpcPort = await listenGrpc(grpcServer, settings.host, settings.grpc_port);
  } catch (error) {
    await http.close();
    await pool.close();
    throw error;
  }
  logger.info(`gRPC listening on ${settings.host}:${grpcPort}`);
  let metricsServer: MetricsServer | undefined;
  if (metrics !== undefined && settings.metrics_endpoint !== null) {
    try {
      metricsServer = await startMetricsServer(metrics, {
        host: settings.host,
        port: settings.metrics_port,
        endpoint: settings.metrics_endpoint,
        logger,
      });
    } catch (error) {
      await Promise.all([http.close(), closeGrpc(grpcServer, 0)]);
      await pool.close();
      throw error;
    }
  }
  const address = http.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const localHost = host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host;
  const url = `http://${localHost}:${address.port}`;
  const grpcAddress = `${localHost}:${grpcPort}`;

  const loaded = (async () => {
    await pool.started();
    await Promise.all(entries.map((e) => loader.load(e)));
    dataplane.startupComplete = true;
    const ready = entries.filter((e) => e.state === 'READY').length;
    logger.info({ ready, failed: entries.length - ready, workers }, entries.length === 0 ? 'no models found' : 'models loaded');
  })();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      // Stop accepting, let in-flight requests finish (bounded), then stop the workers.
      const grace = new Promise<void>((resolve) => setTimeout(resolve, settings.parallel_workers_timeout * 1000).unref());
      await Promise.race([Promise.all([http.close(), closeGrpc(grpcServer, settings.parallel_workers_timeout * 1000)]), grace]);
      await metricsServer?.close();
      await loaded.catch(() => undefined);
      await pool.close(settings.parallel_workers_timeout * 1000);
    })());

  return {
    settings, repositoryRoot, dataplane, repository, pool, backend, http, url, grpcAddress,
    metricsUrl: metricsServer === undefined ? undefined : `http://${localHost}:${metricsServer.port}`, metrics, loaded, close,
  };
}
