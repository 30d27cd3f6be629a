// Tree models through the shared emitter (src/convert/trees): DecisionTree, ExtraTree, RandomForest,
// ExtraTrees (classifier and regressor), GradientBoosting (with its init_ estimator or 'zero') and
// HistGradientBoosting. Each maps sklearn's prediction loop onto a TreeEnsembleSpec:
// - sklearn trees cast X to float32 and test `x <= threshold` (float64 threshold);
// - a classifier tree's probabilities are its leaf counts divided by their sum (computed here per
//   leaf, as `predict_proba` does per row); forests add the trees' probabilities in estimator
//   order and divide by the count ('average');
// - GradientBoosting adds `learning_rate * leaf value` tree after tree to the init prediction;
// - HistGradientBoosting compares float64 X, sends NaN where each node learned, and adds leaf
//   values (shrinkage included) to the baseline.
import {
  add, argMax, cast, compare, concat, exp, logistic, log, reduceMax, reduceSum, reshape, softmax, sub, unsqueeze,
  type Value,
} from '../onnx/index.js';
import { PyObj, recordField, recordFieldNames, toFloat64, type PyValue } from '../pickle/index.js';
import { emitTreeEnsemble, type Tree, type TreeEnsembleSpec } from '../trees/index.js';
import {
  asDouble, expectWidth, readLabels, refuse, takeLabels,
  type Ctx, type Features, type Labels, type Prediction,
} from './context.js';

/** sklearn's `tree_` (a `sklearn.tree._tree.Tree`) as parallel arrays. */
interface SkTree {
  nodes: number;
  left: Float64Array;
  right: Float64Array;
  feature: Float64Array;
  threshold: Float64Array;
  missingLeft?: Float64Array;
  /** values[node, output, class], row-major. */
  values: Float64Array;
  outputs: number;
  classes: number;
}

function readSkTree(owner: PyObj): SkTree {
  const t = owner.obj('tree_', 'Tree');
  const nodes = t.array('nodes');
  if (nodes.data.type !== 'records') t.fail('nodes', `is a ${nodes.dtype.name} array, expected node records`);
  const fields = recordFieldNames(nodes);
  for (const f of ['left_child', 'right_child', 'feature', 'threshold']) {
    if (!fields.includes(f)) t.fail('nodes', `has no field '${f}' (fields: ${fields.join(', ')})`);
  }
  const values = t.array('values');
  if (values.shape.length !== 3) t.fail('values', `has shape [${values.shape.join(', ')}], expected [nodes, outputs, classes]`);
  const n = nodes.shape[0];
  if (values.shape[0] !== n) t.fail('values', `has ${values.shape[0]} rows for ${n} nodes`);
  const tree: SkTree = {
    nodes: n,
    left: recordField(nodes, 'left_child'),
    right: recordField(nodes, 'right_child'),
    feature: recordField(nodes, 'feature'),
    threshold: recordField(nodes, 'threshold'),
    values: toFloat64(values),
    outputs: values.shape[1],
    classes: values.shape[2],
  };
  // sklearn ≥ 1.3 trees learn where missing values go.
  if (fields.includes('missing_go_to_left')) tree.missingLeft = recordField(nodes, 'missing_go_to_left');
  return tree;
}

/** numpy's pairwise summation of a contiguous float64 run (what `row.sum()` computes). */
function pairwiseSum(a: Float64Array, start: number, n: number): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    const r = [0, 1, 2, 3, 4, 5, 6, 7].map((j) => a[start + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] += a[start + i + j];
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, start, n2) + pairwiseSum(a, start + n2, n - n2);
}

/** Leaf values of a classifier tree normalised to probabilities, as DecisionTreeClassifier.predict_proba. */
function probabilityValues(t: SkTree, k: number): Float64Array {
  const out = new Float64Array(t.nodes * k);
  for (let i = 0; i < t.nodes; i++) {
    if (t.left[i] !== -1) continue;
    const base = i * t.outputs * t.classes; // output 0
    const s = 0 + pairwiseSum(t.values, base, k);
    const norm = s === 0 ? 1 : s;
    for (let c = 0; c < k; c++) out[i * k + c] = t.values[base + c] / norm;
  }
  return out;
}

