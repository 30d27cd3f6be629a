// The model registry: every known model version, its state and, once loaded, its configuration.
import type { ModelSpec } from './backend.js';
import { modelNotFound } from './errors.js';
import type { ModelConfiguration } from './model-config.js';
import type { DiscoveredModel } from './repository.js';
import type { ModelState } from './types.js';

export interface ModelVersion {
  name: string;
  /** '' for an unversioned model. */
  version: string;
  state: ModelState;
  /** Why the version is UNAVAILABLE ('' otherwise). */
  reason: string;
  /** Where it was found: settings, paths, runtime. */
  source: DiscoveredModel;
  /**
   * The normalised configuration: from the settings once they have been checked (while LOADING),
   * with the model's own metadata once READY. Undefined when the settings cannot work.
   */
  config?: ModelConfiguration;
  /** Set while READY: the load the workers hold. */
  spec?: ModelSpec;
  loadMs?: number;
}

/** Newest first: numeric versions by value, then others by text. */
function compareVersions(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return Number(b) - Number(a) || b.localeCompare(a);
  if (na !== nb) return na ? -1 : 1;
  return b.localeCompare(a);
}

export class ModelRegistry {
  private readonly models = new Map<string, Map<string, ModelVersion>>();

  set(entry: ModelVersion): void {
    let versions = this.models.get(entry.name);
    if (versions === undefined) this.models.set(entry.name, (versions = new Map()));
    versions.set(entry.version, entry);
  }

  delete(name: string, version: string): void {
    const versions = this.models.get(name);
    versions?.delete(version);
    if (versions?.size === 0) this.models.delete(name);
  }

  get(name: string, version: string): ModelVersion | undefined {
    return this.models.get(name)?.get(version);
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  all(): ModelVersion[] {
    return [...this.models.values()].flatMap((v) => [...v.values()]);
  }

  versionsOf(name: string): ModelVersion[] {
    return [...(this.models.get(name)?.values() ?? [])].sort((a, b) => compareVersions(a.version, b.version));
  }

  /**
   * The version a request means. Without a version: the unversioned model if there is one, else
   * the highest version that is READY, else the highest (MLServer's rule, preferring ready ones).
   */
  resolve(name: string, version?: string): ModelVersion {
    const versions = this.models.get(name);
    if (versions === undefined) throw modelNotFound(`Model ${name} not found`);
    if (version !== undefined && version !== '') {
      const entry = versions.get(version);
      if (entry === undefined) throw modelNotFound(`Model ${name} with version ${version} not found`);
      return entry;
    }
    const unversioned = versions.get('');
    if (unversioned !== undefined) return unversioned;
    // One version (the common case, asked on every request): it, without sorting a list.
    if (versions.size === 1) return versions.values().next().value!;
    const ordered = this.versionsOf(name);
    return ordered.find((v) => v.state === 'READY') ?? ordered[0];
  }
}
