// What every converter (scikit-learn, XGBoost) returns, and the one error they throw.
//
// A converter turns a fitted estimator, read as data, into an ONNX graph that ONNX Runtime runs
// with ai.onnx + ai.onnx.ml operators. The graph's outputs are named as MLServer's sklearn runtime
// names them: `predict` (what the estimator's `predict` returns) and, for classifiers,
// `predict_proba` (columns in the order of `classLabels`).
import type { TensorMetadata } from '../core/types.js';

/** Graph output holding what the estimator's `predict` returns. */
export const PREDICT_OUTPUT = 'predict';
/** Graph output holding what a classifier's `predict_proba` returns, [rows, classes]. */
export const PREDICT_PROBA_OUTPUT = 'predict_proba';
/** The graph input's name when a converter is not told another: one [rows, features] tensor. */
export const DEFAULT_INPUT_NAME = 'input';

/** A classifier's class labels in `predict_proba` column order, as the library returns them. */
export type ClassLabels = { kind: 'int64'; values: bigint[] } | { kind: 'string'; values: string[] };

/**
 * 'classifier': `predict` returns class labels and there is a `predict_proba` output;
 * 'regressor': `predict` returns numbers (values, or a raw booster's probabilities);
 * 'transformer': the output is transformed features.
 */
export type EstimatorTask = 'classifier' | 'regressor' | 'transformer';

export interface ConvertedModel {
  /** The serialised ONNX ModelProto. */
  onnx: Uint8Array;
  /** V2 metadata of the graph's inputs (names, datatypes, shapes with -1 for dynamic dims). */
  inputs: TensorMetadata[];
  /** V2 metadata of the graph's outputs, `predict` first, then `predict_proba` when there is one. */
  outputs: TensorMetadata[];
  /** The estimator's Python class as the model records it, e.g. `xgboost.sklearn.XGBClassifier`. */
  estimator: string;
  task: EstimatorTask;
  /** Classifiers only: the labels `predict` returns, in `predict_proba` column order. */
  classLabels?: ClassLabels;
  /**
   * Column names of the input's features in order, when the model records them (sklearn's
   * `feature_names_in_`, XGBoost's `feature_names`): how a DataFrame's columns map to the input.
   */
  featureNames?: string[];
  /** One line for the load log and `tessera convert`: estimator and sizes, no data. */
  description: string;
}

/**
 * A model that cannot be converted faithfully: an unsupported estimator, objective or booster, a
 * missing or malformed field, or a file that is not what it claims. Converters refuse rather than
 * guess, and the message names the estimator and the field.
 */
export class ConversionError extends Error {
  /** The estimator (class or kind) being converted, e.g. `XGBoost model` or `sklearn...Ridge`. */
  readonly estimator: string;
  /** The field at fault as a path (`learner.objective.name`, `tree_.nodes`), when there is one. */
  readonly field: string | undefined;
  constructor(estimator: string, problem: string, options?: { field?: string; cause?: unknown }) {
    const where = options?.field === undefined ? '' : ` (field '${options.field}')`;
    super(`cannot convert ${estimator}${where}: ${problem}`, { cause: options?.cause });
    this.name = 'ConversionError';
    this.estimator = estimator;
    this.field = options?.field;
  }
}
