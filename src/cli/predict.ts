// `tessera predict -m <model-uri> -i <in> -o <out> -t json|csv`: `mlflow models predict` without a
// server. The model is loaded in-process (the dataplane, the scheduler and the worker pool, no
// listener); CSV input streams in chunks of rows, a few chunks in flight at once so that every
// worker is busy, and the output is written chunk by chunk in input order: memory holds a few
// chunks, whatever the input size. JSON input is read whole (as MLflow does) and then cut into
// chunks. Output: `{"predictions": …}` byte for byte as /invocations answers, or CSV.
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import type { Logger } from 'pino';
import { BatchingBackend } from '../batching/backend.js';
import { SettingsError } from '../config/load.js';
import { createContext } from '../core/context.js';
import { DataPlane } from '../core/dataplane.js';
import { TesseraError } from '../core/errors.js';
import { ModelLoader } from '../core/loader.js';
import { ModelRegistry, type ModelVersion } from '../core/registry.js';
import { StatisticsStore } from '../core/statistics.js';
import { conversionCacheDir } from '../convert/cache.js';
import type { Tensor } from '../core/tensor.js';
import { MlflowError, MlflowModelError } from '../mlflow/errors.js';
import type { DecodedInvocation } from '../mlflow/invocations/decode.js';
import { responseShape, type ServingPlan } from '../mlflow/plan.js';
import { MlflowRequestAdapter } from '../mlflow/serving.js';
import { DEFAULT_CHUNK_ROWS, PredictionsCsvWriter, PredictionsJsonWriter, readCsvChunks, readJsonInput, splitRows } from '../mlflow/predict-input.js';
import { resolveModelUri } from '../mlflow/uri.js';
import { runtimes } from '../runtimes/registry.js';
import { PACKAGE_VERSION } from '../server.js';
import { defaultWorkerCount, WorkerPool } from '../workers/pool.js';
import { cliLogger, commandOptions, type CommandIo, ignoredFlagWarnings, numberOption, parseFlags, UsageError } from './command.js';
import { checkServable, mlflowModelEntry } from './serve-model.js';

/** JSON input is parsed whole (MLflow's formats are not streamable): refuse what cannot fit. */
export const MAX_JSON_INPUT_BYTES = 512 * 1024 * 1024;

const IGNORED_FLAGS: Record<string, string> = {
  'env-manager': 'Tessera runs no Python environment',
  'install-mlflow': 'Tessera needs no MLflow installation',
  'pip-requirements-override': 'Tessera installs no Python packages',
  env: 'the model runs in this process: set variables in its environment',
};

export const PREDICT_HELP = `Usage: tessera predict -m <model-uri> [-i input] [-o output] [-t json|csv] [options]

Predictions for a file of inputs, as \`mlflow models predict\`, without starting a server: the model
runs in a pool of worker threads in this process. CSV input is streamed in chunks of rows (any size,
in bounded memory); JSON input (any /invocations format) is read whole.

Options:
  -m, --model-uri URI        the model (a path, file://, runs:/, models:/ as for tessera serve)
  -i, --input-path FILE      input (default: standard input)
  -o, --output-path FILE     output (default: standard output); written to FILE.partial, renamed when complete
  -t, --content-type TYPE    input format: json (default) or csv
      --output-format TYPE   json ({"predictions": …}, as /invocations answers) or csv (one row per input
                             row); default csv when the output file ends in .csv, else json
  -w, --workers N            inference worker threads (default: CPUs - 1, at least 1) [env MLFLOW_MODELS_WORKERS]
      --chunk-rows N         rows per chunk handed to a worker (default ${DEFAULT_CHUNK_ROWS})
      --log-level LEVEL      log level on standard error (default warn)
  -h, --help                 this help
  --env-manager, --install-mlflow, -r/--pip-requirements-override, --env: MLflow's, accepted and ignored.

A progress bar is drawn on standard error when it is a terminal. Errors are MLflow's messages, exit 1;
usage mistakes exit 2.`;

