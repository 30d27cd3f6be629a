// Reads settings from their sources in precedence order:
//   defaults < settings files < environment < command-line flags.
// Environment: TESSERA_<FIELD> (or MLSERVER_<FIELD>) for server fields and TESSERA_MODEL_<FIELD>
// (or MLSERVER_MODEL_<FIELD>) for model fields, applied to every model; TESSERA_ wins over MLSERVER_.
// Invalid values stop start-up with a SettingsError naming the source, the field, the value and
// what was expected.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { SettingsError } from '../core/errors.js';
import type { SettingsReader } from '../core/settings.js';
import {
  IGNORED_MODEL_FIELDS,
  IGNORED_MODEL_PARAMETERS,
  IGNORED_SERVER_FIELDS,
  modelParametersSchema,
  modelSettingsSchema,
  serverSettingsSchema,
  type ModelSettings,
  type ServerSettings,
} from './schema.js';

export { SettingsError };

type Raw = Record<string, unknown>;
type Env = Record<string, string | undefined>;

function show(value: unknown): string {
  if (value === undefined) return '(missing)';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function getPath(obj: unknown, path: readonly PropertyKey[]): unknown {
  let cur = obj;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

/** Validates `raw`; on failure names the source of the first bad field. */
function validate<S extends z.ZodType>(schema: S, raw: Raw, sourceOf: (field: string) => string): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const field = issue.path.map(String).join('.');
    const top = String(issue.path[0] ?? '');
    const message = issue.message.replace(/^(Invalid input|Invalid option|Too big|Too small): /, '');
    const expected = message.startsWith('expected') ? message : `expected ${message}`;
    return `${sourceOf(top)}: field '${field}' has value ${show(getPath(raw, issue.path))}; ${expected}`;
  });
  // One problem is one line (what a person at a terminal reads); several are listed.
  throw new SettingsError(lines.length === 1 ? lines[0] : `invalid settings\n  ${lines.join('\n  ')}`);
}

/** The base type of a schema field (number, boolean, string, array, ...) for coercing text. */
function fieldKind(schema: z.ZodType): string {
  let def = (schema as unknown as { _zod: { def: { type: string; innerType?: z.ZodType } } })._zod.def;
  while (def.innerType !== undefined && ['optional', 'default', 'nullable', 'prefault'].includes(def.type)) {
    def = (def.innerType as unknown as { _zod: { def: typeof def } })._zod.def;
  }
  return def.type;
}

/** Turns an environment or flag string into the field's type; leaves it as text when it cannot. */
export function coerce(kind: string, text: string): unknown {
  switch (kind) {
    case 'number': {
      const n = Number(text);
      return text.trim() !== '' && Number.isFinite(n) ? n : text;
    }
    case 'boolean': {
      const t = text.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(t)) return true;
      if (['false', '0', 'no', 'off'].includes(t)) return false;
      return text;
    }
    case 'array':
      if (text.trim().startsWith('[')) return parseJsonText(text);
      return text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    case 'object':
    case 'record':
      return parseJsonText(text);
    default:
      if (text === 'null' || text === 'None') return null;
      return text;
  }
}

function parseJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function readJsonFile(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new SettingsError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SettingsError(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new SettingsError(`${file} must hold a JSON object`);
  }
  return value as Raw;
}

/** Values for `shape`'s fields found in the environment under the prefixes (first prefix wins). */
function fromEnv(shape: Record<string, z.ZodType>, env: Env, prefixes: string[]): { values: Raw; names: Record<string, string> } {
  const values: Raw = {};
  const names: Record<string, string> = {};
  for (const [field, schema] of Object.entries(shape)) {
    for (const prefix of prefixes) {
      const name = `${prefix}${field.toUpperCase()}`;
      const text = env[name];
      if (text === undefined) continue;
      values[field] = coerce(fieldKind(schema), text);
      names[field] = `environment variable ${name}`;
      break;
    }
  }
  return { values, names };
}

export interface LoadedServerSettings {
  settings: ServerSettings;
  /** The folder the settings were read from; relative paths resolve against it. */
  folder: string;
  /** Absolute model repository root. */
  repositoryRoot: string;
  warnings: string[];
}

export interface ServerSettingsSources {
  /** Folder holding settings.json (optional) and, by default, the models. */
  folder: string;
  env?: Env;
  /** Values from command-line flags, as text, keyed by field name. */
  flags?: Record<string, string | boolean>;
}

