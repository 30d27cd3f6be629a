// Transformers: StandardScaler, MinMaxScaler, MaxAbsScaler, RobustScaler, SimpleImputer (with its
// missing-value indicator), OneHotEncoder and an identity FunctionTransformer. Each mirrors
// sklearn's dense `transform` in float64, operation for operation (X -= mean_; X /= scale_ …),
// so the values match to the last bit where sklearn's own arithmetic is element-wise.
import {
  add, cast, clip, concat, div, equal, gather, isNaN, labelEncoder, mul, sub, where,
  type Value,
} from '../onnx/index.js';
import { PyObj, toFloat64, type PyValue } from '../pickle/index.js';
import {
  asDouble, expectWidth, featuresIn, refuse, selectColumns,
  type Ctx, type Features,
} from './context.js';

/** A per-feature vector attribute of length `width`. */
function perFeature(o: PyObj, attr: string, width: number): Float64Array {
  const v = o.f64(attr, [0, 1]);
  if (v.shape.length === 1 && v.values.length !== width) o.fail(attr, `has ${v.values.length} values for ${width} features`);
  return v.shape.length === 0 ? new Float64Array(width).fill(v.values[0]) : v.values;
}

function flag(o: PyObj, attr: string, fallback: boolean): boolean {
  return o.has(attr) ? o.bool(attr) : fallback;
}

function checkedWidth(o: PyObj, f: Features): void {
  const n = featuresIn(o);
  if (n !== undefined) expectWidth(o, f, n);
}

export function standardScaler(ctx: Ctx, o: PyObj, input: Features): Features {
  const f = asDouble(ctx, input);
  checkedWidth(o, f);
  let x = f.value;
  if (flag(o, 'with_mean', true)) x = sub(ctx.g, x, ctx.g.constDouble(perFeature(o, 'mean_', f.width), [f.width], 'mean'));
  if (flag(o, 'with_std', true)) x = div(ctx.g, x, ctx.g.constDouble(perFeature(o, 'scale_', f.width), [f.width], 'scale'));
  return { value: x, width: f.width };
}

export function minMaxScaler(ctx: Ctx, o: PyObj, input: Features): Features {
  const f = asDouble(ctx, input);
  checkedWidth(o, f);
  let x = mul(ctx.g, f.value, ctx.g.constDouble(perFeature(o, 'scale_', f.width), [f.width], 'scale'));
  x = add(ctx.g, x, ctx.g.constDouble(perFeature(o, 'min_', f.width), [f.width], 'min'));
  if (flag(o, 'clip', false)) {
    const range = o.list('feature_range');
    const lo = range[0]?.kind === 'int' || range[0]?.kind === 'float' ? Number(range[0].value) : o.fail('feature_range', 'is not a pair of numbers');
    const hi = range[1]?.kind === 'int' || range[1]?.kind === 'float' ? Number(range[1].value) : o.fail('feature_range', 'is not a pair of numbers');
    x = clip(ctx.g, x, lo, hi);
  }
  return { value: x, width: f.width };
}

export function maxAbsScaler(ctx: Ctx, o: PyObj, input: Features): Features {
  const f = asDouble(ctx, input);
  checkedWidth(o, f);
  return { value: div(ctx.g, f.value, ctx.g.constDouble(perFeature(o, 'scale_', f.width), [f.width], 'scale')), width: f.width };
}

export function robustScaler(ctx: Ctx, o: PyObj, input: Features): Features {
  const f = asDouble(ctx, input);
  checkedWidth(o, f);
  let x = f.value;
  if (flag(o, 'with_centering', true)) x = sub(ctx.g, x, ctx.g.constDouble(perFeature(o, 'center_', f.width), [f.width], 'center'));
  if (flag(o, 'with_scaling', true)) x = div(ctx.g, x, ctx.g.constDouble(perFeature(o, 'scale_', f.width), [f.width], 'scale'));
  return { value: x, width: f.width };
}

