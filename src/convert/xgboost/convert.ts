// XGBoost gbtree model → ONNX graph with the outputs MLflow's xgboost flavor gives.
//
// XGBoost's CPU predictor, reproduced step by step (src/predictor/cpu_predictor.cc, 1.7–3.x):
// - features become float32 (DMatrix / inplace_predict), and a value equal to the sklearn
//   wrapper's `missing` (NaN by default) is missing;
// - each split sends a row left when `x < split_condition` (both float32), a missing value where
//   `default_left` says;
// - the margin of each output group starts at base_score (after the objective's ProbToMargin) and
//   adds the trees' leaf values one after the other, in float32;
// - the objective's transform, in float32: `Sigmoid` = 1 / (1 + expf(min(-x, 88.7))) for the
//   logistic objectives; `Softmax` for multi:softprob (max, expf(x − max), sum in double, divide
//   in float); argmax (first maximum) for multi:softmax.
// The sklearn wrapper then gives `predict` labels (p > 0.5, or argmax of the probabilities) and
// `predict_proba` ([1 − p, p], or the probabilities); a plain Booster gives what Booster.predict
// returns. The sklearn wrapper predicts with the rounds up to `best_iteration` when the booster
// records it (early stopping); a Booster with all of them.
import { ConversionError, DEFAULT_INPUT_NAME, PREDICT_OUTPUT, PREDICT_PROBA_OUTPUT, type ConvertedModel, type EstimatorTask } from '../model.js';
import { GraphBuilder, type Value } from '../onnx/graph.js';
import { add, argMax, cast, concat, cumSum, div, equal, exp, gather, greater, neg, reduceMax, reshape, sub, variadic, where } from '../onnx/ops.js';
import { emitTreeEnsemble, type Tree } from '../trees/index.js';
import { parsePythonJson, readXgboostModel, type ReadOptions, type XgboostModel } from './model-file.js';

/** `model_class` values MLflow's xgboost flavor records, and what they predict. */
const MODEL_CLASSES = {
  'xgboost.sklearn.XGBClassifier': 'classifier',
  'xgboost.sklearn.XGBRFClassifier': 'classifier',
  'xgboost.sklearn.XGBRegressor': 'regressor',
  'xgboost.sklearn.XGBRFRegressor': 'regressor',
  'xgboost.core.Booster': 'booster',
} as const;
export type XgboostModelClass = keyof typeof MODEL_CLASSES;
export const XGBOOST_MODEL_CLASSES = Object.keys(MODEL_CLASSES) as XgboostModelClass[];

export interface XgboostConvertOptions extends ReadOptions {
  /**
   * MLflow's `flavors.xgboost.model_class`. Default: the sklearn wrapper's class when the file
   * records one (`_estimator_type` in its `scikit_learn` attribute), else `xgboost.core.Booster`.
   */
  modelClass?: string;
  /** Graph input name; default `input`. */
  inputName?: string;
  /** Graph input datatype: FP64 (default, what MLflow signatures record for float columns) or FP32. */
  inputType?: 'FP64' | 'FP32';
}

export interface XgboostConversion extends ConvertedModel {
  /** Trees the graph evaluates (the rounds up to best_iteration for the sklearn wrapper). */
  treesUsed: number;
}

/** XGBoost's float32 Sigmoid saturation bound (src/common/math.h). */
const SIGMOID_CLAMP = 88.7;
/** Base scores this close to 0 or 1 are clamped by XGBoost ≥ 2 (kRtEps) but not by 1.x. */
const RT_EPS = 1e-6;

function refuse(estimator: string, problem: string, field?: string): never {
  throw new ConversionError(estimator, problem, field === undefined ? undefined : { field });
}

/** Reads the file and converts it. Throws ConversionError on anything it cannot reproduce. */
export function convertXgboost(bytes: Uint8Array, options: XgboostConvertOptions = {}): XgboostConversion {
  return convertXgboostModel(readXgboostModel(bytes, options), options);
}