export function loadServerSettings(sources: ServerSettingsSources): LoadedServerSettings {
  const folder = resolve(sources.folder);
  const env = sources.env ?? process.env;
  const shape = serverSettingsSchema.shape as Record<string, z.ZodType>;
  const warnings: string[] = [];
  const origin: Record<string, string> = {};
  const raw: Raw = {};

  const file = resolve(folder, 'settings.json');
  if (existsSync(file)) {
    for (const [key, value] of Object.entries(readJsonFile(file))) {
      if (key in IGNORED_SERVER_FIELDS) {
        warnings.push(`${file}: '${key}' is ignored: ${IGNORED_SERVER_FIELDS[key]}`);
      } else if (key in shape) {
        raw[key] = value;
        origin[key] = file;
      } else {
        warnings.push(`${file}: unknown field '${key}' is ignored`);
      }
    }
  }
  const fromEnvironment = fromEnv(shape, env, ['TESSERA_', 'MLSERVER_']);
  Object.assign(raw, fromEnvironment.values);
  Object.assign(origin, fromEnvironment.names);
  for (const [field, value] of Object.entries(sources.flags ?? {})) {
    if (!(field in shape)) throw new SettingsError(`unknown setting '${field}' given on the command line`);
    raw[field] = typeof value === 'string' ? coerce(fieldKind(shape[field]), value) : value;
    origin[field] = `flag --${field.replaceAll('_', '-')}`;
  }
  const settings = validate(serverSettingsSchema, raw, (f) => origin[f] ?? 'settings');
  // MLServer's models-dir variable is a third way to set the root (#755); it loses to the others.
  const root = origin.model_repository_root === undefined && env.MLSERVER_MODELS_DIR ? env.MLSERVER_MODELS_DIR : settings.model_repository_root;
  return { settings, folder, repositoryRoot: resolve(folder, root), warnings };
}

export interface LoadedModelSettings {
  settings: ModelSettings;
  warnings: string[];
}

/**
 * Reads one model-settings.json (or none, for a zero-config model) and applies the model
 * environment variables over it.
 */
export function loadModelSettings(file: string | null, env: Env = process.env): LoadedModelSettings {
  const warnings: string[] = [];
  const raw: Raw = file === null ? {} : readJsonFile(file);
  const origin: Record<string, string> = {};
  const source = file ?? 'model defaults';
  const modelFields = modelSettingsSchema.shape as Record<string, z.ZodType>;
  for (const key of Object.keys(raw)) {
    origin[key] = source;
    if (key in IGNORED_MODEL_FIELDS) {
      warnings.push(`${source}: '${key}' is ignored: ${IGNORED_MODEL_FIELDS[key]}`);
      delete raw[key];
    } else if (!Object.hasOwn(modelFields, key)) {
      warnings.push(`${source}: unknown field '${key}' is ignored`);
    }
  }
  warnings.push(...unknownTensorFields(source, raw));
  const params: Raw = { ...((raw.parameters as Raw | undefined) ?? {}) };
  const parameterFields = modelParametersSchema.shape as Record<string, z.ZodType>;
  for (const key of Object.keys(params)) {
    if (key in IGNORED_MODEL_PARAMETERS) {
      warnings.push(`${source}: 'parameters.${key}' is ignored: ${IGNORED_MODEL_PARAMETERS[key]}`);
      delete params[key];
    } else if (!Object.hasOwn(parameterFields, key)) {
      warnings.push(`${source}: unknown field 'parameters.${key}' is ignored (runtime options go in parameters.extra)`);
    }
  }
  const topShape = { ...(modelSettingsSchema.shape as Record<string, z.ZodType>) };
  delete topShape.parameters;
  const top = fromEnv(topShape, env, ['TESSERA_MODEL_', 'MLSERVER_MODEL_']);
  const paramEnv = fromEnv(modelParametersSchema.shape as Record<string, z.ZodType>, env, ['TESSERA_MODEL_', 'MLSERVER_MODEL_']);
  Object.assign(raw, top.values);
  Object.assign(origin, top.names);
  Object.assign(params, paramEnv.values);
  for (const name of Object.values(paramEnv.names)) origin.parameters = name;
  raw.parameters = params;
  const settings = validate(modelSettingsSchema, raw, (f) => origin[f] ?? source);
  return { settings, warnings };
}

/** The fields of inputs[i] / outputs[i] entries a tensor declaration has. */
const TENSOR_FIELDS = new Set(['name', 'datatype', 'shape', 'parameters']);

/** Warnings naming unknown fields in the settings' inputs and outputs entries (zod drops them silently). */
function unknownTensorFields(source: string, raw: Raw): string[] {
  const out: string[] = [];
  for (const list of ['inputs', 'outputs']) {
    const entries = raw[list];
    if (!Array.isArray(entries)) continue;
    entries.forEach((entry: unknown, i) => {
      if (entry === null || typeof entry !== 'object') return;
      for (const key of Object.keys(entry)) {
        if (!TENSOR_FIELDS.has(key)) out.push(`${source}: unknown field '${list}[${i}].${key}' is ignored`);
      }
    });
  }
  return out;
}

/** Model settings from files and the environment, as core's discovery reads them. */
export const settingsReader: SettingsReader = { read: loadModelSettings };
