// Model discovery: finds every model under the repository root.
//
// - A folder with a model-settings.json is a model (name: the settings' name, else the folder's).
//   Its runtime is the one its `implementation` selects (the default runtime when it names none);
//   its file is parameters.uri (default the folder itself), located by that runtime (a folder
//   means the runtime's model file inside it).
// - Versions: parameters.version names the version of that settings file; without it, numeric
//   sub-folders holding the runtime's model file (Triton's <model>/<version>/ layout) are its versions.
//   Settings that name no implementation get the runtime that recognises the files of their uri
//   (an MLflow folder, say), else the default runtime. A uri with a scheme (an MLflow URI such as
//   runs:/<id>/model or models:/<name>/1) is kept as written, for its runtime to resolve.
// - A folder holding a file some runtime recognises (e.g. model.onnx) and no model-settings.json is
//   a model too (zero-config); a numeric folder of that kind is a version of its parent's model.
//
// Settings are read and runtimes recognised through injected interfaces (config/ and runtimes/
// implement them), so discovery knows no file name of its own but the settings file's.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve, sep } from 'node:path';
import { SettingsError } from './errors.js';
import type { Env, ModelSettings, RuntimeCatalogue, RuntimeInfo, SettingsReader } from './settings.js';

export const SETTINGS_FILE = 'model-settings.json';

export interface DiscoveredModel {
  name: string;
  /** '' for an unversioned model. */
  version: string;
  /** The runtime that serves it; null when its `implementation` selects none (its load then fails). */
  runtime: string | null;
  /** Absolute path of the model's file (or folder); it may not exist: the load then fails with that reason. */
  modelPath: string;
  /** The model's folder: where its settings are (or its file, for a zero-config model). */
  folder: string;
  settings: ModelSettings;
  settingsFile: string | null;
  /**
   * Why this model cannot load, found at discovery (a malformed or invalid settings file, a name
   * two folders claim): it is registered UNAVAILABLE with this reason and the others serve.
   */
  error?: string;
}

export interface Discovery {
  models: DiscoveredModel[];
  warnings: string[];
}

export interface DiscoveryOptions {
  env: Env;
  settings: SettingsReader;
  runtimes: RuntimeCatalogue;
}

const isVersion = (name: string): boolean => /^\d+$/.test(name);

/**
 * Folders never searched for models: dependencies, and MLflow's tracking and artifact stores (a
 * project folder's mlruns/ holds every logged model; they are served by URI, not as a repository).
 */
const NOT_SCANNED = new Set(['node_modules', 'mlruns', 'mlartifacts']);

const isDirectory = (path: string): boolean => existsSync(path) && statSync(path).isDirectory();

/** A uri with a scheme (runs:/, models:/, file://), not a path (a Windows drive letter is a path). */
const isSchemeUri = (uri: string): boolean => /^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(uri) && !/^[a-zA-Z]:[\\/]/.test(uri);

/** parameters.uri as a location: a path resolved against `base`, or a URI kept as written. */
const location = (base: string, uri: string | undefined): string => (uri !== undefined && isSchemeUri(uri) ? uri : resolve(base, uri ?? '.'));

/** The runtime of settings: the one their implementation selects; none named: the one the uri's files ask for. */
function runtimeOf(implementation: string | undefined, uri: string, runtimes: RuntimeCatalogue): RuntimeInfo | null {
  if (implementation === undefined || implementation.trim() === '') {
    let files: string[] = [];
    try {
      if (isDirectory(uri)) files = readdirSync(uri);
    } catch {
      // unreadable: the default runtime, whose load then says why
    }
    return runtimes.recognise(files) ?? runtimes.select(undefined);
  }
  return runtimes.select(implementation);
}

/** Whether `path` is `root` or inside it. */
function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && !/^[a-zA-Z]:/.test(rel));
}

interface Found {
  settings: string[];
  /** Folders holding a file some runtime recognises, with that runtime. */
  models: { dir: string; runtime: RuntimeInfo }[];
}