/** The missing-value mask sklearn's `_get_mask` computes: isnan, or equality with a number. */
function missingMask(ctx: Ctx, o: PyObj, x: Value): Value {
  const mv = o.raw('missing_values');
  if (mv.kind === 'float' && Number.isNaN(mv.value)) return isNaN(ctx.g, x);
  if (mv.kind === 'int' || mv.kind === 'float') return equal(ctx.g, x, ctx.g.scalar(Number(mv.value), 'DOUBLE', 'missing_value'));
  if (mv.kind === 'scalar') {
    const n = toFloat64(mv.array)[0];
    return Number.isNaN(n) ? isNaN(ctx.g, x) : equal(ctx.g, x, ctx.g.scalar(n, 'DOUBLE', 'missing_value'));
  }
  refuse(o, `missing_values ${mv.kind === 'str' ? `'${mv.value}'` : mv.kind} is not a number or NaN; only numeric inputs are supported`, 'missing_values');
}

export function simpleImputer(ctx: Ctx, o: PyObj, input: Features): Features {
  const g = ctx.g;
  const f = asDouble(ctx, input);
  checkedWidth(o, f);
  const strategy = o.oneOf('strategy', ['mean', 'median', 'most_frequent', 'constant'] as const);
  const statsArray = o.array('statistics_');
  if (statsArray.data.type === 'object' || statsArray.data.type === 'string') {
    refuse(o, 'statistics_ are not numbers (an imputer fitted on strings needs string inputs, which are not supported)', 'statistics_');
  }
  const stats = perFeature(o, 'statistics_', f.width);
  const mask = missingMask(ctx, o, f.value);
  const imputed = where(g, mask, g.constDouble(stats, [f.width], 'statistics'), f.value);
  // Features whose statistic is NaN (never observed) are dropped, unless strategy is 'constant' or
  // keep_empty_features is set (sklearn 1.2's transform).
  const keepAll = strategy === 'constant' || flag(o, 'keep_empty_features', false);
  const valid = [...stats.keys()].filter((i) => keepAll || !Number.isNaN(stats[i]));
  let out: Features = selectColumns(ctx, { value: imputed, width: f.width }, valid);
  if (o.has('indicator_') && o.opt('indicator_') !== undefined) {
    const ind = o.obj('indicator_', 'MissingIndicator');
    const features = ind.has('features') ? ind.str('features') : 'missing-only';
    const columns = features === 'all' ? [...stats.keys()] : Array.from(ind.f64('features_', [1]).values);
    const maskD = cast(g, mask, 'DOUBLE');
    const indicator = selectColumns(ctx, { value: maskD, width: f.width }, columns);
    out = { value: concat(g, [out.value, indicator.value], 1), width: out.width + indicator.width };
  }
  return out;
}

/** Categories of one OneHotEncoder feature: numbers (with NaN last if seen) or strings. */
type Categories = { kind: 'number'; values: number[]; nan: boolean } | { kind: 'string'; values: string[] };

function categoriesOf(o: PyObj, j: number, v: PyValue): Categories {
  if (v.kind !== 'ndarray' || v.shape.length !== 1) o.fail('categories_', `entry ${j} is not a 1-D array`);
  if (v.data.type === 'object' || v.data.type === 'string') {
    const items = v.data.type === 'string' ? v.data.values : v.data.values.map((x) => (x.kind === 'str' ? x.value : undefined));
    if (items.every((s): s is string => s !== undefined)) return { kind: 'string', values: items };
    const nums = v.data.type === 'object' ? v.data.values.map((x) => (x.kind === 'int' || x.kind === 'float' ? Number(x.value) : undefined)) : [];
    if (nums.length && nums.every((x): x is number => x !== undefined)) {
      return { kind: 'number', values: nums.filter((x) => !Number.isNaN(x)), nan: nums.some(Number.isNaN) };
    }
    o.fail('categories_', `entry ${j} mixes strings with other values (e.g. None), which is not supported`);
  }
  const nums = Array.from(toFloat64(v));
  return { kind: 'number', values: nums.filter((x) => !Number.isNaN(x)), nan: nums.some(Number.isNaN) };
}

