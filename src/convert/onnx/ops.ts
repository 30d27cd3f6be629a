// Typed helpers for the ai.onnx operators converters use (opset 17 signatures). Each takes the
// GraphBuilder and its input Values and returns the output Value; `name` (last argument where
// offered) gives the output a chosen name, e.g. a graph output such as `predict`.
//
// Every operator here runs in onnxruntime-node 1.30 with the element types listed in its doc
// comment; test/convert/onnx-toolkit.test.ts runs each of them. DOUBLE is supported wherever a
// converter needs float64 arithmetic (MatMul, Gemm, Add…, Softmax, Exp, CumSum, ReduceSum, Clip,
// Where, ArgMax, Gather).
import { OnnxType } from '../../modelgen/onnx-builder.js';
import type { ElemType, GraphBuilder, Value } from './graph.js';

const FLOATING: ReadonlySet<ElemType> = new Set(['FLOAT', 'DOUBLE', 'FLOAT16']);
const INDEX: ReadonlySet<ElemType> = new Set(['INT64', 'INT32']);

function sameType(op: string, values: Value[]): ElemType {
  const type = values[0].type;
  for (const v of values) {
    if (v.type !== type) throw new Error(`${op}: inputs of different types (${values.map((x) => `${x.name}: ${x.type}`).join(', ')})`);
  }
  return type;
}

function floating(op: string, x: Value): ElemType {
  if (!FLOATING.has(x.type)) throw new Error(`${op}: ${x.name} is ${x.type}, a floating type is needed`);
  return x.type;
}

function named(name: string | undefined): { names?: string[] } {
  return name === undefined ? {} : { names: [name] };
}

function one(values: Value[]): Value {
  return values[0];
}

// ---------------------------------------------------------------- element-wise arithmetic

/** Element-wise binary op with numpy broadcasting; both inputs of one numeric type. */
export function binary(g: GraphBuilder, op: 'Add' | 'Sub' | 'Mul' | 'Div' | 'Pow' | 'Mod', a: Value, b: Value, name?: string): Value {
  const type = op === 'Pow' ? a.type : sameType(op, [a, b]);
  return one(g.node(op, [a, b], [type], named(name)));
}
/** a + b (broadcasting). FLOAT, DOUBLE, INT32, INT64. */
export const add = (g: GraphBuilder, a: Value, b: Value, name?: string): Value => binary(g, 'Add', a, b, name);
/** a − b (broadcasting). */
export const sub = (g: GraphBuilder, a: Value, b: Value, name?: string): Value => binary(g, 'Sub', a, b, name);
/** a × b (broadcasting). */
export const mul = (g: GraphBuilder, a: Value, b: Value, name?: string): Value => binary(g, 'Mul', a, b, name);
/** a ÷ b (broadcasting; integer division truncates). */
export const div = (g: GraphBuilder, a: Value, b: Value, name?: string): Value => binary(g, 'Div', a, b, name);
/** a ** b (b may be of another numeric type). */
export const pow = (g: GraphBuilder, a: Value, b: Value, name?: string): Value => binary(g, 'Pow', a, b, name);

/** Variadic element-wise Max / Min / Sum / Mean (broadcasting), inputs of one type. */
export function variadic(g: GraphBuilder, op: 'Max' | 'Min' | 'Sum' | 'Mean', values: Value[], name?: string): Value {
  if (values.length === 0) throw new Error(`${op}: no inputs`);
  return one(g.node(op, values, [sameType(op, values)], named(name)));
}

type UnaryOp =
  | 'Neg'
  | 'Abs'
  | 'Exp'
  | 'Log'
  | 'Sqrt'
  | 'Reciprocal'
  | 'Sigmoid'
  | 'Tanh'
  | 'Relu'
  | 'Floor'
  | 'Ceil'
  | 'Round'
  | 'Sign'
  | 'Erf'
  | 'Identity';

