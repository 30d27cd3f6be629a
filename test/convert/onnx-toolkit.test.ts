// The converters' ONNX toolkit: every helper builds a node that onnxruntime-node loads and runs
// with the element types converters use (DOUBLE above all), with the values numpy would give;
// the builder's additions (tensor and string attributes, double/string initializers, opset
// imports, doc strings, metadata) are written as ONNX defines them.
import t from 'tap';
import ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import {
  GraphBuilder,
  add,
  argMax,
  arrayFeatureExtractor,
  binarizer,
  cast,
  clip,
  concat,
  cumSum,
  div,
  equal,
  exp,
  expand,
  gather,
  gemm,
  greater,
  identity,
  imputer,
  isNaN,
  labelEncoder,
  less,
  linearClassifier,
  linearRegressor,
  logical,
  logistic,
  matMul,
  mul,
  normalizer,
  not,
  oneHotEncoder,
  reduceMax,
  reduceSum,
  reshape,
  scaler,
  shapeOf,
  sigmoid,
  slice,
  softmax,
  squeeze,
  sub,
  takeLabels,
  transpose,
  treeEnsemble,
  unsqueeze,
  v2Datatype,
  variadic,
  where,
  type Value,
} from '../../src/convert/onnx/index.js';
import { buildModel } from '../../src/modelgen/onnx-builder.js';

type Feeds = Record<string, ort.Tensor>;

async function run(g: GraphBuilder, feeds: Feeds): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(g.build());
  return session.run(feeds);
}

const f64 = (data: number[], dims: number[]): ort.Tensor => new ort.Tensor('float64', Float64Array.from(data), dims);
const f32 = (data: number[], dims: number[]): ort.Tensor => new ort.Tensor('float32', Float32Array.from(data), dims);
const values = (tensor: ort.Tensor): number[] => Array.from(tensor.data as ArrayLike<number | bigint>, Number);

/** A graph with one [N, C] DOUBLE input `x`, one output computed by `body`. */
function unaryGraph(name: string, cols: number, body: (g: GraphBuilder, x: Value) => Value, type: 'DOUBLE' | 'FLOAT' = 'DOUBLE'): GraphBuilder {
  const g = new GraphBuilder(name);
  const x = g.input('x', type, ['N', cols]);
  const y = body(g, x);
  g.output(y, 'y', ['N', cols]);
  return g;
}

t.test('double arithmetic keeps float64 precision end to end', async (t) => {
  // 0.1 + 0.2 is 0.30000000000000004 in float64; in float32 the digits would be lost.
  const g = unaryGraph('arith', 2, (g, x) => {
    const c = g.constDouble([0.2, 3], [2]);
    return div(g, sub(g, mul(g, add(g, x, c), c), c), c);
  });
  const out = await run(g, { x: f64([0.1, 1e-300, 7, -2.5], [2, 2]) });
  const want = [0.1, 1e-300, 7, -2.5].map((v, i) => {
    const c = [0.2, 3][i % 2];
    return ((v + c) * c - c) / c;
  });
  t.same(values(out.y), want);
  t.equal(out.y.type, 'float64');
});

t.test('MatMul and Gemm in DOUBLE match a float64 dot product', async (t) => {
  const w = [0.1, -0.2, 0.3, 0.4, 0.5, -0.6];
  const b = [1e-9, 2];
  const g = new GraphBuilder('linear');
  const x = g.input('x', 'DOUBLE', ['N', 3]);
  const W = g.constDouble(w, [3, 2]);
  const B = g.constDouble(b, [2]);
  g.output(add(g, matMul(g, x, W), B), 'mm', ['N', 2]);
  g.output(gemm(g, x, g.constDouble([0.1, 0.3, 0.5, -0.2, 0.4, -0.6], [2, 3]), B, { transB: true, alpha: 2 }), 'gemm', ['N', 2]);
  const rows = [1.5, -2.25, 3.125, 1e-7, 1e7, -1];
  const out = await run(g, { x: f64(rows, [2, 3]) });
  const want: number[] = [];
  for (let r = 0; r < 2; r++) for (let c = 0; c < 2; c++) want.push(rows[r * 3] * w[c] + rows[r * 3 + 1] * w[2 + c] + rows[r * 3 + 2] * w[4 + c] + b[c]);
  const got = values(out.mm);
  got.forEach((v, i) => t.ok(Math.abs(v - want[i]) <= 1e-15 * Math.abs(want[i]) + 1e-22, `matmul ${v} ≈ ${want[i]}`));
  values(out.gemm).forEach((v, i) => {
    const plain = want[i] - b[i % 2];
    t.ok(Math.abs(v - (2 * plain + b[i % 2])) <= 1e-14 * Math.abs(v), `gemm ${v}`);
  });
});

