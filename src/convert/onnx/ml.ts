// Typed helpers for the ai.onnx.ml operators converters may use. Each declares the ai.onnx.ml
// opset it needs; the model imports the highest one any node needs.
//
// Precision: LinearClassifier, LinearRegressor, Scaler, Normalizer and OneHotEncoder produce FLOAT
// (float32) outputs, and every `floats` attribute is stored as float32. Where a library computes in
// float64 (scikit-learn's linear models, scalers), build the arithmetic from ops.ts in DOUBLE
// instead (MatMul/Gemm/Sub/Div with DOUBLE constants); these helpers are for float32 models.
//
// The legacy TreeEnsembleRegressor/TreeEnsembleClassifier are not offered: onnxruntime refuses them
// in a model importing ai.onnx.ml 5 ("deprecated in domain_version of 5"), and TreeEnsemble (ml 5)
// does everything they did with double thresholds and leaf weights. Use src/convert/trees/.
import { ML_DOMAIN, type AttributeValue, type ElemType, type GraphBuilder, type Value } from './graph.js';

export type PostTransform = 'NONE' | 'SOFTMAX' | 'LOGISTIC' | 'SOFTMAX_ZERO' | 'PROBIT';

/** Class labels for ml operators: int64 (as numbers, which must be safe integers) or strings. */
export type MlLabels = { kind: 'int64'; values: number[] } | { kind: 'string'; values: string[] };

function labelAttributes(prefix: 'classlabels', labels: MlLabels): Record<string, number[] | { strings: string[] }> {
  return labels.kind === 'int64' ? { [`${prefix}_ints`]: labels.values } : { [`${prefix}_strings`]: { strings: labels.values } };
}

export interface LinearClassifierOptions {
  /** [classes × features], row-major. */
  coefficients: number[];
  /** One per class. */
  intercepts: number[];
  labels: MlLabels;
  /** 1: one-vs-rest scores (multi_class attribute). */
  multiClass?: 0 | 1;
  postTransform?: PostTransform;
}

/**
 * ai.onnx.ml LinearClassifier (ml 1): X (FLOAT/DOUBLE/INT64/INT32) → [label (INT64 or STRING),
 * scores (FLOAT [N, classes])]. Coefficients are float32.
 */
export function linearClassifier(g: GraphBuilder, x: Value, options: LinearClassifierOptions, names?: [string, string]): [Value, Value] {
  const [label, scores] = g.node('LinearClassifier', [x], [options.labels.kind === 'int64' ? 'INT64' : 'STRING', 'FLOAT'], {
    domain: ML_DOMAIN,
    mlOpset: 1,
    attributes: {
      coefficients: { floats: options.coefficients },
      intercepts: { floats: options.intercepts },
      multi_class: options.multiClass ?? 0,
      post_transform: options.postTransform ?? 'NONE',
      ...labelAttributes('classlabels', options.labels),
    },
    ...(names === undefined ? {} : { names }),
  });
  return [label, scores];
}

export interface LinearRegressorOptions {
  /** [targets × features], row-major. */
  coefficients: number[];
  intercepts?: number[];
  targets?: number;
  postTransform?: PostTransform;
}

/** ai.onnx.ml LinearRegressor (ml 1): X → FLOAT [N, targets]. Coefficients are float32. */
export function linearRegressor(g: GraphBuilder, x: Value, options: LinearRegressorOptions, name?: string): Value {
  return g.node('LinearRegressor', [x], ['FLOAT'], {
    domain: ML_DOMAIN,
    mlOpset: 1,
    attributes: {
      coefficients: { floats: options.coefficients },
      ...(options.intercepts === undefined ? {} : { intercepts: { floats: options.intercepts } }),
      targets: options.targets ?? 1,
      post_transform: options.postTransform ?? 'NONE',
    },
    ...(name === undefined ? {} : { names: [name] }),
  })[0];
}

/** ai.onnx.ml Scaler (ml 1): (X − offset) × scale per column → FLOAT. */
export function scaler(g: GraphBuilder, x: Value, offset: number[], scale: number[], name?: string): Value {
  return g.node('Scaler', [x], ['FLOAT'], {
    domain: ML_DOMAIN,
    mlOpset: 1,
    attributes: { offset: { floats: offset }, scale: { floats: scale } },
    ...(name === undefined ? {} : { names: [name] }),
  })[0];
}

/**
 * ai.onnx.ml Imputer (ml 1): replaces `replaced` (NaN by default) with a per-column value. FLOAT
 * input with float values, or INT64 input with integer values; output of the input's type.
 */