/** Element-wise unary op keeping the element type. */
export function unary(g: GraphBuilder, op: UnaryOp, x: Value, name?: string): Value {
  if (op !== 'Identity' && op !== 'Neg' && op !== 'Abs' && op !== 'Sign' && op !== 'Relu') floating(op, x);
  return one(g.node(op, [x], [x.type], named(name)));
}
export const neg = (g: GraphBuilder, x: Value, name?: string): Value => unary(g, 'Neg', x, name);
export const abs = (g: GraphBuilder, x: Value, name?: string): Value => unary(g, 'Abs', x, name);
export const exp = (g: GraphBuilder, x: Value, name?: string): Value => unary(g, 'Exp', x, name);
export const log = (g: GraphBuilder, x: Value, name?: string): Value => unary(g, 'Log', x, name);
export const sqrt = (g: GraphBuilder, x: Value, name?: string): Value => unary(g, 'Sqrt', x, name);
export const reciprocal = (g: GraphBuilder, x: Value, name?: string): Value => unary(g, 'Reciprocal', x, name);
/**
 * ONNX Sigmoid. onnxruntime computes float32 Sigmoid with a vectorised approximation; where the
 * result must match a library's `1 / (1 + exp(-x))` to the last bits, use `logistic` instead.
 */
export const sigmoid = (g: GraphBuilder, x: Value, name?: string): Value => unary(g, 'Sigmoid', x, name);
export const tanh = (g: GraphBuilder, x: Value, name?: string): Value => unary(g, 'Tanh', x, name);
export const identity = (g: GraphBuilder, x: Value, name?: string): Value => unary(g, 'Identity', x, name);

/** Casts to another element type (to STRING and from STRING too). */
export function cast(g: GraphBuilder, x: Value, to: ElemType, name?: string): Value {
  return one(g.node('Cast', [x], [to], { attributes: { to: OnnxType[to] }, ...named(name) }));
}

/**
 * Clips to [min, max] (either bound may be omitted). Bounds are scalars of x's type, made
 * constants here. FLOAT, DOUBLE, INT32, INT64.
 */
export function clip(g: GraphBuilder, x: Value, min: number | undefined, max: number | undefined, name?: string): Value {
  const bound = (v: number | undefined, hint: string): Value | undefined => {
    if (v === undefined) return undefined;
    if (x.type === 'DOUBLE' || x.type === 'FLOAT' || x.type === 'INT64') return g.scalar(v, x.type, hint);
    throw new Error(`Clip: bounds for ${x.type} are not supported by this helper`);
  };
  return one(g.node('Clip', [x, bound(min, 'clip_min'), bound(max, 'clip_max')], [x.type], named(name)));
}

// ---------------------------------------------------------------- comparisons and logic

/** Element-wise comparison → BOOL (broadcasting). NaN compares false (Equal too). */
export function compare(g: GraphBuilder, op: 'Greater' | 'Less' | 'Equal' | 'GreaterOrEqual' | 'LessOrEqual', a: Value, b: Value, name?: string): Value {
  sameType(op, [a, b]);
  return one(g.node(op, [a, b], ['BOOL'], named(name)));
}
export const greater = (g: GraphBuilder, a: Value, b: Value, name?: string): Value => compare(g, 'Greater', a, b, name);
export const less = (g: GraphBuilder, a: Value, b: Value, name?: string): Value => compare(g, 'Less', a, b, name);
export const equal = (g: GraphBuilder, a: Value, b: Value, name?: string): Value => compare(g, 'Equal', a, b, name);

/** Element-wise And / Or / Xor of BOOL tensors. */
export function logical(g: GraphBuilder, op: 'And' | 'Or' | 'Xor', a: Value, b: Value, name?: string): Value {
  if (a.type !== 'BOOL' || b.type !== 'BOOL') throw new Error(`${op}: BOOL inputs needed`);
  return one(g.node(op, [a, b], ['BOOL'], named(name)));
}
export function not(g: GraphBuilder, x: Value, name?: string): Value {
  if (x.type !== 'BOOL') throw new Error('Not: BOOL input needed');
  return one(g.node('Not', [x], ['BOOL'], named(name)));
}