t.test('Cast, Softmax, logistic, Sigmoid, Exp, Clip in DOUBLE and FLOAT', async (t) => {
  const g = new GraphBuilder('unary');
  const x = g.input('x', 'DOUBLE', ['N', 3]);
  g.output(softmax(g, x, 1), 'softmax', ['N', 3]);
  g.output(logistic(g, x), 'logistic', ['N', 3]);
  g.output(sigmoid(g, x), 'sigmoid', ['N', 3]);
  g.output(clip(g, x, -1, 1), 'clip', ['N', 3]);
  g.output(clip(g, x, undefined, 0), 'clip_max', ['N', 3]);
  const xf = cast(g, x, 'FLOAT');
  g.output(logistic(g, xf), 'logistic_f', ['N', 3]);
  g.output(exp(g, xf), 'exp_f', ['N', 3]);
  const row = [-3, 0.5, 2];
  const out = await run(g, { x: f64([...row, 0, 0, 0], [2, 3]) });
  const e = row.map(Math.exp);
  const s = e.reduce((a, b) => a + b);
  values(out.softmax)
    .slice(0, 3)
    .forEach((v, i) => t.ok(Math.abs(v - e[i] / s) < 1e-15, 'softmax'));
  t.same(values(out.softmax).slice(3), [1 / 3, 1 / 3, 1 / 3]);
  t.same(values(out.logistic).slice(0, 3), row.map((v) => 1 / (1 + Math.exp(-v))), 'logistic is 1/(1+exp(-x)) in float64');
  values(out.sigmoid).forEach((v, i) => t.ok(Math.abs(v - 1 / (1 + Math.exp(-[...row, 0, 0, 0][i]))) < 1e-15));
  t.same(values(out.clip), [-1, 0.5, 1, 0, 0, 0]);
  t.same(values(out.clip_max), [-3, 0, 0, 0, 0, 0]);
  t.equal(out.logistic_f.type, 'float32');
  values(out.logistic_f)
    .slice(0, 3)
    .forEach((v, i) => t.ok(Math.abs(v - 1 / (1 + Math.exp(-row[i]))) < 1e-7, 'float32 logistic'));
  t.equal(out.exp_f.type, 'float32');
});

t.test('ArgMax takes the first maximum, Gather/takeLabels map indices to labels', async (t) => {
  const g = new GraphBuilder('labels');
  const x = g.input('x', 'DOUBLE', ['N', 3]);
  const index = argMax(g, x, { axis: 1 });
  g.output(index, 'index', ['N']);
  g.output(takeLabels(g, index, { kind: 'int64', values: [10n, -20n, 9007199254740993n] }), 'ints', ['N']);
  g.output(takeLabels(g, index, { kind: 'string', values: ['setosa', 'versi color', 'ünïcode'] }), 'strings', ['N']);
  const out = await run(g, { x: f64([1, 5, 5, 7, 7, 7, -1, -2, 0], [3, 3]) });
  t.same(values(out.index), [1, 0, 2], 'ties go to the first maximum, as numpy.argmax');
  t.same(Array.from(out.ints.data as BigInt64Array), [-20n, 10n, 9007199254740993n], 'int64 labels are exact beyond 2^53');
  t.same(Array.from(out.strings.data as string[]), ['versi color', 'setosa', 'ünïcode']);
});

