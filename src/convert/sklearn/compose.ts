// Dispatch on the estimator class, and composition: Pipeline (transformers then an optional final
// estimator) and ColumnTransformer (column selection by index, mask, slice or name; 'drop',
// 'passthrough', remainder; outputs stacked in `transformers_` order as sklearn's hstack).
import { mul } from '../onnx/index.js';
import { PyObj, numberOf, toValues, type PyValue } from '../pickle/index.js';
import {
  guarded, hstack, refuse, selectColumns, asDouble,
  type Ctx, type Features, type Prediction,
} from './context.js';
import { linearClassifier, linearRegressor } from './linear.js';
import {
  functionTransformer, maxAbsScaler, minMaxScaler, oneHotEncoder, oneHotNeedsStrings, robustScaler, simpleImputer, standardScaler,
} from './preprocessing.js';
import { ESTIMATOR_TREES } from './trees.js';

type TransformerFn = (ctx: Ctx, o: PyObj, f: Features) => Features;
type EstimatorFn = (ctx: Ctx, o: PyObj, f: Features) => Prediction;

const TRANSFORMERS: Record<string, TransformerFn> = {
  StandardScaler: standardScaler,
  MinMaxScaler: minMaxScaler,
  MaxAbsScaler: maxAbsScaler,
  RobustScaler: robustScaler,
  SimpleImputer: simpleImputer,
  OneHotEncoder: oneHotEncoder,
  FunctionTransformer: functionTransformer,
  ColumnTransformer: columnTransformer,
};

const ESTIMATORS: Record<string, EstimatorFn> = {
  LinearRegression: linearRegressor,
  Ridge: linearRegressor,
  Lasso: linearRegressor,
  ElasticNet: linearRegressor,
  SGDRegressor: linearRegressor,
  LinearSVR: linearRegressor,
  LogisticRegression: linearClassifier,
  SGDClassifier: linearClassifier,
  LinearSVC: linearClassifier,
  ...ESTIMATOR_TREES,
};

/** Class short names the converter handles, for documentation and error messages. */
export const SUPPORTED_ESTIMATORS: readonly string[] = [...Object.keys(ESTIMATORS), 'Pipeline', ...Object.keys(TRANSFORMERS)].sort();

/** Whether `shortName` is a class convertStep handles. */
export function hasConverter(shortName: string): boolean {
  return shortName === 'Pipeline' || Object.hasOwn(TRANSFORMERS, shortName) || Object.hasOwn(ESTIMATORS, shortName);
}

export type StepResult = { kind: 'features'; features: Features } | { kind: 'prediction'; prediction: Prediction };

const isPassthrough = (v: PyValue) => v.kind === 'none' || (v.kind === 'str' && v.value === 'passthrough');

/** Deepest nesting of pipelines and column transformers (a crafted pickle may nest one in itself). */
export const MAX_NESTING = 32;

function tooDeep(o: PyObj): never {
  refuse(o, `pipelines and column transformers are nested more than ${MAX_NESTING} deep (or contain themselves)`);
}

/** Convert one fitted object (estimator, transformer, Pipeline, ColumnTransformer) applied to `f`. */
export function convertStep(ctx: Ctx, v: PyValue, path: string, f: Features): StepResult {
  const o = PyObj.of(v, path);
  if (ctx.depth >= MAX_NESTING) tooDeep(o);
  ctx.depth++;
  try {
    return convertObject(ctx, o, f);
  } finally {
    ctx.depth--;
  }
}

function convertObject(ctx: Ctx, o: PyObj, f: Features): StepResult {
  return guarded(o, () => {
    const name = o.shortName;
    if (name === 'Pipeline') return pipeline(ctx, o, f);
    const t = Object.hasOwn(TRANSFORMERS, name) ? TRANSFORMERS[name] : undefined;
    if (t) return { kind: 'features', features: t(ctx, o, f) };
    const e = Object.hasOwn(ESTIMATORS, name) ? ESTIMATORS[name] : undefined;
    if (e) return { kind: 'prediction', prediction: e(ctx, o, f) };
    refuse(o, `no converter for this class (supported: ${SUPPORTED_ESTIMATORS.join(', ')})`);
  });
}

function steps(o: PyObj): Array<{ name: string; est: PyValue }> {
  return o.list('steps').map((s, i) => {
    if (s.kind !== 'tuple' && s.kind !== 'list') o.fail('steps', `item ${i} is not a (name, estimator) pair`);
    const [n, est] = s.items;
    if (n?.kind !== 'str' || est === undefined) o.fail('steps', `item ${i} is not a (name, estimator) pair`);
    return { name: n.value, est };
  });
}

