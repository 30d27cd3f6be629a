// XGBoost models without Python: MLServer's XGBoostModel (`implementation:
// mlserver_xgboost.XGBoostModel`), a model file saved by XGBoost as JSON or UBJSON (model.json,
// model.ubj, or model.bst when XGBoost >= 2 wrote it as UBJSON; MLServer's file names). It is
// converted to an ONNX graph in the prepare step (one pool worker, through the conversion cache)
// and run by ONNX Runtime in every worker. The legacy binary format (XGBoost < 2's model.bst or
// *.model) is refused with how to re-save it. Classifier or regressor follows the sklearn wrapper
// the file records (MLServer tries XGBRegressor, then XGBClassifier); outputs `predict`, and
// `predict_proba` for classifiers when asked for.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { defineRuntime, type ModelArtifact, type ModelSpec, type WorkerRuntime } from './runtime.js';
import {
  convertedOptionsSchema,
  loadConverted,
  prepareConverted,
  resolveConvertedOptions,
  TabularAdapter,
} from './sklearn-conversion.js';

/** MLServer's XGBoostModel file names, in the order it looks for them. */
export const XGBOOST_MODEL_FILES = ['model.bst', 'model.json', 'model.ubj'] as const;

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

async function prepare(spec: ModelSpec): Promise<ModelArtifact> {
  const folder = isDir(spec.path) ? spec.path : path.dirname(spec.path);
  const format = spec.path.endsWith('.json') ? 'json' : spec.path.endsWith('.ubj') ? 'ubj' : undefined;
  const { artifact } = await prepareConverted(spec, spec.path, { kind: 'xgboost', format }, folder);
  return artifact;
}

export const xgboostRuntime = defineRuntime({
  name: 'xgboost',
  platform: 'xgboost',
  backend: 'onnxruntime',
  modelFiles: XGBOOST_MODEL_FILES,
  selects: (implementation) => /xgboost/i.test(implementation),
  // locate: the uri itself, or the first of modelFiles inside a folder (defineRuntime's default).
  options: convertedOptionsSchema,
  resolveOptions: resolveConvertedOptions,
  terminable: false,
  worker: async (): Promise<WorkerRuntime> => ({ prepare, load: (spec) => loadConverted(spec, prepare) }),
  adapter: ({ spec, metadata }) => new TabularAdapter(spec.label, metadata),
});
