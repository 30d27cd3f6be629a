// MLflow model folders (a folder holding `MLmodel`), as MLServer's MLflowRuntime serves them
// (`implementation: mlserver_mlflow.MLflowRuntime`, `parameters.uri` a folder or an MLflow URI:
// runs:/, models:/, file://), and as a zero-config folder in the model repository.
//
// Worker side (prepare, in one pool worker): the URI resolved (src/mlflow/uri.ts), MLmodel read,
// the flavor picked (servable): the `onnx` flavor's graph is read as is; the `sklearn` and
// `xgboost` flavors' files are converted to ONNX through the conversion cache; any other flavor
// fails the load, naming it and what Tessera serves. The resulting ONNX bytes are the artifact
// every worker loads with the ONNX runtime's own load.
//
// Main side (adapter, once loaded): the serving plan ties the signature to the graph's real
// inputs and outputs, and the MLflow request adapter fronts the model: per-column V2 inputs
// (`pd`), signature-derived metadata, `predict`/`predict_proba` outputs for converted flavors.
// The /invocations surface (src/http/plugins/mlflow.ts) reads the same plan.
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PREDICT_OUTPUT } from '../convert/model.js';
import type { ConversionSource } from '../convert/source.js';
import { MlflowModelError } from '../mlflow/errors.js';
import { checkServableFile, MLMODEL_FILE, parseMLmodel, servable, type MLmodel, type Servable } from '../mlflow/mlmodel.js';
import { createServingPlan } from '../mlflow/plan.js';
import { MLFLOW_RUNTIME, MlflowRequestAdapter } from '../mlflow/serving.js';
import { isModelUri, parseModelUri, resolveModelUri } from '../mlflow/uri.js';
import { readShared } from './onnx.js';
import type { AdapterContext, ModelArtifact, ModelSpec } from './runtime.js';
import { defineRuntime } from './runtime.js';
import { convertedRuntime, prepareConverted } from './sklearn-conversion.js';

/** What the prepare step hands the main side in `artifact.metadata.mlflow` (plain data). */
interface PreparedMlflow {
  /** The resolved local folder holding MLmodel. */
  dir: string;
  /** MLmodel's text, parsed again on the main thread (small). */
  mlmodel: string;
  /** Feature names the converted estimator records (sklearn feature_names_in_, XGBoost feature_names). */
  featureNames?: string[];
}

/** A folder, MLmodel file or URI as the model's location (what prepare resolves; a URI is kept as written by discovery). */
function locateMlflow({ uri }: { uri: string }): string {
  if (isModelUri(uri)) return uri;
  if (path.basename(uri) === MLMODEL_FILE && existsSync(uri) && statSync(uri).isFile()) return path.dirname(uri);
  return uri;
}

/** The local MLflow folder a model's location means, resolved as MLflow resolves URIs. */
async function mlflowFolder(location: string): Promise<string> {
  if (parseModelUri(location).kind === 'path' && !location.toLowerCase().startsWith('file:')) {
    if (!existsSync(path.join(location, MLMODEL_FILE))) {
      throw new MlflowModelError(`No MLmodel file in '${location}': not an MLflow model directory`, 'RESOURCE_DOES_NOT_EXIST');
    }
    return location;
  }
  // runs:/ and models:/ read the file store of MLFLOW_TRACKING_URI (default ./mlruns), as MLflow does.
  return (await resolveModelUri(location)).dir;
}

/**
 * The file a converted flavor's model is read from, and how to convert it (also `tessera
 * convert`'s). XGBoost's deprecated binary format is refused with how to save the model again.
 */