function pipeline(ctx: Ctx, o: PyObj, f: Features): StepResult {
  const all = steps(o);
  if (all.length === 0) refuse(o, 'the pipeline has no steps', 'steps');
  let features = f;
  for (let i = 0; i < all.length; i++) {
    const { name, est } = all[i];
    if (isPassthrough(est)) continue;
    const r = convertStep(ctx, est, `${o.path}.steps[${i}] '${name}'`, features);
    if (r.kind === 'prediction') {
      if (i !== all.length - 1) refuse(o, `step '${name}' predicts but is not the last step`, 'steps');
      return r;
    }
    features = r.features;
  }
  return { kind: 'features', features };
}

/** The pipeline's steps that are objects, for walks over the model. */
export function children(o: PyObj): PyValue[] {
  if (o.shortName === 'Pipeline') return steps(o).map((s) => s.est).filter((v) => v.kind === 'object');
  if (o.shortName === 'ColumnTransformer') {
    return o.list('transformers_').map((t) => (t.kind === 'tuple' || t.kind === 'list' ? t.items[1] : t)).filter((v): v is PyValue => v?.kind === 'object');
  }
  return [];
}

/** Whether the model needs its input as strings (a OneHotEncoder with string categories somewhere). */
export function needsStringInput(v: PyValue, path: string, depth = 0): boolean {
  if (v.kind !== 'object') return false;
  const o = PyObj.of(v, path);
  if (depth >= MAX_NESTING) tooDeep(o);
  return guarded(o, () => {
    if (o.shortName === 'OneHotEncoder') return oneHotNeedsStrings(o);
    return children(o).some((c, i) => needsStringInput(c, `${path}[${i}]`, depth + 1));
  });
}

/** Most input columns a model may declare (a crafted n_features_in_ must not drive huge loops). */
export const MAX_FEATURES = 1 << 24;

function checkedFeatureCount(o: PyObj, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_FEATURES) refuse(o, `n_features_in_ is ${n}; a model has between 1 and ${MAX_FEATURES} features`, 'n_features_in_');
  return n;
}

/** Number of input columns a model expects. */
export function inputWidth(v: PyValue, path: string, depth = 0): number {
  const o = PyObj.of(v, path);
  if (depth >= MAX_NESTING) tooDeep(o);
  return checkedFeatureCount(o, guardedWidth(o, path, depth));
}

function guardedWidth(o: PyObj, path: string, depth: number): number {
  return guarded(o, () => {
    if (o.has('n_features_in_')) return o.int('n_features_in_');
    if (o.shortName === 'Pipeline') {
      const first = steps(o).find((s) => !isPassthrough(s.est));
      if (first) return inputWidth(first.est, `${path}.steps[0]`, depth + 1);
    }
    if (o.has('coef_')) { const c = o.f64('coef_', [1, 2]); return c.shape[c.shape.length - 1]; }
    if (o.has('n_features_')) return o.int('n_features_');
    refuse(o, 'the number of input features is not recorded (n_features_in_ is missing)', 'n_features_in_');
  });
}

/** Input feature names a model was fitted with (`feature_names_in_`), if any. */
export function inputNames(v: PyValue, path: string, depth = 0): string[] | undefined {
  if (v.kind !== 'object') return undefined;
  const o = PyObj.of(v, path);
  if (depth >= MAX_NESTING) tooDeep(o);
  if (o.opt('feature_names_in_') !== undefined) {
    const names = o.values('feature_names_in_');
    if (names.every((n) => n.kind === 'str')) return names.map((n) => (n.kind === 'str' ? n.value : ''));
  }
  if (o.shortName === 'Pipeline') {
    const first = steps(o).find((s) => !isPassthrough(s.est));
    return first ? inputNames(first.est, `${path}.steps[0]`, depth + 1) : undefined;
  }
  return undefined;
}

