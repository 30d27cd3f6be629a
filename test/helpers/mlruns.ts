// Writes an MLflow file store (./mlruns) as MLflow 3.6's FileStore lays it out: experiments, runs
// with artifacts, MLflow 3 logged models, registered models with versions, stages and aliases.
// meta.yaml files carry the keys MLflow writes, sorted (MLflow's write_yaml sorts keys).
// Used by the MLflow URI tests and by the serving tests that start from runs:/ or models:/ URIs.
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
const fileUri = (p: string): string => pathToFileURL(p).href;

async function writeYaml(dir: string, name: string, data: Record<string, unknown>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, name), stringify(data, { sortMapEntries: true }));
}

export interface RunOptions {
  experimentId?: string;
  runId?: string;
  runName?: string;
  /** artifact path inside the run → a model folder to copy there (MLflow 2 log_model layout). */
  artifacts?: Record<string, string>;
}

export interface LoggedModelOptions {
  experimentId?: string;
  name?: string;
  sourceRunId?: string;
  modelId?: string;
  /** Model folder to copy to <exp>/models/<m-id>/artifacts. */
  from: string;
  deleted?: boolean;
  creationTimestamp?: number;
}

export interface VersionOptions {
  /** source URI as MLflow records it (models:/m-…, file:///…/artifacts/model, runs:/…). */
  source: string;
  /** storage_location; MLflow sets it for models:/ sources to the logged model's artifact location. */
  storageLocation?: string | null;
  runId?: string | null;
  modelId?: string | null;
  stage?: 'None' | 'Staging' | 'Production' | 'Archived' | 'Deleted_Internal';
}

export class MlrunsWriter {
  private clock = 1_764_000_000_000;
  constructor(readonly root: string) {}

  private now(): number {
    return (this.clock += 1000);
  }

  /** The URI to put in MLFLOW_TRACKING_URI. */
  get trackingUri(): string {
    return fileUri(this.root);
  }

  async experiment(id = '0', name = id === '0' ? 'Default' : `experiment-${id}`): Promise<string> {
    const t = this.now();
    await writeYaml(path.join(this.root, id), 'meta.yaml', {
      artifact_location: fileUri(path.join(this.root, id)),
      creation_time: t,
      experiment_id: id,
      last_update_time: t,
      lifecycle_stage: 'active',
      name,
    });
    await mkdir(path.join(this.root, '.trash'), { recursive: true });
    await mkdir(path.join(this.root, 'models'), { recursive: true });
    return id;
  }

  /** A finished run; artifacts are copied into <exp>/<run>/artifacts/<path>. Returns the run id. */
  async run(options: RunOptions = {}): Promise<string> {
    const exp = options.experimentId ?? '0';
    const runId = options.runId ?? hex(16);
    const runDir = path.join(this.root, exp, runId);
    const t = this.now();
    const runName = options.runName ?? `run-${runId.slice(0, 6)}`;
    await writeYaml(runDir, 'meta.yaml', {
      artifact_uri: fileUri(path.join(runDir, 'artifacts')),
      deleted_time: null,
      end_time: t + 500,
      entry_point_name: '',
      experiment_id: exp,
      lifecycle_stage: 'active',
      run_id: runId,
      run_name: runName,
      run_uuid: runId,
      source_name: '',
      source_type: 4,
      source_version: '',
      start_time: t,
      status: 3,
      tags: [],
      user_id: 'tessera',
    });
    for (const sub of ['metrics', 'params', 'artifacts']) await mkdir(path.join(runDir, sub), { recursive: true });
    await mkdir(path.join(runDir, 'tags'), { recursive: true });
    await writeFile(path.join(runDir, 'tags', 'mlflow.runName'), runName);
    await writeFile(path.join(runDir, 'tags', 'mlflow.user'), 'tessera');
    for (const [artifactPath, from] of Object.entries(options.artifacts ?? {})) {
      await cp(from, path.join(runDir, 'artifacts', artifactPath), { recursive: true });
    }
    return runId;
  }