function specTree(t: SkTree, values: Float64Array, targets?: number[]): Tree {
  const tree: Tree = { left: t.left, right: t.right, feature: t.feature, threshold: t.threshold, values };
  if (t.missingLeft) tree.missingGoesLeft = t.missingLeft;
  if (targets) tree.targets = targets;
  return tree;
}

function emit(ctx: Ctx, f: Features, spec: Omit<TreeEnsembleSpec, 'nFeatures'>): Value {
  return emitTreeEnsemble(ctx.g, f.value, { ...spec, nFeatures: f.width }).scores;
}

function width(o: PyObj, f: Features): void {
  if (o.has('n_features_in_')) expectWidth(o, f, o.int('n_features_in_'));
}

function singleOutput(o: PyObj): void {
  if (o.has('n_outputs_') && o.int('n_outputs_') !== 1) refuse(o, `multi-output classifiers (n_outputs_ = ${o.int('n_outputs_')}) are not supported`, 'n_outputs_');
}

function classifierResult(ctx: Ctx, proba: Value, labels: Labels): Prediction {
  const predict = takeLabels(ctx, argMax(ctx.g, proba, { axis: 1 }), labels);
  return { task: 'classifier', predict, predictShape: ['N'], proba, labels };
}

function regressorResult(ctx: Ctx, scores: Value, outputs: number): Prediction {
  if (outputs === 1) return { task: 'regressor', predict: reshape(ctx.g, scores, [-1]), predictShape: ['N'] };
  return { task: 'regressor', predict: scores, predictShape: ['N', outputs] };
}

/** The fitted trees of a forest (`estimators_`), or the estimator itself for a single tree. */
function treeEstimators(o: PyObj): PyObj[] {
  if (!o.has('estimators_')) return [o];
  return o.list('estimators_').map((e, i) => PyObj.of(e, `${o.path}.estimators_[${i}]`, 'DecisionTreeClassifier', 'DecisionTreeRegressor', 'ExtraTreeClassifier', 'ExtraTreeRegressor'));
}

function treeClassifier(ctx: Ctx, o: PyObj, input: Features): Prediction {
  const f = asDouble(ctx, input);
  width(o, f);
  singleOutput(o);
  const labels = readLabels(o);
  const k = labels.values.length;
  const trees = treeEstimators(o).map((e) => {
    const t = readSkTree(e);
    if (t.outputs !== 1 || t.classes < k) refuse(e, `tree_ has ${t.outputs} outputs × ${t.classes} classes for ${k} classes`, 'tree_.values');
    return specTree(t, probabilityValues(t, k));
  });
  const proba = emit(ctx, f, {
    estimator: o.className, nTargets: k, trees, mode: '<=', featurePrecision: 'float32', accumulation: 'float64', aggregation: 'average',
  });
  return classifierResult(ctx, proba, labels);
}

function treeRegressor(ctx: Ctx, o: PyObj, input: Features): Prediction {
  const f = asDouble(ctx, input);
  width(o, f);
  const estimators = treeEstimators(o);
  let outputs = 0;
  const trees = estimators.map((e) => {
    const t = readSkTree(e);
    if (outputs === 0) outputs = t.outputs;
    if (t.outputs !== outputs || t.classes !== 1) refuse(e, `tree_.values has shape [${t.nodes}, ${t.outputs}, ${t.classes}], expected [nodes, ${outputs || 'outputs'}, 1]`, 'tree_.values');
    return specTree(t, t.values);
  });
  const scores = emit(ctx, f, {
    estimator: o.className, nTargets: outputs, trees, mode: '<=', featurePrecision: 'float32', accumulation: 'float64', aggregation: 'average',
  });
  return regressorResult(ctx, scores, outputs);
}

// ---- GradientBoosting ------------------------------------------------------------------------

