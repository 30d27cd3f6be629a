// Model URIs resolved as MLflow resolves them against a local file store (reference §4):
// plain paths, file://, runs:/<run_id>/<path> (falling back to MLflow 3 logged models),
// models:/<name>/<version|stage|latest>, models:/<name>@<alias>, models:/<model_id>.
// Layout (as MLflow 3.6's FileStore writes it):
//   <root>/<exp_id>/meta.yaml                       experiment (artifact_location)
//   <root>/<exp_id>/<run_id>/meta.yaml              run (artifact_uri, experiment_id)
//   <root>/<exp_id>/models/<m-id>/meta.yaml         logged model (artifact_location, name, source_run_id)
//   <root>/.trash/<exp_id>/…                        deleted experiments
//   <root>/models/<name>/meta.yaml                  registered model
//   <root>/models/<name>/version-<n>/meta.yaml      version (source, storage_location, current_stage)
//   <root>/models/<name>/aliases/<alias>            alias → version number
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { MlflowModelError } from './errors.js';
import { MLMODEL_FILE } from './mlmodel.js';

export type ParsedModelUri =
  | { kind: 'path'; path: string }
  | { kind: 'runs'; runId: string; artifactPath: string }
  | { kind: 'registry'; name: string; version?: string; stage?: string; alias?: string; latest?: true; subPath: string }
  | { kind: 'logged-model'; modelId: string; subPath: string };

export interface ResolvedModel {
  /** The URI as given. */
  uri: string;
  /** Absolute local folder holding MLmodel. */
  dir: string;
  /** The form the URI took. */
  via: 'path' | 'run' | 'logged-model' | 'registry';
  /** Registered model name and version (registry URIs). */
  name?: string;
  version?: string;
  /** The alias or canonical stage the version was picked by; `latest` for /latest. */
  alias?: string;
  stage?: string;
  latest?: boolean;
  runId?: string;
  experimentId?: string;
  modelId?: string;
  /** The file store that was searched (runs:/ and models:/). */
  storeRoot?: string;
}

