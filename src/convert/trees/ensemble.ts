// A normalised tree-ensemble description shared by the scikit-learn and XGBoost converters, its
// validation, and a reference evaluator in plain TypeScript that defines the semantics exactly
// (the ONNX graph emitted by emit.ts computes the same numbers, bit for bit).
//
// Trees are held as parallel arrays, the layout both libraries use (sklearn's `tree_`
// children_left/children_right/feature/threshold/value, XGBoost's left_children/right_children/
// split_indices/split_conditions/default_left), so big forests cost no per-node objects.
import { ConversionError } from '../model.js';

/** The comparison that sends a row to the left child: sklearn `x <= t`, XGBoost `x < t`. */
export type SplitMode = '<=' | '<';

export interface Tree {
  /** Per node: index of the left child, or -1 for a leaf. The root is node 0. */
  left: ArrayLike<number>;
  /** Per node: index of the right child (not read for leaves). */
  right: ArrayLike<number>;
  /** Per node: the feature (column) compared (not read for leaves). */
  feature: ArrayLike<number>;
  /** Per node: the threshold, compared in float64 with the (possibly float32-rounded) feature. */
  threshold: ArrayLike<number>;
  /**
   * Per node: 1 when a NaN feature goes left, 0 when it goes right. Omitted: every NaN goes right
   * (where the comparison, false for NaN, sends it).
   */
  missingGoesLeft?: ArrayLike<number>;
  /**
   * Leaf values, row-major [nodes × k] where k = targets.length (or nTargets when targets is
   * omitted); only the rows of leaves are read. A classifier tree of sklearn has one value per
   * class; a boosted tree has k = 1.
   */
  values: ArrayLike<number>;
  /** The ensemble targets this tree's k values add to, in order; default every target 0..nTargets-1. */
  targets?: readonly number[];
}

export interface TreeEnsembleSpec {
  /** The estimator, named in errors (e.g. `xgboost.sklearn.XGBClassifier`). */
  estimator: string;
  /** Columns of X; every feature index must be below it. */
  nFeatures: number;
  /** Outputs per row: classes of a forest classifier, 1 for a regressor or binary booster, K for a K-class booster. */
  nTargets: number;
  trees: readonly Tree[];
  /** Comparison sending a row left, for every split. */
  mode: SplitMode;
  /**
   * How features meet thresholds: 'float32' rounds X to float32 first (sklearn trees cast X to
   * float32 and compare with float64 thresholds; XGBoost compares float32 with float32, whose
   * thresholds are exact in float64), 'float64' compares X as given (HistGradientBoosting).
   */
  featurePrecision: 'float32' | 'float64';
  /**
   * Precision of the sum: 'float64' (sklearn) or 'float32' (XGBoost, which keeps predictions in
   * float). Leaf and base values are rounded to it first. The sum is taken tree after tree, in
   * the order of `trees`, each addition rounded, as the libraries' loops do.
   */
  accumulation: 'float32' | 'float64';
  /**
   * 'sum': out[t] = base[t] + v₀[t] + v₁[t] + … (left to right; GradientBoosting with its leaf
   * values already multiplied by the learning rate, HistGradientBoosting, XGBoost with base_score);
   * 'average': out[t] = (0 + v₀[t] + v₁[t] + …) / trees.length + base[t] (RandomForest, ExtraTrees;
   * base added only when given).
   */
  aggregation: 'sum' | 'average';
  /** Per target; default zeros. */
  baseValues?: ArrayLike<number>;
}

/** What validation learned about a tree, for the emitter. */
export interface CheckedTree {
  tree: Tree;
  /** Targets its values go to (tree.targets or all). */
  targets: readonly number[];
  /** Reachable nodes in depth-first order from the root. */
  reachable: Int32Array;
  leafCount: number;
}

function fail(spec: TreeEnsembleSpec, field: string, problem: string): never {
  throw new ConversionError(spec.estimator, problem, { field });
}

function isIndex(v: number, limit: number): boolean {
  return Number.isInteger(v) && v >= 0 && v < limit;
}

function isPositiveInteger(v: number): boolean {
  return Number.isSafeInteger(v) && v > 0;
}

/**
 * Checks a spec completely (shapes, indices in range, every reachable node reached once, finite
 * leaf values) so the emitter and ONNX Runtime never see a malformed ensemble. Throws
 * ConversionError naming the tree, node and field.
 */
export function checkEnsemble(spec: TreeEnsembleSpec): CheckedTree[] {
  if (!isPositiveInteger(spec.nFeatures)) fail(spec, 'nFeatures', `must be a positive integer, got ${spec.nFeatures}`);
  if (!isPositiveInteger(spec.nTargets)) fail(spec, 'nTargets', `must be a positive integer, got ${spec.nTargets}`);
  if (spec.trees.length === 0) fail(spec, 'trees', 'the ensemble has no trees');
  if (spec.baseValues !== undefined) {
    if (spec.baseValues.length !== spec.nTargets) fail(spec, 'baseValues', `${spec.baseValues.length} values for ${spec.nTargets} targets`);
    for (let t = 0; t < spec.nTargets; t++) {
      if (!Number.isFinite(spec.baseValues[t])) fail(spec, `baseValues[${t}]`, `is not finite (${spec.baseValues[t]})`);
    }
  }
  const allTargets = Array.from({ length: spec.nTargets }, (_, i) => i);
  return spec.trees.map((tree, ti) => checkTree(spec, tree, ti, allTargets));
}