/** The K×stages grid of regression trees in `estimators_` (an object ndarray of shape [stages, K]). */
function boostingStages(o: PyObj): PyObj[][] {
  const arr = o.array('estimators_');
  if (arr.shape.length !== 2 || arr.data.type !== 'object') o.fail('estimators_', `is a ${arr.dtype.name} array of shape [${arr.shape.join(', ')}], expected objects [stages, K]`);
  const [stages, k] = arr.shape;
  const items = o.values('estimators_');
  return Array.from({ length: stages }, (_, i) => Array.from({ length: k }, (_, j) =>
    PyObj.of(items[i * k + j], `${o.path}.estimators_[${i}, ${j}]`, 'DecisionTreeRegressor')));
}

/** The init estimator's probabilities (DummyClassifier) for the base score. */
function dummyProba(o: PyObj, init: PyObj, k: number): number[] {
  const strategy = init.has('strategy') ? init.str('strategy') : 'prior';
  const prior = Array.from(init.f64('class_prior_', [1]).values);
  if (prior.length !== k) init.fail('class_prior_', `has ${prior.length} values for ${k} classes`);
  if (strategy === 'prior') return prior;
  if (strategy === 'uniform') return prior.map(() => 1 / k);
  if (strategy === 'most_frequent') {
    const best = prior.indexOf(Math.max(...prior));
    return prior.map((_, i) => (i === best ? 1 : 0));
  }
  return refuse(o, `init_ is a DummyClassifier with strategy '${strategy}'; supported: prior, uniform, most_frequent`, 'init_');
}

const FLOAT32_EPS = 2 ** -23;
const clipProba = (p: number) => Math.min(Math.max(p, FLOAT32_EPS), 1 - FLOAT32_EPS);

/** Raw init prediction per target (`_raw_predict_init`): zeros, or the loss's link of init_'s prediction. */
function boostingBase(o: PyObj, loss: string, k: number): number[] {
  const initV = o.raw('init_');
  if (initV.kind === 'str') {
    if (initV.value !== 'zero') refuse(o, `init_ is '${initV.value}'`, 'init_');
    return new Array<number>(k).fill(0);
  }
  if (loss === 'classification-binary' || loss === 'exponential') {
    const init = o.obj('init_', 'DummyClassifier');
    const p = clipProba(dummyProba(o, init, 2)[1]);
    const logOdds = Math.log(p / (1 - p));
    return [loss === 'exponential' ? 0.5 * logOdds : logOdds];
  }
  if (loss === 'classification-multi') {
    const init = o.obj('init_', 'DummyClassifier');
    return dummyProba(o, init, k).map((p) => Math.log(clipProba(p)));
  }
  const init = o.obj('init_', 'DummyRegressor');
  const c = init.f64('constant_', [1, 2]).values;
  if (c.length !== 1) init.fail('constant_', `has ${c.length} values; gradient boosting has one output`);
  return [c[0]];
}