t.test('shape helpers: Concat, Reshape, Slice, Squeeze, Unsqueeze, Transpose, Shape, Expand', async (t) => {
  const g = new GraphBuilder('shapes');
  const x = g.input('x', 'DOUBLE', ['N', 2]);
  const both = concat(g, [x, mul(g, x, g.scalar(10, 'DOUBLE'))], 1); // [N, 4]
  g.output(both, 'concat', ['N', 4]);
  g.output(reshape(g, both, [-1]), 'flat', ['M']);
  g.output(slice(g, both, [1], [3], [1]), 'slice', ['N', 2]);
  g.output(squeeze(g, unsqueeze(g, x, [0]), [0]), 'roundtrip', ['N', 2]);
  g.output(transpose(g, x, [1, 0]), 'transposed', [2, 'N']);
  g.output(shapeOf(g, x), 'shape', [2]);
  g.output(expand(g, g.constDouble([7], [1, 1]), shapeOf(g, x)), 'expanded', ['N', 2]);
  const out = await run(g, { x: f64([1, 2, 3, 4], [2, 2]) });
  t.same(values(out.concat), [1, 2, 10, 20, 3, 4, 30, 40]);
  t.same(out.flat.dims, [8]);
  t.same(values(out.slice), [2, 10, 4, 30]);
  t.same(values(out.roundtrip), [1, 2, 3, 4]);
  t.same(values(out.transposed), [1, 3, 2, 4]);
  t.same(values(out.shape), [2, 2]);
  t.same(values(out.expanded), [7, 7, 7, 7]);
});

t.test('NaN handling: IsNaN, Where, comparisons, logic', async (t) => {
  const g = new GraphBuilder('nan');
  const x = g.input('x', 'DOUBLE', ['N', 3]);
  const nan = isNaN(g, x);
  g.output(nan, 'isnan', ['N', 3]);
  g.output(where(g, nan, g.constDouble([1, 2, 3], [3]), x), 'imputed', ['N', 3]);
  g.output(greater(g, x, g.scalar(0, 'DOUBLE')), 'positive', ['N', 3]);
  g.output(less(g, x, g.scalar(0, 'DOUBLE')), 'negative', ['N', 3]);
  g.output(equal(g, x, g.scalar(0, 'DOUBLE')), 'zero', ['N', 3]);
  g.output(not(g, logical(g, 'Or', nan, greater(g, x, g.scalar(0, 'DOUBLE')))), 'neither', ['N', 3]);
  const out = await run(g, { x: f64([Number.NaN, -1, 2, 0, Number.NaN, Number.NaN], [2, 3]) });
  t.same(Array.from(out.isnan.data as Uint8Array, Boolean), [true, false, false, false, true, true]);
  t.same(values(out.imputed), [1, -1, 2, 0, 2, 3]);
  t.same(Array.from(out.positive.data as Uint8Array, Boolean), [false, false, true, false, false, false], 'NaN > 0 is false');
  t.same(Array.from(out.negative.data as Uint8Array, Boolean), [false, true, false, false, false, false]);
  t.same(Array.from(out.zero.data as Uint8Array, Boolean), [false, false, false, true, false, false]);
  t.same(Array.from(out.neither.data as Uint8Array, Boolean), [false, true, false, true, false, false]);
});

t.test('CumSum adds sequentially in the element type; ReduceSum, ReduceMax; Max/Min', async (t) => {
  const g = new GraphBuilder('sums');
  const x = g.input('x', 'DOUBLE', ['N', 4]);
  g.output(cumSum(g, x, 1), 'cumsum', ['N', 4]);
  g.output(cumSum(g, cast(g, x, 'FLOAT'), 1), 'cumsum_f', ['N', 4]);
  g.output(reduceSum(g, x, [1], true), 'sum', ['N', 1]);
  g.output(reduceMax(g, x, [1]), 'max', ['N']);
  g.output(variadic(g, 'Max', [x, g.scalar(0, 'DOUBLE')]), 'relu', ['N', 4]);
  // 1e16 + 1 + 1 − 1e16: sequentially 0 (each +1 is lost), pairwise 2.
  const out = await run(g, { x: f64([1e16, 1, 1, -1e16, 16777216, 1, 1, 0.5], [2, 4]) });
  t.same(values(out.cumsum).slice(0, 4), [1e16, 1e16, 1e16, 0]);
  t.equal(values(out.cumsum_f)[6], 16777216, 'float32: 2^24 + 1 + 1 stays 2^24 when added one at a time');
  t.same(values(out.max), [1e16, 16777216]);
  t.same(values(out.relu).slice(0, 4), [1e16, 1, 1, 0]);
  t.same(out.sum.dims, [2, 1]);
});