function checkTree(spec: TreeEnsembleSpec, tree: Tree, ti: number, allTargets: number[]): CheckedTree {
  const at = (field: string): string => `trees[${ti}].${field}`;
  const n = tree.left.length;
  if (n === 0) fail(spec, at('left'), 'the tree has no nodes');
  for (const [field, array] of [['right', tree.right], ['feature', tree.feature], ['threshold', tree.threshold]] as const) {
    if (array.length !== n) fail(spec, at(field), `has ${array.length} entries for ${n} nodes`);
  }
  if (tree.missingGoesLeft !== undefined && tree.missingGoesLeft.length !== n) {
    fail(spec, at('missingGoesLeft'), `has ${tree.missingGoesLeft.length} entries for ${n} nodes`);
  }
  const targets = tree.targets ?? allTargets;
  if (targets.length === 0) fail(spec, at('targets'), 'is empty');
  const seenTargets = new Set<number>();
  for (const t of targets) {
    if (!isIndex(t, spec.nTargets)) fail(spec, at('targets'), `target ${t} is not in [0, ${spec.nTargets})`);
    if (seenTargets.has(t)) fail(spec, at('targets'), `target ${t} appears twice`);
    seenTargets.add(t);
  }
  const k = targets.length;
  if (tree.values.length !== n * k) fail(spec, at('values'), `has ${tree.values.length} entries, expected ${n} nodes × ${k} targets`);

  const visited = new Uint8Array(n);
  const order = new Int32Array(n);
  let count = 0;
  let leaves = 0;
  const stack = [0];
  visited[0] = 1;
  while (stack.length > 0) {
    const i = stack.pop() as number;
    order[count++] = i;
    const l = tree.left[i];
    if (l === -1) {
      leaves++;
      for (let j = 0; j < k; j++) {
        const v = tree.values[i * k + j];
        if (!Number.isFinite(v)) fail(spec, at(`values[${i * k + j}]`), `leaf ${i} has a non-finite value (${v})`);
      }
      continue;
    }
    const r = tree.right[i];
    const f = tree.feature[i];
    const threshold = tree.threshold[i];
    if (!isIndex(f, spec.nFeatures)) fail(spec, at(`feature[${i}]`), `node ${i} splits on feature ${f}, the model has ${spec.nFeatures}`);
    if (Number.isNaN(threshold)) fail(spec, at(`threshold[${i}]`), `node ${i} has a NaN threshold`);
    for (const child of [l, r]) {
      if (!isIndex(child, n)) fail(spec, at(`left/right[${i}]`), `node ${i} has child ${child}, the tree has ${n} nodes`);
      if (visited[child]) fail(spec, at(`left/right[${i}]`), `node ${child} is reached twice (not a tree)`);
      visited[child] = 1;
    }
    // Right first so the left subtree comes first in depth-first order.
    stack.push(r, l);
  }
  return { tree, targets, reachable: order.slice(0, count), leafCount: leaves };
}

/** Rounds to the accumulation precision. */
export function roundTo(precision: 'float32' | 'float64', v: number): number {
  return precision === 'float32' ? Math.fround(v) : v;
}

/** Index of the leaf a row reaches in a (checked) tree. */
export function leafOf(tree: Tree, mode: SplitMode, row: (feature: number) => number): number {
  let i = 0;
  for (;;) {
    const l = tree.left[i];
    if (l === -1) return i;
    const x = row(tree.feature[i]);
    let goLeft: boolean;
    if (Number.isNaN(x)) goLeft = tree.missingGoesLeft !== undefined && tree.missingGoesLeft[i] === 1;
    else goLeft = mode === '<=' ? x <= tree.threshold[i] : x < tree.threshold[i];
    i = goLeft ? l : tree.right[i];
  }
}

/**
 * Evaluates the ensemble on `rows` (row-major [n × nFeatures]) exactly as the spec defines it:
 * the reference the ONNX graph is tested against. Returns row-major [n × nTargets].
 */
export function evaluateEnsemble(spec: TreeEnsembleSpec, rows: ArrayLike<number>): Float64Array {
  const checked = checkEnsemble(spec);
  const F = spec.nFeatures;
  const T = spec.nTargets;
  const n = rows.length / F;
  const out = new Float64Array(n * T);
  const r = (v: number): number => roundTo(spec.accumulation, v);
  const base = (t: number): number => r(spec.baseValues?.[t] ?? 0);
  for (let row = 0; row < n; row++) {
    const feature = (f: number): number => {
      const v = rows[row * F + f];
      return spec.featurePrecision === 'float32' ? Math.fround(v) : v;
    };
    const acc = new Float64Array(T);
    if (spec.aggregation === 'sum') for (let t = 0; t < T; t++) acc[t] = base(t);
    for (const { tree, targets } of checked) {
      const leaf = leafOf(tree, spec.mode, feature);
      const k = targets.length;
      for (let j = 0; j < k; j++) acc[targets[j]] = r(acc[targets[j]] + r(tree.values[leaf * k + j]));
    }
    for (let t = 0; t < T; t++) {
      let v = acc[t];
      if (spec.aggregation === 'average') {
        v = r(v / r(checked.length));
        if (spec.baseValues !== undefined) v = r(v + base(t));
      }
      out[row * T + t] = v;
    }
  }
  return out;
}
