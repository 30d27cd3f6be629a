// The shared tree-ensemble emitter: the ONNX graph it builds computes exactly (bit for bit) what
// the reference evaluator defines, for every combination of comparison mode, feature precision,
// accumulation precision, aggregation, base values and leaf layout; the reference itself gives
// the known answers of sklearn's and XGBoost's arithmetic; malformed ensembles are refused.
import t from 'tap';
import ort from 'onnxruntime-node';
import { GraphBuilder, argMax } from '../../src/convert/onnx/index.js';
import { emitTreeEnsemble, evaluateEnsemble, type Tree, type TreeEnsembleSpec } from '../../src/convert/trees/index.js';
import { ConversionError } from '../../src/convert/model.js';
import { seededRandom } from '../../src/modelgen/onnx-builder.js';

interface Built {
  session: ort.InferenceSession;
  layout: string;
}

async function build(spec: TreeEnsembleSpec, inputType: 'DOUBLE' | 'FLOAT' = 'DOUBLE'): Promise<Built> {
  const g = new GraphBuilder('trees');
  const x = g.input('x', inputType, ['N', spec.nFeatures]);
  const emitted = emitTreeEnsemble(g, x, spec, 'scores');
  g.output(emitted.scores, 'scores', ['N', spec.nTargets]);
  g.output(argMax(g, emitted.scores, { axis: 1 }), 'label', ['N']);
  return { session: await ort.InferenceSession.create(g.build()), layout: emitted.layout };
}

async function scores(built: Built, rows: number[], nFeatures: number, inputType: 'DOUBLE' | 'FLOAT' = 'DOUBLE'): Promise<number[]> {
  const n = rows.length / nFeatures;
  const x = inputType === 'DOUBLE' ? new ort.Tensor('float64', Float64Array.from(rows), [n, nFeatures]) : new ort.Tensor('float32', Float32Array.from(rows), [n, nFeatures]);
  const out = await built.session.run({ x });
  return Array.from(out.scores.data as Float64Array | Float32Array);
}

/** First index where two float arrays differ bitwise (−0 equals 0), or -1. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

// ---------------------------------------------------------------- random ensembles

/** Thresholds drawn from a small pool so that rows can land exactly on them. */
function pool(rand: () => number): number[] {
  const out: number[] = [];
  for (let i = 0; i < 12; i++) {
    const v = (rand() - 0.5) * 8;
    out.push(i % 3 === 0 ? Math.fround(v) : v); // float32-exact and float64-only thresholds
  }
  out.push(0, 0.1, -2.5);
  return out;
}

function randomTree(rand: () => number, nFeatures: number, maxDepth: number, k: number, thresholds: number[], missing: boolean): Tree {
  const left: number[] = [];
  const right: number[] = [];
  const feature: number[] = [];
  const threshold: number[] = [];
  const missingGoesLeft: number[] = [];
  const values: number[] = [];
  const grow = (depth: number): number => {
    const i = left.length;
    left.push(-1);
    right.push(-1);
    feature.push(0);
    threshold.push(0);
    missingGoesLeft.push(0);
    for (let j = 0; j < k; j++) values.push((rand() - 0.5) * 3);
    if (depth < maxDepth && rand() < 0.8) {
      feature[i] = Math.floor(rand() * nFeatures);
      threshold[i] = thresholds[Math.floor(rand() * thresholds.length)];
      missingGoesLeft[i] = rand() < 0.5 ? 1 : 0;
      left[i] = grow(depth + 1);
      right[i] = grow(depth + 1);
    }
    return i;
  };
  grow(0);
  // An unreachable node (XGBoost keeps pruned nodes in its arrays): must be ignored.
  left.push(-1);
  right.push(-1);
  feature.push(nFeatures - 1);
  threshold.push(0);
  missingGoesLeft.push(0);
  for (let j = 0; j < k; j++) values.push(1e6);
  return { left, right, feature, threshold, values, ...(missing ? { missingGoesLeft } : {}) };
}

function randomRows(rand: () => number, n: number, nFeatures: number, thresholds: number[]): number[] {
  const rows: number[] = [];
  for (let i = 0; i < n * nFeatures; i++) {
    const r = rand();
    const t = thresholds[Math.floor(rand() * thresholds.length)];
    if (r < 0.1) rows.push(Number.NaN);
    else if (r < 0.3) rows.push(t); // exactly on a threshold
    else if (r < 0.4) rows.push(t + Math.abs(t) * 1e-12 * (rand() < 0.5 ? -1 : 1)); // equal after float32 rounding
    else if (r < 0.5) rows.push(Math.fround(t) === t ? t + Math.abs(t || 1) * 2 ** -23 : Math.fround(t)); // neighbours in float32
    else rows.push((rand() - 0.5) * 8);
  }
  return rows;
}

