// One model configuration: a model version's settings normalised once, when it is loaded. The
// scheduler (through the spec's scheduling policy), the statistics, the V2 metadata, Triton's
// /config and the loader all read this object; no other file interprets model settings.
//
// It is made in two steps: `configure` from the discovered model (settings, runtime, its options),
// before the workers load it; `withMetadata` once the runtime has reported the model's own inputs
// and outputs, which the settings' inputs/outputs then override by name.
import type { RequestAdapter } from './adapter.js';
import type { RuntimeMetadata } from './backend.js';
import type { DiscoveredModel } from './repository.js';
import type { QueueSettings } from './scheduling.js';
import type { ModelSettings, RuntimeCatalogue, TensorSettings } from './settings.js';
import type { Parameters, TensorMetadata } from './types.js';

export interface BatchingConfiguration {
  /** Most rows (dim 0) per execution; batching is on when it is above 1. */
  maxBatchSize: number;
  /** Longest a queued request waits for a free slot, ms. */
  maxBatchTimeMs: number;
  /** Usable preferred batch sizes: distinct, ascending, none above maxBatchSize. */
  preferredBatchSizes: number[];
}

export interface QueueConfiguration {
  /** Most requests waiting; 0: no limit. */
  maxQueueSize: number;
  /** Default longest wait in the queue, ms; 0: none. */
  queueTimeoutMs: number;
  /** Priority levels: 1 (highest) .. priorityLevels. */
  priorityLevels: number;
  /** The level of requests that name none (the lowest when the settings say 0). */
  defaultPriority: number;
}

export interface ModelConfiguration {
  name: string;
  /** '' for an unversioned model. */
  version: string;
  /** 'iris', or 'iris version 2': how messages name it. */
  label: string;
  platform: string;
  runtime: {
    name: string;
    /** Triton's backend name. */
    backend: string;
    /** The runtime's options (parameters.extra), validated, defaults resolved. */
    options: unknown;
  };
  /** The model's file (or module) and folder, absolute. */
  path: string;
  folder: string;
  /** Final metadata: the runtime's, overridden by the settings (before load: the settings' own). */
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  batching: BatchingConfiguration;
  queue: QueueConfiguration;
  /** Workers holding the model (Triton's instance_group count), at most the pool size. */
  instances: number;
  /** Reported in metadata parameters. */
  contentType: string | undefined;
  /** Longest a request may take from intake to answer, ms; 0: no limit. */
  requestTimeoutMs: number;
  /** The settings as read, for runtimes that hand them to user code. */
  settings: ModelSettings;
  /**
   * Set when the runtime fronts its tensors with a request adapter (an MLflow signature's columns,
   * say): `inputs`/`outputs` above are then what clients see, and these are what the workers run.
   */
  adapted?: { adapter: RequestAdapter; inputs: TensorMetadata[]; outputs: TensorMetadata[] };
}

export interface ConfigureContext {
  runtimes: RuntimeCatalogue;
  /** Worker threads in the pool. */
  workers: number;
  /** Where runtimes may cache what their prepare step makes (conversion_cache_dir); null: nowhere. */
  cacheDir?: string | null | undefined;
}

export interface Configured {
  config: ModelConfiguration;
  /** Settings that were adjusted (logged by the loader). */
  warnings: { message: string; details: Record<string, unknown> }[];
}

const label = (name: string, version: string): string => (version === '' ? name : `${name} version ${version}`);

const tensor = (t: TensorSettings): TensorMetadata => ({
  name: t.name,
  datatype: t.datatype,
  shape: [...t.shape],
  ...(t.parameters !== undefined ? { parameters: t.parameters as Parameters } : {}),
});

/** Normalises a discovered model's settings. Throws an Error naming the setting when they cannot work. */
export function configure(model: DiscoveredModel, context: ConfigureContext): Configured {
  if (model.error !== undefined) throw new Error(model.error); // found broken at discovery
  const s = model.settings;
  const warnings: Configured['warnings'] = [];
  if (model.runtime === null) {
    const names = context.runtimes.all().map((r) => r.name).join(', ');
    throw new Error(`implementation '${s.implementation}' is not supported: no runtime recognises it (runtimes: ${names}; a custom runtime is a path to a .mjs, .js or .ts module)`);
  }
  const runtime = context.runtimes.get(model.runtime);
  if (runtime === undefined) throw new Error(`unknown runtime '${model.runtime}'`);
  let options: unknown;
  try {
    options = runtime.options(s.parameters.extra, { workers: context.workers, cacheDir: context.cacheDir });
  } catch (error) {
    throw new Error(`parameters.extra: ${(error as Error).message}`);
  }
  if (s.default_priority_level > s.priority_levels) {
    throw new Error(`default_priority_level ${s.default_priority_level} is beyond priority_levels ${s.priority_levels}`);
  }
  const tooLarge = s.preferred_batch_size.filter((n) => n > s.max_batch_size);
  if (tooLarge.length > 0) {
    warnings.push({
      message: 'preferred_batch_size above max_batch_size is ignored',
      details: { preferred_batch_size: tooLarge, max_batch_size: s.max_batch_size },
    });
  }
  let instances = context.workers;
  const asked = s.parameters.instance_count;
  if (asked !== undefined) {
    if (asked > context.workers) {
      warnings.push({ message: 'instance_count is more than the workers; using every worker', details: { instance_count: asked, workers: context.workers } });
    }
    instances = Math.min(asked, context.workers);
  }
  const config: ModelConfiguration = {
    name: model.name,
    version: model.version,
    label: label(model.name, model.version),
    platform: s.platform || runtime.platform,
    runtime: { name: runtime.name, backend: runtime.backend, options },
    path: model.modelPath,
    folder: model.folder,
    inputs: s.inputs.map(tensor),
    outputs: s.outputs.map(tensor),
    batching: {
      maxBatchSize: s.max_batch_size,
      maxBatchTimeMs: s.max_batch_time * 1000,
      preferredBatchSizes: [...new Set(s.preferred_batch_size)].filter((n) => n <= s.max_batch_size).sort((a, b) => a - b),
    },
    queue: {
      maxQueueSize: s.max_queue_size ?? derivedQueueSize(s.max_batch_size, instances),
      queueTimeoutMs: s.queue_timeout * 1000,
      priorityLevels: s.priority_levels,
      defaultPriority: s.default_priority_level || s.priority_levels,
    },
    instances,
    contentType: s.parameters.content_type,
    requestTimeoutMs: s.request_timeout * 1000,
    settings: s,
  };
  return { config, warnings };
}

