// What sklearn step converters share: the graph under construction, the feature matrix flowing
// between steps, class labels, and the helpers that mirror sklearn's own arithmetic in float64.
import { ConversionError } from '../model.js';
import {
  GraphBuilder, add, cast, concat, gather, greater, matMul, reshape,
  type Dim, type Value,
} from '../onnx/index.js';
import { LayoutError, PyObj, numberOf, type F64, type PyValue } from '../pickle/index.js';

/** The matrix between steps: [N, width], DOUBLE (or STRING for raw mixed-type input columns). */
export interface Features {
  readonly value: Value;
  readonly width: number;
  /** Input feature names, when the step knows them (for ColumnTransformer's by-name selection). */
  readonly names?: readonly string[];
}

/** A classifier's labels as sklearn's `classes_` holds them. */
export type Labels =
  | { readonly kind: 'int64'; readonly values: bigint[] }
  | { readonly kind: 'string'; readonly values: string[] }
  | { readonly kind: 'double'; readonly values: number[] }
  | { readonly kind: 'bool'; readonly values: boolean[] };

/** What a final estimator contributes: `predict` (and `predict_proba` for classifiers). */
export interface Prediction {
  readonly task: 'classifier' | 'regressor';
  readonly predict: Value;
  /** Shape of `predict`: ['N'] or ['N', targets]. */
  readonly predictShape: Dim[];
  readonly proba?: Value;
  readonly labels?: Labels;
}

export class Ctx {
  /** Nesting of convertStep calls (bounded: a crafted pipeline may contain itself). */
  depth = 0;
  constructor(readonly g: GraphBuilder) {}
}

/** A ConversionError about `o` (an sklearn object at `o.path`). */
export function refuse(o: PyObj, problem: string, field?: string): never {
  throw new ConversionError(`${o.className} at ${o.path}`, problem, field === undefined ? undefined : { field });
}

/** Run `f`, turning layout errors of the pickle into ConversionErrors naming the estimator. */
export function guarded<T>(o: PyObj, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof LayoutError) throw new ConversionError(o.className, e.message, { cause: e });
    throw e;
  }
}

/** Features as DOUBLE: a STRING matrix (raw mixed-type columns) is parsed with Cast. */
export function asDouble(ctx: Ctx, f: Features): Features {
  if (f.value.type === 'DOUBLE') return f;
  return { ...f, value: cast(ctx.g, f.value, 'DOUBLE') };
}

/** Columns `indices` of a feature matrix (Gather on axis 1). */
export function selectColumns(ctx: Ctx, f: Features, indices: number[]): Features {
  const identity = indices.length === f.width && indices.every((c, i) => c === i);
  if (identity) return f;
  const value = gather(ctx.g, f.value, ctx.g.constInt64(indices, [indices.length], 'columns'), 1);
  const out: Features = { value, width: indices.length };
  return f.names ? { ...out, names: indices.map((i) => f.names![i]) } : out;
}

/** Horizontal stack of feature blocks (np.hstack), all made DOUBLE. */
export function hstack(ctx: Ctx, blocks: Features[]): Features {
  if (blocks.length === 1) return blocks[0];
  const doubles = blocks.map((b) => asDouble(ctx, b));
  return { value: concat(ctx.g, doubles.map((b) => b.value), 1), width: blocks.reduce((s, b) => s + b.width, 0) };
}

/** Check that the incoming width is what the estimator was fitted on. */
export function expectWidth(o: PyObj, f: Features, n: number): void {
  if (f.width !== n) refuse(o, `it was fitted on ${n} features but receives ${f.width} here`, 'n_features_in_');
}

/** `n_features_in_` when the estimator records it, else `fallback` (older sklearn). */
export function featuresIn(o: PyObj, fallback?: number): number | undefined {
  return o.has('n_features_in_') ? o.int('n_features_in_') : fallback;
}

