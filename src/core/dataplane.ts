// The protocol-agnostic dataplane: health, metadata and inference. HTTP, gRPC and MLflow routes
// call these methods and only translate wire formats.
import { invalidArgument, unavailable } from './errors.js';
import type { RequestOptions } from '../batching/batcher.js';
import type { InferenceBackend } from './loader.js';
import { modelConfig, type TritonModelConfig } from './model-config.js';
import { failureReason, type InferenceObserver, type ModelStatistics, type RequestTrace, type StatisticsStore } from './statistics.js';
import type { ModelRegistry, ModelVersion } from './registry.js';
import { dataLength, elementCount, type Tensor } from './tensor.js';
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

const shapeText = (shape: readonly number[]): string => `[${shape.join(',')}]`;

export class DataPlane {
  private readonly registry: ModelRegistry;
  private readonly backend: InferenceBackend;
  private readonly server: ServerMetadata;
  private readonly statisticsStore: StatisticsStore;
  private readonly observer: InferenceObserver;
  /** False until the start-up load has been attempted for every model. */
  startupComplete = false;

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

  /** Ready when the start-up load is done, nothing is loading and at least one model is READY. */
  ready(): boolean {
    if (!this.startupComplete) return false;
    let any = false;
    for (const m of this.registry.all()) {
      if (m.state === 'LOADING') return false;
      if (m.state === 'READY') any = true;
    }
    return any;
  }

  serverMetadata(): ServerMetadata {
    return { ...this.server, extensions: [...this.server.extensions] };
  }

  /** The version a request names; 404 when there is no such model or version. */
  model(name: string, version?: string): ModelVersion {
    return this.registry.resolve(name, version);
  }

  modelReady(name: string, version?: string): boolean {
    return this.model(name, version).state === 'READY';
  }

  modelMetadata(name: string, version?: string): ModelMetadata {
    const entry = this.model(name, version);
    const versions = this.registry
      .versionsOf(name)
      .map((v) => v.version)
      .filter((v) => v !== '');
    const metadata: ModelMetadata = {
      name: entry.name,
      versions,
      platform: entry.platform,
      inputs: entry.inputs,
      outputs: entry.outputs,
    };
    const contentType = entry.settings.parameters.content_type;
    if (contentType !== undefined) metadata.parameters = { content_type: contentType };
    return metadata;
  }

