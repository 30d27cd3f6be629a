// MLmodel files (mlflow/models/model.py): YAML with `flavors`, `signature` and the model's
// metadata. readMLmodel() validates it with zod; servable() picks what Tessera runs: the ONNX
// flavor natively, sklearn and xgboost through the converters, anything else is refused with
// the flavors found and the ones Tessera can serve.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { MlflowModelError } from './errors.js';
import { parseParamSchema, parseSchema, type Signature } from './signature.js';

export const MLMODEL_FILE = 'MLmodel';

const flavorJson = z.record(z.string(), z.unknown());
const onnxFlavorJson = z
  .object({
    data: z.string(),
    onnx_version: z.string().optional(),
    providers: z.array(z.string()).nullable().optional(),
    onnx_session_options: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .passthrough();
const sklearnFlavorJson = z
  .object({
    pickled_model: z.string(),
    serialization_format: z.enum(['pickle', 'cloudpickle']).optional(),
    sklearn_version: z.string().optional(),
  })
  .passthrough();
const xgboostFlavorJson = z
  .object({
    data: z.string(),
    model_class: z.string().optional(),
    model_format: z.enum(['ubj', 'json', 'xgb', 'deprecated']).optional(),
    xgb_version: z.string().optional(),
  })
  .passthrough();

const mlmodelJson = z
  .object({
    flavors: z.record(z.string(), flavorJson.nullable()),
    signature: z
      .object({ inputs: z.unknown().optional(), outputs: z.unknown().optional(), params: z.unknown().optional() })
      .passthrough()
      .nullable()
      .optional(),
    saved_input_example_info: z
      .object({
        artifact_path: z.string(),
        type: z.string().optional(),
        pandas_orient: z.string().optional(),
        serving_input_path: z.string().optional(),
      })
      .passthrough()
      .nullable()
      .optional(),
    model_size_bytes: z.number().int().nonnegative().nullable().optional(),
    run_id: z.string().nullable().optional(),
    model_uuid: z.string().nullable().optional(),
    model_id: z.string().nullable().optional(),
    artifact_path: z.string().nullable().optional(),
    mlflow_version: z.string().nullable().optional(),
    utc_time_created: z.union([z.string(), z.date()]).nullable().optional(),
    is_signature_from_type_hint: z.boolean().nullable().optional(),
  })
  .passthrough();

export interface InputExampleInfo {
  artifactPath: string;
  type?: string;
  pandasOrient?: string;
  servingInputPath?: string;
}

export interface MLmodel {
  /** Folder holding the MLmodel file. */
  dir: string;
  /** flavor name → its configuration as written. */
  flavors: Record<string, Record<string, unknown>>;
  signature?: Signature;
  inputExample?: InputExampleInfo;
  modelSizeBytes?: number;
  runId?: string;
  modelUuid?: string;
  /** MLflow 3 logged model id (`m-…`). */
  modelId?: string;
  artifactPath?: string;
  mlflowVersion?: string;
  /** MLflow skips input parsing for type-hint signatures (PythonModel only; never served here). */
  signatureFromTypeHint: boolean;
}

const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

/** Parses MLmodel text; `dir` is the model folder (used for messages and file paths). */
export function parseMLmodel(text: string, dir: string): MLmodel {
  const where = path.join(dir, MLMODEL_FILE);
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new MlflowModelError(`${where} is not valid YAML: ${(error as Error).message}`);
  }
  const parsed = mlmodelJson.safeParse(doc);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new MlflowModelError(`${where} is not a valid MLmodel file: ${detail}`);
  }
  const m = parsed.data;
  let signature: Signature | undefined;
  if (m.signature) {
    try {
      signature = {
        inputs: parseSchema('inputs', m.signature.inputs),
        outputs: parseSchema('outputs', m.signature.outputs),
        params: parseParamSchema(m.signature.params),
      };
    } catch (error) {
      throw new MlflowModelError(`${where}: ${(error as Error).message}`);
    }
  }
  const info = m.saved_input_example_info;
  const flavors: Record<string, Record<string, unknown>> = {};
  for (const [name, conf] of Object.entries(m.flavors)) flavors[name] = conf ?? {};
  return {
    dir,
    flavors,
    signature,
    inputExample: info
      ? { artifactPath: info.artifact_path, type: info.type, pandasOrient: info.pandas_orient, servingInputPath: info.serving_input_path }
      : undefined,
    modelSizeBytes: opt(m.model_size_bytes),
    runId: opt(m.run_id),
    modelUuid: opt(m.model_uuid),
    modelId: opt(m.model_id),
    artifactPath: opt(m.artifact_path),
    mlflowVersion: opt(m.mlflow_version),
    signatureFromTypeHint: m.is_signature_from_type_hint === true,
  };
}