export function imputer(
  g: GraphBuilder,
  x: Value,
  values: { floats: number[]; replaced?: number } | { int64s: number[]; replaced: number },
  name?: string,
): Value {
  const attributes: Record<string, AttributeValue> =
    'floats' in values
      ? { imputed_value_floats: { floats: values.floats }, replaced_value_float: { float: values.replaced ?? Number.NaN } }
      : { imputed_value_int64s: { ints: values.int64s }, replaced_value_int64: { int: values.replaced } };
  if ('floats' in values && x.type !== 'FLOAT') throw new Error(`Imputer: float values need a FLOAT input, got ${x.type}`);
  if ('int64s' in values && x.type !== 'INT64') throw new Error(`Imputer: int64 values need an INT64 input, got ${x.type}`);
  return g.node('Imputer', [x], [x.type], {
    domain: ML_DOMAIN,
    mlOpset: 1,
    attributes,
    ...(name === undefined ? {} : { names: [name] }),
  })[0];
}

/**
 * ai.onnx.ml OneHotEncoder (ml 1): X (INT64/INT32/FLOAT/DOUBLE/STRING, [N] or [N, 1]) → FLOAT with a
 * last axis of categories. `zeros` 1 (default) gives all-zero rows for unknown categories, 0 fails.
 */
export function oneHotEncoder(g: GraphBuilder, x: Value, categories: MlLabels, zeros: 0 | 1 = 1, name?: string): Value {
  const cats: Record<string, AttributeValue> = categories.kind === 'int64' ? { cats_int64s: categories.values } : { cats_strings: { strings: categories.values } };
  return g.node('OneHotEncoder', [x], ['FLOAT'], {
    domain: ML_DOMAIN,
    mlOpset: 1,
    attributes: { ...cats, zeros },
    ...(name === undefined ? {} : { names: [name] }),
  })[0];
}

export type LabelEncoderKeys = { int64s: number[] } | { strings: string[] } | { floats: number[] };
export type LabelEncoderValues =
  | { int64s: number[]; default?: number }
  | { strings: string[]; default?: string }
  | { floats: number[]; default?: number };

/**
 * ai.onnx.ml LabelEncoder (ml 2 attributes): maps keys to values element-wise; unknown keys get
 * the default (-1, "_Unused" or -0.0 as in the spec unless given). Output type follows the values.
 */
export function labelEncoder(g: GraphBuilder, x: Value, keys: LabelEncoderKeys, values: LabelEncoderValues, name?: string): Value {
  const attributes: Record<string, number[] | { strings: string[] } | { floats: number[] } | { float: number } | { int: number } | string> = {};
  if ('int64s' in keys) attributes.keys_int64s = keys.int64s;
  else if ('strings' in keys) attributes.keys_strings = { strings: keys.strings };
  else attributes.keys_floats = { floats: keys.floats };
  let type: ElemType;
  if ('int64s' in values) {
    attributes.values_int64s = values.int64s;
    if (values.default !== undefined) attributes.default_int64 = { int: values.default };
    type = 'INT64';
  } else if ('strings' in values) {
    attributes.values_strings = { strings: values.strings };
    if (values.default !== undefined) attributes.default_string = values.default;
    type = 'STRING';
  } else {
    attributes.values_floats = { floats: values.floats };
    if (values.default !== undefined) attributes.default_float = { float: values.default };
    type = 'FLOAT';
  }
  return g.node('LabelEncoder', [x], [type], {
    domain: ML_DOMAIN,
    mlOpset: 2,
    attributes,
    ...(name === undefined ? {} : { names: [name] }),
  })[0];
}

/** ai.onnx.ml Normalizer (ml 1): rows scaled by their MAX, L1 or L2 norm → FLOAT. */
export function normalizer(g: GraphBuilder, x: Value, norm: 'MAX' | 'L1' | 'L2', name?: string): Value {
  return g.node('Normalizer', [x], ['FLOAT'], {
    domain: ML_DOMAIN,
    mlOpset: 1,
    attributes: { norm },
    ...(name === undefined ? {} : { names: [name] }),
  })[0];
}

/** ai.onnx.ml Binarizer (ml 1): x > threshold → 1 else 0, in x's type (FLOAT/DOUBLE). */
export function binarizer(g: GraphBuilder, x: Value, threshold: number, name?: string): Value {
  return g.node('Binarizer', [x], [x.type], {
    domain: ML_DOMAIN,
    mlOpset: 1,
    attributes: { threshold: { float: threshold } },
    ...(name === undefined ? {} : { names: [name] }),
  })[0];
}