function gradientBoosting(ctx: Ctx, o: PyObj, input: Features, classifier: boolean): Prediction {
  const g = ctx.g;
  const f = asDouble(ctx, input);
  width(o, f);
  const rate = o.float('learning_rate');
  const stages = boostingStages(o);
  const k = stages[0]?.length ?? 0;
  if (stages.length === 0) refuse(o, 'the model has no fitted stages', 'estimators_');
  let kind: string;
  let labels: Labels | undefined;
  if (classifier) {
    labels = readLabels(o);
    const lossName = o.has('loss') ? o.str('loss') : 'log_loss';
    if (lossName === 'exponential') kind = 'exponential';
    else if (lossName === 'log_loss' || lossName === 'deviance') kind = labels.values.length === 2 ? 'classification-binary' : 'classification-multi';
    else refuse(o, `loss '${lossName}' is not supported`, 'loss');
    const expectK = labels.values.length === 2 ? 1 : labels.values.length;
    if (k !== expectK) refuse(o, `estimators_ has ${k} trees per stage for ${labels.values.length} classes`, 'estimators_');
  } else {
    kind = 'regression';
    if (k !== 1) refuse(o, `estimators_ has ${k} trees per stage; a regressor has 1`, 'estimators_');
  }
  const base = boostingBase(o, kind, k);
  const trees: Tree[] = [];
  stages.forEach((stage) => stage.forEach((e, j) => {
    const t = readSkTree(e);
    if (t.outputs !== 1 || t.classes !== 1) refuse(e, `tree_.values has ${t.outputs} outputs × ${t.classes} values per node`, 'tree_.values');
    // predict_stages adds `scale * value` (computed in float64) for each leaf.
    trees.push(specTree(t, t.values.map((v) => rate * v), [j]));
  }));
  const raw = emit(ctx, f, {
    estimator: o.className, nTargets: k, trees, mode: '<=', featurePrecision: 'float32', accumulation: 'float64', aggregation: 'sum', baseValues: base,
  });
  if (!labels) return regressorResult(ctx, raw, 1);
  if (kind === 'classification-multi') {
    // predict: argmax(raw); predict_proba: exp(raw - logsumexp(raw)) (scipy's logsumexp).
    const max = reduceMax(g, raw, [1], true);
    const lse = add(g, log(g, reduceSum(g, exp(g, sub(g, raw, max)), [1], true)), max);
    const proba = exp(g, sub(g, raw, lse));
    return { task: 'classifier', predict: takeLabels(ctx, argMax(g, raw, { axis: 1 }), labels), predictShape: ['N'], proba, labels };
  }
  // Binary: proba = [1 - p, p] with p = expit(raw) (exponential loss: expit(2 raw)); predict = argmax(proba),
  // except the exponential loss, whose decision is raw >= 0.
  const r = reshape(g, raw, [-1]);
  const p = logistic(g, kind === 'exponential' ? add(g, r, r) : r);
  const one = g.scalar(1, 'DOUBLE', 'one');
  const proba = concat(g, [unsqueeze(g, sub(g, one, p), [1]), unsqueeze(g, p, [1])], 1);
  if (kind === 'exponential') {
    const index = cast(g, compare(g, 'GreaterOrEqual', r, g.scalar(0, 'DOUBLE', 'zero')), 'INT64');
    return { task: 'classifier', predict: takeLabels(ctx, index, labels), predictShape: ['N'], proba, labels };
  }
  return classifierResult(ctx, proba, labels);
}

// ---- HistGradientBoosting --------------------------------------------------------------------

function histTree(p: PyObj, path: string): Tree {
  const nodes = p.array('nodes');
  if (nodes.data.type !== 'records') p.fail('nodes', `is a ${nodes.dtype.name} array, expected node records`);
  const fields = recordFieldNames(nodes);
  for (const f of ['value', 'feature_idx', 'num_threshold', 'missing_go_to_left', 'left', 'right', 'is_leaf']) {
    if (!fields.includes(f)) p.fail('nodes', `has no field '${f}' (fields: ${fields.join(', ')})`);
  }
  const isLeaf = recordField(nodes, 'is_leaf');
  if (fields.includes('is_categorical') && recordField(nodes, 'is_categorical').some((c, i) => c !== 0 && isLeaf[i] === 0)) {
    refuse(p, `${path} splits on a categorical feature; categorical HistGradientBoosting models are not supported`, 'categorical_features');
  }
  const left = recordField(nodes, 'left').map((l, i) => (isLeaf[i] ? -1 : l));
  return {
    left,
    right: recordField(nodes, 'right'),
    feature: recordField(nodes, 'feature_idx'),
    threshold: recordField(nodes, 'num_threshold'),
    missingGoesLeft: recordField(nodes, 'missing_go_to_left'),
    values: recordField(nodes, 'value'),
  };
}

function histLossName(o: PyObj): string {
  const loss = o.opt('_loss');
  if (loss?.kind === 'object') return PyObj.of(loss, `${o.path}._loss`).shortName;
  return o.has('loss') ? o.str('loss') : '?';
}