/** BOOL mask of NaN elements (FLOAT, DOUBLE). */
export function isNaN(g: GraphBuilder, x: Value, name?: string): Value {
  floating('IsNaN', x);
  return one(g.node('IsNaN', [x], ['BOOL'], named(name)));
}

/** BOOL mask of ±infinite elements (FLOAT, DOUBLE). */
export function isInf(g: GraphBuilder, x: Value, name?: string): Value {
  floating('IsInf', x);
  return one(g.node('IsInf', [x], ['BOOL'], named(name)));
}

/** cond ? a : b element-wise (broadcasting); a and b of one type (any, STRING too). */
export function where(g: GraphBuilder, cond: Value, a: Value, b: Value, name?: string): Value {
  if (cond.type !== 'BOOL') throw new Error('Where: condition must be BOOL');
  return one(g.node('Where', [cond, a, b], [sameType('Where', [a, b])], named(name)));
}

// ---------------------------------------------------------------- linear algebra

/** Matrix product (numpy matmul semantics). FLOAT, DOUBLE, INT32, INT64. */
export function matMul(g: GraphBuilder, a: Value, b: Value, name?: string): Value {
  return one(g.node('MatMul', [a, b], [sameType('MatMul', [a, b])], named(name)));
}

export interface GemmOptions {
  alpha?: number;
  beta?: number;
  transA?: boolean;
  transB?: boolean;
}

/** alpha·A'·B' + beta·C for 2-D A, B (C broadcast). FLOAT, DOUBLE. */
export function gemm(g: GraphBuilder, a: Value, b: Value, c: Value | undefined, options: GemmOptions = {}, name?: string): Value {
  const type = sameType('Gemm', c === undefined ? [a, b] : [a, b, c]);
  const attributes: Record<string, { float: number } | number> = {};
  if (options.alpha !== undefined) attributes.alpha = { float: options.alpha };
  if (options.beta !== undefined) attributes.beta = { float: options.beta };
  if (options.transA) attributes.transA = 1;
  if (options.transB) attributes.transB = 1;
  return one(g.node('Gemm', [a, b, c], [type], { attributes, ...named(name) }));
}

// ---------------------------------------------------------------- normalisation and reductions

/** Softmax along `axis` (opset 13+: that axis alone). FLOAT, DOUBLE. */
export function softmax(g: GraphBuilder, x: Value, axis = -1, name?: string): Value {
  floating('Softmax', x);
  return one(g.node('Softmax', [x], [x.type], { attributes: { axis }, ...named(name) }));
}

/** LogSoftmax along `axis`. FLOAT, DOUBLE. */
export function logSoftmax(g: GraphBuilder, x: Value, axis = -1, name?: string): Value {
  floating('LogSoftmax', x);
  return one(g.node('LogSoftmax', [x], [x.type], { attributes: { axis }, ...named(name) }));
}

export interface ArgOptions {
  axis?: number;
  /** Keep the reduced axis as size 1 (ONNX default true; here default false). */
  keepdims?: boolean;
  /** Last index among equal maxima (ONNX default, and numpy's, is the first). */
  selectLastIndex?: boolean;
}

/** Index of the maximum along an axis → INT64 (first maximum, as numpy.argmax). NaN is not handled like numpy. */
export function argMax(g: GraphBuilder, x: Value, options: ArgOptions = {}, name?: string): Value {
  return arg(g, 'ArgMax', x, options, name);
}
export function argMin(g: GraphBuilder, x: Value, options: ArgOptions = {}, name?: string): Value {
  return arg(g, 'ArgMin', x, options, name);
}
function arg(g: GraphBuilder, op: string, x: Value, options: ArgOptions, name?: string): Value {
  const attributes = {
    axis: options.axis ?? 1,
    keepdims: options.keepdims ? 1 : 0,
    select_last_index: options.selectLastIndex ? 1 : 0,
  };
  return one(g.node(op, [x], ['INT64'], { attributes, ...named(name) }));
}