export interface ResolveOptions {
  /** Tracking URI; default MLFLOW_TRACKING_URI, else ./mlruns. */
  trackingUri?: string;
  /** Registry URI; default MLFLOW_REGISTRY_URI, else the tracking URI. */
  registryUri?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const err = (message: string, code: 'RESOURCE_DOES_NOT_EXIST' | 'INVALID_PARAMETER_VALUE' | 'NOT_IMPLEMENTED' = 'RESOURCE_DOES_NOT_EXIST'): MlflowModelError =>
  new MlflowModelError(message, code);

const NON_FILE_HINT =
  'Tessera reads MLflow models from a local file store only; download the model first (`mlflow artifacts download -u <uri> -d <dir>`) and serve that folder';

// ---- tracking URIs ------------------------------------------------------------------------------

/** The local folder of a file tracking/registry URI; other stores are refused. */
export function localStoreRoot(uri: string, cwd: string, what = 'MLFLOW_TRACKING_URI'): string {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase() ?? (/^databricks(-uc)?$/i.test(uri) ? 'databricks' : undefined);
  if (scheme === undefined || /^[a-zA-Z]:[\\/]/.test(uri)) return path.resolve(cwd, uri);
  if (scheme === 'file') return path.resolve(cwd, fileUriToPath(uri));
  if (scheme === 'http' || scheme === 'https') {
    throw err(`${what}=${uri} is a tracking server, which is not supported. ${NON_FILE_HINT}`, 'NOT_IMPLEMENTED');
  }
  if (scheme.startsWith('databricks') || scheme === 'uc') {
    throw err(`${what}=${uri} (Databricks) is not supported. ${NON_FILE_HINT}`, 'NOT_IMPLEMENTED');
  }
  if (['sqlite', 'postgresql', 'postgres', 'mysql', 'mssql'].includes(scheme) || scheme.includes('+')) {
    throw err(`${what}=${uri} is a database store, which is not supported: Tessera reads MLflow's file store (file:/path/to/mlruns). ${NON_FILE_HINT}`, 'NOT_IMPLEMENTED');
  }
  throw err(`${what}=${uri}: the '${scheme}' store is not supported. ${NON_FILE_HINT}`, 'NOT_IMPLEMENTED');
}

function fileUriToPath(uri: string): string {
  if (uri.startsWith('file://')) {
    try {
      return fileURLToPath(uri);
    } catch (error) {
      throw err(`Invalid file URI '${uri}': ${(error as Error).message}`, 'INVALID_PARAMETER_VALUE');
    }
  }
  return decodeURIComponent(uri.slice('file:'.length));
}

export function trackingRoot(options: ResolveOptions = {}): string {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const uri = options.trackingUri ?? env.MLFLOW_TRACKING_URI;
  return uri ? localStoreRoot(uri, cwd, 'MLFLOW_TRACKING_URI') : path.resolve(cwd, 'mlruns');
}

export function registryRoot(options: ResolveOptions = {}): string {
  const env = options.env ?? process.env;
  const uri = options.registryUri ?? env.MLFLOW_REGISTRY_URI;
  return uri ? localStoreRoot(uri, options.cwd ?? process.cwd(), 'MLFLOW_REGISTRY_URI') : trackingRoot(options);
}

// ---- parsing ------------------------------------------------------------------------------------

const RUNS_FORM = "Runs URIs must be of the form 'runs:/<run_id>/run-relative/path/to/artifact'";
const MODELS_FORM =
  "Models URIs must be of the form 'models:/name/suffix' or 'models:/name@alias' where suffix is a version, stage, or the string 'latest' and where alias is a registered model alias. Only one of suffix or alias can be defined at a time.";

/** Whether a model location is written as an MLflow URI (runs:, models:, file:) rather than a path. */
export function isModelUri(value: string): boolean {
  return /^(runs|models|file):/i.test(value);
}

export function parseModelUri(uri: string): ParsedModelUri {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined || /^[a-zA-Z]:[\\/]/.test(uri)) return { kind: 'path', path: uri };
  if (scheme === 'file') return { kind: 'path', path: fileUriToPath(uri) };
  if (scheme === 'runs') {
    const rest = uri.slice('runs:'.length).replace(/^\/+/, '/');
    if (!rest.startsWith('/') || rest.length <= 1) throw err(`Not a proper runs:/ URI: ${uri}. ${RUNS_FORM}`, 'INVALID_PARAMETER_VALUE');
    const [runId, ...parts] = rest.slice(1).split('/');
    if (!runId) throw err(`Not a proper runs:/ URI: ${uri}. ${RUNS_FORM}`, 'INVALID_PARAMETER_VALUE');
    checkId('run id', runId, uri);
    return { kind: 'runs', runId, artifactPath: cleanRelative(parts.join('/'), uri) };
  }
  if (scheme === 'models') {
    const rest = uri.slice('models:'.length);
    if (rest.startsWith('//')) throw err(`models:// URIs with a registry host (${uri}) are not supported. ${NON_FILE_HINT}`, 'NOT_IMPLEMENTED');
    if (!rest.startsWith('/') || rest.length <= 1) throw err(`Not a proper models:/ URI: ${uri}. ${MODELS_FORM}`, 'INVALID_PARAMETER_VALUE');
    const parts = rest.slice(1).replace(/\/+$/, '').split('/');
    if (parts[0].trim() === '') throw err(`Not a proper models:/ URI: ${uri}. ${MODELS_FORM}`, 'INVALID_PARAMETER_VALUE');
    const first = parts[0];
    if (first.includes('@')) {
      const at = first.lastIndexOf('@');
      const name = first.slice(0, at);
      const alias = first.slice(at + 1);
      if (!name || alias.trim() === '') throw err(`Not a proper models:/ URI: ${uri}. ${MODELS_FORM}`, 'INVALID_PARAMETER_VALUE');
      checkId('registered model name', name, uri);
      checkId('alias', alias, uri);
      return { kind: 'registry', name, alias, subPath: cleanRelative(parts.slice(1).join('/'), uri) };
    }
    checkId(parts.length === 1 ? 'model id' : 'registered model name', first, uri);
    if (parts.length === 1) return { kind: 'logged-model', modelId: first, subPath: '' };
    const suffix = parts[1];
    if (suffix.trim() === '') throw err(`Not a proper models:/ URI: ${uri}. ${MODELS_FORM}`, 'INVALID_PARAMETER_VALUE');
    const subPath = cleanRelative(parts.slice(2).join('/'), uri);
    if (/^\d+$/.test(suffix)) return { kind: 'registry', name: first, version: String(Number(suffix)), subPath };
    if (suffix.toLowerCase() === 'latest') return { kind: 'registry', name: first, latest: true, subPath };
    return { kind: 'registry', name: first, stage: canonicalStage(suffix), subPath };
  }
  if (['s3', 'gs', 'wasbs', 'abfss', 'hdfs', 'dbfs', 'http', 'https', 'mlflow-artifacts', 'oss', 'ftp', 'sftp'].includes(scheme)) {
    throw err(`Model URI '${uri}': the '${scheme}' scheme is not supported. ${NON_FILE_HINT}`, 'NOT_IMPLEMENTED');
  }
  throw err(`Model URI '${uri}': unknown scheme '${scheme}'. Use a path, file://, runs:/ or models:/ URI`, 'INVALID_PARAMETER_VALUE');
}

