// Model discovery: finds every model under the repository root.
//
// - A folder with a model-settings.json is a model (name: the settings' name, else the folder's).
//   Its file is parameters.uri (a file, or a folder holding model.onnx), default the folder itself.
// - Versions: parameters.version names the version of that settings file; without it, numeric
//   sub-folders holding a model.onnx (Triton's <model>/<version>/ layout) are its versions.
// - A folder holding model.onnx and no model-settings.json is a model too (zero-config); a numeric
//   folder of that kind is a version of its parent folder's model.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { SettingsError, loadModelSettings } from '../config/load.js';
import type { ModelSettings } from '../config/schema.js';

export const SETTINGS_FILE = 'model-settings.json';
export const MODEL_FILE = 'model.onnx';

export interface DiscoveredModel {
  name: string;
  /** '' for an unversioned model. */
  version: string;
  /** Absolute path of the ONNX file (it may not exist: the load then fails with that reason). */
  modelPath: string;
  settings: ModelSettings;
  settingsFile: string | null;
}

export interface Discovery {
  models: DiscoveredModel[];
  warnings: string[];
}

type Env = Record<string, string | undefined>;

const isVersion = (name: string): boolean => /^\d+$/.test(name);

function walk(root: string, found: { settings: string[]; onnx: string[] }): void {
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return;
  }
  if (entries.some((e) => e.isFile() && e.name === SETTINGS_FILE)) found.settings.push(root);
  if (entries.some((e) => e.isFile() && e.name === MODEL_FILE)) found.onnx.push(root);
  for (const e of entries) {
    if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') walk(join(root, e.name), found);
  }
}

/** A model file: the path itself, or model.onnx (else the only *.onnx) inside a folder. */
function modelFileIn(path: string): string {
  if (!existsSync(path) || !statSync(path).isDirectory()) return path;
  const standard = join(path, MODEL_FILE);
  if (existsSync(standard)) return standard;
  const onnx = readdirSync(path).filter((f) => f.endsWith('.onnx'));
  return onnx.length === 1 ? join(path, onnx[0]) : standard;
}

function versionFolders(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && isVersion(e.name) && existsSync(join(dir, e.name, MODEL_FILE)))
    .map((e) => e.name);
}

export function discoverModels(rootPath: string, env: Env = process.env): Discovery {
  const root = resolve(rootPath);
  const warnings: string[] = [];
  const models: DiscoveredModel[] = [];
  const found = { settings: [] as string[], onnx: [] as string[] };
  if (!existsSync(root)) throw new SettingsError(`model repository root ${root} does not exist`);
  walk(root, found);
  const claimed = new Set<string>();

  for (const dir of found.settings) {
    const file = join(dir, SETTINGS_FILE);
    const loaded = loadModelSettings(file, env);
    warnings.push(...loaded.warnings);
    const settings = loaded.settings;
    const version = settings.parameters.version ?? '';
    // MLServer: a settings folder named after its version belongs to the parent folder's model.
    const folderName = version !== '' && basename(dir) === version ? basename(dirname(dir)) : basename(dir);
    const name = settings.name ?? folderName;
    const uri = resolve(dir, settings.parameters.uri ?? '.');
    claimed.add(dir);
    const versions = version === '' ? versionFolders(uri) : [];
    if (versions.length > 0) {
      for (const v of versions) {
        claimed.add(join(uri, v));
        models.push({ name, version: v, modelPath: join(uri, v, MODEL_FILE), settings, settingsFile: file });
      }
    } else {
      const modelPath = modelFileIn(uri);
      claimed.add(dirname(modelPath));
      models.push({ name, version, modelPath, settings, settingsFile: file });
    }
  }

  for (const dir of found.onnx) {
    if (claimed.has(dir)) continue;
    // Inside a folder that has settings of its own (e.g. extra files of a model): not a model.
    if (found.settings.some((s) => dir.startsWith(s + sep) && !isVersion(basename(dir)))) continue;
    const { settings, warnings: w } = loadModelSettings(null, env);
    warnings.push(...w);
    const versioned = isVersion(basename(dir)) && dir !== root;
    const name = settings.name ?? basename(versioned ? dirname(dir) : dir);
    models.push({ name, version: versioned ? basename(dir) : settings.parameters.version ?? '', modelPath: join(dir, MODEL_FILE), settings, settingsFile: null });
  }

  // MLServer builds one model from MLSERVER_MODEL_* alone when the repository has none (this is
  // how `mlflow models serve --enable-mlserver` and KServe start it).
  if (models.length === 0) {
    const { settings } = loadModelSettings(null, env);
    if (settings.parameters.uri !== undefined) {
      const uri = resolve(root, settings.parameters.uri);
      models.push({
        name: settings.name ?? basename(uri).replace(/\.onnx$/, ''),
        version: settings.parameters.version ?? '',
        modelPath: modelFileIn(uri),
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