t.test('random ensembles: the graph equals the reference bit for bit in every configuration', async (t) => {
  const rand = seededRandom(2026);
  const nFeatures = 5;
  const nRows = 120;
  let configs = 0;
  for (const mode of ['<=', '<'] as const) {
    for (const featurePrecision of ['float32', 'float64'] as const) {
      for (const accumulation of ['float64', 'float32'] as const) {
        for (const aggregation of ['sum', 'average'] as const) {
          for (const layout of ['single-target', 'multi-target'] as const) {
            for (const withBase of [false, true]) {
              const thresholds = pool(rand);
              const nTargets = 3;
              const trees: Tree[] = [];
              for (let i = 0; i < 9; i++) {
                const depth = i === 0 ? 0 : 1 + Math.floor(rand() * 5); // tree 0 is a single leaf
                if (layout === 'single-target') trees.push({ ...randomTree(rand, nFeatures, depth, 1, thresholds, i % 2 === 0), targets: [i % nTargets] });
                else if (i % 3 === 0) trees.push({ ...randomTree(rand, nFeatures, depth, 2, thresholds, true), targets: [2, 0] });
                else trees.push(randomTree(rand, nFeatures, depth, nTargets, thresholds, i % 2 === 0));
              }
              // Unequal tree counts per target (target 2 gets one more tree) exercise padding.
              if (layout === 'single-target') trees.push({ ...randomTree(rand, nFeatures, 3, 1, thresholds, true), targets: [2] });
              const spec: TreeEnsembleSpec = {
                estimator: `random ${mode} ${featurePrecision} ${accumulation} ${aggregation} ${layout}`,
                nFeatures,
                nTargets,
                trees,
                mode,
                featurePrecision,
                accumulation,
                aggregation,
                ...(withBase ? { baseValues: [0.5, -1.25, 1e-3] } : {}),
              };
              const rows = randomRows(rand, nRows, nFeatures, thresholds);
              const built = await build(spec);
              t.equal(built.layout, layout === 'single-target' ? 'direct' : 'leaf-table');
              const got = await scores(built, rows, nFeatures);
              const want = Array.from(evaluateEnsemble(spec, rows));
              const at = firstDifference(got, want);
              t.equal(at, -1, `${spec.estimator}${withBase ? ' +base' : ''}: ${at < 0 ? 'identical' : `row ${Math.floor(at / nTargets)} target ${at % nTargets}: ${got[at]} vs ${want[at]}`}`);
              configs++;
            }
          }
        }
      }
    }
  }
  t.equal(configs, 64);
});

t.test('a FLOAT input gives the same result as the same values in DOUBLE', async (t) => {
  const rand = seededRandom(7);
  const thresholds = pool(rand).map(Math.fround);
  const trees = Array.from({ length: 6 }, (_, i) => ({ ...randomTree(rand, 4, 4, 1, thresholds, true), targets: [i % 2] }));
  const spec: TreeEnsembleSpec = { estimator: 'float input', nFeatures: 4, nTargets: 2, trees, mode: '<', featurePrecision: 'float32', accumulation: 'float32', aggregation: 'sum', baseValues: [0.5, 0.5] };
  const rows = randomRows(rand, 50, 4, thresholds).map(Math.fround);
  const viaDouble = await scores(await build(spec, 'DOUBLE'), rows, 4, 'DOUBLE');
  const viaFloat = await scores(await build(spec, 'FLOAT'), rows, 4, 'FLOAT');
  t.equal(firstDifference(viaDouble, viaFloat), -1);
  t.equal(firstDifference(viaFloat, Array.from(evaluateEnsemble(spec, rows))), -1);
});

// ---------------------------------------------------------------- known answers

/** A stump on feature 0: left leaf value 1, right leaf value 2. */
function stump(threshold: number, missingGoesLeft?: number): Tree {
  return {
    left: [1, -1, -1],
    right: [2, -1, -1],
    feature: [0, 0, 0],
    threshold: [threshold, 0, 0],
    values: [0, 1, 2],
    ...(missingGoesLeft === undefined ? {} : { missingGoesLeft: [missingGoesLeft, 0, 0] }),
  };
}