function histGradientBoosting(ctx: Ctx, o: PyObj, input: Features, classifier: boolean): Prediction {
  const g = ctx.g;
  const f = asDouble(ctx, input);
  width(o, f);
  const cat = o.opt('is_categorical_');
  if (cat?.kind === 'ndarray' && toFloat64(cat).some((c) => c !== 0)) {
    refuse(o, 'the model has categorical features; categorical HistGradientBoosting models are not supported', 'categorical_features');
  }
  const k = o.int('n_trees_per_iteration_');
  const base = o.f64('_baseline_prediction', [0, 1, 2]).values;
  if (base.length !== k) o.fail('_baseline_prediction', `has ${base.length} values for ${k} trees per iteration`);
  const iterations = o.list('_predictors');
  if (iterations.length === 0) refuse(o, 'the model has no fitted iterations', '_predictors');
  const trees: Tree[] = [];
  iterations.forEach((it, i) => {
    if ((it.kind !== 'list' && it.kind !== 'tuple') || it.items.length !== k) o.fail('_predictors', `iteration ${i} does not hold ${k} predictors`);
    it.items.forEach((pv: PyValue, j) => {
      const path = `${o.path}._predictors[${i}][${j}]`;
      const tree = histTree(PyObj.of(pv, path, 'TreePredictor'), path);
      tree.targets = [j];
      trees.push(tree);
    });
  });
  const raw = emit(ctx, f, {
    estimator: o.className, nTargets: k, trees, mode: '<=', featurePrecision: 'float64', accumulation: 'float64', aggregation: 'sum', baseValues: base,
  });
  const loss = histLossName(o);
  if (!classifier) {
    const identityLosses = ['HalfSquaredError', 'AbsoluteError', 'PinballLoss', 'HuberLoss', 'LeastSquares', 'LeastAbsoluteDeviation', 'squared_error', 'absolute_error', 'quantile'];
    const logLosses = ['HalfPoissonLoss', 'HalfGammaLoss', 'HalfTweedieLoss', 'poisson', 'gamma'];
    if (identityLosses.includes(loss)) return regressorResult(ctx, raw, 1);
    if (logLosses.includes(loss)) return regressorResult(ctx, exp(g, raw), 1);
    refuse(o, `loss ${loss} is not supported`, 'loss');
  }
  const labels = readLabels(o);
  if (k === 1) {
    if (!['HalfBinomialLoss', 'BinaryCrossEntropy', 'log_loss', 'binary_crossentropy'].includes(loss)) refuse(o, `loss ${loss} is not supported`, 'loss');
    const p = logistic(g, reshape(g, raw, [-1]));
    const one = g.scalar(1, 'DOUBLE', 'one');
    return classifierResult(ctx, concat(g, [unsqueeze(g, sub(g, one, p), [1]), unsqueeze(g, p, [1])], 1), labels);
  }
  if (!['HalfMultinomialLoss', 'CategoricalCrossEntropy', 'log_loss', 'categorical_crossentropy'].includes(loss)) refuse(o, `loss ${loss} is not supported`, 'loss');
  if (labels.values.length !== k) refuse(o, `${k} trees per iteration for ${labels.values.length} classes`, 'n_trees_per_iteration_');
  return classifierResult(ctx, softmax(g, raw, 1), labels);
}

export const ESTIMATOR_TREES: Record<string, (ctx: Ctx, o: PyObj, f: Features) => Prediction> = {
  DecisionTreeClassifier: treeClassifier,
  ExtraTreeClassifier: treeClassifier,
  RandomForestClassifier: treeClassifier,
  ExtraTreesClassifier: treeClassifier,
  DecisionTreeRegressor: treeRegressor,
  ExtraTreeRegressor: treeRegressor,
  RandomForestRegressor: treeRegressor,
  ExtraTreesRegressor: treeRegressor,
  GradientBoostingClassifier: (ctx, o, f) => gradientBoosting(ctx, o, f, true),
  GradientBoostingRegressor: (ctx, o, f) => gradientBoosting(ctx, o, f, false),
  HistGradientBoostingClassifier: (ctx, o, f) => histGradientBoosting(ctx, o, f, true),
  HistGradientBoostingRegressor: (ctx, o, f) => histGradientBoosting(ctx, o, f, false),
};
