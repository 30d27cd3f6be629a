// Tree ensemble → ONNX, reproducing the libraries' arithmetic exactly rather than approximately.
//
// Layout of the emitted graph:
//   X ─Cast→ (float32 ─Cast→) float64 ─TreeEnsemble(ml 5, double thresholds)→ per-tree outputs
//     ─(Reshape, or leaf-table Gather)→ per-tree values ─CumSum over trees→ last → [N, targets]
//
// Why per-tree outputs and CumSum instead of letting TreeEnsemble sum: TreeEnsemble adds the trees
// in an order of its own (it parallelises over trees), and a different order rounds differently;
// ties between classes (a forest voting 0.5/0.5 after rounding) and float32 boosting sums would
// then differ from the library's in the last bits, enough to flip a label. Here every tree writes
// its leaf value to its own TreeEnsemble target (0 + value is exact), and CumSum, which
// onnxruntime evaluates as a sequential loop in the element type, adds them in tree order, in
// float64 (sklearn) or float32 (XGBoost), starting from the base value.
//
// Two layouts of the per-tree outputs:
// - direct (every tree adds to a single target, as in boosting): the leaf weight is the leaf
//   value; tree j of target t writes slot t·W + j, so a Reshape gives [N, targets, W], summed
//   along axis 2.
// - leaf table (some tree has a value per class, as sklearn forest classifiers): the leaf weight
//   is the leaf's row in a [leaves, targets] table of values, gathered into [N, trees, targets]
//   and summed along axis 1.
import { add, cast, cumSum, div, gather, identity, reshape } from '../onnx/ops.js';
import { treeEnsemble, TREE_NODE_MODE } from '../onnx/ml.js';
import type { GraphBuilder, Value } from '../onnx/graph.js';
import { checkEnsemble, roundTo, type CheckedTree, type TreeEnsembleSpec } from './ensemble.js';

/** Flat TreeEnsemble arrays being filled. */
class FlatEnsemble {
  readonly roots: number[] = [];
  readonly featureIds: number[] = [];
  readonly modes: number[] = [];
  readonly splits: number[] = [];
  readonly trueIds: number[] = [];
  readonly trueLeafs: number[] = [];
  readonly falseIds: number[] = [];
  readonly falseLeafs: number[] = [];
  readonly missingTrue: number[] = [];
  readonly leafTargets: number[] = [];
  readonly leafWeights: number[] = [];

  constructor(private readonly mode: number) {}

  private leaf(target: number, weight: number): number {
    this.leafTargets.push(target);
    this.leafWeights.push(weight);
    return this.leafTargets.length - 1;
  }

  private branch(): number {
    this.featureIds.push(0);
    this.modes.push(this.mode);
    this.splits.push(0);
    this.trueIds.push(0);
    this.trueLeafs.push(0);
    this.falseIds.push(0);
    this.falseLeafs.push(0);
    this.missingTrue.push(0);
    return this.featureIds.length - 1;
  }

  /** A tree that always writes `weight` to `target`: a branch whose two sides are the same leaf. */
  addConstantTree(target: number, weight: number): void {
    const b = this.branch();
    const l = this.leaf(target, weight);
    this.trueIds[b] = l;
    this.trueLeafs[b] = 1;
    this.falseIds[b] = l;
    this.falseLeafs[b] = 1;
    this.roots.push(b);
  }

  /** Adds a checked tree; each leaf writes `weightOf(node)` to `target`. */
  addTree(checked: CheckedTree, target: number, weightOf: (node: number) => number): void {
    const { tree, reachable } = checked;
    if (tree.left[0] === -1) {
      this.addConstantTree(target, weightOf(0));
      return;
    }
    // Branch ids and leaf ids of the reachable nodes, then the links between them.
    const id = new Map<number, number>();
    for (const i of reachable) id.set(i, tree.left[i] === -1 ? this.leaf(target, weightOf(i)) : this.branch());
    for (const i of reachable) {
      if (tree.left[i] === -1) continue;
      const b = id.get(i) as number;
      const l = tree.left[i];
      const r = tree.right[i];
      this.featureIds[b] = tree.feature[i];
      this.splits[b] = tree.threshold[i];
      this.trueIds[b] = id.get(l) as number;
      this.trueLeafs[b] = tree.left[l] === -1 ? 1 : 0;
      this.falseIds[b] = id.get(r) as number;
      this.falseLeafs[b] = tree.left[r] === -1 ? 1 : 0;
      this.missingTrue[b] = tree.missingGoesLeft?.[i] === 1 ? 1 : 0;
    }
    this.roots.push(id.get(0) as number);
  }

  emit(g: GraphBuilder, x: Value, nTargets: number): Value {
    return treeEnsemble(g, x, {
      nTargets,
      treeRoots: this.roots,
      nodesFeatureIds: this.featureIds,
      nodesModes: Uint8Array.from(this.modes),
      nodesSplits: Float64Array.from(this.splits),
      nodesTrueNodeIds: this.trueIds,
      nodesTrueLeafs: this.trueLeafs,
      nodesFalseNodeIds: this.falseIds,
      nodesFalseLeafs: this.falseLeafs,
      nodesMissingValueTracksTrue: this.missingTrue,
      leafTargetIds: this.leafTargets,
      leafWeights: Float64Array.from(this.leafWeights),
      aggregate: 'sum',
    });
  }