  /** An MLflow 3 logged model (what log_model writes in 3.x). Returns its id (m-…). */
  async loggedModel(options: LoggedModelOptions): Promise<string> {
    const exp = options.experimentId ?? '0';
    const modelId = options.modelId ?? `m-${hex(16)}`;
    const modelDir = path.join(this.root, exp, 'models', modelId);
    const t = options.creationTimestamp ?? this.now();
    await writeYaml(modelDir, 'meta.yaml', {
      artifact_location: fileUri(path.join(modelDir, 'artifacts')),
      creation_timestamp: t,
      experiment_id: exp,
      last_updated_timestamp: t,
      lifecycle_stage: options.deleted ? 'deleted' : 'active',
      model_id: modelId,
      model_type: null,
      name: options.name ?? 'model',
      source_run_id: options.sourceRunId ?? null,
      status: 2,
    });
    for (const sub of ['metrics', 'params', 'tags']) await mkdir(path.join(modelDir, sub), { recursive: true });
    const artifacts = path.join(modelDir, 'artifacts');
    await cp(options.from, artifacts, { recursive: true });
    // log_model records the model id and run in MLmodel.
    const mlmodelFile = path.join(artifacts, 'MLmodel');
    const text = await readFile(mlmodelFile, 'utf8');
    await writeFile(mlmodelFile, text.replace(/^model_id: .*$/m, `model_id: ${modelId}`) + (options.sourceRunId ? `run_id: ${options.sourceRunId}\n` : ''));
    if (options.sourceRunId) {
      await writeYaml(path.join(this.root, exp, options.sourceRunId, 'outputs', modelId), 'meta.yaml', {
        destination_id: modelId,
        destination_type: 'MODEL_OUTPUT',
        source_id: options.sourceRunId,
        source_type: 'RUN_OUTPUT',
        step: 0,
      });
    }
    return modelId;
  }

  async registeredModel(name: string): Promise<void> {
    const t = this.now();
    await writeYaml(path.join(this.root, 'models', name), 'meta.yaml', {
      aliases: {},
      creation_timestamp: t,
      deployment_job_id: null,
      deployment_job_state: null,
      description: null,
      last_updated_timestamp: t,
      name,
    });
  }

  /** Writes version-<n>/meta.yaml; n is the next version unless given. Returns the version. */
  async modelVersion(name: string, options: VersionOptions, version?: number): Promise<number> {
    const n = version ?? (this.versions.get(name) ?? 0) + 1;
    this.versions.set(name, Math.max(n, this.versions.get(name) ?? 0));
    const t = this.now();
    await writeYaml(path.join(this.root, 'models', name, `version-${n}`), 'meta.yaml', {
      creation_timestamp: t,
      current_stage: options.stage ?? 'None',
      deployment_job_state: null,
      description: null,
      last_updated_timestamp: t,
      metrics: null,
      model_id: options.modelId ?? null,
      name,
      params: null,
      run_id: options.runId ?? null,
      run_link: null,
      source: options.source,
      status: 'READY',
      status_message: null,
      storage_location: options.storageLocation === undefined ? options.source : options.storageLocation,
      user_id: null,
      version: n,
    });
    return n;
  }
  private readonly versions = new Map<string, number>();

  /** Registers a logged model as MLflow 3 does: source models:/<m-id>, storage at its artifacts. */
  async registerLoggedModel(name: string, modelId: string, experimentId = '0', stage?: VersionOptions['stage']): Promise<number> {
    return this.modelVersion(name, {
      source: `models:/${modelId}`,
      storageLocation: fileUri(path.join(this.root, experimentId, 'models', modelId, 'artifacts')),
      modelId,
      stage,
    });
  }

  async setStage(name: string, version: number, stage: NonNullable<VersionOptions['stage']>): Promise<void> {
    const file = path.join(this.root, 'models', name, `version-${version}`, 'meta.yaml');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace(/^current_stage: .*$/m, `current_stage: ${stage}`));
  }

  /** Points an alias at a version: the aliases/<alias> file MLflow reads, mirrored in meta.yaml. */
  async setAlias(name: string, alias: string, version: number): Promise<void> {
    const dir = path.join(this.root, 'models', name);
    await mkdir(path.join(dir, 'aliases'), { recursive: true });
    await writeFile(path.join(dir, 'aliases', alias), String(version));
    const meta = path.join(dir, 'meta.yaml');
    const text = await readFile(meta, 'utf8');
    const { parse } = await import('yaml');
    const doc = parse(text) as Record<string, unknown>;
    doc.aliases = { ...((doc.aliases as Record<string, string>) ?? {}), [alias]: String(version) };
    doc.last_updated_timestamp = this.now();
    await writeFile(meta, stringify(doc, { sortMapEntries: true }));
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await rm(path.join(this.root, 'models', name, 'aliases', alias), { force: true });
  }
}