/**
 * The queue bound of a model whose settings set no max_queue_size: load shedding on by default. A
 * queue that grows without bound under overload only turns every answer into a late one and
 * memory into an outage; this one holds 8 executions' worth of requests per instance (a batching
 * model's requests merge, so max_batch_size of them per execution), and at least 128, so closed-loop
 * clients with a hundred connections are not refused. Beyond it: 503 / UNAVAILABLE at once.
 */
export function derivedQueueSize(maxBatchSize: number, instances: number): number {
  return Math.max(128, 8 * Math.max(1, instances) * Math.max(1, maxBatchSize));
}

/** Settings' inputs/outputs override the runtime's by name; each must name a real tensor. */
function override(what: 'input' | 'output', reported: TensorMetadata[], configured: TensorMetadata[]): TensorMetadata[] {
  const out = reported.map((t) => ({ ...t }));
  for (const c of configured) {
    const i = out.findIndex((t) => t.name === c.name);
    if (i < 0) throw new Error(`${what}s: '${c.name}' is not an ${what} of the model (it has ${reported.map((t) => t.name).join(', ')})`);
    if (c.datatype !== out[i].datatype) {
      throw new Error(`${what}s: '${c.name}' is ${out[i].datatype} in the model, not ${c.datatype}`);
    }
    if (c.shape.length !== out[i].shape.length) {
      throw new Error(`${what}s: '${c.name}' has rank ${out[i].shape.length} in the model, not ${c.shape.length}`);
    }
    out[i] = { ...out[i], shape: c.shape, ...(c.parameters ? { parameters: c.parameters } : {}) };
  }
  return out;
}

/** The configuration with the runtime's metadata, overridden by the settings'. Throws on a mismatch. */
export function withMetadata(config: ModelConfiguration, metadata: RuntimeMetadata): ModelConfiguration {
  const declared = config.settings;
  return {
    ...config,
    inputs: override('input', metadata.inputs, declared.inputs.map(tensor)),
    outputs: override('output', metadata.outputs, declared.outputs.map(tensor)),
  };
}

/**
 * The configuration of a model whose runtime fronts its tensors with an adapter: the adapter's
 * inputs and outputs are what clients see (the settings' inputs/outputs are ignored, with a
 * warning, as MLServer lets an MLflow signature overwrite them), the runtime's are kept for
 * validation. Throws when an adapter output is not an output of the runtime.
 */
export function withAdapter(config: ModelConfiguration, metadata: RuntimeMetadata, adapter: RequestAdapter): Configured {
  const warnings: Configured['warnings'] = [];
  const computed = new Set(metadata.outputs.map((o) => o.name));
  for (const o of [...adapter.outputs.map((x) => x.name), ...(adapter.defaultOutputs ?? [])]) {
    if (!computed.has(o)) throw new Error(`output '${o}' is not an output of the model (it has ${[...computed].join(', ')})`);
  }
  const declared = config.settings;
  if (declared.inputs.length > 0 || declared.outputs.length > 0) {
    warnings.push({
      message: "the settings' inputs/outputs are ignored: the model's own interface defines them",
      details: { inputs: declared.inputs.map((t) => t.name), outputs: declared.outputs.map((t) => t.name) },
    });
  }
  return {
    config: {
      ...config,
      inputs: adapter.inputs.map((t) => ({ ...t, shape: [...t.shape] })),
      outputs: adapter.outputs.map((t) => ({ ...t, shape: [...t.shape] })),
      contentType: adapter.contentType ?? config.contentType,
      adapted: { adapter, inputs: metadata.inputs, outputs: metadata.outputs },
    },
    warnings,
  };
}

/** The scheduler's policy for a configuration: its batching and its queue. */
export function schedulingPolicy(config: ModelConfiguration): QueueSettings {
  return { ...config.batching, ...config.queue };
}

/** Batching is on when more than one row may run per execution. */
export const isBatching = (config: ModelConfiguration): boolean => config.batching.maxBatchSize > 1;