export function flavorSource(s: Exclude<Servable, { flavor: 'onnx' }>): { file: string; source: ConversionSource } {
  if (s.flavor === 'sklearn') return { file: s.picklePath, source: { kind: 'sklearn', format: s.serializationFormat } };
  if (s.modelFormat === 'deprecated') {
    throw new MlflowModelError(
      `The xgboost flavor's model ${s.modelPath} is in XGBoost's deprecated binary format, which Tessera cannot read: log the model again with model_format="ubj" or "json"`,
    );
  }
  const format = s.modelFormat === 'json' || s.modelFormat === 'ubj' ? s.modelFormat : undefined;
  return { file: s.modelPath, source: { kind: 'xgboost', modelClass: s.modelClass, format } };
}

async function prepare(spec: ModelSpec): Promise<ModelArtifact> {
  const dir = await mlflowFolder(spec.path);
  const text = await readFile(path.join(dir, MLMODEL_FILE), 'utf8');
  const m = parseMLmodel(text, dir);
  const s = servable(m); // refuses other flavors, naming them
  await checkServableFile(s);
  const info: PreparedMlflow = { dir, mlmodel: text };
  let artifact: ModelArtifact;
  switch (s.flavor) {
    case 'onnx': {
      const bytes = await readShared(s.modelPath);
      artifact = { bytes, format: 'onnx', report: { flavor: 'onnx', onnxBytes: bytes.byteLength } };
      break;
    }
    case 'sklearn':
    case 'xgboost': {
      const { file, source } = flavorSource(s);
      const prepared = await prepareConverted(spec, file, source, dir);
      if (prepared.facts.featureNames !== undefined) info.featureNames = prepared.facts.featureNames;
      artifact = { ...prepared.artifact, report: { flavor: s.flavor, ...prepared.artifact.report } };
      break;
    }
  }
  return { ...artifact, metadata: { mlflow: info } };
}

function preparedInfo(spec: ModelSpec): PreparedMlflow {
  const info = spec.artifact?.metadata?.mlflow as PreparedMlflow | undefined;
  if (info === undefined || typeof info.dir !== 'string' || typeof info.mlmodel !== 'string') {
    throw new Error(`model ${spec.label}: the MLflow runtime's prepare step left no MLmodel`);
  }
  return info;
}

/** Column signatures name the features: they must be the converted estimator's, in its order. */
export function checkFeatureNames(m: MLmodel, featureNames: string[] | undefined): void {
  const schema = m.signature?.inputs;
  if (featureNames === undefined || schema?.kind !== 'columns' || !schema.named) return;
  const columns = schema.columns.map((c) => c.name!);
  if (columns.length === featureNames.length && columns.every((c, i) => c === featureNames[i])) return;
  throw new MlflowModelError(
    `Cannot serve the MLflow model in '${m.dir}': the signature's columns ${JSON.stringify(columns)} are not the features the model was fitted on, in order (${JSON.stringify(featureNames)})`,
  );
}

/** The MLflow request adapter, built on the main thread from what prepare found and the graph's metadata. */
function adapter({ spec, metadata }: AdapterContext): MlflowRequestAdapter {
  const info = preparedInfo(spec);
  const m = parseMLmodel(info.mlmodel, info.dir);
  const s = servable(m);
  checkFeatureNames(m, info.featureNames);
  const converted = s.flavor !== 'onnx';
  const predictOutput = converted && metadata.outputs.some((o) => o.name === PREDICT_OUTPUT) ? { predictOutput: PREDICT_OUTPUT } : {};
  const plan = createServingPlan(m, s.flavor, metadata.inputs, metadata.outputs, predictOutput);
  return new MlflowRequestAdapter(plan, m);
}

export const mlflowRuntime = defineRuntime({
  name: MLFLOW_RUNTIME,
  platform: 'mlflow',
  modelFiles: [MLMODEL_FILE],
  // mlserver_mlflow.MLflowRuntime, and any other value naming MLflow.
  selects: (implementation) => /mlflow/i.test(implementation),
  locate: locateMlflow,
  // ONNX Runtime runs what prepare made: the onnx flavor's graph, or the converted one.
  ...convertedRuntime(prepare),
  adapter,
});
