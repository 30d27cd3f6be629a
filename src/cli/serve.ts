// `tessera serve -m <model-uri>`: MLflow's scoring server (`mlflow models serve`), with the same
// flags and environment variables, on one port: GET /ping, /health, /version, POST /invocations,
// the V2 REST routes for the same model, and /metrics. gRPC is off unless --grpc-port is given.
// With --watch, a models:/ URI naming an alias, a stage or `latest` is followed: when it moves to
// another version, that version loads beside the old one and takes the traffic once ready.
import type { Logger } from 'pino';
import { SettingsError } from '../config/load.js';
import type { DiscoveredModel } from '../core/repository.js';
import { exitOnSignals } from '../lifecycle/signals.js';
import { MlflowModelError } from '../mlflow/errors.js';
import { resolveModelUri, type ResolvedModel } from '../mlflow/uri.js';
import { startServer, type RunningServer } from '../server.js';
import { cliLogger, commandOptions, type CommandIo, firstSet, ignoredFlagWarnings, numberOption, parseFlags, UsageError } from './command.js';
import { checkServable, DEFAULT_MODEL_NAME, mlflowModelEntry } from './serve-model.js';
import { RegistryWatcher, watchable } from './watch.js';

/** MLflow flags that have no meaning for Tessera (no Python environments): accepted, warned about. */
const IGNORED_FLAGS: Record<string, string> = {
  'env-manager': 'Tessera runs no Python environment',
  'no-conda': 'Tessera runs no Python environment',
  'install-mlflow': 'Tessera needs no MLflow installation',
  'enable-mlserver': 'Tessera serves the V2 protocol on the same port already',
};

export const SERVE_HELP = `Usage: tessera serve -m <model-uri> [options]

Serves an MLflow model as \`mlflow models serve\` does, on one port: GET /ping, /health,
/version, POST /invocations (MLflow's scoring protocol), the V2 REST routes for the same model
(/v2/models/<name>/infer, ...) and GET /metrics (Prometheus).

Options:
  -m, --model-uri URI        the model: a path, file://, runs:/<run_id>/<path>, models:/<name>/<version>,
                             models:/<name>/<stage>, models:/<name>/latest, models:/<name>@<alias>
                             (runs:/ and models:/ read the file store of MLFLOW_TRACKING_URI, default ./mlruns)
  -h, --host HOST            address to listen on (default 127.0.0.1)      [env MLFLOW_HOST]
  -p, --port PORT            port (default 5000; 0 picks a free one)      [env MLFLOW_PORT]
  -w, --workers N            inference worker threads (default: CPUs - 1, at least 1) [env MLFLOW_MODELS_WORKERS]
  -t, --timeout SECONDS      request timeout, intake to answer; then 504 (default 60; 0: none)
                                                                           [env MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT]
      --name NAME            V2 model name (default ${DEFAULT_MODEL_NAME})              [env MLSERVER_MODEL_NAME]
      --watch SECONDS        poll the registry every SECONDS and follow the alias, stage or latest
                             version the models:/ URI names, switching versions without a failed request
      --grpc-port PORT       also serve V2 gRPC on PORT (default: no gRPC)
      --log-level LEVEL      fatal, error, warn, info, debug, trace, silent (default info) [env TESSERA_LOG_LEVEL]
      --help                 this help
  --env-manager, --no-conda, --install-mlflow, --enable-mlserver: MLflow's, accepted and ignored.

Precedence: defaults < TESSERA_<FIELD> / MLSERVER_<FIELD> < MLFLOW_* variables < flags; every other
server setting (e.g. TESSERA_HTTP_MAX_INPUT_SIZE) and model setting (TESSERA_MODEL_MAX_BATCH_SIZE)
applies as for \`tessera start\`, and SIGTERM shuts down as it does (admitted requests finish;
TESSERA_DRAIN_DELAY, TESSERA_SHUTDOWN_GRACE). Other registries than a local file store are not read:
download the model first (mlflow artifacts download) and serve the folder.`;

export interface ServeOptions {
  modelUri: string;
  host: string;
  port: number;
  workers: number | undefined;
  /** Seconds; undefined: the model settings' default (60). */
  timeout: number | undefined;
  name: string | undefined;
  /** Seconds between registry polls; undefined: no watching. */
  watch: number | undefined;
  grpcPort: number | undefined;
  logLevel: string;
  warnings: string[];
}