function sklearnMeta(model: XgboostModel): Record<string, unknown> | undefined {
  const text = model.attributes.scikit_learn;
  if (text === undefined) return undefined;
  let meta: unknown;
  try {
    meta = parsePythonJson(text);
  } catch (error) {
    throw new ConversionError('XGBoost model', `the scikit_learn attribute is not valid JSON: ${(error as Error).message}`, {
      field: 'learner.attributes.scikit_learn',
      cause: error,
    });
  }
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) {
    refuse('XGBoost model', 'the scikit_learn attribute is not a JSON object', 'learner.attributes.scikit_learn');
  }
  return meta as Record<string, unknown>;
}

function resolveClass(requested: string | undefined, meta: Record<string, unknown> | undefined): XgboostModelClass {
  const recordedType = meta?._estimator_type;
  if (requested === undefined) {
    if (recordedType === 'classifier') return 'xgboost.sklearn.XGBClassifier';
    if (recordedType === 'regressor') return 'xgboost.sklearn.XGBRegressor';
    return 'xgboost.core.Booster';
  }
  if (!Object.hasOwn(MODEL_CLASSES, requested)) {
    refuse(requested, `model class '${requested}' is not supported (supported: ${XGBOOST_MODEL_CLASSES.join(', ')})`, 'model_class');
  }
  const cls = requested as XgboostModelClass;
  const kind = MODEL_CLASSES[cls];
  // The sklearn wrapper refuses to load a file saved by the other estimator type (load_model).
  if (kind !== 'booster' && typeof recordedType === 'string' && recordedType !== kind) {
    refuse(cls, `the file was saved by a ${recordedType}, not a ${kind}`, 'learner.attributes.scikit_learn._estimator_type');
  }
  return cls;
}

/** base_score (as stored) → the margin the sums start from: the objective's ProbToMargin, in float32. */
function baseMargins(model: XgboostModel, estimator: string): number[] {
  const groups = Math.max(1, model.numClass);
  const stored = model.baseScore.length === 1 ? new Array<number>(groups).fill(model.baseScore[0]) : model.baseScore;
  if (model.objective !== 'reg:logistic' && model.objective !== 'binary:logistic') return stored.map((v) => Math.fround(v));
  return stored.map((b) => {
    if (!(b > 0 && b < 1)) refuse(estimator, `base_score ${b} must be in (0, 1) for ${model.objective}`, 'learner.learner_model_param.base_score');
    if (b < RT_EPS || b > 1 - RT_EPS) {
      refuse(estimator, `base_score ${b} is within 1e-6 of 0 or 1, where XGBoost versions compute different margins`, 'learner.learner_model_param.base_score');
    }
    // -logf(1.0f / b - 1.0f): each float operation rounded to float32 (logf via Math.log).
    const f = Math.fround;
    return f(-f(Math.log(f(f(1 / b) - 1))));
  });
}

/** The trees the prediction uses: all for a Booster, rounds up to best_iteration for the sklearn wrapper. */
function treesToUse(model: XgboostModel, cls: XgboostModelClass, estimator: string): number {
  const total = model.trees.length;
  if (MODEL_CLASSES[cls] === 'booster') return total;
  const best = model.attributes.best_iteration;
  if (best === undefined) return total;
  if (!/^\d{1,9}$/.test(best)) refuse(estimator, `best_iteration '${best}' is not an integer`, 'learner.attributes.best_iteration');
  const rounds = Number(best) + 1;
  if (rounds >= model.iterationIndptr.length) {
    refuse(estimator, `best_iteration ${best} is beyond the model's ${model.iterationIndptr.length - 1} rounds`, 'learner.attributes.best_iteration');
  }
  return model.iterationIndptr[rounds];
}

/** XGBoost's float32 Sigmoid: 1 / (1 + expf(min(-x, 88.7))). */
function xgbSigmoid(g: GraphBuilder, margin: Value): Value {
  const clamped = variadic(g, 'Min', [neg(g, margin), g.scalar(SIGMOID_CLAMP, 'FLOAT', 'sigmoid_clamp')]);
  const one = g.scalar(1, 'FLOAT', 'one');
  return div(g, one, add(g, exp(g, clamped), one));
}