function single(tree: Tree, over: Partial<TreeEnsembleSpec> = {}): TreeEnsembleSpec {
  return { estimator: 'stump', nFeatures: 1, nTargets: 1, trees: [tree], mode: '<=', featurePrecision: 'float64', accumulation: 'float64', aggregation: 'sum', ...over };
}

t.test("sklearn's float32 cast: x = 0.1 against the float64 threshold 0.1 goes right", async (t) => {
  // float32(0.1) = 0.10000000149011612 > 0.1, so sklearn (X cast to float32) sends it right.
  const rows = [0.1, 0.09999999, Math.fround(0.1), 0.1000000001];
  const asSklearn = single(stump(0.1), { featurePrecision: 'float32' });
  const asFloat64 = single(stump(0.1), { featurePrecision: 'float64' });
  t.same(Array.from(evaluateEnsemble(asSklearn, rows)), [2, 1, 2, 2]);
  t.same(Array.from(evaluateEnsemble(asFloat64, rows)), [1, 1, 2, 2]);
  t.same(await scores(await build(asSklearn), rows, 1), [2, 1, 2, 2]);
  t.same(await scores(await build(asFloat64), rows, 1), [1, 1, 2, 2]);
});

t.test("XGBoost's `<`: a value equal to the condition goes right, also after float32 rounding", async (t) => {
  const c = Math.fround(0.3);
  const rows = [c, c - 1e-12, Math.fround(c - 2 ** -25), 0.29, Number.NaN];
  const spec = single(stump(c, 1), { mode: '<', featurePrecision: 'float32', accumulation: 'float32' });
  t.same(Array.from(evaluateEnsemble(spec, rows)), [2, 2, 1, 1, 1]);
  t.same(await scores(await build(spec), rows, 1), [2, 2, 1, 1, 1], 'NaN follows default_left');
  const noMissing = single(stump(c), { mode: '<' });
  t.same(await scores(await build(noMissing), [Number.NaN], 1), [2], 'without a missing direction NaN goes right');
});

t.test('sums are taken tree after tree, each addition rounded, from the base', async (t) => {
  const constant = (v: number): Tree => ({ left: [-1], right: [-1], feature: [0], threshold: [0], values: [v] });
  // float64: ((1e16 + 1) + 1) − 1e16 = 0, where a pairwise sum would give 2.
  const f64 = single(constant(1e16), { trees: [1e16, 1, 1, -1e16].map(constant) });
  t.same(Array.from(evaluateEnsemble(f64, [0])), [0]);
  t.same(await scores(await build(f64), [0], 1), [0]);
  // float32: 2^24 + 1 + 1 stays 2^24; the base comes first: (1 + 2^24) + 1 = 2^24 too.
  const f32 = single(constant(0), { trees: [16777216, 1, 1].map(constant), accumulation: 'float32' });
  t.same(await scores(await build(f32), [0], 1), [16777216]);
  const based = single(constant(0), { trees: [16777216, 1].map(constant), accumulation: 'float32', baseValues: [1] });
  t.same(await scores(await build(based), [0], 1), [16777216]);
  // Leaf values are rounded to float32 before they are added (XGBoost holds them as float).
  const rounded = single(constant(0.1), { accumulation: 'float32' });
  t.same(await scores(await build(rounded), [0], 1), [Math.fround(0.1)]);
});

t.test("a forest's class average keeps the library's rounding, and with it argmax ties", async (t) => {
  // Per-class sums in tree order: class 0: (0.1 + 0.2) + 0.3 = 0.6000000000000001;
  // class 1: (0.3 + 0.2) + 0.1 = 0.6. sklearn's argmax picks class 0; a sum in another order
  // would make them equal and could pick either.
  const leafTree = (a: number, b: number): Tree => ({ left: [-1], right: [-1], feature: [0], threshold: [0], values: [a, b] });
  const spec: TreeEnsembleSpec = {
    estimator: 'forest',
    nFeatures: 1,
    nTargets: 2,
    trees: [leafTree(0.1, 0.3), leafTree(0.2, 0.2), leafTree(0.3, 0.1)],
    mode: '<=',
    featurePrecision: 'float32',
    accumulation: 'float64',
    aggregation: 'average',
  };
  const want = [(0.1 + 0.2 + 0.3) / 3, (0.3 + 0.2 + 0.1) / 3];
  t.not(want[0], want[1]);
  const built = await build(spec);
  t.same(await scores(built, [0], 1), want);
  const out = await built.session.run({ x: new ort.Tensor('float64', Float64Array.from([0]), [1, 1]) });
  t.same(Array.from(out.label.data as BigInt64Array), [0n]);
});

