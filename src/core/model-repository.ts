// The model repository extension: index what is on disk, (re)load a model from disk, unload it.
// Protocol-agnostic: the HTTP routes and the gRPC RPCs both call this.
import { SettingsError, badRequest, modelLoadFailed, modelNotFound } from './errors.js';
import type { ModelLoader } from './loader.js';
import type { ModelRegistry } from './registry.js';
import { discoverModels, type DiscoveredModel, type DiscoveryOptions } from './repository.js';
import type { ModelStatus } from './types.js';

export class ModelRepository {
  /** Serialises load/unload per model name: two reloads of one model never interleave. */
  private readonly busy = new Map<string, Promise<unknown>>();

  constructor(
    private readonly root: string,
    private readonly discovery: DiscoveryOptions,
    private readonly registry: ModelRegistry,
    private readonly loader: ModelLoader,
  ) {}

  private discover(): DiscoveredModel[] {
    try {
      return discoverModels(this.root, this.discovery).models;
    } catch (error) {
      if (error instanceof SettingsError) throw badRequest(`model repository: ${error.message}`);
      throw error;
    }
  }

  /** Every model on disk or loaded, with its state; `readyOnly` keeps the READY ones. */
  index(readyOnly = false): ModelStatus[] {
    const out = new Map<string, ModelStatus>();
    for (const d of this.discover()) {
      out.set(`${d.name}@${d.version}`, { name: d.name, version: d.version, state: 'UNAVAILABLE', reason: 'unloaded' });
    }
    for (const e of this.registry.all()) {
      out.set(`${e.name}@${e.version}`, { name: e.name, version: e.version, state: e.state, reason: e.reason });
    }
    return [...out.values()]
      .filter((s) => !readyOnly || s.state === 'READY')
      .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  }

  /**
   * Loads every version of `name` found on disk (reloading the loaded ones without a gap) and
   * unloads loaded versions that are no longer there. 404 when the model is not on disk.
   */
  load(name: string): Promise<void> {
    return this.exclusive(name, async () => {
      const found = this.discover().filter((m) => m.name === name);
      if (found.length === 0) throw modelNotFound(`Model ${name} not found in the model repository`);
      const results = await Promise.allSettled(found.map((m) => this.loader.reload(m)));
      const present = new Set(found.map((m) => m.version));
      for (const stale of this.registry.versionsOf(name).filter((v) => !present.has(v.version))) await this.loader.unload(stale);
      const failures = results
        .map((r, i) => (r.status === 'rejected' ? `${found[i].version || 'unversioned'}: ${(r.reason as Error).message}` : null))
        .filter((f): f is string => f !== null);
      if (failures.length > 0) throw modelLoadFailed(`failed to load '${name}': ${failures.join('; ')}`);
    });
  }

  /** Unloads every version of `name`; its requests then answer 404. */
  unload(name: string): Promise<void> {
    return this.exclusive(name, async () => {
      const versions = this.registry.versionsOf(name);
      if (versions.length === 0) {
        if (this.discover().some((m) => m.name === name)) return; // on disk, already unloaded
        throw modelNotFound(`Model ${name} not found`);
      }
      await Promise.all(versions.map((v) => this.loader.unload(v)));
    });
  }

  private exclusive<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.busy.get(name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.busy.set(name, next);
    void next.finally(() => {
      if (this.busy.get(name) === next) this.busy.delete(name);
    }).catch(() => undefined);
    return next;
  }
}
