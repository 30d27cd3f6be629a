// scikit-learn models without Python: MLServer's SKLearnModel (`implementation:
// mlserver_sklearn.SKLearnModel`), a pickled fitted estimator in model.joblib, model.pickle or
// model.pkl (MLServer's file names; `parameters.uri` may name the file). The pickle is read as data
// by the safe reader and converted to an ONNX graph in the prepare step (one pool worker, through
// the conversion cache); every worker then runs the graph in ONNX Runtime. A pickle that would
// run code (a global outside the allow-list) fails the load with the global named; nothing in it
// is ever executed. Outputs as MLServer names them: `predict`, and `predict_proba` when asked for.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { pickleFormatOf } from '../convert/source.js';
import { defineRuntime, type ModelArtifact, type ModelSpec, type WorkerRuntime } from './runtime.js';
import {
  convertedOptionsSchema,
  loadConverted,
  prepareConverted,
  resolveConvertedOptions,
  TabularAdapter,
} from './sklearn-conversion.js';

/** MLServer's SKLearnModel file names, in the order it looks for them. */
export const SKLEARN_MODEL_FILES = ['model.joblib', 'model.pickle', 'model.pkl'] as const;

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

async function prepare(spec: ModelSpec): Promise<ModelArtifact> {
  const folder = isDir(spec.path) ? spec.path : path.dirname(spec.path);
  const { artifact } = await prepareConverted(spec, spec.path, { kind: 'sklearn', format: pickleFormatOf(spec.path) }, folder);
  return artifact;
}

export const sklearnRuntime = defineRuntime({
  name: 'sklearn',
  platform: 'sklearn',
  backend: 'onnxruntime',
  modelFiles: SKLEARN_MODEL_FILES,
  // mlserver_sklearn.SKLearnModel, and any other value naming scikit-learn.
  selects: (implementation) => /sklearn|scikit/i.test(implementation),
  // locate: the uri itself, or the first of modelFiles inside a folder (defineRuntime's default).
  options: convertedOptionsSchema,
  resolveOptions: resolveConvertedOptions,
  terminable: false,
  worker: async (): Promise<WorkerRuntime> => ({ prepare, load: (spec) => loadConverted(spec, prepare) }),
  adapter: ({ spec, metadata }) => new TabularAdapter(spec.label, metadata),
});