/** Names become path segments: refuse separators and dot-segments (MLflow refuses them too). */
function checkId(what: string, value: string, uri: string): void {
  if (value === '.' || value === '..' || /[\\/\0]/.test(value)) {
    throw err(`Model URI '${uri}': invalid ${what} '${value}'`, 'INVALID_PARAMETER_VALUE');
  }
}

function cleanRelative(rel: string, uri: string): string {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw err(`Model URI '${uri}': the artifact path may not contain '..'`, 'INVALID_PARAMETER_VALUE');
  return parts.join('/');
}

const STAGES = ['None', 'Staging', 'Production', 'Archived'] as const;

export function canonicalStage(stage: string): string {
  const found = STAGES.find((s) => s.toLowerCase() === stage.toLowerCase());
  if (!found) throw err(`Invalid Model Version stage: ${stage}. Value must be one of ${STAGES.join(', ')}.`, 'INVALID_PARAMETER_VALUE');
  return found;
}

// ---- file store reads ---------------------------------------------------------------------------

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function readMeta(dir: string): Promise<Record<string, unknown>> {
  const file = path.join(dir, 'meta.yaml');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw err(`Missing ${file}`);
  }
  const doc = parseYaml(text) as unknown;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw err(`${file} is empty or not a YAML mapping`, 'INVALID_PARAMETER_VALUE');
  return doc as Record<string, unknown>;
}

const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));

async function requireStore(root: string): Promise<void> {
  if (!(await isDir(root))) {
    throw err(`The MLflow file store '${root}' does not exist (set MLFLOW_TRACKING_URI=file:/path/to/mlruns; the default is ./mlruns)`);
  }
}

/** Experiment folders: active ones under the root, deleted ones under .trash (as MLflow searches). */
async function experimentDirs(root: string): Promise<{ id: string; dir: string }[]> {
  const out: { id: string; dir: string }[] = [];
  for (const parent of [root, path.join(root, '.trash')]) {
    let names: string[];
    try {
      names = await readdir(parent);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      if (name === '.trash' || (parent === root && name === 'models') || name.startsWith('.')) continue;
      if (await isDir(path.join(parent, name))) out.push({ id: name, dir: path.join(parent, name) });
    }
  }
  return out;
}

/** A file URI or local path in a meta.yaml as a local path; undefined for remote locations. */
function localLocation(location: string): string | undefined {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined || /^[a-zA-Z]:[\\/]/.test(location)) return location;
  if (scheme === 'file') return fileUriToPath(location);
  return undefined;
}

/**
 * The artifact folder recorded in a meta.yaml, or the folder beside it when the recorded one is
 * gone: a store copied or mounted elsewhere (a container, another machine) keeps absolute
 * file:// URIs of its old place. MLflow would fail there; Tessera looks beside the metadata.
 */