t.test('average adds the base after dividing; unequal tree counts per target are padded with zeros', async (t) => {
  const tree = (v: number, target: number): Tree => ({ left: [-1], right: [-1], feature: [0], threshold: [0], values: [v], targets: [target] });
  const spec: TreeEnsembleSpec = {
    estimator: 'padded',
    nFeatures: 1,
    nTargets: 2,
    trees: [tree(3, 0), tree(6, 0), tree(9, 1)],
    mode: '<=',
    featurePrecision: 'float64',
    accumulation: 'float64',
    aggregation: 'average',
    baseValues: [1, 2],
  };
  t.same(await scores(await build(spec), [0], 1), [(3 + 6) / 3 + 1, 9 / 3 + 2]);
});

t.test('a large forest compiles and agrees with the reference', async (t) => {
  const rand = seededRandom(99);
  const thresholds = pool(rand);
  const trees = Array.from({ length: 150 }, () => randomTree(rand, 6, 9, 4, thresholds, true));
  const spec: TreeEnsembleSpec = { estimator: 'large', nFeatures: 6, nTargets: 4, trees, mode: '<=', featurePrecision: 'float32', accumulation: 'float64', aggregation: 'average' };
  const rows = randomRows(rand, 64, 6, thresholds);
  const got = await scores(await build(spec), rows, 6);
  t.equal(firstDifference(got, Array.from(evaluateEnsemble(spec, rows))), -1);
});

// ---------------------------------------------------------------- refusals

t.test('malformed ensembles are refused with the tree, node and field named', async (t) => {
  const base = (): Tree => stump(0.5);
  const cases: [string, (s: TreeEnsembleSpec) => void, RegExp][] = [
    ['child out of range', (s) => (s.trees = [{ ...base(), left: [7, -1, -1] }]), /trees\[0\]\.left\/right\[0\].*child 7, the tree has 3 nodes/],
    ['a cycle', (s) => (s.trees = [{ ...base(), left: [1, 0, -1] }]), /node 0 is reached twice/],
    ['shared child', (s) => (s.trees = [{ ...base(), right: [1, -1, -1] }]), /node 1 is reached twice/],
    ['feature out of range', (s) => (s.trees = [{ ...base(), feature: [3, 0, 0] }]), /feature\[0\].*feature 3, the model has 1/],
    ['NaN threshold', (s) => (s.trees = [{ ...base(), threshold: [Number.NaN, 0, 0] }]), /NaN threshold/],
    ['non-finite leaf', (s) => (s.trees = [{ ...base(), values: [0, Number.POSITIVE_INFINITY, 2] }]), /values\[1\].*non-finite/],
    ['values length', (s) => (s.trees = [{ ...base(), values: [1, 2] }]), /values.*2 entries, expected 3 nodes × 1 targets/],
    ['array lengths', (s) => (s.trees = [{ ...base(), right: [2, -1] }]), /right.*2 entries for 3 nodes/],
    ['empty tree', (s) => (s.trees = [{ left: [], right: [], feature: [], threshold: [], values: [] }]), /no nodes/],
    ['no trees', (s) => (s.trees = []), /no trees/],
    ['bad target', (s) => (s.trees = [{ ...base(), targets: [1] }]), /target 1 is not in \[0, 1\)/],
    ['base length', (s) => (s.baseValues = [1, 2]), /baseValues.*2 values for 1 targets/],
    ['bad nFeatures', (s) => (s.nFeatures = 0), /nFeatures/],
  ];
  for (const [name, mutate, message] of cases) {
    const spec = single(base(), { estimator: 'sklearn.tree.DecisionTreeRegressor' });
    mutate(spec);
    const g = new GraphBuilder('bad');
    const x = g.input('x', 'DOUBLE', ['N', 1]);
    t.throws(() => emitTreeEnsemble(g, x, spec), ConversionError, name);
    t.throws(() => emitTreeEnsemble(g, x, spec), { message: message }, name);
    t.throws(() => emitTreeEnsemble(g, x, spec), { message: /^cannot convert sklearn\.tree\.DecisionTreeRegressor/ }, `${name}: names the estimator`);
  }
});