t.test('ai.onnx.ml operators converters may use run in onnxruntime-node', async (t) => {
  const g = new GraphBuilder('ml');
  const x = g.input('x', 'FLOAT', ['N', 2]);
  const [label, scores] = linearClassifier(g, x, {
    coefficients: [1, 0, 0, 1, -1, -1],
    intercepts: [0, 0, 0.5],
    labels: { kind: 'string', values: ['a', 'b', 'c'] },
    postTransform: 'SOFTMAX',
  });
  g.output(label, 'label', ['N']);
  g.output(scores, 'scores', ['N', 3]);
  g.output(linearRegressor(g, x, { coefficients: [2, 3], intercepts: [1] }), 'reg', ['N', 1]);
  g.output(scaler(g, x, [1, 2], [0.5, 2]), 'scaled', ['N', 2]);
  g.output(imputer(g, x, { floats: [9, 8] }), 'imputed', ['N', 2]);
  g.output(normalizer(g, x, 'L1'), 'l1', ['N', 2]);
  const dense = g.input('dense', 'FLOAT', ['N', 2]);
  g.output(binarizer(g, dense, 1.5), 'bin', ['N', 2]);
  g.output(arrayFeatureExtractor(g, x, g.constInt64([1])), 'col1', ['N', 1]);
  const codes = g.input('codes', 'INT64', ['N']);
  g.output(oneHotEncoder(g, codes, { kind: 'int64', values: [3, 5, 7] }), 'onehot', ['N', 3]);
  const words = g.input('words', 'STRING', ['N']);
  g.output(labelEncoder(g, words, { strings: ['x', 'y'] }, { int64s: [10, 20], default: -1 }), 'encoded', ['N']);
  g.output(labelEncoder(g, codes, { int64s: [3, 5] }, { strings: ['three', 'five'], default: 'other' }), 'decoded', ['N']);
  const out = await run(g, {
    x: f32([2, 1, Number.NaN, 4], [2, 2]),
    dense: f32([2, 1, 1.5, 4], [2, 2]),
    codes: new ort.Tensor('int64', BigInt64Array.from([5n, 4n]), [2]),
    words: new ort.Tensor('string', ['y', 'zz'], [2]),
  });
  t.same(Array.from(out.label.data as string[])[0], 'a');
  t.equal(out.scores.type, 'float32');
  t.same(values(out.reg)[0], 2 * 2 + 3 * 1 + 1);
  t.same(values(out.scaled).slice(0, 2), [(2 - 1) * 0.5, (1 - 2) * 2]);
  t.same(values(out.imputed), [2, 1, 9, 4]);
  t.same(values(out.l1).slice(0, 2), [Math.fround(2 / 3), Math.fround(1 / 3)]);
  t.same(values(out.bin), [1, 0, 0, 1], 'x > threshold');
  t.same(values(out.col1), [1, 4]);
  t.same(values(out.onehot), [0, 1, 0, 0, 0, 0], 'unknown categories are all-zero rows');
  t.same(values(out.encoded), [20, -1]);
  t.same(Array.from(out.decoded.data as string[]), ['five', 'other']);
});