  get nodeCount(): number {
    return this.featureIds.length;
  }
}

/** Sizes of what was emitted, for descriptions and logs. */
export interface EmittedEnsemble {
  /** [N, nTargets] scores: DOUBLE when accumulation is float64, FLOAT when float32. */
  scores: Value;
  trees: number;
  /** Branch nodes and leaves in the TreeEnsemble node (including helper trees). */
  branches: number;
  leaves: number;
  layout: 'direct' | 'leaf-table';
}

/**
 * Adds the ensemble to the graph, reading features from `x` ([N, nFeatures], FLOAT or DOUBLE), and
 * returns its [N, nTargets] scores, before any link function (apply logistic/softmax from
 * onnx/ops.ts as the library does). Equal to `evaluateEnsemble(spec, rows)` for every row.
 * Throws ConversionError when the spec is malformed.
 */
export function emitTreeEnsemble(g: GraphBuilder, x: Value, spec: TreeEnsembleSpec, name?: string): EmittedEnsemble {
  const checked = checkEnsemble(spec);
  if (x.type !== 'FLOAT' && x.type !== 'DOUBLE') throw new Error(`tree ensemble input ${x.name} is ${x.type}, FLOAT or DOUBLE is needed`);
  const accType = spec.accumulation === 'float32' ? 'FLOAT' : 'DOUBLE';
  const r = (v: number): number => roundTo(spec.accumulation, v);

  // Features as TreeEnsemble compares them: float64, after float32 rounding when asked.
  let features = x;
  if (spec.featurePrecision === 'float32' && x.type === 'DOUBLE') features = cast(g, features, 'FLOAT');
  features = cast(g, features, 'DOUBLE');

  const T = spec.nTargets;
  const base = Array.from({ length: T }, (_, t) => r(spec.baseValues?.[t] ?? 0));
  // A sum starts from its base; an average from 0 (base added after the division).
  const startWithBase = spec.aggregation === 'sum' && base.some((v) => v !== 0);
  const flat = new FlatEnsemble(TREE_NODE_MODE[spec.mode]);
  const direct = checked.every((c) => c.targets.length === 1);

  let perTree: Value; // per-tree values in the accumulation type, summed along sumAxis
  let sumAxis: number;
  let width: number;
  if (direct) {
    const count = new Array<number>(T).fill(0);
    for (const c of checked) count[c.targets[0]]++;
    const offset = startWithBase ? 1 : 0;
    width = Math.max(...count) + offset;
    if (startWithBase) for (let t = 0; t < T; t++) flat.addConstantTree(t * width, base[t]);
    const next = new Array<number>(T).fill(0);
    for (const c of checked) {
      const t = c.targets[0];
      const slot = t * width + offset + next[t]++;
      flat.addTree(c, slot, (node) => r(c.tree.values[node]));
    }
    // Slots of targets with fewer trees stay 0, and adding 0 changes no sum.
    const slots = flat.emit(g, features, T * width);
    const typed = accType === 'FLOAT' ? cast(g, slots, 'FLOAT') : slots;
    perTree = reshape(g, typed, [0, T, width]);
    sumAxis = 2;
  } else {
    // Leaf table: row 0 holds the base (or zeros), then one row per leaf.
    const table: number[] = [...base];
    const rowOf = (c: CheckedTree, node: number): number => {
      const row = table.length / T;
      const values = new Array<number>(T).fill(0);
      const k = c.targets.length;
      for (let j = 0; j < k; j++) values[c.targets[j]] = r(c.tree.values[node * k + j]);
      table.push(...values);
      return row;
    };
    let slot = 0;
    if (startWithBase) flat.addConstantTree(slot++, 0);
    for (const c of checked) {
      const s = slot++;
      flat.addTree(c, s, (node) => rowOf(c, node));
    }
    width = slot;
    const rows = flat.emit(g, features, width); // [N, W] of table rows, exact integers in float64
    const tableValue = accType === 'FLOAT' ? g.constFloat(table, [table.length / T, T], 'leaf_values') : g.constDouble(table, [table.length / T, T], 'leaf_values');
    perTree = gather(g, tableValue, cast(g, rows, 'INT64'), 0); // [N, W, T]
    sumAxis = 1;
  }

  let scores: Value;
  if (width === 1) {
    scores = reshape(g, perTree, [0, T]);
  } else {
    const sums = cumSum(g, perTree, sumAxis);
    scores = gather(g, sums, g.constInt64([width - 1], [], 'last'), sumAxis); // [N, T]
  }
  if (spec.aggregation === 'average') {
    scores = div(g, scores, g.scalar(r(checked.length), accType, 'tree_count'));
    if (spec.baseValues !== undefined) scores = add(g, scores, accType === 'FLOAT' ? g.constFloat(base, [T], 'base') : g.constDouble(base, [T], 'base'));
  }
  if (name !== undefined) scores = identity(g, scores, name);
  return {
    scores,
    trees: checked.length,
    branches: flat.nodeCount,
    leaves: flat.leafTargets.length,
    layout: direct ? 'direct' : 'leaf-table',
  };
}
