// The model registry: every known model version, its state and, once loaded, its metadata.
import { notFound } from './errors.js';
import type { ModelState, TensorMetadata } from './types.js';
import type { ModelSettings } from '../config/schema.js';
import type { ModelSpec } from '../runtimes/runtime.js';

export interface ModelVersion {
  name: string;
  /** '' for an unversioned model. */
  version: string;
  state: ModelState;
  /** Why the version is UNAVAILABLE ('' otherwise). */
  reason: string;
  platform: string;
  settings: ModelSettings;
  modelPath: string;
  /** Set while READY: what a worker needs to run it. */
  spec?: ModelSpec;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
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
    if (versions === undefined) throw notFound(`Model ${name} not found`);
    if (version !== undefined && version !== '') {
      const entry = versions.get(version);
      if (entry === undefined) throw notFound(`Model ${name} with version ${version} not found`);
      return entry;
    }
    const unversioned = versions.get('');
    if (unversioned !== undefined) return unversioned;
    const ordered = this.versionsOf(name);
    return ordered.find((v) => v.state === 'READY') ?? ordered[0];
  }
}
