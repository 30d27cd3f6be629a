// The protocol-agnostic dataplane: health, metadata and inference. HTTP, gRPC and MLflow routes
// build a request context, call these methods and only translate wire formats.
import type { InferenceBackend, ModelSpec, RequestOptions } from './backend.js';
import type { RequestContext } from './context.js';
import { Lifecycle } from './lifecycle.js';
import { deadlineExceeded, failureReason, invalidInput, modelNotReady, TesseraError } from './errors.js';
import type { ModelConfiguration } from './model-config.js';
import type { ModelRegistry, ModelVersion } from './registry.js';
import type { InferenceObserver, ModelStatistics, RequestTrace, StatisticsStore } from './statistics.js';
import { dataLength, elementCount, type Tensor } from './tensor.js';
import { tritonModelConfig, type TritonModelConfig } from './triton-config.js';
import type {
  InferenceRequest,
  InferenceResponse,
  ModelMetadata,
  ModelStatus,
  Parameters,
  ServerMetadata,
  TensorMetadata,
} from './types.js';

/** Request parameters that steer the server and are not echoed back. */
const CONTROL_PARAMETERS = new Set(['binary_data_output', 'priority', 'timeout', 'headers']);

export interface DataPlaneOptions {
  registry: ModelRegistry;
  backend: InferenceBackend;
  server: ServerMetadata;
  /** Kept per model version for the statistics extension. */
  statistics: StatisticsStore;
  /** Receives every request's outcome (statistics, metrics). */
  observer: InferenceObserver;
}

/** The model a request names; no version means the default version (MLServer's rule). */
export interface ModelTarget {
  model: string;
  version?: string | undefined;
}

export interface InferOptions {
  /**
   * The request's inputs are already the runtime's own (a surface decoded them with the model's
   * interface, as /invocations does): the model's request adapter, if any, is not applied.
   */
  runtimeInputs?: boolean;
}

const shapeText = (shape: readonly number[]): string => `[${shape.join(',')}]`;
const version = (v: string | undefined): string | undefined => (v === '' ? undefined : v);

export class DataPlane {
  private readonly registry: ModelRegistry;
  private readonly backend: InferenceBackend;
  private readonly server: ServerMetadata;
  private readonly statisticsStore: StatisticsStore;
  private readonly observer: InferenceObserver;
  /** False until the start-up load has been attempted for every model. */
  startupComplete = false;
  /**
   * strict_readiness: ready only when every configured model is READY (Triton's rule; vacuously
   * true with none). Lenient (the default): at least one model READY and none still loading.
   */
  strictReadiness = false;
  /** Serving, draining (readiness 503) or closing (core/lifecycle.ts): the shutdown sequence sets it. */
  readonly lifecycle = new Lifecycle();

  constructor(options: DataPlaneOptions) {
    this.registry = options.registry;
    this.backend = options.backend;
    this.server = options.server;
    this.statisticsStore = options.statistics;
    this.observer = options.observer;
  }

  live(): boolean {
    return true;
  }

  /**
   * Ready when the start-up load is done, the server is not draining, nothing is loading, and at
   * least one model is READY (strict: every model is READY).
   */
  ready(): boolean {
    if (!this.startupComplete || this.lifecycle.draining) return false;
    let any = false;
    for (const m of this.registry.all()) {
      if (m.state === 'LOADING') return false;
      if (m.state === 'READY') any = true;
      else if (this.strictReadiness) return false;
    }
    return any || this.strictReadiness;
  }

  serverMetadata(): ServerMetadata {
    return { ...this.server, extensions: [...this.server.extensions] };
  }

  /** The version a request names; 404 when there is no such model or version. */
  model(name: string, v?: string): ModelVersion {
    return this.registry.resolve(name, version(v));
  }

  modelReady(name: string, v?: string): boolean {
    return this.model(name, v).state === 'READY';
  }

  /**
   * The configuration of a READY version: 404 if unknown, 503 if it is not ready. For decoders that
   * need the model's inputs before the request exists (a raw binary body, MLflow's data frames).
   */
  configuration(target: ModelTarget): ModelConfiguration {
    return this.servable(target).config;
  }

  modelMetadata(name: string, v?: string): ModelMetadata {
    const entry = this.model(name, v);
    const versions = this.registry
      .versionsOf(name)
      .map((x) => x.version)
      .filter((x) => x !== '');
    const config = entry.config;
    const metadata: ModelMetadata = {
      name: entry.name,
      versions,
      platform: config?.platform ?? '',
      inputs: config?.inputs ?? [],
      outputs: config?.outputs ?? [],
    };
    if (config?.contentType !== undefined) metadata.parameters = { content_type: config.contentType };
    return metadata;
  }

