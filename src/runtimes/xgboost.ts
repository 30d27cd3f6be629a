// XGBoost models without Python: MLServer's XGBoostModel (`implementation:
// mlserver_xgboost.XGBoostModel`), a model file saved by XGBoost as JSON or UBJSON (model.json,
// model.ubj, or model.bst when XGBoost >= 2 wrote it as UBJSON; MLServer's file names). It is
// converted to an ONNX graph in the prepare step (one pool worker, through the conversion cache)
// and run by ONNX Runtime in every worker. The legacy binary format (XGBoost < 2's model.bst or
// *.model) is refused with how to re-save it. Classifier or regressor follows the sklearn wrapper
// the file records (MLServer tries XGBRegressor, then XGBClassifier); outputs `predict`, and
// `predict_proba` for classifiers when asked for.
import { xgboostFormatOf } from '../convert/source.js';
import { defineTabularRuntime } from './sklearn-conversion.js';

/** MLServer's XGBoostModel file names, in the order it looks for them. */
export const XGBOOST_MODEL_FILES = ['model.bst', 'model.json', 'model.ubj'] as const;

export const xgboostRuntime = defineTabularRuntime({
  name: 'xgboost',
  modelFiles: XGBOOST_MODEL_FILES,
  selects: (implementation) => /xgboost/i.test(implementation),
  source: (file) => ({ kind: 'xgboost', format: xgboostFormatOf(file) }),
});