  listModels(): ModelStatus[] {
    return this.registry
      .all()
      .map(({ name, version, state, reason }) => ({ name, version, state, reason }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  }

  /** A model version that can serve now: 404 if unknown, 503 if not READY. */
  servable(name: string, version?: string): ModelVersion {
    const entry = this.model(name, version);
    if (entry.state !== 'READY' || entry.spec === undefined) {
      const which = entry.version === '' ? entry.name : `${entry.name} version ${entry.version}`;
      const why = entry.reason === '' ? `it is ${entry.state}` : `it is ${entry.state}: ${entry.reason}`;
      throw unavailable(`Model ${which} is not ready: ${why}`);
    }
    return entry;
  }

  /**
   * Runs a request. `cancellation` makes, on demand, the signal that its client went away, which
   * takes it out of the queue if it is still waiting.
   */
  async infer(entry: ModelVersion, request: InferenceRequest, cancellation?: () => AbortSignal): Promise<InferenceResponse> {
    const started = performance.now();
    const ref = { model: entry.name, version: entry.version };
    try {
      validateInputs(entry, request.inputs);
      const outputNames = requestedOutputs(entry, request);
      const spec = entry.spec;
      if (spec === undefined) throw unavailable(`Model ${entry.name} is not ready`);
      const options = schedulingOptions(request.parameters, spec.queue?.priorityLevels ?? 1);
      if (cancellation !== undefined) options.cancellation = cancellation;
      const trace: RequestTrace = { queueNs: 0 };
      options.trace = trace;
      const outputs = await this.backend.infer(spec, request.inputs, outputNames, options);
      const response: InferenceResponse = { modelName: entry.name, outputs };
      if (entry.version !== '') response.modelVersion = entry.version;
      if (request.id !== undefined) response.id = request.id;
      const echoed = echoParameters(request.parameters);
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
  statistics(name?: string, version?: string): ModelStatistics[] {
    let versions: ModelVersion[];
    if (name === undefined) versions = this.registry.all();
    else if (version !== undefined) versions = [this.registry.resolve(name, version)];
    else {
      this.registry.resolve(name); // 404 when unknown
      versions = this.registry.versionsOf(name);
    }
    return versions
      .map((v) => this.statisticsStore.get({ model: v.name, version: v.version }))
      .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  }

  /** Triton's model configuration of a version (the default one when none is named). */
  modelConfig(name: string, version?: string): TritonModelConfig {
    return modelConfig(this.model(name, version), this.backend.size);
  }
}

/** `priority` (1 highest .. levels; 0 = default) and `timeout` (µs in queue; 0 = default), as Triton. */
function schedulingOptions(parameters: Parameters | undefined, levels: number): RequestOptions {
  const options: RequestOptions = {};
  const integer = (key: string): number | undefined => {
    const v = parameters?.[key];
    if (v === undefined) return undefined;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      throw invalidArgument(`parameter '${key}' must be a non-negative integer, not ${JSON.stringify(String(v))}`);
    }
    return n;
  };
  const priority = integer('priority');
  if (priority !== undefined && priority > levels) {
    throw invalidArgument(`parameter 'priority' is ${priority} but the model has ${levels} priority levels (1 is the highest)`);
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

/** Checks names, datatypes, ranks, fixed dims and element counts against the model metadata. */
export function validateInputs(entry: ModelVersion, inputs: readonly Tensor[]): void {
  const expected = new Map<string, TensorMetadata>(entry.inputs.map((t) => [t.name, t]));
  const seen = new Set<string>();
  for (const input of inputs) {
    const meta = expected.get(input.name);
    if (meta === undefined) {
      const names = entry.inputs.map((t) => `'${t.name}'`).join(', ');
      throw invalidArgument(`unexpected input '${input.name}': model '${entry.name}' has inputs ${names}`);
    }
    if (seen.has(input.name)) throw invalidArgument(`input '${input.name}' is given more than once`);
    seen.add(input.name);
    if (input.datatype !== meta.datatype) {
      throw invalidArgument(`input '${input.name}': datatype ${input.datatype} does not match the model's ${meta.datatype}`);
    }
    if (input.shape.length !== meta.shape.length) {
      throw invalidArgument(
        `input '${input.name}': shape ${shapeText(input.shape)} has rank ${input.shape.length} but the model expects rank ${meta.shape.length} ${shapeText(meta.shape)}`,
      );
    }
    for (let i = 0; i < meta.shape.length; i++) {
      if (meta.shape[i] !== -1 && meta.shape[i] !== input.shape[i]) {
        throw invalidArgument(
          `input '${input.name}': dimension ${i} of shape ${shapeText(input.shape)} is ${input.shape[i]} but the model expects ${meta.shape[i]} ${shapeText(meta.shape)}`,
        );
      }
    }
    const count = elementCount(input.shape);
    const length = dataLength(input.data);
    if (count !== length) {
      throw invalidArgument(`input '${input.name}': shape ${shapeText(input.shape)} needs ${count} elements but the data has ${length}`);
    }
  }
  for (const meta of entry.inputs) {
    if (!seen.has(meta.name)) throw invalidArgument(`missing input '${meta.name}' (${meta.datatype} ${shapeText(meta.shape)})`);
  }
}

function requestedOutputs(entry: ModelVersion, request: InferenceRequest): string[] {
  if (request.outputs === undefined || request.outputs.length === 0) return entry.outputs.map((o) => o.name);
  const known = new Set(entry.outputs.map((o) => o.name));
  const names: string[] = [];
  for (const o of request.outputs) {
    if (!known.has(o.name)) {
      const list = entry.outputs.map((t) => `'${t.name}'`).join(', ');
      throw invalidArgument(`unknown requested output '${o.name}': model '${entry.name}' has outputs ${list}`);
    }
    if (!names.includes(o.name)) names.push(o.name);
  }
  return names;
}