/**
 * Softmax along axis 1 as XGBoost (`common::Softmax`) or scipy computes it: e = exp(x − max) in
 * float32, the sum of e sequential in float64 (XGBoost) or float32 (scipy), then e / float32(sum).
 */
function softmaxLike(g: GraphBuilder, margins: Value, classes: number, sumIn: 'DOUBLE' | 'FLOAT'): Value {
  const e = exp(g, sub(g, margins, reduceMax(g, margins, [1], true)));
  const terms = sumIn === 'DOUBLE' ? cast(g, e, 'DOUBLE') : e;
  const sums = cumSum(g, terms, 1);
  const total = gather(g, sums, g.constInt64([classes - 1], [1], 'last_class'), 1); // [N, 1]
  return div(g, e, sumIn === 'DOUBLE' ? cast(g, total, 'FLOAT') : total);
}

/** Converts a read model. `options.modelClass` is MLflow's recorded class. */
export function convertXgboostModel(model: XgboostModel, options: XgboostConvertOptions = {}): XgboostConversion {
  const meta = sklearnMeta(model);
  const cls = resolveClass(options.modelClass, meta);
  const kind = MODEL_CLASSES[cls];
  const estimator = cls;
  const objective = model.objective;
  const multiClass = objective === 'multi:softprob' || objective === 'multi:softmax';
  const groups = Math.max(1, model.numClass);

  if (kind === 'regressor' && multiClass) {
    refuse(estimator, `${cls} with the classification objective ${objective} is not supported`, 'learner.objective.name');
  }
  if (kind === 'classifier' && objective === 'reg:squarederror') {
    refuse(estimator, `${cls} with the regression objective ${objective} is not supported`, 'learner.objective.name');
  }
  if (kind === 'classifier' && objective === 'multi:softprob' && model.numClass === 2) {
    // XGBClassifier.predict then takes its multi-label branch and returns a 0/1 matrix.
    refuse(estimator, 'multi:softprob with num_class 2: XGBClassifier.predict returns a per-class 0/1 matrix there, not labels', 'learner.learner_model_param.num_class');
  }

  // The sklearn wrapper treats values equal to `missing` as missing (1.x stores it in the file).
  let missing = Number.NaN;
  if (kind !== 'booster' && meta !== undefined && meta.missing !== undefined && meta.missing !== null) {
    if (typeof meta.missing !== 'number') refuse(estimator, `missing is ${typeof meta.missing}, expected a number`, 'learner.attributes.scikit_learn.missing');
    missing = meta.missing;
  }

  const used = treesToUse(model, cls, estimator);
  const base = baseMargins(model, estimator);

  const inputName = options.inputName ?? DEFAULT_INPUT_NAME;
  const inputType = options.inputType ?? 'FP64';
  const version = model.version?.join('.') ?? 'unknown';
  const g = new GraphBuilder('xgboost', {
    docString: `${cls} (${objective}) converted by Tessera from an XGBoost ${version} model`,
    metadata: { source_estimator: cls, xgboost_version: version, objective },
  });
  const F = model.numFeature;
  const x = g.input(inputName, inputType === 'FP64' ? 'DOUBLE' : 'FLOAT', ['N', F]);
  let features = cast(g, x, 'FLOAT');
  if (!Number.isNaN(missing)) {
    const isMissing = equal(g, features, g.scalar(Math.fround(missing), 'FLOAT', 'missing'));
    features = where(g, isMissing, g.scalar(Number.NaN, 'FLOAT', 'nan'), features);
  }

  const trees: Tree[] = [];
  for (let i = 0; i < used; i++) {
    const t = model.trees[i];
    trees.push({
      left: t.left,
      right: t.right,
      feature: t.feature,
      threshold: t.conditions,
      missingGoesLeft: t.defaultLeft,
      values: t.conditions,
      targets: [model.treeInfo[i]],
    });
  }
  const ensemble = emitTreeEnsemble(g, features, {
    estimator,
    nFeatures: F,
    nTargets: groups,
    trees,
    mode: '<',
    featurePrecision: 'float32',
    accumulation: 'float32',
    aggregation: 'sum',
    baseValues: base,
  });
  const margins = ensemble.scores; // [N, groups] float32
  // Depths after the emitter has checked every tree (indices in range, no cycles).
  const maxDepth = trees.reduce((m, t) => Math.max(m, depthOf(t.left, t.right)), 0);

  // 'classifier' exactly when `predict` returns labels and `predict_proba` exists (the sklearn
  // classifiers); a Booster's predict returns numbers (values, probabilities, class indices).
  const task: EstimatorTask = kind === 'classifier' ? 'classifier' : 'regressor';
  let classCount: number | undefined;
  if (objective === 'reg:squarederror') {
    g.output(reshape(g, margins, [-1], PREDICT_OUTPUT), PREDICT_OUTPUT, ['N']);
  } else if (objective === 'reg:logistic' || objective === 'binary:logistic') {
    const p = reshape(g, xgbSigmoid(g, margins), [-1]); // [N]
    if (kind === 'classifier') {
      classCount = 2;
      const label = cast(g, greater(g, p, g.scalar(0.5, 'FLOAT', 'half')), 'INT64', PREDICT_OUTPUT);
      g.output(label, PREDICT_OUTPUT, ['N']);
      const p1 = reshape(g, p, [-1, 1]);
      // numpy: 1.0 - float32 array stays float32.
      const p0 = sub(g, g.scalar(1, 'FLOAT', 'one'), p1);
      g.output(concat(g, [p0, p1], 1, PREDICT_PROBA_OUTPUT), PREDICT_PROBA_OUTPUT, ['N', 2]);
    } else {
      g.output(p, PREDICT_OUTPUT, ['N']);
    }
  } else if (objective === 'multi:softprob') {
    const proba = softmaxLike(g, margins, groups, 'DOUBLE');
    if (kind === 'classifier') {
      classCount = groups;
      g.output(argMax(g, proba, { axis: 1 }, PREDICT_OUTPUT), PREDICT_OUTPUT, ['N']);
      g.output(proba, PREDICT_PROBA_OUTPUT, ['N', groups]);
    } else {
      g.output(proba, PREDICT_OUTPUT, ['N', groups]);
    }
  } else {
    // multi:softmax: the booster returns the argmax class index (as float32).
    const index = argMax(g, margins, { axis: 1 });
    if (kind === 'classifier') {
      classCount = groups;
      g.output(index, PREDICT_OUTPUT, ['N']);
      // predict_proba: scipy.special.softmax of the float32 margins (sums in float32).
      g.output(softmaxLike(g, margins, groups, 'FLOAT'), PREDICT_PROBA_OUTPUT, ['N', groups]);
    } else {
      g.output(cast(g, index, 'FLOAT'), PREDICT_OUTPUT, ['N']);
    }
  }

  const onnx = g.build();
  const { inputs, outputs } = g.metadata();
  const rounds = model.iterationIndptr.findIndex((v) => v === used);
  const sizes = [
    `${used} trees${rounds > 0 ? ` (${rounds} round${rounds === 1 ? '' : 's'})` : ''}${used < model.trees.length ? ` of ${model.trees.length} (best_iteration)` : ''}`,
    `max depth ${maxDepth}`,
    `${F} features`,
    ...(classCount !== undefined ? [`${classCount} classes`] : []),
  ];
  return {
    onnx,
    inputs,
    outputs,
    estimator: cls,
    task,
    ...(classCount !== undefined ? { classLabels: { kind: 'int64' as const, values: Array.from({ length: classCount }, (_, i) => BigInt(i)) } } : {}),
    ...(model.featureNames !== undefined ? { featureNames: model.featureNames } : {}),
    description: `${cls} (gbtree, ${objective}, xgboost ${version}): ${sizes.join(', ')}`,
    treesUsed: used,
  };
}

/** Depth of a checked tree (edges on the longest root-to-leaf path). */
function depthOf(left: ArrayLike<number>, right: ArrayLike<number>): number {
  let max = 0;
  const stack: [number, number][] = [[0, 0]];
  while (stack.length > 0) {
    const [node, d] = stack.pop() as [number, number];
    max = Math.max(max, d);
    if (left[node] !== -1) stack.push([left[node], d + 1], [right[node], d + 1]);
  }
  return max;
}
