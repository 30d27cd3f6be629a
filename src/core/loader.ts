// Loading model versions into the backend (the worker pool) and tracking their state.
// A version that fails to load becomes UNAVAILABLE with the reason; it never stops the others.
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { onnxExtraSchema, type ModelSettings } from '../config/schema.js';
import type { RequestOptions } from '../batching/batcher.js';
import type { ModelSpec, RuntimeMetadata, SessionSpec } from '../runtimes/runtime.js';
import type { ModelRegistry, ModelVersion } from './registry.js';
import type { DiscoveredModel } from './repository.js';
import type { Tensor } from './tensor.js';
import type { TensorMetadata } from './types.js';

/** What runs models: the worker pool, or (later) a batcher in front of it. */
export interface InferenceBackend {
  readonly size: number;
  load(spec: ModelSpec): Promise<{ metadata: RuntimeMetadata; loadMs: number }>;
  unload(key: string): Promise<void>;
  /** Unloads a model load once the requests using it have finished. */
  retire(key: string): Promise<void>;
  infer(spec: ModelSpec, inputs: Tensor[], outputs: string[], options?: RequestOptions): Promise<Tensor[]>;
}

export const DEFAULT_PLATFORM = 'onnxruntime_onnx';

let generation = 0;

function describeIssues(error: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return error.issues.map((i) => `parameters.extra.${i.path.map(String).join('.')}: ${i.message}`).join('; ');
}

/** ORT session options for a model: its settings, else threads = cores / workers (at least 1). */
export function sessionSpec(extra: Record<string, unknown> | undefined, workers: number): SessionSpec {
  const parsed = onnxExtraSchema.safeParse(extra ?? {});
  if (!parsed.success) throw new Error(describeIssues(parsed.error));
  const o = parsed.data;
  return {
    intraOpThreads: o.intra_op_threads ?? Math.max(1, Math.floor(availableParallelism() / Math.max(1, workers))),
    interOpThreads: o.inter_op_threads,
    allowSpinning: o.allow_spinning,
    graphOptimizationLevel: o.graph_optimization_level,
    executionMode: o.execution_mode,
  };
}

/** Settings' inputs/outputs override the graph's by name; each must name a real tensor. */
function override(what: 'input' | 'output', graph: TensorMetadata[], configured: TensorMetadata[]): TensorMetadata[] {
  const out = graph.map((t) => ({ ...t }));
  for (const c of configured) {
    const i = out.findIndex((t) => t.name === c.name);
    if (i < 0) throw new Error(`${what}s: '${c.name}' is not an ${what} of the model (it has ${graph.map((t) => t.name).join(', ')})`);
    if (c.datatype !== out[i].datatype) {
      throw new Error(`${what}s: '${c.name}' is ${out[i].datatype} in the model, not ${c.datatype}`);
    }
    if (c.shape.length !== out[i].shape.length) {
      throw new Error(`${what}s: '${c.name}' has rank ${out[i].shape.length} in the model, not ${c.shape.length}`);
    }
    out[i] = { ...out[i], shape: c.shape, ...(c.parameters ? { parameters: c.parameters as TensorMetadata['parameters'] } : {}) };
  }
  return out;
}

/** The usable preferred batch sizes: distinct, ascending, none above max_batch_size. */
export function preferredBatchSizes(s: ModelSettings): number[] {
  return [...new Set(s.preferred_batch_size)].filter((n) => n <= s.max_batch_size).sort((a, b) => a - b);
}

function isOnnxImplementation(implementation: string | undefined): boolean {
  return implementation === undefined || implementation === '' || /onnx/i.test(implementation);
}

