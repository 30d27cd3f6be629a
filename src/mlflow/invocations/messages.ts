// MLflow's fixed texts and format keys for /invocations (scoring_server/__init__.py).
import { pyStr } from '../signature.js';

export const SUPPORTED_FORMATS = ['dataframe_split', 'dataframe_records', 'instances', 'inputs'] as const;
export const UNIFIED_LLM_KEYS = ['messages', 'prompt', 'input'];

export const REQUIRED_INPUT_FORMAT = `The input must be a JSON dictionary with exactly one of the input fields {${SUPPORTED_FORMATS.map((f) => pyStr(f)).join(', ')}}`;
export const SCORING_PROTOCOL_CHANGE_INFO =
  "IMPORTANT: The MLflow Model scoring protocol has changed in MLflow version 2.0. If you are seeing this error, you are likely using an outdated scoring request format. To resolve the error, either update your request format or adjust your MLflow Model's requirements file to specify an older version of MLflow (for example, change the 'mlflow' requirement specifier to 'mlflow==1.30.0'). If you are making a request using the MLflow client (e.g. via `mlflow.pyfunc.spark_udf()`), upgrade your MLflow client to a version >= 2.0 in order to use the new request format. For more information about the updated MLflow Model scoring protocol in MLflow 2.0, see https://mlflow.org/docs/latest/models.html#deploy-mlflow-models.";