/** Reads `<dir>/MLmodel`; a missing file is an error naming the folder. */
export async function readMLmodel(dir: string): Promise<MLmodel> {
  const file = path.join(dir, MLMODEL_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new MlflowModelError(`No MLmodel file in '${dir}': not an MLflow model directory`, 'RESOURCE_DOES_NOT_EXIST');
    }
    throw new MlflowModelError(`Cannot read ${file}: ${(error as Error).message}`, 'INTERNAL_ERROR');
  }
  return parseMLmodel(text, dir);
}

// ---- what Tessera serves ------------------------------------------------------------------------

/** The flavors Tessera can serve, in the order it prefers them. */
export const SERVABLE_FLAVORS = ['onnx', 'sklearn', 'xgboost'] as const;
export type ServableFlavor = (typeof SERVABLE_FLAVORS)[number];

export type XgboostModelFormat = 'ubj' | 'json' | 'xgb' | 'deprecated';

export type Servable =
  | { flavor: 'onnx'; modelPath: string; providers?: string[]; sessionOptions?: Record<string, unknown> }
  | { flavor: 'sklearn'; picklePath: string; serializationFormat: 'pickle' | 'cloudpickle'; sklearnVersion?: string }
  | { flavor: 'xgboost'; modelPath: string; modelFormat: XgboostModelFormat; modelClass: string; xgbVersion?: string };

function flavorConf<T extends z.ZodTypeAny>(m: MLmodel, flavor: string, schema: T): z.infer<T> {
  const parsed = schema.safeParse(m.flavors[flavor]);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new MlflowModelError(`${path.join(m.dir, MLMODEL_FILE)}: the '${flavor}' flavor is invalid: ${detail}`);
  }
  return parsed.data;
}

/** Joins a flavor's relative file name to the model folder, refusing paths that leave it. */
function inside(m: MLmodel, flavor: string, file: string): string {
  const full = path.resolve(m.dir, file);
  const rel = path.relative(path.resolve(m.dir), full);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new MlflowModelError(`${path.join(m.dir, MLMODEL_FILE)}: the '${flavor}' flavor names '${file}', which is outside the model directory`);
  }
  return full;
}

/**
 * What Tessera runs for this model: the first of onnx, sklearn, xgboost present. Any other
 * flavor set is refused, naming what was found and what Tessera serves.
 */
export function servable(m: MLmodel): Servable {
  if ('onnx' in m.flavors) {
    const c = flavorConf(m, 'onnx', onnxFlavorJson);
    return {
      flavor: 'onnx',
      modelPath: inside(m, 'onnx', c.data),
      ...(c.providers ? { providers: c.providers } : {}),
      ...(c.onnx_session_options ? { sessionOptions: c.onnx_session_options } : {}),
    };
  }
  if ('sklearn' in m.flavors) {
    const c = flavorConf(m, 'sklearn', sklearnFlavorJson);
    return {
      flavor: 'sklearn',
      picklePath: inside(m, 'sklearn', c.pickled_model),
      // MLflow's default when the key is absent (old models) is pickle.
      serializationFormat: c.serialization_format ?? 'pickle',
      ...(c.sklearn_version ? { sklearnVersion: c.sklearn_version } : {}),
    };
  }
  if ('xgboost' in m.flavors) {
    const c = flavorConf(m, 'xgboost', xgboostFlavorJson);
    return {
      flavor: 'xgboost',
      modelPath: inside(m, 'xgboost', c.data),
      // mlflow.xgboost writes model_format since 2.x; older models saved the legacy binary format.
      modelFormat: c.model_format ?? (c.data.endsWith('.json') ? 'json' : c.data.endsWith('.ubj') ? 'ubj' : 'xgb'),
      modelClass: c.model_class ?? 'xgboost.core.Booster',
      ...(c.xgb_version ? { xgbVersion: c.xgb_version } : {}),
    };
  }
  const found = Object.keys(m.flavors);
  const pyfunc = m.flavors.python_function;
  const loader = pyfunc && typeof pyfunc.loader_module === 'string' ? ` (python_function loader_module ${pyfunc.loader_module})` : '';
  throw new MlflowModelError(
    `The MLflow model in '${m.dir}' has flavor${found.length === 1 ? '' : 's'} ${found.map((f) => `'${f}'`).join(', ') || '(none)'}${loader}; ` +
      `Tessera serves only the 'onnx', 'sklearn' and 'xgboost' flavors (log the model with mlflow.onnx, mlflow.sklearn or mlflow.xgboost)`,
    'INVALID_PARAMETER_VALUE',
  );
}

/** Checks that the served file exists, so that load errors name the file, not the runtime. */
export async function checkServableFile(s: Servable): Promise<void> {
  const file = s.flavor === 'sklearn' ? s.picklePath : s.modelPath;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new Error('not a file');
  } catch {
    throw new MlflowModelError(`The ${s.flavor} flavor's model file '${file}' does not exist or is not a file`, 'RESOURCE_DOES_NOT_EXIST');
  }
}