/** Whether a OneHotEncoder needs string input (any feature with string categories). */
export function oneHotNeedsStrings(o: PyObj): boolean {
  return o.list('categories_').some((v, j) => categoriesOf(o, j, v).kind === 'string');
}

export function oneHotEncoder(ctx: Ctx, o: PyObj, f: Features): Features {
  const g = ctx.g;
  checkedWidth(o, f);
  if (o.has('_infrequent_enabled') && o.bool('_infrequent_enabled')) {
    refuse(o, 'infrequent-category grouping (max_categories / min_frequency) is not supported', 'max_categories');
  }
  const handleUnknown = o.has('handle_unknown') ? o.str('handle_unknown') : 'error';
  if (!['error', 'ignore', 'infrequent_if_exist'].includes(handleUnknown)) refuse(o, `handle_unknown '${handleUnknown}' is unknown`, 'handle_unknown');
  const cats = o.list('categories_');
  if (cats.length !== f.width) refuse(o, `categories_ has ${cats.length} features for ${f.width} inputs`, 'categories_');
  const drop = o.opt('drop_idx_');
  const dropIdx: Array<number | undefined> = cats.map(() => undefined);
  if (drop) {
    if (drop.kind !== 'ndarray') o.fail('drop_idx_', 'is not an array');
    const values = drop.data.type === 'object' ? drop.data.values : Array.from(toFloat64(drop), (x) => ({ kind: 'int', value: x }) as PyValue);
    values.forEach((v, j) => {
      if (v.kind === 'int' || v.kind === 'float' || v.kind === 'scalar') {
        dropIdx[j] = v.kind === 'scalar' ? toFloat64(v.array)[0] : Number(v.value);
      } else if (v.kind !== 'none') o.fail('drop_idx_', `entry ${j} is not an index or None`);
    });
  }
  const blocks: Value[] = [];
  let width = 0;
  cats.forEach((v, j) => {
    const c = categoriesOf(o, j, v);
    const col = selectColumns(ctx, f, [j]).value; // [N, 1]
    let hot: Value; // [N, k] BOOL, columns in categories_ order
    if (c.kind === 'string') {
      if (col.type !== 'STRING') refuse(o, `feature ${j} has string categories but the model input is numeric`, 'categories_');
      const index = labelEncoder(g, col, { strings: c.values }, { int64s: c.values.map((_, i) => i), default: -1 });
      hot = equal(g, index, g.constInt64(c.values.map((_, i) => i), [c.values.length], 'category_index'));
    } else {
      const x = col.type === 'DOUBLE' ? col : cast(g, col, 'DOUBLE');
      const parts: Value[] = [];
      if (c.values.length) parts.push(equal(g, x, g.constDouble(c.values, [c.values.length], 'categories')));
      if (c.nan) parts.push(isNaN(g, x));
      hot = parts.length === 1 ? parts[0] : concat(g, parts, 1);
    }
    const k = c.kind === 'number' ? c.values.length + (c.nan ? 1 : 0) : c.values.length;
    let block = cast(g, hot, 'DOUBLE');
    const d = dropIdx[j];
    if (d !== undefined) {
      const keep = [...Array(k).keys()].filter((i) => i !== d);
      block = gather(g, block, g.constInt64(keep, [keep.length], 'kept_categories'), 1);
    }
    const kept = d === undefined ? k : k - 1;
    if (kept > 0) { blocks.push(block); width += kept; }
  });
  if (blocks.length === 0) refuse(o, 'the encoder produces no columns', 'categories_');
  return { value: blocks.length === 1 ? blocks[0] : concat(g, blocks, 1), width };
}

export function functionTransformer(ctx: Ctx, o: PyObj, f: Features): Features {
  if (o.opt('func') !== undefined) refuse(o, 'a FunctionTransformer with a func runs arbitrary Python; only the identity (func=None) is supported', 'func');
  return asDouble(ctx, f);
}