function walk(dir: string, runtimes: RuntimeCatalogue, found: Found): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  const files = entries.filter((e) => e.isFile()).map((e) => e.name);
  if (files.includes(SETTINGS_FILE)) found.settings.push(dir);
  const runtime = runtimes.recognise(files);
  if (runtime !== null) found.models.push({ dir, runtime });
  for (const e of entries) {
    if (e.isDirectory() && !e.name.startsWith('.') && !NOT_SCANNED.has(e.name)) walk(join(dir, e.name), runtimes, found);
  }
}

/** Numeric sub-folders of `dir` holding one of the runtime's model files. */
function versionFolders(dir: string, runtime: RuntimeInfo): string[] {
  if (!isDirectory(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && isVersion(e.name) && runtime.modelFiles.some((f) => existsSync(join(dir, e.name, f))))
    .map((e) => e.name);
}

/** Numeric sub-folder names of `dir` (Triton version folders), whatever they hold. */
function versionFolderNames(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && isVersion(e.name))
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/**
 * The model a folder with a broken settings file stands for: named as the file says if its name
 * can be read, else after the folder; UNAVAILABLE with the reason, paths relative to the root.
 */
function brokenModel(root: string, dir: string, file: string, error: SettingsError, defaults: ModelSettings): DiscoveredModel {
  let name = basename(dir);
  let version = '';
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; parameters?: { version?: unknown } };
    if (typeof raw.name === 'string' && raw.name !== '') name = raw.name;
    if (typeof raw.parameters?.version === 'string') version = raw.parameters.version;
  } catch {
    // unreadable or malformed: the folder's name
  }
  if (version !== '' && basename(dir) === version && name === basename(dir)) name = basename(dirname(dir));
  const shown = relative(root, file) || file;
  const reason = error.message.replace(/^invalid settings\n\s*/, '').split(file).join(shown).replace(/\n\s*/g, '; ');
  return { name, version, runtime: null, modelPath: dir, folder: dir, settings: defaults, settingsFile: file, error: `invalid ${SETTINGS_FILE}: ${reason}` };
}