/**
 * Reduction over `axes` (all axes when empty). Written for the model's opset: ReduceSum takes
 * axes as an input from opset 13, the others from opset 18 (before, an attribute).
 */
export function reduce(
  g: GraphBuilder,
  op: 'ReduceSum' | 'ReduceMax' | 'ReduceMin' | 'ReduceMean' | 'ReduceProd' | 'ReduceLogSumExp',
  x: Value,
  axes: number[],
  keepdims = false,
  name?: string,
): Value {
  const axesAsInput = op === 'ReduceSum' ? g.opset >= 13 : g.opset >= 18;
  const attributes: Record<string, number | number[]> = { keepdims: keepdims ? 1 : 0 };
  const inputs: (Value | undefined)[] = [x];
  if (axes.length > 0) {
    if (axesAsInput) inputs.push(g.constInt64(axes, [axes.length], 'axes'));
    else attributes.axes = axes;
  }
  return one(g.node(op, inputs, [x.type], { attributes, ...named(name) }));
}
export const reduceSum = (g: GraphBuilder, x: Value, axes: number[], keepdims = false, name?: string): Value =>
  reduce(g, 'ReduceSum', x, axes, keepdims, name);
export const reduceMax = (g: GraphBuilder, x: Value, axes: number[], keepdims = false, name?: string): Value =>
  reduce(g, 'ReduceMax', x, axes, keepdims, name);

export interface CumSumOptions {
  exclusive?: boolean;
  reverse?: boolean;
}

/**
 * Running sum along `axis`. onnxruntime adds the elements one after the other in the element
 * type (FLOAT, DOUBLE, INT32, INT64), so `x0 + x1 + …` is rounded exactly as a sequential loop
 * rounds it: the tree emitter relies on this to reproduce a library's summation order.
 */
export function cumSum(g: GraphBuilder, x: Value, axis: number, options: CumSumOptions = {}, name?: string): Value {
  const attributes: Record<string, number> = {};
  if (options.exclusive) attributes.exclusive = 1;
  if (options.reverse) attributes.reverse = 1;
  const axisValue = g.constInt64([axis], [], 'cumsum_axis');
  return one(g.node('CumSum', [x, axisValue], [x.type], { attributes, ...named(name) }));
}

// ---------------------------------------------------------------- shapes and indexing

/** Gathers slices of `data` along `axis` at `indices` (INT64/INT32; negative counts from the end). */
export function gather(g: GraphBuilder, data: Value, indices: Value, axis = 0, name?: string): Value {
  if (!INDEX.has(indices.type)) throw new Error(`Gather: indices ${indices.name} are ${indices.type}`);
  return one(g.node('Gather', [data, indices], [data.type], { attributes: { axis }, ...named(name) }));
}

/** GatherElements: out[i][j] = data[index[i][j]][j] along `axis` (same rank as data). */
export function gatherElements(g: GraphBuilder, data: Value, indices: Value, axis = 0, name?: string): Value {
  if (!INDEX.has(indices.type)) throw new Error(`GatherElements: indices ${indices.name} are ${indices.type}`);
  return one(g.node('GatherElements', [data, indices], [data.type], { attributes: { axis }, ...named(name) }));
}

/** Concatenates along `axis`; all inputs of one type. */
export function concat(g: GraphBuilder, values: Value[], axis: number, name?: string): Value {
  if (values.length === 0) throw new Error('Concat: no inputs');
  return one(g.node('Concat', values, [sameType('Concat', values)], { attributes: { axis }, ...named(name) }));
}

/** Reshapes to `shape` (0 copies the input dim, -1 is inferred), given as constants. */
export function reshape(g: GraphBuilder, x: Value, shape: number[], name?: string): Value {
  return one(g.node('Reshape', [x, g.constInt64(shape, [shape.length], 'shape')], [x.type], named(name)));
}