async function artifactDir(recorded: string | undefined, beside: string, what: string): Promise<string> {
  const local = recorded === undefined ? undefined : localLocation(recorded);
  if (local !== undefined && (await isDir(local))) return local;
  if (await isDir(beside)) return beside;
  if (recorded !== undefined && local === undefined) {
    throw err(`${what} stores its artifacts at '${recorded}', which is not on the local file system. ${NON_FILE_HINT}`, 'NOT_IMPLEMENTED');
  }
  throw err(`${what}: artifact folder '${local ?? beside}' does not exist`);
}

interface RunInfo {
  runId: string;
  experimentId: string;
  runDir: string;
  artifactDir: string | undefined;
}

async function findRun(root: string, runId: string): Promise<RunInfo> {
  await requireStore(root);
  for (const exp of await experimentDirs(root)) {
    const runDir = path.join(exp.dir, runId);
    if (!(await isDir(runDir))) continue;
    const meta = await readMeta(runDir);
    const experimentId = str(meta.experiment_id) ?? exp.id;
    let artifacts: string | undefined;
    try {
      artifacts = await artifactDir(str(meta.artifact_uri), path.join(runDir, 'artifacts'), `Run '${runId}'`);
    } catch {
      artifacts = undefined;
    }
    return { runId, experimentId, runDir, artifactDir: artifacts };
  }
  throw err(`Run '${runId}' not found in the MLflow file store '${root}'`);
}

interface LoggedModelInfo {
  modelId: string;
  experimentId: string;
  name?: string;
  sourceRunId?: string;
  created: number;
  modelDir: string;
  artifactLocation?: string;
}

async function readLoggedModel(modelDir: string, expId: string): Promise<LoggedModelInfo | undefined> {
  const meta = await readMeta(modelDir);
  if (meta.lifecycle_stage === 'deleted') return undefined;
  return {
    modelId: str(meta.model_id) ?? path.basename(modelDir),
    experimentId: str(meta.experiment_id) ?? expId,
    name: str(meta.name),
    sourceRunId: str(meta.source_run_id),
    created: Number(meta.creation_timestamp ?? 0),
    modelDir,
    artifactLocation: str(meta.artifact_location),
  };
}

async function loggedModelArtifacts(m: LoggedModelInfo): Promise<string> {
  return artifactDir(m.artifactLocation, path.join(m.modelDir, 'artifacts'), `Logged model '${m.modelId}'`);
}

async function findLoggedModel(root: string, modelId: string): Promise<LoggedModelInfo> {
  await requireStore(root);
  for (const exp of await experimentDirs(root)) {
    const modelDir = path.join(exp.dir, 'models', modelId);
    if (!(await isDir(modelDir))) continue;
    const info = await readLoggedModel(modelDir, exp.id);
    if (info) return info;
  }
  throw err(`Logged model '${modelId}' not found in the MLflow file store '${root}' (looked in <experiment>/models/${modelId})`);
}

/** MLflow 3: runs:/<run>/<name> names the logged model <name> whose source run is <run>. */
async function findRunLoggedModel(root: string, run: RunInfo, name: string): Promise<LoggedModelInfo | undefined> {
  const expDir = path.dirname(run.runDir);
  const modelsDir = path.join(expDir, 'models');
  let ids: string[];
  try {
    ids = await readdir(modelsDir);
  } catch {
    return undefined;
  }
  const matches: LoggedModelInfo[] = [];
  for (const id of ids) {
    if (!(await isDir(path.join(modelsDir, id)))) continue;
    const info = await readLoggedModel(path.join(modelsDir, id), run.experimentId).catch(() => undefined);
    if (info && info.name === name && info.sourceRunId === run.runId) matches.push(info);
  }
  matches.sort((a, b) => b.created - a.created);
  return matches[0];
}

// ---- registry -----------------------------------------------------------------------------------

interface VersionInfo {
  version: number;
  stage: string;
  /** Where to look, in order: storage_location, source, then the run's artifacts (stale store paths). */
  locations: string[];
  runId?: string;
  modelId?: string;
  dir: string;
}

async function registeredModelDir(root: string, name: string): Promise<string> {
  await requireStore(root);
  const dir = path.join(root, 'models', name);
  if (!(await isDir(dir))) throw err(`Registered Model with name=${name} not found (looked in '${dir}')`);
  return dir;
}

