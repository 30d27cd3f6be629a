// Model discovery: finds every model under the repository root.
//
// - A folder with a model-settings.json is a model (name: the settings' name, else the folder's).
//   Its runtime is the one its `implementation` selects (the default runtime when it names none);
//   its file is parameters.uri (default the folder itself), located by that runtime (a folder
//   means the runtime's model file inside it).
// - Versions: parameters.version names the version of that settings file; without it, numeric
//   sub-folders holding the runtime's model file (Triton's <model>/<version>/ layout) are its versions.
// - A folder holding a file some runtime recognises (e.g. model.onnx) and no model-settings.json is
//   a model too (zero-config); a numeric folder of that kind is a version of its parent's model.
//
// Settings are read and runtimes recognised through injected interfaces (config/ and runtimes/
// implement them), so discovery knows no file name of its own but the settings file's.
import { existsSync, readdirSync, statSync } from 'node:fs';
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

const isDirectory = (path: string): boolean => existsSync(path) && statSync(path).isDirectory();

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
    if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') walk(join(dir, e.name), runtimes, found);
  }
}

/** Numeric sub-folders of `dir` holding one of the runtime's model files. */
function versionFolders(dir: string, runtime: RuntimeInfo): string[] {
  if (!isDirectory(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && isVersion(e.name) && runtime.modelFiles.some((f) => existsSync(join(dir, e.name, f))))
    .map((e) => e.name);
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

  for (const dir of found.settings) {
    const file = join(dir, SETTINGS_FILE);
    const loaded = reader.read(file, env);
    warnings.push(...loaded.warnings);
    const settings = loaded.settings;
    const version = settings.parameters.version ?? '';
    // MLServer: a settings folder named after its version belongs to the parent folder's model.
    const folderName = version !== '' && basename(dir) === version ? basename(dirname(dir)) : basename(dir);
    const name = settings.name ?? folderName;
    const runtime = runtimes.select(settings.implementation);
    const uri = resolve(dir, settings.parameters.uri ?? '.');
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
    const { settings } = reader.read(null, env);
    if (settings.parameters.uri !== undefined) {
      const uri = resolve(root, settings.parameters.uri);
      const folder = isDirectory(uri) ? uri : dirname(uri);
      const runtime = runtimes.select(settings.implementation);
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

  const seen = new Map<string, DiscoveredModel>();
  for (const m of models) {
    const id = `${m.name}@${m.version}`;
    const other = seen.get(id);
    if (other !== undefined) {
      const where = (d: DiscoveredModel): string => relative(root, d.settingsFile ?? d.modelPath) || d.modelPath;
      const version = m.version === '' ? 'unversioned' : `version ${m.version}`;
      throw new SettingsError(`two models are named '${m.name}' (${version}): ${where(other)} and ${where(m)}`);
    }
    seen.set(id, m);
  }
  models.sort((a, b) => (a.name === b.name ? a.version.localeCompare(b.version) : a.name.localeCompare(b.name)));
  return { models, warnings };
}