t.test('TreeEnsemble (ai.onnx.ml 5) with double thresholds and weights', async (t) => {
  const g = new GraphBuilder('tree');
  const x = g.input('x', 'DOUBLE', ['N', 1]);
  // x <= 0.1 (float64 threshold) → 1e-17 + 1 would round in float32; here weights are float64.
  const y = treeEnsemble(g, x, {
    nTargets: 1,
    treeRoots: [0],
    nodesFeatureIds: [0],
    nodesModes: Uint8Array.from([0]),
    nodesSplits: Float64Array.from([0.1]),
    nodesTrueNodeIds: [0],
    nodesTrueLeafs: [1],
    nodesFalseNodeIds: [1],
    nodesFalseLeafs: [1],
    nodesMissingValueTracksTrue: [1],
    leafTargetIds: [0, 0],
    leafWeights: Float64Array.from([1 + 2 ** -40, -0.3]),
  });
  g.output(y, 'y', ['N', 1]);
  const out = await run(g, { x: f64([0.1, 0.1 + 2 ** -55, Number.NaN], [3, 1]) });
  t.same(values(out.y), [1 + 2 ** -40, -0.3, 1 + 2 ** -40], '<= in float64; NaN follows missing_value_tracks_true');
  t.throws(() => treeEnsemble(g, x, { ...emptyTree(), nodesSplits: new Float32Array(1), leafWeights: new Float32Array(1) }), /Float64Array/);
});

function emptyTree() {
  return {
    nTargets: 1,
    treeRoots: [0],
    nodesFeatureIds: [0],
    nodesModes: Uint8Array.from([0]),
    nodesSplits: new Float64Array(1),
    nodesTrueNodeIds: [0],
    nodesTrueLeafs: [1],
    nodesFalseNodeIds: [0],
    nodesFalseLeafs: [1],
    nodesMissingValueTracksTrue: [0],
    leafTargetIds: [0],
    leafWeights: new Float64Array(1),
  };
}

t.test('types are checked as nodes are added, names are unique', async (t) => {
  const g = new GraphBuilder('types');
  const x = g.input('x', 'DOUBLE', ['N', 2]);
  const xf = cast(g, x, 'FLOAT');
  t.throws(() => add(g, x, xf), /Add: inputs of different types/);
  t.throws(() => where(g, x, x, x), /condition must be BOOL/);
  t.throws(() => gather(g, x, x), /indices/);
  t.throws(() => softmax(g, g.constInt64([1])), /floating type/);
  t.throws(() => g.input('x', 'FLOAT', [1]), /already used/);
  t.throws(() => g.constDouble([1, 2, 3], [2, 2]), /3 values for dims \[2,2\]/);
  t.throws(() => new GraphBuilder('empty').build(), /no outputs/);
  t.throws(() => g.node('Scaler', [x], ['FLOAT'], { domain: 'ai.onnx.ml' }), /ml opset/);
  const a = identity(g, x);
  const b = identity(g, x);
  t.not(a.name, b.name);
});

t.test('metadata: V2 datatypes and -1 for dynamic dims', async (t) => {
  const g = new GraphBuilder('meta');
  const x = g.input('input', 'DOUBLE', ['N', 4]);
  g.output(argMax(g, x, { axis: 1 }), 'predict', ['N']);
  g.output(cast(g, x, 'FLOAT'), 'predict_proba', ['N', 4]);
  g.output(takeLabels(g, argMax(g, x), { kind: 'string', values: ['a', 'b', 'c', 'd'] }), 'names', ['N']);
  t.same(g.metadata(), {
    inputs: [{ name: 'input', datatype: 'FP64', shape: [-1, 4] }],
    outputs: [
      { name: 'predict', datatype: 'INT64', shape: [-1] },
      { name: 'predict_proba', datatype: 'FP32', shape: [-1, 4] },
      { name: 'names', datatype: 'BYTES', shape: [-1] },
    ],
  });
  const session = await ort.InferenceSession.create(g.build());
  t.same(session.outputNames, ['predict', 'predict_proba', 'names']);
  t.equal(v2Datatype('BOOL'), 'BOOL');
});