async function listVersions(modelDir: string): Promise<VersionInfo[]> {
  const out: VersionInfo[] = [];
  for (const entry of await readdir(modelDir)) {
    if (!/^version-\d+$/.test(entry) || !(await isDir(path.join(modelDir, entry)))) continue;
    const v = await readVersion(path.join(modelDir, entry));
    if (v) out.push(v);
  }
  return out;
}

async function readVersion(dir: string): Promise<VersionInfo | undefined> {
  const meta = await readMeta(dir);
  const stage = str(meta.current_stage) ?? 'None';
  if (stage === 'Deleted_Internal') return undefined;
  return {
    version: Number(meta.version ?? path.basename(dir).slice('version-'.length)),
    stage,
    // get_model_version_download_uri: storage_location or source.
    locations: versionLocations(str(meta.storage_location), str(meta.source), str(meta.run_id)),
    runId: str(meta.run_id) || undefined,
    modelId: str(meta.model_id) || undefined,
    dir,
  };
}

/**
 * MLflow reads storage_location, else source. A store copied elsewhere keeps absolute file://
 * locations of its old place, so Tessera then tries the source (models:/m-… resolves in the
 * current store) and, for run artifacts, runs:/<run_id>/<path> from the part after artifacts/.
 */
function versionLocations(storage: string | undefined, source: string | undefined, runId: string | undefined): string[] {
  const out: string[] = [];
  for (const loc of [storage, source]) if (loc && !out.includes(loc)) out.push(loc);
  for (const loc of [...out]) {
    const local = localLocation(loc);
    const m = local === undefined || !runId ? null : new RegExp(`[\\\\/]${runId}[\\\\/]artifacts[\\\\/](.+)$`).exec(local);
    if (m) out.push(`runs:/${runId}/${m[1].replaceAll('\\', '/')}`);
  }
  return out;
}

async function resolveVersionLocation(version: VersionInfo, options: ResolveOptions, depth: number): Promise<ResolvedModel> {
  let first: unknown;
  for (const loc of version.locations) {
    try {
      return await resolveInner(loc, options, depth + 1);
    } catch (error) {
      first ??= error;
    }
  }
  throw first;
}

async function getVersion(modelDir: string, name: string, version: string): Promise<VersionInfo> {
  const dir = path.join(modelDir, `version-${version}`);
  const v = (await isDir(dir)) ? await readVersion(dir) : undefined;
  if (!v) throw err(`Model Version (name=${name}, version=${version}) not found (looked in '${dir}')`);
  return v;
}

async function latestVersion(modelDir: string, name: string, stage: string | undefined): Promise<VersionInfo> {
  const versions = (await listVersions(modelDir)).filter((v) => (stage === undefined ? STAGES.includes(v.stage as (typeof STAGES)[number]) : v.stage === stage));
  if (versions.length === 0) {
    throw err(`No versions of model with name '${name}'${stage === undefined ? '' : ` and stage '${stage}'`} found (looked in '${modelDir}')`);
  }
  return versions.reduce((a, b) => (b.version > a.version ? b : a));
}

// ---- resolution ---------------------------------------------------------------------------------

const MAX_INDIRECTIONS = 8;

/**
 * Resolves a model URI to the local folder holding MLmodel, with what was resolved (registered
 * name, version, alias or stage, run, logged model) so that a watcher can poll the same URI and
 * see the version move.
 */
export async function resolveModelUri(uri: string, options: ResolveOptions = {}): Promise<ResolvedModel> {
  const resolved = await resolveInner(uri, options, 0);
  if (!(await exists(path.join(resolved.dir, MLMODEL_FILE)))) {
    throw err(`No MLmodel file in '${resolved.dir}' (resolved from '${uri}'): not an MLflow model directory`);
  }
  return resolved;
}