export class ModelLoader {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly backend: InferenceBackend,
    private readonly logger: Logger,
  ) {}

  /** Registers a discovered version as LOADING (so readiness waits for it). */
  register(model: DiscoveredModel): ModelVersion {
    const entry: ModelVersion = {
      name: model.name,
      version: model.version,
      state: 'LOADING',
      reason: '',
      platform: model.settings.platform || DEFAULT_PLATFORM,
      settings: model.settings,
      modelPath: model.modelPath,
      inputs: [],
      outputs: [],
    };
    this.registry.set(entry);
    return entry;
  }

  /**
   * (Re)loads a discovered version. A version already READY keeps serving its current instance
   * until the new one has loaded; then requests switch to the new one and the old is unloaded once
   * its in-flight requests finish. Throws the reason when the version cannot be loaded (a READY
   * version then keeps its old instance).
   */
  async reload(model: DiscoveredModel): Promise<void> {
    const existing = this.registry.get(model.name, model.version);
    if (existing === undefined || existing.state !== 'READY' || existing.spec === undefined) {
      const entry = this.register(model);
      await this.load(entry);
      if (entry.state !== 'READY') throw new Error(entry.reason);
      return;
    }
    const fresh: ModelVersion = { ...existing, settings: model.settings, modelPath: model.modelPath, platform: model.settings.platform || DEFAULT_PLATFORM, spec: undefined, state: 'LOADING', reason: '' };
    await this.load(fresh);
    if (fresh.state !== 'READY' || fresh.spec === undefined) throw new Error(fresh.reason);
    const old = existing.spec;
    Object.assign(existing, { settings: fresh.settings, modelPath: fresh.modelPath, platform: fresh.platform, spec: fresh.spec, inputs: fresh.inputs, outputs: fresh.outputs, loadMs: fresh.loadMs });
    await this.backend.retire(old.key);
  }

  /** Unloads a version: UNLOADING (new requests are refused) until in-flight ones finish. */
  async unload(entry: ModelVersion): Promise<void> {
    const started = performance.now();
    const spec = entry.spec;
    entry.state = 'UNLOADING';
    entry.spec = undefined;
    if (spec !== undefined) await this.backend.retire(spec.key);
    entry.state = 'UNAVAILABLE';
    entry.reason = 'unloaded';
    this.registry.delete(entry.name, entry.version);
    const unloadMs = Math.round((performance.now() - started) * 10) / 10;
    this.logger.info({ model: entry.name, version: entry.version || undefined, unloadMs }, 'model unloaded');
  }

  /** Loads a registered version on the backend; never throws (failures are recorded). */
  async load(entry: ModelVersion): Promise<void> {
    const log = this.logger.child({ model: entry.name, version: entry.version || undefined });
    const started = performance.now();
    try {
      if (!isOnnxImplementation(entry.settings.implementation)) {
        throw new Error(`implementation '${entry.settings.implementation}' is not supported: Tessera serves ONNX models`);
      }
      const spec: ModelSpec = {
        key: `${entry.name}@${entry.version}#${++generation}`,
        label: entry.version === '' ? entry.name : `${entry.name} version ${entry.version}`,
        model: entry.name,
        version: entry.version,
        path: entry.modelPath,
        session: sessionSpec(entry.settings.parameters.extra, this.backend.size),
      };
      const s = entry.settings;
      const instances = s.parameters.instance_count;
      if (instances !== undefined) {
        if (instances > this.backend.size) {
          log.warn({ instance_count: instances, workers: this.backend.size }, 'instance_count is more than the workers; using every worker');
        }
        spec.instances = Math.min(instances, this.backend.size);
      }
      const tooLarge = s.preferred_batch_size.filter((n) => n > s.max_batch_size);
      if (tooLarge.length > 0) {
        log.warn({ preferred_batch_size: tooLarge, max_batch_size: s.max_batch_size }, 'preferred_batch_size above max_batch_size is ignored');
      }
      if (s.default_priority_level > s.priority_levels) {
        throw new Error(`default_priority_level ${s.default_priority_level} is beyond priority_levels ${s.priority_levels}`);
      }
      spec.queue = {
        maxBatchSize: s.max_batch_size,
        maxBatchTimeMs: s.max_batch_time * 1000,
        preferredBatchSizes: preferredBatchSizes(s),
        maxQueueSize: s.max_queue_size,
        queueTimeoutMs: s.queue_timeout * 1000,
        priorityLevels: s.priority_levels,
        defaultPriority: s.default_priority_level || s.priority_levels,
      };
      const { metadata } = await this.backend.load(spec);
      for (const skipped of metadata.skippedOutputs) {
        log.warn({ output: skipped }, `output '${skipped}' is not a tensor (e.g. a ZipMap map) and is left out`);
      }
      try {
        entry.inputs = override('input', metadata.inputs, entry.settings.inputs as TensorMetadata[]);
        entry.outputs = override('output', metadata.outputs, entry.settings.outputs as TensorMetadata[]);
      } catch (error) {
        await this.backend.unload(spec.key);
        throw error;
      }
      entry.spec = spec;
      entry.loadMs = performance.now() - started;
      entry.state = 'READY';
      entry.reason = '';
      log.info({ loadMs: Math.round(entry.loadMs * 10) / 10, path: entry.modelPath }, 'model loaded');
    } catch (error) {
      entry.state = 'UNAVAILABLE';
      entry.reason = error instanceof Error ? error.message : String(error);
      log.error({ reason: entry.reason, path: entry.modelPath }, 'model failed to load');
    }
  }
}