export interface PredictOptions {
  modelUri: string;
  input: string | undefined;
  output: string | undefined;
  contentType: 'json' | 'csv';
  outputFormat: 'json' | 'csv';
  workers: number;
  chunkRows: number;
  logLevel: string;
  warnings: string[];
}

export function parsePredictArgs(argv: string[], env: NodeJS.ProcessEnv): PredictOptions | 'help' {
  const v = parseFlags(argv, {
    'model-uri': { type: 'string', short: 'm' },
    'input-path': { type: 'string', short: 'i' },
    'output-path': { type: 'string', short: 'o' },
    'content-type': { type: 'string', short: 't' },
    'output-format': { type: 'string' },
    workers: { type: 'string', short: 'w' },
    'chunk-rows': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    'env-manager': { type: 'string' },
    'install-mlflow': { type: 'boolean' },
    'pip-requirements-override': { type: 'string', short: 'r' },
    env: { type: 'string', multiple: true },
  });
  if (v.help) return 'help';
  if (!v['model-uri']) throw new UsageError("Missing option '-m' / '--model-uri'");
  const contentType = (v['content-type'] ?? 'json').toLowerCase();
  if (contentType !== 'json' && contentType !== 'csv') {
    throw new UsageError(`Invalid value for '-t' / '--content-type': '${v['content-type']}' is not one of 'json', 'csv'`);
  }
  const output = v['output-path'] === '-' ? undefined : v['output-path'];
  const outputFormat = (v['output-format'] ?? (output?.toLowerCase().endsWith('.csv') ? 'csv' : 'json')).toLowerCase();
  if (outputFormat !== 'json' && outputFormat !== 'csv') {
    throw new UsageError(`Invalid value for '--output-format': '${v['output-format']}' is not one of 'json', 'csv'`);
  }
  const workersText = v.workers ?? (env.MLFLOW_MODELS_WORKERS || undefined);
  return {
    modelUri: v['model-uri'],
    input: v['input-path'] === '-' ? undefined : v['input-path'],
    output,
    contentType,
    outputFormat,
    workers:
      numberOption(workersText, v.workers !== undefined ? '--workers' : 'MLFLOW_MODELS_WORKERS', (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1') ??
      defaultWorkerCount(),
    chunkRows: numberOption(v['chunk-rows'], '--chunk-rows', (n) => Number.isInteger(n) && n >= 1, 'a whole number of rows >= 1') ?? DEFAULT_CHUNK_ROWS,
    logLevel: v['log-level'] ?? 'warn',
    warnings: ignoredFlagWarnings(v, IGNORED_FLAGS),
  };
}

/** The model loaded in-process: the dataplane over a worker pool, no listener. */
export interface LocalModel {
  dataplane: DataPlane;
  entry: ModelVersion;
  /** The mlflow runtime's request adapter: the serving plan and the outputs /invocations computes. */
  adapter: MlflowRequestAdapter;
  logger: Logger;
  close(): Promise<void>;
}

export async function loadLocalModel(modelUri: string, options: { workers: number; logger: Logger; env: NodeJS.ProcessEnv }): Promise<LocalModel> {
  const resolved = await resolveModelUri(modelUri, { env: options.env });
  await checkServable(resolved.dir); // another flavor is refused before any worker starts
  // A batch job: no request timeout (MLflow's predict has none).
  const model = mlflowModelEntry(resolved, { env: options.env, requestTimeout: 0 });
  const pool = new WorkerPool({ workers: options.workers, logger: options.logger });
  const statistics = new StatisticsStore();
  const backend = new BatchingBackend(pool, statistics);
  const registry = new ModelRegistry();
  // The server's conversion cache (its default folder, or TESSERA_CONVERSION_CACHE_DIR): a predict
  // after a serve, or a second predict, loads the converted graph instead of converting again.
  const cacheDir = conversionCacheDir(options.env.TESSERA_CONVERSION_CACHE_DIR || undefined, options.env);
  const loader = new ModelLoader({ registry, backend, runtimes, logger: options.logger, cacheDir });
  const dataplane = new DataPlane({
    registry,
    backend,
    statistics,
    observer: statistics,
    server: { name: 'tessera', version: PACKAGE_VERSION, extensions: [] },
  });
  const entry = loader.register(model);
  try {
    await pool.started();
    await loader.load(entry);
    if (entry.state !== 'READY' || entry.config === undefined) throw new MlflowModelError(`Cannot load the model in '${resolved.dir}': ${entry.reason}`, 'INVALID_PARAMETER_VALUE');
    // mlflowModelEntry loads the model with the mlflow runtime, whose adapter this always is.
    const adapter = entry.config.adapted?.adapter;
    if (!(adapter instanceof MlflowRequestAdapter)) throw new Error(`model ${entry.name}: the mlflow runtime made no MLflow request adapter`);
    dataplane.startupComplete = true;
    return { dataplane, entry, adapter, logger: options.logger, close: () => pool.close() };
  } catch (error) {
    await pool.close();
    throw error;
  }
}

/** Counts the bytes passing through (the progress bar's position in the input file). */
function byteCounter(onBytes: (n: number) => void): PassThrough {
  return new PassThrough({
    transform(chunk: Buffer, _enc, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

interface Progress {
  rows(n: number): void;
  bytes(n: number): void;
  stop(): void;
}

/** A progress bar on standard error when it is a terminal; nothing otherwise. */
function progress(totalBytes: number | undefined, stderr: CommandIo['stderr']): Progress {
  if (!stderr.isTTY) return { rows: () => undefined, bytes: () => undefined, stop: () => undefined };
  const known = totalBytes !== undefined && totalBytes > 0;
  const bar = new cliProgress.SingleBar(
    {
      stream: stderr,
      format: known ? 'predict |{bar}| {percentage}% | {rows} rows | ETA {eta_formatted}' : 'predict | {rows} rows',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let rows = 0;
  let read = 0;
  bar.start(known ? totalBytes : 1, 0, { rows: 0 });
  return {
    rows: (n) => {
      rows += n;
      bar.update(known ? read : 0, { rows });
    },
    bytes: (n) => {
      read += n;
    },
    stop: () => {
      if (known) bar.update(totalBytes, { rows });
      bar.stop();
    },
  };
}

/** The decoded chunks of the input, in order. */
async function* inputChunks(source: Readable, plan: ServingPlan, options: PredictOptions): AsyncGenerator<DecodedInvocation> {
  if (options.contentType === 'csv') {
    yield* readCsvChunks(source, plan, { chunkRows: options.chunkRows });
    return;
  }
  const decoded = await readJsonInput(source, plan, { maxBytes: MAX_JSON_INPUT_BYTES });
  yield* splitRows(decoded, options.chunkRows);
}

/**
 * Runs every chunk through the dataplane, `window` chunks in flight, and writes the outputs in
 * input order. Returns the rows predicted.
 */
export async function predictStream(model: LocalModel, source: Readable, out: Writable, options: PredictOptions, onRows: (n: number) => void = () => undefined): Promise<number> {
  const { dataplane, entry, adapter } = model;
  const plan = adapter.plan;
  // Two chunks per worker holding the model: one running, the next ready at hand.
  const window = 2 * Math.max(1, entry.config?.instances ?? options.workers);
  const outputNames = plan.runtimeOutputs.map((o) => o.name);
  let writer: PredictionsJsonWriter | PredictionsCsvWriter | undefined;
  const makeWriter = (shape = responseShape(plan, options.contentType === 'csv')): PredictionsJsonWriter | PredictionsCsvWriter =>
    options.outputFormat === 'csv' ? new PredictionsCsvWriter(out, shape) : new PredictionsJsonWriter(out, shape, { outputNames });
  const inflight: { rows: number; outputs: Promise<Tensor[]> }[] = [];
  let rows = 0;
  const drainOne = async (): Promise<void> => {
    const next = inflight.shift()!;
    const outputs = await next.outputs;
    await writer!.write(outputs);
    rows += next.rows;
    onRows(next.rows);
  };
  try {
    for await (const chunk of inputChunks(source, plan, options)) {
      writer ??= makeWriter(chunk.response);
      const ctx = createContext({ protocol: 'mlflow', logger: model.logger });
      // The chunk holds the runtime's own inputs already (decoded with the plan, as /invocations does).
      // The outputs /invocations computes for this response shape.
      const request = { inputs: chunk.inputs, outputs: adapter.invocationOutputs(chunk.response).map((name) => ({ name })) };
      const outputs = dataplane.infer({ model: entry.name, version: entry.version }, request, ctx, { runtimeInputs: true }).then((r) => r.outputs);
      outputs.catch(() => undefined); // awaited in order below; a failure ends the run there
      inflight.push({ rows: chunk.rows, outputs });
      if (inflight.length >= window) await drainOne();
    }
    while (inflight.length > 0) await drainOne();
  } finally {
    // On failure, let the chunks in flight finish before the pool closes.
    await Promise.allSettled(inflight.map((c) => c.outputs));
  }
  writer ??= makeWriter();
  await writer.end();
  return rows;
}

function describe(error: unknown): string {
  if (error instanceof MlflowError) return `${error.errorCode ?? 'INTERNAL_ERROR'}: ${error.message}`;
  if (error instanceof MlflowModelError) return `${error.errorCode}: ${error.message}`;
  if (error instanceof TesseraError) return error.message;
  return (error as Error).message ?? String(error);
}

export async function predictMain(argv: string[], env: NodeJS.ProcessEnv = process.env, io: CommandIo = process): Promise<number> {
  const options = commandOptions('tessera predict', PREDICT_HELP, () => parsePredictArgs(argv, env), io);
  if (typeof options === 'number') return options;
  // Logs go to standard error: standard output may be the predictions.
  const logger = cliLogger(options.logLevel, 2);
  for (const w of options.warnings) logger.warn(w);
  let model: LocalModel | undefined;
  const partial = options.output === undefined ? undefined : `${options.output}.partial`;
  let bar: Progress | undefined;
  try {
    let totalBytes: number | undefined;
    let source: Readable;
    if (options.input === undefined) source = io.stdin;
    else {
      totalBytes = statSync(options.input).size;
      source = createReadStream(options.input, { highWaterMark: 256 * 1024 });
    }
    model = await loadLocalModel(options.modelUri, { workers: options.workers, logger, env });
    bar = progress(totalBytes, io.stderr);
    const counted = source.pipe(byteCounter((n) => bar!.bytes(n)));
    source.on('error', (error) => counted.destroy(error));
    const out: Writable = partial === undefined ? io.stdout : createWriteStream(partial);
    const rows = await predictStream(model, counted, out, options, (n) => bar!.rows(n));
    if (partial !== undefined) {
      out.end();
      await once(out, 'finish');
      await rename(partial, options.output!);
    }
    bar.stop();
    logger.info({ rows, output: options.output ?? 'stdout' }, 'predictions written');
    return 0;
  } catch (error) {
    bar?.stop();
    if (partial !== undefined) await rm(partial, { force: true });
    if (error instanceof UsageError || error instanceof SettingsError) {
      io.stderr.write(`tessera predict: ${error.message}\n`);
      return 2;
    }
    if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
      io.stderr.write('tessera predict: the output was closed before the predictions were written (EPIPE)\n');
      return 1;
    }
    const known = error instanceof MlflowError || error instanceof MlflowModelError || error instanceof TesseraError || (error as NodeJS.ErrnoException).code === 'ENOENT';
    if (!known) logger.error({ err: error }, 'predict failed');
    io.stderr.write(`tessera predict: ${describe(error)}\n`);
    return 1;
  } finally {
    await model?.close();
    logger.flush();
  }
}