/** Column indices a ColumnTransformer column spec selects (sklearn's `_get_column_indices`). */
function columnIndices(o: PyObj, spec: PyValue, width: number, names: readonly string[] | undefined, label: string): number[] {
  const byName = (n: string): number => {
    if (!names) refuse(o, `transformer '${label}' selects column '${n}' by name, but the ColumnTransformer has no feature_names_in_`, 'transformers_');
    const i = names.indexOf(n);
    if (i < 0) refuse(o, `transformer '${label}' selects column '${n}', which is not among feature_names_in_`, 'transformers_');
    return i;
  };
  const byIndex = (i: number): number => {
    const j = i < 0 ? width + i : i;
    if (!Number.isInteger(j) || j < 0 || j >= width) refuse(o, `transformer '${label}' selects column ${i} of ${width}`, 'transformers_');
    return j;
  };
  const list = (items: readonly PyValue[]): number[] => {
    if (items.length > 0 && items.every((x) => x.kind === 'bool' || (x.kind === 'scalar' && x.array.dtype.char === 'b'))) {
      if (items.length !== width) refuse(o, `transformer '${label}' has a boolean mask of ${items.length} for ${width} columns`, 'transformers_');
      return items.flatMap((x, i) => (numberOf(x) ? [i] : []));
    }
    return items.map((x) => {
      if (x.kind === 'str') return byName(x.value);
      const n = numberOf(x);
      if (n === undefined || x.kind === 'float') refuse(o, `transformer '${label}' has a column selector item of type ${x.kind}`, 'transformers_');
      return byIndex(n);
    });
  };
  switch (spec.kind) {
    case 'str': return [byName(spec.value)];
    case 'int': return [byIndex(Number(spec.value))];
    case 'list': case 'tuple': return list(spec.items);
    case 'ndarray': {
      if (spec.shape.length !== 1) refuse(o, `transformer '${label}' selects columns with a ${spec.shape.length}-D array`, 'transformers_');
      return list(toValues(spec));
    }
    case 'slice': {
      const num = (v: PyValue) => (v.kind === 'none' ? undefined : v.kind === 'str' ? byName(v.value) : numberOf(v));
      if (spec.start.kind === 'str' || spec.stop.kind === 'str') {
        // pandas label slices include their stop.
        const a = num(spec.start) ?? 0;
        const b = spec.stop.kind === 'none' ? width - 1 : num(spec.stop)!;
        return Array.from({ length: Math.max(0, b - a + 1) }, (_, i) => a + i);
      }
      const step = num(spec.step) ?? 1;
      if (step <= 0) refuse(o, `transformer '${label}' has a slice with step ${step}`, 'transformers_');
      const norm = (x: number | undefined, dflt: number) => (x === undefined ? dflt : Math.min(width, Math.max(0, x < 0 ? width + x : x)));
      const out: number[] = [];
      for (let i = norm(num(spec.start), 0); i < norm(num(spec.stop), width); i += step) out.push(i);
      return out;
    }
    default:
      refuse(o, `transformer '${label}' selects its columns with a ${spec.kind}, which is not supported (use indices, names, a mask or a slice)`, 'transformers_');
  }
}

function columnTransformer(ctx: Ctx, o: PyObj, f: Features): Features {
  const width = checkedFeatureCount(o, o.has('n_features_in_') ? o.int('n_features_in_') : f.width);
  if (width !== f.width) refuse(o, `it was fitted on ${width} features but receives ${f.width}`, 'n_features_in_');
  let names: readonly string[] | undefined = f.names;
  if (o.opt('feature_names_in_') !== undefined) {
    names = o.values('feature_names_in_').map((n) => (n.kind === 'str' ? n.value : refuse(o, 'feature_names_in_ holds a non-str name', 'feature_names_in_')));
  }
  const weights = o.opt('transformer_weights');
  const weightOf = (name: string): number | undefined => {
    if (!weights) return undefined;
    if (weights.kind !== 'dict') o.fail('transformer_weights', 'is not a dict');
    const w = weights.entries.get(`s:${name}`)?.value;
    return w ? numberOf(w) : undefined;
  };
  const blocks: Features[] = [];
  o.list('transformers_').forEach((t, i) => {
    if ((t.kind !== 'tuple' && t.kind !== 'list') || t.items.length < 3) o.fail('transformers_', `item ${i} is not a (name, transformer, columns) triple`);
    const [nameV, trans, spec] = t.items;
    const label = nameV.kind === 'str' ? nameV.value : String(i);
    if (trans.kind === 'str' && trans.value === 'drop') return;
    const cols = columnIndices(o, spec, width, names, label);
    if (cols.length === 0) return; // sklearn skips empty selections
    const selected = selectColumns(ctx, { ...f, ...(names ? { names } : {}) }, cols);
    let out: Features;
    if (trans.kind === 'str' && trans.value === 'passthrough') out = asDouble(ctx, selected);
    else {
      const r = convertStep(ctx, trans, `${o.path}.transformers_[${i}] '${label}'`, selected);
      if (r.kind !== 'features') refuse(o, `transformer '${label}' is an estimator, not a transformer`, 'transformers_');
      out = r.features;
    }
    const w = weightOf(label);
    if (w !== undefined && w !== 1) out = { value: mul(ctx.g, asDouble(ctx, out).value, ctx.g.scalar(w, 'DOUBLE', 'weight')), width: out.width };
    blocks.push(out);
  });
  if (blocks.length === 0) refuse(o, 'every transformer drops its columns: the output is empty', 'transformers_');
  return hstack(ctx, blocks);
}