/** Flattens to 2-D: dims before `axis` become rows. */
export function flatten(g: GraphBuilder, x: Value, axis = 1, name?: string): Value {
  return one(g.node('Flatten', [x], [x.type], { attributes: { axis }, ...named(name) }));
}

/** Removes the size-1 `axes`. */
export function squeeze(g: GraphBuilder, x: Value, axes: number[], name?: string): Value {
  return one(g.node('Squeeze', [x, g.constInt64(axes, [axes.length], 'axes')], [x.type], named(name)));
}

/** Inserts size-1 `axes`. */
export function unsqueeze(g: GraphBuilder, x: Value, axes: number[], name?: string): Value {
  return one(g.node('Unsqueeze', [x, g.constInt64(axes, [axes.length], 'axes')], [x.type], named(name)));
}

/** Permutes dims. */
export function transpose(g: GraphBuilder, x: Value, perm: number[], name?: string): Value {
  return one(g.node('Transpose', [x], [x.type], { attributes: { perm }, ...named(name) }));
}

/** x[starts:ends:steps] along `axes` (constants). */
export function slice(g: GraphBuilder, x: Value, starts: number[], ends: number[], axes?: number[], steps?: number[], name?: string): Value {
  const inputs: (Value | undefined)[] = [x, g.constInt64(starts, [starts.length], 'starts'), g.constInt64(ends, [ends.length], 'ends')];
  if (axes !== undefined) inputs.push(g.constInt64(axes, [axes.length], 'axes'));
  if (steps !== undefined) {
    if (axes === undefined) throw new Error('Slice: steps need axes');
    inputs.push(g.constInt64(steps, [steps.length], 'steps'));
  }
  return one(g.node('Slice', inputs, [x.type], named(name)));
}

/** The shape of x as a 1-D INT64 tensor. */
export function shapeOf(g: GraphBuilder, x: Value, name?: string): Value {
  return one(g.node('Shape', [x], ['INT64'], named(name)));
}

/** Broadcasts x to `shape` (an INT64 1-D value). */
export function expand(g: GraphBuilder, x: Value, shape: Value, name?: string): Value {
  return one(g.node('Expand', [x, shape], [x.type], named(name)));
}

/** Repeats x `repeats` times along each axis (INT64 1-D value). */
export function tile(g: GraphBuilder, x: Value, repeats: Value, name?: string): Value {
  return one(g.node('Tile', [x, repeats], [x.type], named(name)));
}

// ---------------------------------------------------------------- composites

/**
 * The logistic function written as `1 / (1 + exp(-x))`, the formula scipy's `expit` and XGBoost's
 * `Sigmoid` evaluate, in x's precision (FLOAT or DOUBLE). Unlike ONNX Sigmoid (approximated for
 * float32 in onnxruntime), this rounds like those libraries, so `p > 0.5` decisions agree.
 */
export function logistic(g: GraphBuilder, x: Value, name?: string): Value {
  const type = floating('logistic', x);
  const oneValue = g.scalar(1, type === 'DOUBLE' ? 'DOUBLE' : 'FLOAT', 'one');
  const denominator = add(g, oneValue, exp(g, neg(g, x)));
  return div(g, oneValue, denominator, name);
}

/**
 * Labels for class indices: `labels[index]` (numpy's `classes_.take(index)`) as INT64 or STRING.
 * `index` is INT64 of any shape.
 */
export function takeLabels(g: GraphBuilder, index: Value, labels: { kind: 'int64'; values: bigint[] } | { kind: 'string'; values: string[] }, name?: string): Value {
  const table = labels.kind === 'int64' ? g.constInt64(labels.values, [labels.values.length], 'classes') : g.constString(labels.values, [labels.values.length], 'classes');
  return gather(g, table, index, 0, name);
}