// Decodes a model with the project's own proto subset, to check what the builder wrote.
function decode(bytes: Uint8Array): Record<string, unknown> {
  const source = readFileSync(new URL('../../src/modelgen/onnx-subset.proto', import.meta.url), 'utf8');
  const type = protobuf.parse(source).root.lookupType('onnx.ModelProto');
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}

t.test('opset imports and IR version follow the operators used', async (t) => {
  const plain = new GraphBuilder('plain', { docString: 'a doc', metadata: { source: 'test' } });
  plain.output(identity(plain, plain.input('x', 'DOUBLE', ['N'])), 'y', ['N']);
  const m1 = decode(plain.build());
  t.same(m1.opsetImport, [{ version: 17 }], 'ai.onnx 17 only');
  t.equal(m1.irVersion, 8);
  t.equal(m1.docString, 'a doc');
  t.same(m1.metadataProps, [{ key: 'source', value: 'test' }]);

  const ml = new GraphBuilder('ml');
  const x = ml.input('x', 'FLOAT', ['N', 2]);
  ml.output(scaler(ml, x, [0, 0], [1, 1]), 'a', ['N', 2]);
  t.same(decode(ml.build()).opsetImport, [{ version: 17 }, { domain: 'ai.onnx.ml', version: 1 }]);
  ml.output(treeEnsemble(ml, cast(ml, x, 'DOUBLE'), emptyTree()), 'b', ['N', 1]);
  const m3 = decode(ml.build());
  t.same(m3.opsetImport, [{ version: 17 }, { domain: 'ai.onnx.ml', version: 5 }]);
  t.equal(m3.irVersion, 10);
  const session = await ort.InferenceSession.create(ml.build());
  t.same(session.outputNames, ['a', 'b'], 'a graph mixing ml 1 and ml 5 operators loads');
});

t.test('the builder writes tensor, string-list and double attributes and string/double initializers', async (t) => {
  const model = buildModel({
    name: 'attrs',
    irVersion: 10,
    opsetImports: [
      { domain: '', version: 17 },
      { domain: 'ai.onnx.ml', version: 5 },
    ],
    docString: 'model doc',
    graphDocString: 'graph doc',
    inputs: [{ name: 'codes', type: 'INT64', shape: ['N'] }],
    outputs: [
      { name: 'words', type: 'STRING', shape: ['N'] },
      { name: 'table', type: 'STRING', shape: [2] },
      { name: 'doubles', type: 'DOUBLE', shape: [2] },
    ],
    initializers: [
      { name: 'table_init', dims: [2], data: ['ä', 'b c'] },
      { name: 'doubles_init', dims: [2], data: Float64Array.from([0.1, 1e-320]) },
    ],
    nodes: [
      {
        op: 'LabelEncoder',
        domain: 'ai.onnx.ml',
        inputs: ['codes'],
        outputs: ['words'],
        docString: 'tensor-valued keys and values (ml 4+)',
        attributes: {
          keys_tensor: { tensor: { dims: [2], data: BigInt64Array.from([1n, 2n]) } },
          values_tensor: { tensor: { dims: [2], data: ['one', 'two'] } },
          default_tensor: { tensor: { dims: [1], data: ['?'] } },
        },
      },
      { op: 'Identity', inputs: ['table_init'], outputs: ['table'] },
      { op: 'Identity', inputs: ['doubles_init'], outputs: ['doubles'], name: 'named_node' },
    ],
    metadata: { k: 'v' },
  });
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({ codes: new ort.Tensor('int64', BigInt64Array.from([2n, 9n]), [2]) });
  t.same(Array.from(out.words.data as string[]), ['two', '?']);
  t.same(Array.from(out.table.data as string[]), ['ä', 'b c']);
  t.same(Array.from(out.doubles.data as Float64Array), [0.1, 1e-320]);
  const decoded = decode(model) as { graph: { docString: string; node: { name: string; docString?: string }[] } };
  t.equal(decoded.graph.docString, 'graph doc');
  t.equal(decoded.graph.node[2].name, 'named_node');
  t.equal(decoded.graph.node[0].docString, 'tensor-valued keys and values (ml 4+)');
});