/** Read `classes_` (or another label array) exactly as sklearn returns labels. */
export function readLabels(o: PyObj, attr = 'classes_'): Labels {
  const v = o.array(attr);
  if (v.shape.length !== 1) o.fail(attr, `has shape [${v.shape.join(', ')}], expected one label per class`);
  return labelsFromValues(o, attr, o.values(attr), v.dtype.char);
}

export function labelsFromValues(o: PyObj, attr: string, values: PyValue[], dtypeChar?: string): Labels {
  if (dtypeChar === 'b' || (values.length > 0 && values.every((x) => x.kind === 'bool'))) {
    return { kind: 'bool', values: values.map((x) => x.kind === 'bool' && x.value) };
  }
  if (values.every((x) => x.kind === 'str')) return { kind: 'string', values: values.map((x) => (x.kind === 'str' ? x.value : '')) };
  if (dtypeChar !== 'f' && values.every((x) => x.kind === 'int' || (x.kind === 'scalar' && x.array.dtype.char === 'i'))) {
    return { kind: 'int64', values: values.map((x) => (x.kind === 'int' ? BigInt(x.value) : BigInt(numberOf(x) ?? 0))) };
  }
  if (values.every((x) => x.kind === 'float' || x.kind === 'int' || x.kind === 'scalar')) {
    const nums = values.map((x) => numberOf(x));
    if (nums.every((x): x is number => x !== undefined)) return { kind: 'double', values: nums };
  }
  o.fail(attr, 'holds labels of mixed or unsupported types (supported: all int, all float, all bool or all str)');
}

/** `labels[index]` for INT64 class indices of any shape (numpy `classes_.take(index)`). */
export function takeLabels(ctx: Ctx, index: Value, labels: Labels, name?: string): Value {
  const g = ctx.g;
  const n = labels.values.length;
  let table: Value;
  switch (labels.kind) {
    case 'int64': table = g.constInt64(labels.values, [n], 'classes'); break;
    case 'string': table = g.constString(labels.values, [n], 'classes'); break;
    case 'double': table = g.constDouble(labels.values, [n], 'classes'); break;
    case 'bool': table = g.constant(Uint8Array.from(labels.values, (b) => (b ? 1 : 0)), [n], 'classes', 'BOOL'); break;
  }
  return gather(g, table, index, 0, name);
}

/** Binary decision: `classes_[(scores > 0).astype(int)]` for 1-D scores. */
export function binaryLabels(ctx: Ctx, scores: Value, labels: Labels): Value {
  const positive = greater(ctx.g, scores, ctx.g.scalar(0, 'DOUBLE', 'zero'));
  return takeLabels(ctx, cast(ctx.g, positive, 'INT64'), labels);
}

/**
 * sklearn's linear `decision_function`: `X @ coef_.T + intercept_` in float64 (MatMul then Add, the
 * order sklearn evaluates), [N, K] for a 2-D coef, else [N].
 */
export function linearScores(ctx: Ctx, x: Value, coef: F64, intercept: Float64Array): { scores: Value; columns: number } {
  const g = ctx.g;
  const rows = coef.shape.length === 2 ? coef.shape[0] : 1;
  const cols = coef.shape.length === 2 ? coef.shape[1] : coef.values.length;
  if (intercept.length !== rows && intercept.length !== 1) {
    throw new ConversionError('linear model', `intercept_ has ${intercept.length} values for ${rows} outputs`, { field: 'intercept_' });
  }
  if (coef.shape.length === 2) {
    const t = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = coef.values[r * cols + c];
    const product = matMul(g, x, g.constDouble(t, [cols, rows], 'coef_T'));
    return { scores: add(g, product, g.constDouble(intercept, [intercept.length], 'intercept')), columns: rows };
  }
  const product = matMul(g, x, g.constDouble(coef.values, [cols], 'coef'));
  return { scores: add(g, product, g.constDouble(intercept, intercept.length === 1 ? [] : [intercept.length], 'intercept')), columns: 0 };
}

/** A [N, 1] score column as [N]. */
export function column(ctx: Ctx, x: Value): Value {
  return reshape(ctx.g, x, [-1]);
}