export function discoverModels(rootPath: string, options: DiscoveryOptions): Discovery {
  const { env, settings: reader, runtimes } = options;
  const root = resolve(rootPath);
  const warnings: string[] = [];
  const models: DiscoveredModel[] = [];
  const found: Found = { settings: [], models: [] };
  if (!existsSync(root)) throw new SettingsError(`model repository root ${root} does not exist`);
  walk(root, runtimes, found);
  const claimed = new Set<string>();
  const claim = (path: string): void => void claimed.add(isDirectory(path) ? path : dirname(path));

  // MLSERVER_MODEL_URI naming a model outside the repository: that model alone is served (how
  // `MLSERVER_MODEL_URI=<dir> tessera start` serves one model whatever the repository holds; the
  // variables apply to every model, so the repository's own would all take that uri and name).
  const fromEnv = reader.read(null, env);
  const envUri = fromEnv.settings.parameters.uri;
  const envOnly = envUri !== undefined && (isSchemeUri(envUri) || !within(root, resolve(root, envUri)));
  if (envOnly) {
    found.settings = [];
    found.models = [];
  }

  for (const dir of found.settings) {
    const file = join(dir, SETTINGS_FILE);
    let loaded: ReturnType<SettingsReader['read']>;
    try {
      loaded = reader.read(file, env);
    } catch (error) {
      // One broken folder makes one UNAVAILABLE model, never a failed start or repository scan.
      if (!(error instanceof SettingsError)) throw error;
      const broken = brokenModel(root, dir, file, error, fromEnv.settings);
      warnings.push(`${broken.name}: ${broken.error}`);
      claimed.add(dir);
      for (const v of versionFolderNames(dir)) claimed.add(join(dir, v));
      models.push(broken);
      continue;
    }
    warnings.push(...loaded.warnings);
    const settings = loaded.settings;
    const version = settings.parameters.version ?? '';
    // MLServer: a settings folder named after its version belongs to the parent folder's model.
    const folderName = version !== '' && basename(dir) === version ? basename(dirname(dir)) : basename(dir);
    const name = settings.name ?? folderName;
    const uri = location(dir, settings.parameters.uri);
    const runtime = runtimeOf(settings.implementation, uri, runtimes);
    claimed.add(dir);
    const versions = version === '' && runtime !== null ? versionFolders(uri, runtime) : [];
    if (runtime !== null && versions.length > 0) {
      for (const v of versions) {
        const at = join(uri, v);
        claimed.add(at);
        const modelPath = runtime.locate({ folder: dir, uri: at, implementation: settings.implementation });
        models.push({ name, version: v, runtime: runtime.name, modelPath, folder: dir, settings, settingsFile: file });
      }
    } else {
      const modelPath = runtime?.locate({ folder: dir, uri, implementation: settings.implementation }) ?? uri;
      claim(modelPath);
      models.push({ name, version, runtime: runtime?.name ?? null, modelPath, folder: dir, settings, settingsFile: file });
    }
  }

  for (const { dir, runtime } of found.models) {
    if (claimed.has(dir)) continue;
    // Inside a folder that has settings of its own (e.g. extra files of a model): not a model.
    if (found.settings.some((s) => dir.startsWith(s + sep) && !isVersion(basename(dir)))) continue;
    const { settings, warnings: w } = reader.read(null, env);
    warnings.push(...w);
    const versioned = isVersion(basename(dir)) && dir !== root;
    const name = settings.name ?? basename(versioned ? dirname(dir) : dir);
    models.push({
      name,
      version: versioned ? basename(dir) : settings.parameters.version ?? '',
      runtime: runtime.name,
      modelPath: runtime.locate({ folder: dir, uri: dir, implementation: undefined }),
      folder: dir,
      settings,
      settingsFile: null,
    });
  }

  // MLServer builds one model from MLSERVER_MODEL_* alone when the repository has none (this is
  // how `mlflow models serve --enable-mlserver` and KServe start it).
  if (models.length === 0) {
    const { settings, warnings: w } = fromEnv;
    if (settings.parameters.uri !== undefined) {
      warnings.push(...w);
      const uri = location(root, settings.parameters.uri);
      const folder = isSchemeUri(uri) ? root : isDirectory(uri) ? uri : dirname(uri);
      const runtime = runtimeOf(settings.implementation, uri, runtimes);
      models.push({
        name: settings.name ?? basename(uri, extname(uri)),
        version: settings.parameters.version ?? '',
        runtime: runtime?.name ?? null,
        modelPath: runtime?.locate({ folder, uri, implementation: settings.implementation }) ?? uri,
        folder,
        settings,
        settingsFile: null,
      });
    }
  }

  // Two folders claiming one name (and version): which one the name means is ambiguous, so neither
  // is served; the name is UNAVAILABLE with both places named, and the other models serve.
  const seen = new Map<string, DiscoveredModel>();
  for (const m of models) {
    const id = `${m.name}@${m.version}`;
    const other = seen.get(id);
    if (other !== undefined) {
      const where = (d: DiscoveredModel): string => relative(root, d.settingsFile ?? d.modelPath) || d.modelPath;
      const version = m.version === '' ? 'unversioned' : `version ${m.version}`;
      const reason = `two models are named '${m.name}' (${version}): ${where(other)} and ${where(m)}`;
      warnings.push(reason);
      seen.set(id, { ...other, error: reason });
      continue;
    }
    seen.set(id, m);
  }
  const unique = [...seen.values()];
  unique.sort((a, b) => (a.name === b.name ? a.version.localeCompare(b.version) : a.name.localeCompare(b.name)));
  return { models: unique, warnings };
}
