// Linear models: regressors (LinearRegression, Ridge, Lasso, ElasticNet, SGDRegressor, LinearSVR)
// and classifiers (LogisticRegression, SGDClassifier, LinearSVC). Everything is float64 and in
// sklearn's order: decision = X @ coef_.T + intercept_, then expit / softmax / OvR normalisation
// exactly as sklearn's predict_proba does it.
import {
  add, argMax, clip, concat, div, equal, logistic, reduceSum, softmax, sub, neg, unsqueeze, where, mul,
  type Value,
} from '../onnx/index.js';
import type { PyObj } from '../pickle/index.js';
import {
  asDouble, binaryLabels, column, expectWidth, featuresIn, linearScores, readLabels, refuse, takeLabels,
  type Ctx, type Features, type Prediction,
} from './context.js';

/** intercept_ as an array (sklearn stores a float, a numpy scalar or an array; 0.0 without intercept). */
function intercepts(o: PyObj): Float64Array {
  return o.f64('intercept_', [0, 1]).values;
}

function coefficients(o: PyObj, f: Features) {
  const coef = o.f64('coef_', [1, 2]);
  const width = coef.shape[coef.shape.length - 1];
  expectWidth(o, f, featuresIn(o, width) ?? width);
  if (width !== f.width) refuse(o, `coef_ has ${width} columns for ${f.width} features`, 'coef_');
  return coef;
}

export function linearRegressor(ctx: Ctx, o: PyObj, input: Features): Prediction {
  const f = asDouble(ctx, input);
  const coef = coefficients(o, f);
  const { scores, columns } = linearScores(ctx, f.value, coef, intercepts(o));
  // A 2-D coef_ (fitted on a 2-D y) predicts [N, targets], as sklearn does, even for one target.
  return { task: 'regressor', predict: scores, predictShape: columns ? ['N', columns] : ['N'] };
}

type ProbaKind = 'ovr' | 'multinomial' | 'modified_huber' | 'none';

function logisticProbaKind(o: PyObj, classes: number): ProbaKind {
  const multiClass = o.has('multi_class') ? o.str('multi_class') : 'auto';
  const solver = o.has('solver') ? o.str('solver') : 'lbfgs';
  if (multiClass === 'ovr' || multiClass === 'warn') return 'ovr';
  if (multiClass === 'auto') return classes <= 2 || solver === 'liblinear' || solver === 'newton-cholesky' ? 'ovr' : 'multinomial';
  if (multiClass === 'multinomial') return 'multinomial';
  refuse(o, `multi_class '${multiClass}' is not one sklearn knows`, 'multi_class');
}

function sgdProbaKind(o: PyObj): ProbaKind {
  const loss = o.str('loss');
  if (loss === 'log_loss' || loss === 'log') return 'ovr';
  if (loss === 'modified_huber') return 'modified_huber';
  return 'none';
}

export function linearClassifier(ctx: Ctx, o: PyObj, input: Features): Prediction {
  const g = ctx.g;
  const f = asDouble(ctx, input);
  const labels = readLabels(o);
  const coef = coefficients(o, f);
  const k = labels.values.length;
  const rows = coef.shape.length === 2 ? coef.shape[0] : 1;
  const binary = rows === 1;
  if (k < 2) refuse(o, `classes_ has ${k} class; a classifier needs two or more`, 'classes_');
  if ((binary && k !== 2) || (!binary && rows !== k)) refuse(o, `coef_ has ${rows} rows for ${k} classes`, 'coef_');
  const { scores: raw } = linearScores(ctx, f.value, coef, intercepts(o));
  // decision_function returns [N] for one row of coefficients.
  const scores = binary ? column(ctx, raw) : raw;
  const predict = binary ? binaryLabels(ctx, scores, labels) : takeLabels(ctx, argMax(g, scores, { axis: 1 }), labels);

  const kind: ProbaKind = o.shortName === 'LogisticRegression' ? logisticProbaKind(o, k) : o.shortName === 'SGDClassifier' ? sgdProbaKind(o) : 'none';
  const proba = kind === 'none' ? undefined : probabilities(ctx, scores, binary, kind, k);
  return proba ? { task: 'classifier', predict, predictShape: ['N'], proba, labels } : { task: 'classifier', predict, predictShape: ['N'], labels };
}

/** predict_proba from decision scores, as LogisticRegression / SGDClassifier compute it. */
function probabilities(ctx: Ctx, scores: Value, binary: boolean, kind: Exclude<ProbaKind, 'none'>, k: number): Value {
  const g = ctx.g;
  const one = () => g.scalar(1, 'DOUBLE', 'one');
  const twoColumns = (p: Value) => concat(g, [unsqueeze(g, sub(g, one(), p), [1]), unsqueeze(g, p, [1])], 1);
  switch (kind) {
    case 'ovr': {
      // _predict_proba_lr: expit(decision); binary → [1 - p, p]; else p / p.sum(axis=1).
      const p = logistic(g, scores);
      if (binary) return twoColumns(p);
      return div(g, p, reduceSum(g, p, [1], true));
    }
    case 'multinomial': {
      // softmax over [-d, d] for binary, else over the K scores (max-subtracted, as sklearn's softmax).
      const d2 = binary ? concat(g, [unsqueeze(g, neg(g, scores), [1]), unsqueeze(g, scores, [1])], 1) : scores;
      return softmax(g, d2, 1);
    }
    case 'modified_huber': {
      // (clip(d, -1, 1) + 1) / 2; binary → [1 - p, p]; else normalised, all-zero rows uniform.
      const two = g.scalar(2, 'DOUBLE', 'two');
      const p = div(g, add(g, clip(g, scores, -1, 1), one()), two);
      if (binary) return twoColumns(p);
      const sum = reduceSum(g, p, [1], true);
      const zero = equal(g, sum, g.scalar(0, 'DOUBLE', 'zero'));
      const ones = add(g, mul(g, p, g.scalar(0, 'DOUBLE', 'zero')), one());
      const num = where(g, zero, ones, p);
      const den = where(g, zero, g.scalar(k, 'DOUBLE', 'classes'), sum);
      return div(g, num, den);
    }
  }
}