async function resolveInner(uri: string, options: ResolveOptions, depth: number): Promise<ResolvedModel> {
  if (depth > MAX_INDIRECTIONS) throw err(`Model URI '${uri}': too many indirections (a registry source pointing at itself?)`, 'INVALID_PARAMETER_VALUE');
  const cwd = options.cwd ?? process.cwd();
  const parsed = parseModelUri(uri);
  switch (parsed.kind) {
    case 'path': {
      const dir = path.resolve(cwd, parsed.path);
      if (!(await isDir(dir))) throw err(`Model path '${dir}' does not exist or is not a directory`);
      return { uri, dir, via: 'path' };
    }
    case 'runs': {
      const root = trackingRoot(options);
      const run = await findRun(root, parsed.runId);
      const [first, ...rest] = parsed.artifactPath.split('/');
      if (run.artifactDir !== undefined) {
        const dir = path.join(run.artifactDir, parsed.artifactPath);
        if (await isDir(dir)) return { uri, dir, via: 'run', runId: run.runId, experimentId: run.experimentId, storeRoot: root };
      }
      if (first) {
        const logged = await findRunLoggedModel(root, run, first);
        if (logged) {
          const dir = path.join(await loggedModelArtifacts(logged), ...rest);
          if (!(await isDir(dir))) throw err(`Path '${rest.join('/')}' not found in logged model '${logged.modelId}' ('${dir}')`);
          return { uri, dir, via: 'run', runId: run.runId, experimentId: run.experimentId, modelId: logged.modelId, storeRoot: root };
        }
      }
      const where = run.artifactDir === undefined ? `run folder '${run.runDir}'` : `'${path.join(run.artifactDir, parsed.artifactPath)}'`;
      throw err(
        `Failed to download artifacts from path '${parsed.artifactPath}' of run '${run.runId}': not found in ${where}` +
          (first ? ` nor as a logged model named '${first}' of that run (in '${path.join(path.dirname(run.runDir), 'models')}')` : ''),
      );
    }
    case 'logged-model': {
      const root = trackingRoot(options);
      const logged = await findLoggedModel(root, parsed.modelId);
      const dir = await loggedModelArtifacts(logged);
      return { uri, dir, via: 'logged-model', modelId: logged.modelId, experimentId: logged.experimentId, runId: logged.sourceRunId, storeRoot: root };
    }
    case 'registry': {
      const root = registryRoot(options);
      const modelDir = await registeredModelDir(root, parsed.name);
      let version: VersionInfo;
      if (parsed.version !== undefined) version = await getVersion(modelDir, parsed.name, parsed.version);
      else if (parsed.alias !== undefined && parsed.alias.toLowerCase() !== 'latest') {
        const aliasFile = path.join(modelDir, 'aliases', parsed.alias);
        let text: string;
        try {
          text = (await readFile(aliasFile, 'utf8')).trim();
        } catch {
          throw err(`Registered model alias ${parsed.alias} not found (model '${parsed.name}', looked for '${aliasFile}')`);
        }
        if (!/^\d+$/.test(text)) throw err(`Alias file '${aliasFile}' holds '${text}', not a version number`, 'INVALID_PARAMETER_VALUE');
        version = await getVersion(modelDir, parsed.name, String(Number(text)));
      } else version = await latestVersion(modelDir, parsed.name, parsed.stage);
      if (version.locations.length === 0) throw err(`Model Version (name=${parsed.name}, version=${version.version}) has neither storage_location nor source ('${version.dir}')`, 'INVALID_PARAMETER_VALUE');
      const inner = await resolveVersionLocation(version, { ...options, cwd: root }, depth).catch((error: unknown) => {
        throw err(`Model Version (name=${parsed.name}, version=${version.version}) points at '${version.locations[0]}': ${(error as Error).message}`);
      });
      const dir = parsed.subPath ? path.join(inner.dir, parsed.subPath) : inner.dir;
      return {
        uri,
        dir,
        via: 'registry',
        name: parsed.name,
        version: String(version.version),
        ...(parsed.alias !== undefined ? { alias: parsed.alias } : {}),
        ...(parsed.stage !== undefined ? { stage: parsed.stage } : {}),
        ...(parsed.latest || parsed.alias?.toLowerCase() === 'latest' ? { latest: true } : {}),
        runId: version.runId ?? inner.runId,
        experimentId: inner.experimentId,
        modelId: version.modelId ?? inner.modelId,
        storeRoot: root,
      };
    }
  }
}
