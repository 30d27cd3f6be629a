// Loading model versions into the backend (the worker pool) and tracking their state.
// A version that fails to load becomes UNAVAILABLE with the reason; it never stops the others.
import type { Logger } from 'pino';
import type { InferenceBackend, ModelSpec } from './backend.js';
import { configure, schedulingPolicy, withAdapter, withMetadata, type Configured, type ModelConfiguration } from './model-config.js';
import type { ModelRegistry, ModelVersion } from './registry.js';
import type { DiscoveredModel } from './repository.js';
import type { RuntimeCatalogue } from './settings.js';

let generation = 0;

export interface LoaderOptions {
  registry: ModelRegistry;
  backend: InferenceBackend;
  runtimes: RuntimeCatalogue;
  logger: Logger;
  /** Where runtimes may cache what their prepare step makes (conversion_cache_dir); null: nowhere. */
  cacheDir?: string | null | undefined;
}

export class ModelLoader {
  private readonly registry: ModelRegistry;
  private readonly backend: InferenceBackend;
  private readonly runtimes: RuntimeCatalogue;
  private readonly logger: Logger;
  private readonly cacheDir: string | null | undefined;

  constructor(options: LoaderOptions) {
    this.registry = options.registry;
    this.backend = options.backend;
    this.runtimes = options.runtimes;
    this.logger = options.logger;
    this.cacheDir = options.cacheDir;
  }

  private configure(model: DiscoveredModel): Configured {
    return configure(model, { runtimes: this.runtimes, workers: this.backend.size, cacheDir: this.cacheDir });
  }

  private entry(model: DiscoveredModel): ModelVersion {
    const entry: ModelVersion = { name: model.name, version: model.version, state: 'LOADING', reason: '', source: model };
    try {
      entry.config = this.configure(model).config; // metadata while LOADING; load() reports failures
    } catch {
      // load() records the reason
    }
    return entry;
  }

  /** Registers a discovered version as LOADING (so readiness waits for it). */
  register(model: DiscoveredModel): ModelVersion {
    const entry = this.entry(model);
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
    const fresh = this.entry(model);
    await this.load(fresh);
    if (fresh.state !== 'READY' || fresh.spec === undefined) throw new Error(fresh.reason);
    const old = existing.spec;
    Object.assign(existing, { source: fresh.source, config: fresh.config, spec: fresh.spec, loadMs: fresh.loadMs });
    await this.backend.retire(old.key);
  }

  /**
   * Loads a version beside the ones already serving, without registering it until it is READY:
   * readiness and the versions in use are untouched while it loads. Throws the reason on failure
   * (nothing is registered then). The caller registers the entry (ModelRepository.replace).
   */
  async loadAside(model: DiscoveredModel): Promise<ModelVersion> {
    const entry = this.entry(model);
    await this.load(entry);
    if (entry.state !== 'READY') throw new Error(entry.reason);
    return entry;
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
    const rssBefore = process.memoryUsage.rss();
    const path = entry.source.modelPath;
    try {
      const { config: base, warnings } = this.configure(entry.source);
      for (const w of warnings) log.warn(w.details, w.message);
      entry.config = base;
      const spec = specOf(base);
      const { metadata } = await this.backend.load(spec);
      for (const skipped of metadata.skippedOutputs) {
        log.warn({ output: skipped }, `output '${skipped}' is not a tensor (e.g. a ZipMap map) and is left out`);
      }
      let config: ModelConfiguration;
      try {
        // A runtime may front its tensors with a request adapter (made here, on the main thread).
        const adapter = this.runtimes.get(base.runtime.name)?.adapter?.({ spec, metadata });
        if (adapter === undefined) config = withMetadata(base, metadata);
        else {
          const adapted = withAdapter(base, metadata, adapter);
          for (const w of adapted.warnings) log.warn(w.details, w.message);
          config = adapted.config;
        }
      } catch (error) {
        await this.backend.unload(spec.key);
        throw error;
      }
      entry.config = config;
      entry.spec = spec;
      entry.loadMs = performance.now() - started;
      entry.state = 'READY';
      entry.reason = '';
      const artifact = spec.artifact;
      log.info(
        {
          loadMs: Math.round(entry.loadMs * 10) / 10,
          path,
          runtime: config.runtime.name,
          ...(artifact !== undefined ? { artifactBytes: artifact.bytes.byteLength, ...artifact.report } : {}),
          // The process's RSS growth over the load: approximate when several models load at once.
          rssDeltaMb: Math.round((process.memoryUsage.rss() - rssBefore) / 1024 / 102.4) / 10,
        },
        'model loaded',
      );
    } catch (error) {
      entry.state = 'UNAVAILABLE';
      entry.reason = error instanceof Error ? error.message : String(error);
      log.error({ reason: entry.reason, path }, 'model failed to load');
    }
  }
}

/** The spec of a new load of a configured version (a new key each time). */
function specOf(config: ModelConfiguration): ModelSpec {
  return {
    key: `${config.name}@${config.version}#${++generation}`,
    label: config.label,
    model: config.name,
    version: config.version,
    runtime: config.runtime.name,
    path: config.path,
    folder: config.folder,
    options: config.runtime.options,
    settings: config.settings,
    instances: config.instances,
    timeoutMs: config.requestTimeoutMs,
    queue: schedulingPolicy(config),
  };
}