  listModels(): ModelStatus[] {
    return this.registry
      .all()
      .map(({ name, version, state, reason }) => ({ name, version, state, reason }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  }

  /** A model version that can serve now: 404 if unknown, 503 if not READY. */
  private servable(target: ModelTarget): { entry: ModelVersion; config: ModelConfiguration; spec: ModelSpec } {
    const entry = this.model(target.model, target.version);
    const { config, spec } = entry;
    if (entry.state !== 'READY' || spec === undefined || config === undefined) {
      const which = entry.version === '' ? entry.name : `${entry.name} version ${entry.version}`;
      const why = entry.reason === '' ? `it is ${entry.state}` : `it is ${entry.state}: ${entry.reason}`;
      throw modelNotReady(`Model ${which} is not ready: ${why}`);
    }
    return { entry, config, spec };
  }

  /**
   * Runs a request on the model it names: 404 if unknown, 503 if not ready, 400 if the request
   * does not fit the model, 504 if it is not answered by its deadline (the earlier of the
   * client's and the model's request_timeout); the client going away takes it out of the queue.
   * A model with a request adapter gets the request through it first (see adapter.ts); the
   * inputs are checked against the runtime's own.
   */
  async infer(target: ModelTarget, request: InferenceRequest, ctx: RequestContext, how: InferOptions = {}): Promise<InferenceResponse> {
    const started = performance.now();
    const { entry, config, spec } = this.servable(target);
    const ref = { model: entry.name, version: entry.version };
    try {
      const adapted = config.adapted;
      const inputs = adapted === undefined || how.runtimeInputs === true ? request.inputs : adapted.adapter.toRuntime(request);
      validateInputs(adapted === undefined ? config : { name: config.name, inputs: adapted.inputs }, inputs);
      const outputNames = requestedOutputs(config, request);
      const options = schedulingOptions(request.parameters, config.queue.priorityLevels);
      const trace: RequestTrace = { queueNs: 0 };
      options.trace = trace;
      const echoed = echoParameters(request.parameters);
      if (echoed !== undefined) options.parameters = echoed;
      // The deadline: the earlier of the client's (epoch ms, turned to this process's monotonic
      // clock once, here) and the model's request_timeout from intake. The backend's scheduler
      // enforces it, queued or running, from one heap and one timer: no timer per request.
      const modelDeadline = config.requestTimeoutMs > 0 ? started + config.requestTimeoutMs : Infinity;
      // Both clocks read at the same moment: the client's deadline does not move by the intake time.
      const clientDeadline = ctx.deadline === undefined ? Infinity : performance.now() + (ctx.deadline - Date.now());
      if (clientDeadline < modelDeadline) options.deadline = clientDeadline;
      else if (modelDeadline !== Infinity) {
        options.deadline = modelDeadline;
        options.modelTimeoutMs = config.requestTimeoutMs;
      }
      if (ctx.cancellation !== undefined) options.cancellation = ctx.cancellation;
      let outputs: Tensor[];
      try {
        outputs = await this.backend.infer(spec, inputs, outputNames, options);
      } catch (error) {
        throw asDeadlineFailure(error, spec, options);
      }
      const response: InferenceResponse = { modelName: entry.name, outputs };
      if (entry.version !== '') response.modelVersion = entry.version;
      if (request.id !== undefined) response.id = request.id;
      if (echoed !== undefined) response.parameters = echoed;
      this.observer.request(ref, { ok: true, durationNs: (performance.now() - started) * 1e6, trace });
      return response;
    } catch (error) {
      this.observer.request(ref, { ok: false, durationNs: (performance.now() - started) * 1e6, reason: failureReason(error) });
      throw error;
    }
  }

  /**
   * Triton's statistics: every version of every model, every version of one model, or one version.
   * 404 for an unknown model or version.
   */
  statistics(name?: string, v?: string): ModelStatistics[] {
    let versions: ModelVersion[];
    if (name === undefined) versions = this.registry.all();
    else if (version(v) !== undefined) versions = [this.registry.resolve(name, v)];
    else {
      this.registry.resolve(name); // 404 when unknown
      versions = this.registry.versionsOf(name);
    }
    return versions
      .map((x) => this.statisticsStore.get({ model: x.name, version: x.version }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  }

  /** Triton's model configuration of a version (the default one when none is named); 503 until loaded. */
  modelConfig(name: string, v?: string): TritonModelConfig {
    const entry = this.model(name, v);
    if (entry.config === undefined) {
      throw modelNotReady(`Model ${name} has no configuration: ${entry.reason || `it is ${entry.state}`}`);
    }
    return tritonModelConfig(entry.config);
  }
}

/**
 * A client whose deadline passed is cancelled by its transport (gRPC does, at the deadline): that
 * is a deadline failure, not a cancellation. Other errors pass unchanged.
 */
function asDeadlineFailure(error: unknown, spec: ModelSpec, options: RequestOptions): unknown {
  const deadline = options.deadline;
  if (!(error instanceof TesseraError) || error.code !== 'CANCELLED' || deadline === undefined || performance.now() < deadline) return error;
  return deadlineExceeded(
    options.modelTimeoutMs !== undefined
      ? `model ${spec.label} did not answer within its request_timeout of ${options.modelTimeoutMs / 1000} s`
      : `the request's deadline passed before model ${spec.label} answered`,
  );
}

/** `priority` (1 highest .. levels; 0 = default) and `timeout` (µs in queue; 0 = default), as Triton. */
function schedulingOptions(parameters: Parameters | undefined, levels: number): RequestOptions {
  const options: RequestOptions = {};
  const integer = (key: string): number | undefined => {
    const v = parameters?.[key];
    if (v === undefined) return undefined;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw invalidInput(`parameter '${key}' must be a non-negative integer, not ${JSON.stringify(String(v))}`);
    }
    return n;
  };
  const priority = integer('priority');
  if (priority !== undefined && priority > levels) {
    throw invalidInput(`parameter 'priority' is ${priority} but the model has ${levels} priority levels (1 is the highest)`);
  }
  if (priority !== undefined && priority > 0) options.priority = priority;
  const timeout = integer('timeout');
  if (timeout !== undefined && timeout > 0) options.timeoutMs = timeout / 1000;
  return options;
}

function echoParameters(parameters: Parameters | undefined): Parameters | undefined {
  if (parameters === undefined) return undefined;
  const out: Parameters = {};
  let any = false;
  for (const [k, v] of Object.entries(parameters)) {
    if (CONTROL_PARAMETERS.has(k)) continue;
    out[k] = v;
    any = true;
  }
  return any ? out : undefined;
}

/**
 * Checks names, datatypes, ranks, fixed dims and element counts against the model metadata. A
 * linear search by name: models have a few inputs, and a Map and a Set per request cost more.
 */
export function validateInputs(entry: Pick<ModelConfiguration, 'name' | 'inputs'>, inputs: readonly Tensor[]): void {
  const expected = entry.inputs;
  for (let k = 0; k < inputs.length; k++) {
    const input = inputs[k];
    let meta: TensorMetadata | undefined;
    for (const m of expected) {
      if (m.name === input.name) {
        meta = m;
        break;
      }
    }
    if (meta === undefined) {
      const names = expected.map((t) => `'${t.name}'`).join(', ');
      throw invalidInput(`unexpected input '${input.name}': model '${entry.name}' has inputs ${names}`);
    }
    for (let j = 0; j < k; j++) if (inputs[j].name === input.name) throw invalidInput(`input '${input.name}' is given more than once`);
    if (input.datatype !== meta.datatype) {
      throw invalidInput(`input '${input.name}': datatype ${input.datatype} does not match the model's ${meta.datatype}`);
    }
    if (input.shape.length !== meta.shape.length) {
      throw invalidInput(
        `input '${input.name}': shape ${shapeText(input.shape)} has rank ${input.shape.length} but the model expects rank ${meta.shape.length} ${shapeText(meta.shape)}`,
      );
    }
    for (let i = 0; i < meta.shape.length; i++) {
      if (meta.shape[i] !== -1 && meta.shape[i] !== input.shape[i]) {
        throw invalidInput(
          `input '${input.name}': dimension ${i} of shape ${shapeText(input.shape)} is ${input.shape[i]} but the model expects ${meta.shape[i]} ${shapeText(meta.shape)}`,
        );
      }
    }
    const count = elementCount(input.shape);
    const length = dataLength(input.data);
    if (count !== length) {
      throw invalidInput(`input '${input.name}': shape ${shapeText(input.shape)} needs ${count} elements but the data has ${length}`);
    }
  }
  // Every input given is known and given once: any missing one is among the model's others.
  if (inputs.length < expected.length) {
    for (const meta of expected) {
      if (!inputs.some((i) => i.name === meta.name)) throw invalidInput(`missing input '${meta.name}' (${meta.datatype} ${shapeText(meta.shape)})`);
    }
  }
}

function requestedOutputs(entry: ModelConfiguration, request: InferenceRequest): string[] {
  if (request.outputs === undefined || request.outputs.length === 0) {
    return [...(entry.adapted?.adapter.defaultOutputs ?? entry.outputs.map((o) => o.name))];
  }
  const known = new Set(entry.outputs.map((o) => o.name));
  const names: string[] = [];
  for (const o of request.outputs) {
    if (!known.has(o.name)) {
      const list = entry.outputs.map((t) => `'${t.name}'`).join(', ');
      throw invalidInput(`unknown requested output '${o.name}': model '${entry.name}' has outputs ${list}`);
    }
    if (!names.includes(o.name)) names.push(o.name);
  }
  return names;
}
