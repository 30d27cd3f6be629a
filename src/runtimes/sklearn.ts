// scikit-learn models without Python: MLServer's SKLearnModel (`implementation:
// mlserver_sklearn.SKLearnModel`), a pickled fitted estimator in model.joblib, model.pickle or
// model.pkl (MLServer's file names; `parameters.uri` may name the file). The pickle is read as data
// by the safe reader and converted to an ONNX graph in the prepare step (one pool worker, through
// the conversion cache); every worker then runs the graph in ONNX Runtime. A pickle that would
// run code (a global outside the allow-list) fails the load with the global named; nothing in it
// is ever executed. Outputs as MLServer names them: `predict`, and `predict_proba` when asked for.
import { pickleFormatOf } from '../convert/source.js';
import { defineTabularRuntime } from './sklearn-conversion.js';

/** MLServer's SKLearnModel file names, in the order it looks for them. */
export const SKLEARN_MODEL_FILES = ['model.joblib', 'model.pickle', 'model.pkl'] as const;

export const sklearnRuntime = defineTabularRuntime({
  name: 'sklearn',
  modelFiles: SKLEARN_MODEL_FILES,
  // mlserver_sklearn.SKLearnModel, and any other value naming scikit-learn.
  selects: (implementation) => /sklearn|scikit/i.test(implementation),
  source: (file) => ({ kind: 'sklearn', format: pickleFormatOf(file) }),
});