/** ai.onnx.ml ArrayFeatureExtractor (ml 1): columns `indices` (INT64 value) of the last axis. */
export function arrayFeatureExtractor(g: GraphBuilder, x: Value, indices: Value, name?: string): Value {
  return g.node('ArrayFeatureExtractor', [x, indices], [x.type], {
    domain: ML_DOMAIN,
    mlOpset: 1,
    ...(name === undefined ? {} : { names: [name] }),
  })[0];
}

/** TreeEnsemble (ai.onnx.ml 5) comparison modes, the `nodes_modes` values. */
export const TREE_NODE_MODE = { '<=': 0, '<': 1, '>=': 2, '>': 3, '==': 4, '!=': 5, member: 6 } as const;

/** TreeEnsemble aggregate_function values. */
export const TREE_AGGREGATE = { average: 0, sum: 1, min: 2, max: 3 } as const;

/** TreeEnsemble post_transform values. */
export const TREE_POST_TRANSFORM = { none: 0, softmax: 1, logistic: 2, softmax_zero: 3, probit: 4 } as const;

/**
 * The raw attributes of TreeEnsemble (ai.onnx.ml 5), already in its flat layout: branch nodes and
 * leaves in separate index spaces; each child is a node index or, when the `*leafs` flag is 1, a
 * leaf index. Prefer src/convert/trees/ (emitTreeEnsemble), which builds this from trees.
 */
export interface TreeEnsembleAttributes {
  nTargets: number;
  treeRoots: number[];
  nodesFeatureIds: number[];
  nodesModes: Uint8Array;
  /** Thresholds, in the input's precision: Float64Array for DOUBLE input, Float32Array for FLOAT. */
  nodesSplits: Float64Array | Float32Array;
  nodesTrueNodeIds: number[];
  nodesTrueLeafs: number[];
  nodesFalseNodeIds: number[];
  nodesFalseLeafs: number[];
  /** 1: a NaN feature takes the true branch; 0: the comparison (false for NaN) decides. */
  nodesMissingValueTracksTrue: number[];
  leafTargetIds: number[];
  /** Same array type as nodesSplits. */
  leafWeights: Float64Array | Float32Array;
  aggregate?: keyof typeof TREE_AGGREGATE;
  postTransform?: keyof typeof TREE_POST_TRANSFORM;
}

/**
 * ai.onnx.ml TreeEnsemble (ml 5): X [N, F] (FLOAT or DOUBLE) → [N, nTargets] of the same type.
 * Thresholds and leaf weights are tensors of the input's type, so a DOUBLE input gets float64
 * comparisons and sums. onnxruntime-node 1.30 runs it for FLOAT and DOUBLE.
 */
export function treeEnsemble(g: GraphBuilder, x: Value, a: TreeEnsembleAttributes, name?: string): Value {
  const wantArray = x.type === 'DOUBLE' ? Float64Array : x.type === 'FLOAT' ? Float32Array : undefined;
  if (wantArray === undefined) throw new Error(`TreeEnsemble: input ${x.name} is ${x.type}, FLOAT or DOUBLE is needed`);
  if (!(a.nodesSplits instanceof wantArray) || !(a.leafWeights instanceof wantArray)) {
    throw new Error(`TreeEnsemble: thresholds and leaf weights must be ${wantArray.name} for a ${x.type} input`);
  }
  return g.node('TreeEnsemble', [x], [x.type], {
    domain: ML_DOMAIN,
    mlOpset: 5,
    attributes: {
      n_targets: a.nTargets,
      aggregate_function: TREE_AGGREGATE[a.aggregate ?? 'sum'],
      post_transform: TREE_POST_TRANSFORM[a.postTransform ?? 'none'],
      tree_roots: a.treeRoots,
      nodes_featureids: a.nodesFeatureIds,
      nodes_modes: { tensor: { dims: [a.nodesModes.length], data: a.nodesModes } },
      nodes_splits: { tensor: { dims: [a.nodesSplits.length], data: a.nodesSplits } },
      nodes_truenodeids: a.nodesTrueNodeIds,
      nodes_trueleafs: a.nodesTrueLeafs,
      nodes_falsenodeids: a.nodesFalseNodeIds,
      nodes_falseleafs: a.nodesFalseLeafs,
      nodes_missing_value_tracks_true: a.nodesMissingValueTracksTrue,
      leaf_targetids: a.leafTargetIds,
      leaf_weights: { tensor: { dims: [a.leafWeights.length], data: a.leafWeights } },
    },
    ...(name === undefined ? {} : { names: [name] }),
  })[0];
}