/** Parses `serve`'s arguments with the environment under them; throws UsageError. */
export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv): ServeOptions | 'help' {
  const v = parseFlags(argv, {
    'model-uri': { type: 'string', short: 'm' },
    host: { type: 'string', short: 'h' },
    port: { type: 'string', short: 'p' },
    workers: { type: 'string', short: 'w' },
    timeout: { type: 'string', short: 't' },
    name: { type: 'string' },
    watch: { type: 'string' },
    'grpc-port': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean' },
    'env-manager': { type: 'string' },
    'no-conda': { type: 'boolean' },
    'install-mlflow': { type: 'boolean' },
    'enable-mlserver': { type: 'boolean' },
  });
  if (v.help) return 'help';
  if (v['model-uri'] === undefined || v['model-uri'] === '') throw new UsageError("Missing option '-m' / '--model-uri'");
  const port = (value: string | undefined, what: string): number | undefined =>
    numberOption(value, what, (n) => Number.isInteger(n) && n >= 0 && n <= 65535, 'a port number 0-65535');
  const portFlag = v.port !== undefined ? port(v.port, '--port') : undefined;
  const portEnv = portFlag === undefined && env.MLFLOW_PORT ? port(env.MLFLOW_PORT, 'MLFLOW_PORT') : undefined;
  const portBase = firstSet(env.TESSERA_HTTP_PORT, env.MLSERVER_HTTP_PORT);
  const workersText = firstSet(v.workers, env.MLFLOW_MODELS_WORKERS, env.TESSERA_PARALLEL_WORKERS, env.MLSERVER_PARALLEL_WORKERS);
  const workersFrom = v.workers !== undefined ? '--workers' : env.MLFLOW_MODELS_WORKERS ? 'MLFLOW_MODELS_WORKERS' : 'TESSERA_PARALLEL_WORKERS';
  const timeoutFrom = v.timeout !== undefined ? '--timeout' : 'MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT';
  const watch = numberOption(v.watch, '--watch', (n) => n > 0 && n <= 86_400, 'seconds between registry polls (> 0)');
  return {
    modelUri: v['model-uri'],
    host: firstSet(v.host, env.MLFLOW_HOST, env.TESSERA_HOST, env.MLSERVER_HOST) ?? '127.0.0.1',
    port: portFlag ?? portEnv ?? (portBase !== undefined ? port(portBase, 'TESSERA_HTTP_PORT')! : 5000),
    workers: numberOption(workersText, workersFrom, (n) => Number.isInteger(n) && n >= 1, 'a whole number of workers >= 1'),
    timeout: numberOption(firstSet(v.timeout, env.MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT), timeoutFrom, (n) => n >= 0, 'seconds >= 0'),
    name: firstSet(v.name),
    watch,
    grpcPort: port(v['grpc-port'], '--grpc-port'),
    logLevel: firstSet(v['log-level'], env.TESSERA_LOG_LEVEL, env.MLSERVER_LOG_LEVEL) ?? 'info',
    warnings: ignoredFlagWarnings(v, IGNORED_FLAGS),
  };
}

export interface ServeResult {
  server: RunningServer;
  /** The model as served now (the watcher moves it). */
  current(): { resolved: ResolvedModel; model: DiscoveredModel };
  watcher: RegistryWatcher | undefined;
  close(): Promise<void>;
}

/** Resolves the model, starts the server on one port and, with --watch, the registry watcher. */
export async function startServe(options: ServeOptions, logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<ServeResult> {
  for (const w of options.warnings) logger.warn(w);
  const resolved = await resolveModelUri(options.modelUri, { env });
  if (options.watch !== undefined && !watchable(resolved)) {
    throw new UsageError(
      `--watch follows a registry alias, stage or latest version (models:/<name>@<alias>, models:/<name>/<stage>, models:/<name>/latest); '${options.modelUri}' names a fixed model`,
    );
  }
  await checkServable(resolved.dir);
  const entryOptions = { name: options.name, requestTimeout: options.timeout, env };
  let current = { resolved, model: mlflowModelEntry(resolved, entryOptions) };
  logger.info({ uri: options.modelUri, dir: resolved.dir, name: current.model.name, version: current.model.version || undefined }, 'serving MLflow model');

  const flags: Record<string, string | boolean> = {
    host: options.host,
    http_port: String(options.port),
    load_models_at_startup: true,
    log_level: options.logLevel,
  };
  if (options.workers !== undefined) flags.parallel_workers = String(options.workers);
  if (options.grpcPort !== undefined) flags.grpc_port = String(options.grpcPort);
  const server = await startServer({
    // No settings folder: a settings.json in the working directory is not read.
    folder: resolved.dir,
    env,
    flags,
    logger,
    modelSource: () => [current.model],
    grpc: options.grpcPort !== undefined,
    metricsOnHttp: true,
  });

  let watcher: RegistryWatcher | undefined;
  if (options.watch !== undefined) {
    watcher = new RegistryWatcher({
      uri: options.modelUri,
      intervalMs: options.watch * 1000,
      env,
      logger,
      current: resolved,
      switchTo: async (next) => {
        await checkServable(next.dir);
        const model = mlflowModelEntry(next, entryOptions);
        await server.repository.replace(model);
        current = { resolved: next, model };
      },
    });
    void server.loaded.then(() => watcher?.start());
  }
  return {
    server,
    current: () => current,
    watcher,
    close: async () => {
      await watcher?.stop();
      await server.close();
    },
  };
}

export async function serveMain(argv: string[], env: NodeJS.ProcessEnv = process.env, io: Pick<CommandIo, 'stdout' | 'stderr'> = process): Promise<number> {
  const options = commandOptions('tessera serve', SERVE_HELP, () => parseServeArgs(argv, env), io);
  if (typeof options === 'number') return options;
  const logger = cliLogger(options.logLevel);
  let serving: ServeResult;
  try {
    serving = await startServe(options, logger, env);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`tessera serve: ${error.message}\n`);
      return 2;
    }
    if (error instanceof MlflowModelError || error instanceof SettingsError) {
      // MLflow's own wording (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE, ...): what was looked up and where.
      io.stderr.write(`tessera serve: ${error.message}\n`);
      return error instanceof SettingsError ? 2 : 1;
    }
    logger.fatal({ err: error }, 'start-up failed');
    logger.flush();
    return 1;
  }
  // The same graceful shutdown as `tessera start` (drain, finish admitted requests), the watcher stopped first.
  exitOnSignals({ close: () => serving.close(), inNativeCall: () => serving.server.pool.inNativeCall() }, logger);
  return -1; // keep running
}
