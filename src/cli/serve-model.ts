// What `tessera serve`, `tessera predict` and `tessera build-docker` share: an MLflow model URI
// resolved to a local folder (MLflow's rules, reference §4) and turned into the one model entry
// the server loads, with the name and version it is served under.
//
// Name: `--name`, else TESSERA_MODEL_NAME / MLSERVER_MODEL_NAME, else `mlflow-model` (the name
// `mlflow models serve --enable-mlserver` gives MLServer, so V2 clients keep their URLs).
// Version: the registry version for models:/ URIs, or the one recorded in the folder's
// `registered_model_meta` (written by MLflow's downloads from models:/ and by build-docker),
// else unversioned.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { settingsReader } from '../config/load.js';
import type { DiscoveredModel } from '../core/repository.js';
import type { Env } from '../core/settings.js';
import { readMLmodel, servable } from '../mlflow/mlmodel.js';
import type { ResolvedModel } from '../mlflow/uri.js';
import { runtimes } from '../runtimes/registry.js';

export const DEFAULT_MODEL_NAME = 'mlflow-model';
/** MLServer's implementation name for MLflow models; the mlflow runtime answers to it. */
export const MLFLOW_IMPLEMENTATION = 'mlserver_mlflow.MLflowRuntime';
/** What MLflow writes beside a model downloaded from models:/ (models_artifact_repo.py). */
export const REGISTERED_MODEL_META = 'registered_model_meta';

/** The registered name and version recorded in a model folder, if any. */
export function registeredModelMeta(dir: string): { name?: string; version?: string } {
  const file = path.join(dir, REGISTERED_MODEL_META);
  if (!existsSync(file)) return {};
  try {
    const doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
    const str = (v: unknown): string | undefined => (v === null || v === undefined || v === '' ? undefined : String(v));
    return { name: str(doc?.model_name), version: str(doc?.model_version) };
  } catch {
    return {};
  }
}

/** The version a resolved model is served as: the registry's, else registered_model_meta's, else ''. */
export function servedVersion(resolved: ResolvedModel): string {
  return resolved.version ?? registeredModelMeta(resolved.dir).version ?? '';
}

export interface ModelEntryOptions {
  name?: string | undefined;
  /** Seconds; 0 = none. Undefined: the model settings' (TESSERA_MODEL_REQUEST_TIMEOUT, default 60). */
  requestTimeout?: number | undefined;
  env: Env;
}

/**
 * The one model `tessera serve` / `predict` load: the MLflow folder through the mlflow runtime
 * (onnx, sklearn and xgboost flavors). Model settings from the environment (TESSERA_MODEL_*,
 * MLSERVER_MODEL_*) apply, as for every model.
 */
export function mlflowModelEntry(resolved: ResolvedModel, options: ModelEntryOptions): DiscoveredModel {
  const { settings } = settingsReader.read(null, options.env);
  const name = options.name ?? settings.name ?? DEFAULT_MODEL_NAME;
  const version = servedVersion(resolved);
  const dir = resolved.dir;
  const runtime = runtimes.select(MLFLOW_IMPLEMENTATION);
  return {
    name,
    version,
    runtime: runtime?.name ?? null,
    modelPath: runtime?.locate({ folder: dir, uri: dir, implementation: MLFLOW_IMPLEMENTATION }) ?? dir,
    folder: dir,
    settings: {
      ...settings,
      name,
      implementation: MLFLOW_IMPLEMENTATION,
      ...(options.requestTimeout !== undefined ? { request_timeout: options.requestTimeout } : {}),
      parameters: { ...settings.parameters, uri: dir, ...(version !== '' ? { version } : {}) },
    },
    settingsFile: null,
  };
}

/** Checks that Tessera can serve the folder's flavor before anything starts (a clear message). */
export async function checkServable(dir: string): Promise<void> {
  servable(await readMLmodel(dir));
}

// Tests import UsageError from here too; it lives with the other shared argument handling.
export { UsageError } from './command.js';
