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
    /** Where models come from instead of the folder scan (`tessera serve`: one model from a URI). */
    private readonly source?: () => DiscoveredModel[],
  ) {}

  private discover(): DiscoveredModel[] {
    try {
      if (this.source !== undefined) return this.source();
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
      out.set(`${d.name}@${d.version}`, { name: d.name, version: d.version, state: 'UNAVAILABLE', reason: d.error ?? 'unloaded' });
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

  /**
   * Serves `model` in place of every other version of its name, without a gap: the new version
   * loads beside the old ones (which keep serving, and readiness stays as it is), is registered
   * once READY (requests without a version then go to it), then the others are unloaded once
   * their in-flight requests finish. The same version already loaded is reloaded in place. On
   * failure the old versions keep serving and the reason is thrown (how a registry watcher moves
   * a model to the version an alias or stage now names).
   */
  replace(model: DiscoveredModel): Promise<void> {
    return this.exclusive(model.name, async () => {
      const existing = this.registry.get(model.name, model.version);
      if (existing !== undefined) await this.loader.reload(model);
      else this.registry.set(await this.loader.loadAside(model));
      for (const old of this.registry.versionsOf(model.name)) {
        if (old.version !== model.version) await this.loader.unload(old);
      }
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
