// XGBoost → ONNX: converted models, run in onnxruntime-node, give what XGBoost gave (labels
// exactly, values within 1e-5 relative; regression sums bit for bit) on the generated fixtures
// (test/fixtures/xgboost, made by scripts/fixtures/make_xgboost_fixtures.py with XGBoost 1.7.4)
// and on the two MLflow-written models with MLflow's recorded answers; files of later XGBoost
// versions' layouts read the same; unsupported and malformed models are refused with the field
// named, never a crash or a hang.
import t from 'tap';
import type tap from 'tap';
import ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { convertXgboost, readXgboostModel, XGBOOST_MODEL_CLASSES, type XgboostConvertOptions } from '../../src/convert/xgboost/index.js';
import { ConversionError, type ConvertedModel } from '../../src/convert/model.js';

const FIXTURES = new URL('../fixtures/xgboost/', import.meta.url);
const MLFLOW = '/work/shared/data/mlflow-models/';
const REL_TOLERANCE = 1e-5;

interface FixtureCase {
  name: string;
  files: string[];
  model_class: string;
  objective: string;
  note: string;
  rows: (number | null)[][];
  predict: (number | number[])[];
  predict_proba?: number[][];
}
const fixtures = JSON.parse(readFileSync(new URL('cases.json', FIXTURES), 'utf8')) as { xgboost_version: string; cases: FixtureCase[] };
const fixtureBytes = (file: string): Uint8Array => readFileSync(new URL(file, FIXTURES));

interface Outputs {
  predict: number[];
  predictType: string;
  predictDims: readonly number[];
  proba?: number[];
}

async function predict(model: ConvertedModel, rows: (number | null)[][], inputType: 'float64' | 'float32' = 'float64'): Promise<Outputs> {
  const session = await ort.InferenceSession.create(model.onnx);
  const flat = rows.flat().map((v) => (v === null ? Number.NaN : v));
  const data = inputType === 'float64' ? Float64Array.from(flat) : Float32Array.from(flat);
  const out = await session.run({ [model.inputs[0].name]: new ort.Tensor(inputType, data, [rows.length, rows[0].length]) });
  const result: Outputs = {
    predict: Array.from(out.predict.data as ArrayLike<number | bigint>, Number),
    predictType: out.predict.type,
    predictDims: out.predict.dims,
  };
  if (out.predict_proba !== undefined) result.proba = Array.from(out.predict_proba.data as Float32Array);
  return result;
}

/** Largest |a − b| / |b| (b = 0 needs a = 0). */
function maxRelative(got: number[], want: number[]): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    worst = Math.max(worst, d === 0 ? 0 : want[i] === 0 ? Number.POSITIVE_INFINITY : d / Math.abs(want[i]));
  }
  return worst;
}

const isLabelOutput = (c: FixtureCase): boolean => c.model_class.includes('Classifier');

t.test('generated fixtures: every model, both file formats, as XGBoost predicted', async (t) => {
  t.equal(fixtures.xgboost_version, '1.7.4');
  t.ok(fixtures.cases.length >= 14, `${fixtures.cases.length} fixture models`);
  for (const c of fixtures.cases) {
    for (const file of c.files) {
      const model = convertXgboost(fixtureBytes(file), { modelClass: c.model_class });
      const out = await predict(model, c.rows);
      const want = c.predict.flat();
      t.equal(out.predict.length, want.length, `${file}: predict length`);
      if (isLabelOutput(c)) {
        t.equal(out.predictType, 'int64', `${file}: labels are int64`);
        t.same(out.predict, want, `${file}: labels exactly (${c.note})`);
      } else {
        t.equal(out.predictType, 'float32', `${file}: values are float32 as XGBoost computes them`);
        const rel = maxRelative(out.predict, want);
        t.ok(rel <= REL_TOLERANCE, `${file}: predict within 1e-5 relative (max ${rel.toExponential(2)})`);
        if (c.objective === 'reg:squarederror' || c.objective === 'multi:softmax') {
          // Margin sums in tree order in float32 reproduce XGBoost bit for bit.
          t.same(out.predict, want, `${file}: ${c.objective} values are bit-exact`);
        }
      }
      if (c.predict_proba !== undefined) {
        t.ok(out.proba, `${file}: has predict_proba`);
        const rel = maxRelative(out.proba ?? [], c.predict_proba.flat());
        t.ok(rel <= REL_TOLERANCE, `${file}: predict_proba within 1e-5 relative (max ${rel.toExponential(2)})`);
      } else {
        t.equal(out.proba, undefined, `${file}: no predict_proba`);
      }
    }
  }
});

t.test('the JSON and UBJSON files of a model convert to the same graph', async (t) => {
  const both = fixtures.cases.find((c) => c.files.length === 2);
  t.ok(both);
  const [a, b] = (both as FixtureCase).files.map((f) => convertXgboost(fixtureBytes(f), { modelClass: 'xgboost.sklearn.XGBClassifier' }));
  t.same(Buffer.from(a.onnx), Buffer.from(b.onnx));
  t.same(a.description, b.description);
});

t.test('metadata: outputs named as MLServer names them, class labels, description', async (t) => {
  const clf = convertXgboost(fixtureBytes('nine-classes-hist.ubj'), { modelClass: 'xgboost.sklearn.XGBClassifier' });
  t.same(clf.inputs, [{ name: 'input', datatype: 'FP64', shape: [-1, 12] }]);
  t.same(clf.outputs, [
    { name: 'predict', datatype: 'INT64', shape: [-1] },
    { name: 'predict_proba', datatype: 'FP32', shape: [-1, 9] },
  ]);
  t.equal(clf.task, 'classifier');
  t.same(clf.classLabels, { kind: 'int64', values: [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n] });
  t.equal(clf.estimator, 'xgboost.sklearn.XGBClassifier');
  t.match(clf.description, /^xgboost\.sklearn\.XGBClassifier \(gbtree, multi:softprob, xgboost 1\.7\.4\): 45 trees \(5 rounds\), max depth 3, 12 features, 9 classes$/);
  const session = await ort.InferenceSession.create(clf.onnx);
  t.same(session.inputNames, ['input']);
  t.same(session.outputNames, ['predict', 'predict_proba']);

  const reg = convertXgboost(fixtureBytes('diabetes-deep.ubj'), { modelClass: 'xgboost.sklearn.XGBRegressor', inputName: 'features', inputType: 'FP32' });
  t.same(reg.inputs, [{ name: 'features', datatype: 'FP32', shape: [-1, 10] }]);
  t.same(reg.outputs, [{ name: 'predict', datatype: 'FP32', shape: [-1] }]);
  t.equal(reg.task, 'regressor');
  t.equal(reg.classLabels, undefined);

  const stopped = convertXgboost(fixtureBytes('cancer-early-stopping.ubj'), { modelClass: 'xgboost.sklearn.XGBClassifier' });
  t.match(stopped.description, /4 trees \(4 rounds\) of 8 \(best_iteration\)/);
  t.equal(stopped.treesUsed, 4);
  const asBooster = convertXgboost(fixtureBytes('cancer-early-stopping.ubj'), { modelClass: 'xgboost.core.Booster' });
  t.equal(asBooster.treesUsed, 8, 'a plain Booster predicts with every tree');

  const booster = convertXgboost(fixtureBytes('booster-softprob.json'), { modelClass: 'xgboost.core.Booster' });
  t.same(booster.outputs, [{ name: 'predict', datatype: 'FP32', shape: [-1, 3] }], 'Booster.predict: probabilities');
  t.equal(booster.task, 'regressor', "a Booster's predict returns numbers, not labels");
  t.equal(booster.classLabels, undefined);
  const softmax = convertXgboost(fixtureBytes('booster-softmax.ubj'), { modelClass: 'xgboost.core.Booster' });
  t.same(softmax.outputs, [{ name: 'predict', datatype: 'FP32', shape: [-1] }], 'Booster.predict: class index as float');
});

t.test('FP32 input gives the same answers as FP64 input of float32 values', async (t) => {
  const c = fixtures.cases.find((x) => x.name === 'cancer-binary') as FixtureCase;
  const f32rows = c.rows.map((r) => r.map((v) => (v === null ? null : Math.fround(v))));
  const a = await predict(convertXgboost(fixtureBytes(c.files[0]), { modelClass: c.model_class, inputType: 'FP32' }), f32rows, 'float32');
  const b = await predict(convertXgboost(fixtureBytes(c.files[0]), { modelClass: c.model_class }), f32rows);
  t.same(a, b);
});

t.test('without a model class, the sklearn wrapper recorded in the file decides', async (t) => {
  const clf = convertXgboost(fixtureBytes('iris-softprob.ubj'));
  t.equal(clf.estimator, 'xgboost.sklearn.XGBClassifier');
  const reg = convertXgboost(fixtureBytes('diabetes-deep.ubj'));
  t.equal(reg.estimator, 'xgboost.sklearn.XGBRegressor');
  const booster = convertXgboost(fixtureBytes('booster-binary.ubj'));
  t.equal(booster.estimator, 'xgboost.core.Booster');
  t.ok(XGBOOST_MODEL_CLASSES.includes('xgboost.sklearn.XGBRFRegressor'));
});

// ---------------------------------------------------------------- MLflow's models and answers

interface MlflowCase {
  model: string;
  format: string;
  request: { body: string };
  response: { status: number; body: string };
  sklearn_predict: number[];
  sklearn_predict_proba?: number[][];
}

/** The rows of an /invocations body, in the model's feature order. */
function rowsOf(body: Record<string, unknown>, columns: string[] | undefined): (number | null)[][] {
  const byName = (record: Record<string, number | null>): (number | null)[] => {
    if (columns === undefined) throw new Error('named columns without feature names');
    return columns.map((c) => record[c]);
  };
  if (Array.isArray(body.inputs)) return body.inputs as (number | null)[][];
  if (body.inputs !== undefined) {
    const cols = body.inputs as Record<string, (number | null)[]>;
    const names = columns ?? Object.keys(cols);
    return cols[names[0]].map((_, i) => names.map((n) => cols[n][i]));
  }
  if (body.instances !== undefined) {
    return (body.instances as unknown[]).map((r) => (Array.isArray(r) ? (r as (number | null)[]) : byName(r as Record<string, number | null>)));
  }
  if (body.dataframe_split !== undefined) {
    const split = body.dataframe_split as { columns?: string[]; data: (number | null)[][] };
    if (split.columns === undefined || columns === undefined) return split.data;
    return split.data.map((row) => columns.map((c) => row[(split.columns as string[]).indexOf(c)]));
  }
  return (body.dataframe_records as Record<string, number | null>[]).map(byName);
}

t.test("MLflow's XGBoost models answer every case as recorded", async (t) => {
  const cases = JSON.parse(readFileSync(`${MLFLOW}cases.json`, 'utf8')) as MlflowCase[];
  for (const name of ['iris-xgb', 'diabetes-xgb']) {
    const flavor = (parseYaml(readFileSync(`${MLFLOW}${name}/MLmodel`, 'utf8')) as { flavors: { xgboost: { data: string; model_class: string; model_format: 'json' | 'ubj' } } }).flavors.xgboost;
    const options: XgboostConvertOptions = { modelClass: flavor.model_class, format: flavor.model_format };
    const model = convertXgboost(readFileSync(`${MLFLOW}${name}/${flavor.data}`), options);
    const mine = cases.filter((c) => c.model === name);
    t.ok(mine.length >= 3, `${name}: ${mine.length} cases`);
    for (const c of mine) {
      const rows = rowsOf(JSON.parse(c.request.body) as Record<string, unknown>, model.featureNames);
      const out = await predict(model, rows);
      const answered = (JSON.parse(c.response.body) as { predictions: number[] }).predictions;
      if (model.task === 'classifier') {
        t.same(out.predict, c.sklearn_predict, `${name} ${c.format}: labels as XGBClassifier.predict`);
        t.same(out.predict, answered, `${name} ${c.format}: labels as MLflow answered`);
        const rel = maxRelative(out.proba ?? [], (c.sklearn_predict_proba ?? []).flat());
        t.ok(rel <= REL_TOLERANCE, `${name} ${c.format}: predict_proba within 1e-5 (max ${rel.toExponential(2)})`);
      } else {
        const rel = maxRelative(out.predict, c.sklearn_predict);
        t.ok(rel <= REL_TOLERANCE, `${name} ${c.format}: predict within 1e-5 (max ${rel.toExponential(2)})`);
        t.same(out.predict, c.sklearn_predict, `${name} ${c.format}: bit-exact float32 values`);
      }
    }
  }
});

// ---------------------------------------------------------------- other XGBoost versions' layouts

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function jsonOf(file: string): Json {
  return JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8')) as Json;
}
const bytesOf = (doc: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(doc));
const gbtree = (doc: Json): Json => doc.learner.gradient_booster.model;

t.test('XGBoost 2.x/3.x layouts: vector base_score, iteration_indptr, size_leaf_vector 1', async (t) => {
  const c = fixtures.cases.find((x) => x.name === 'iris-softprob') as FixtureCase;
  const original = await predict(convertXgboost(fixtureBytes('iris-softprob.json'), { modelClass: c.model_class }), c.rows);
  const doc = jsonOf('iris-softprob.json');
  doc.learner.learner_model_param.base_score = '[5E-1,5E-1,5E-1]';
  gbtree(doc).iteration_indptr = Array.from({ length: 13 }, (_, i) => i * 3);
  for (const tree of gbtree(doc).trees) tree.tree_param.size_leaf_vector = '1';
  doc.version = [3, 0, 0];
  const newer = await predict(convertXgboost(bytesOf(doc), { modelClass: c.model_class }), c.rows);
  t.same(newer, original);

  // A per-class base_score shifts each class's margin: the probabilities change.
  doc.learner.learner_model_param.base_score = '[1E0,0E0,0E0]';
  const shifted = await predict(convertXgboost(bytesOf(doc), { modelClass: c.model_class }), c.rows);
  t.not(shifted.proba?.[0], original.proba?.[0]);

  const binary = jsonOf('cancer-binary.json');
  const binaryCase = fixtures.cases.find((x) => x.name === 'cancer-binary') as FixtureCase;
  binary.learner.learner_model_param.base_score = '[3E-1]';
  const out = await predict(convertXgboost(bytesOf(binary), { modelClass: binaryCase.model_class }), binaryCase.rows);
  t.same(out.predict, binaryCase.predict);
});

// ---------------------------------------------------------------- refusals

function refuses(t: Pick<typeof tap, 'throws'>, input: Uint8Array | Json, message: RegExp, name: string, options: XgboostConvertOptions = {}): void {
  const bytes = input instanceof Uint8Array ? input : bytesOf(input);
  t.throws(() => convertXgboost(bytes, options), ConversionError, name);
  t.throws(() => convertXgboost(bytes, options), { message }, name);
}

t.test('unsupported models are refused naming what is unsupported', async (t) => {
  const edit = (file: string, change: (doc: Json) => void): Json => {
    const doc = jsonOf(file);
    change(doc);
    return doc;
  };
  for (const objective of ['reg:gamma', 'rank:pairwise', 'binary:logitraw', 'count:poisson', 'reg:pseudohubererror']) {
    refuses(t, edit('cancer-binary.json', (d) => (d.learner.objective.name = objective)), new RegExp(`field 'learner\\.objective\\.name'.*objective '${objective}' is not supported`), objective);
  }
  refuses(t, edit('cancer-binary.json', (d) => (d.learner.gradient_booster = { name: 'dart', gbtree: d.learner.gradient_booster, weight_drop: [1] })), /field 'learner\.gradient_booster\.name'.*dart boosters/, 'dart');
  refuses(t, edit('cancer-binary.json', (d) => (d.learner.gradient_booster = { name: 'gblinear', model: { weights: [0.1] } })), /gblinear boosters \(linear models\) are not supported/, 'gblinear');
  refuses(t, edit('cancer-binary.json', (d) => (gbtree(d).weight_drop = [1, 0.5])), /weight_drop.*dart/, 'tree weights');
  refuses(t, edit('cancer-binary.json', (d) => (gbtree(d).trees[3].split_type[0] = 1)), /trees\[3\]\.split_type\[0\].*categorical splits/, 'categorical split');
  refuses(t, edit('cancer-binary.json', (d) => (gbtree(d).trees[0].tree_param.size_leaf_vector = '3')), /multi-target trees/, 'vector leaves');
  refuses(t, edit('cancer-binary.json', (d) => (d.learner.learner_model_param.num_target = '2')), /multi-output models/, 'num_target');
  refuses(t, fixtureBytes('cancer-binary.json'), /model class 'xgboost\.sklearn\.XGBRanker' is not supported/, 'ranker', { modelClass: 'xgboost.sklearn.XGBRanker' });
  refuses(t, fixtureBytes('cancer-binary.json'), /model class 'toString' is not supported/, 'a prototype key', { modelClass: 'toString' });
  refuses(t, fixtureBytes('cancer-binary.json'), /saved by a classifier, not a regressor/, 'estimator type mismatch', { modelClass: 'xgboost.sklearn.XGBRegressor' });
  refuses(
    t,
    edit('diabetes-reg-logistic.json', (d) => {
      d.learner.objective.name = 'reg:squarederror';
      delete d.learner.attributes.scikit_learn;
    }),
    /XGBRFClassifier with the regression objective reg:squarederror/,
    'classifier on regression',
    { modelClass: 'xgboost.sklearn.XGBRFClassifier' },
  );
  refuses(t, fixtureBytes('booster-softprob.json'), /XGBRegressor with the classification objective multi:softprob/, 'regressor on softprob', { modelClass: 'xgboost.sklearn.XGBRegressor' });
  refuses(
    t,
    edit('booster-softprob.json', (d) => {
      d.learner.learner_model_param.num_class = '2';
      d.learner.objective.softmax_multiclass_param.num_class = '2';
      gbtree(d).tree_info = gbtree(d).tree_info.map((g: number) => g % 2);
      delete gbtree(d).iteration_indptr;
      gbtree(d).trees = gbtree(d).trees.slice(0, 8).map((tree: Json, i: number) => ({ ...tree, id: i }));
      gbtree(d).tree_info = gbtree(d).tree_info.slice(0, 8);
      gbtree(d).gbtree_model_param.num_trees = '8';
    }),
    /multi:softprob with num_class 2/,
    'binary softprob classifier',
    { modelClass: 'xgboost.sklearn.XGBClassifier' },
  );
  refuses(t, edit('cancer-binary.json', (d) => (d.learner.learner_model_param.base_score = '1E0')), /base_score 1 must be in \(0, 1\)/, 'base_score 1');
  refuses(t, edit('cancer-binary.json', (d) => (d.learner.learner_model_param.base_score = '1E-7')), /within 1e-6 of 0 or 1/, 'base_score at the edge');
  refuses(t, edit('cancer-binary.json', (d) => (d.learner.attributes.best_iteration = '99')), /best_iteration 99 is beyond the model's 20 rounds/, 'best_iteration too far', { modelClass: 'xgboost.sklearn.XGBClassifier' });
});

t.test('malformed files are refused with the field named', async (t) => {
  const edit = (change: (doc: Json) => void): Json => {
    const doc = jsonOf('cancer-binary.json');
    change(doc);
    return doc;
  };
  refuses(t, edit((d) => (gbtree(d).trees[2].split_conditions = 'oops')), /trees\[2\]\.split_conditions'\): expected an array of numbers, found a string/, 'wrong type');
  refuses(t, edit((d) => (gbtree(d).trees[2].split_conditions[1] = 'x')), /split_conditions\[1\]'\): expected a number, found a string/, 'wrong element type');
  refuses(t, edit((d) => gbtree(d).trees[0].left_children.pop()), /trees\[0\]\.left_children'\): has \d+ entries, expected \d+/, 'length mismatch');
  refuses(t, edit((d) => (gbtree(d).trees[0].tree_param.num_nodes = 'many')), /num_nodes'\): expected an integer in a string, found 'many'/, 'num_nodes');
  refuses(t, edit((d) => (gbtree(d).tree_info[5] = 3)), /tree_info\[5\]'\): group 3 is not in \[0, 1\)/, 'tree_info');
  refuses(t, edit((d) => (gbtree(d).trees[1].split_indices[0] = 30)), /split_indices\[0\]'\): feature 30 is not below num_feature 30/, 'feature index');
  refuses(t, edit((d) => (gbtree(d).trees[1].left_children[0] = 99)), /trees\[1\]\.left\/right\[0\].*child 99/, 'child index');
  refuses(t, edit((d) => (gbtree(d).trees[1].left_children[0] = 0)), /node 0 is reached twice/, 'cycle');
  refuses(t, edit((d) => (gbtree(d).trees[1].default_left[0] = 2)), /default_left\[0\]'\): expected 0 or 1/, 'default_left');
  refuses(t, edit((d) => (gbtree(d).trees[1].id = 7)), /trees\[1\]\.id'\): is 7, expected 1/, 'tree id');
  refuses(t, edit((d) => (gbtree(d).gbtree_model_param.num_trees = '21')), /has 20 trees, num_trees says 21/, 'num_trees');
  refuses(t, edit((d) => delete d.learner.objective), /field 'learner\.objective'\): expected an object, found missing/, 'no objective');
  refuses(t, edit((d) => (d.learner.learner_model_param.base_score = 'NaN')), /base_score'\): 'NaN' is not a finite number/, 'NaN base_score');
  refuses(t, edit((d) => (d.learner.attributes.scikit_learn = '{"missing": "zero"}')), /missing is string, expected a number/, 'missing of the wrong type', { modelClass: 'xgboost.sklearn.XGBClassifier' });
  refuses(t, edit((d) => (d.learner.attributes.scikit_learn = '{not json')), /scikit_learn attribute is not valid JSON/, 'scikit_learn not JSON');
  refuses(t, edit((d) => (gbtree(d).trees = [])), /has 0 trees, num_trees says 20/, 'no trees');
});

t.test('not a model, truncated or garbage files: a ConversionError every time', async (t) => {
  refuses(t, new Uint8Array(0), /does not start with "\{"/, 'empty file');
  refuses(t, new TextEncoder().encode('[1, 2]'), /does not start with "\{"/, 'a JSON array');
  refuses(t, new TextEncoder().encode('{"learner": '), /not valid JSON/, 'truncated JSON', { format: 'json' });
  refuses(t, Uint8Array.from([0xff, 0xfe, 0x7b]), /does not start/, 'garbage');
  refuses(t, new TextEncoder().encode('{"version": [1, 7, 4]}'), /field 'learner'\): expected an object, found missing/, 'JSON without a learner');
  refuses(t, Uint8Array.from([0x7b, 0x22, 0xc3, 0x28]), /not valid UTF-8/, 'invalid UTF-8 JSON');
  const ubj = fixtureBytes('booster-binary.ubj');
  refuses(t, ubj.subarray(0, ubj.length >> 1), /^cannot convert XGBoost model: model\.ubj is not valid UBJSON: UBJSON: (truncated|.* exceeds the \d+ bytes that remain)/, 'truncated UBJSON');
  refuses(t, ubj, /larger than the limit of 4096/, 'UBJSON beyond the size limit', { limits: { maxBytes: 4096 } });
  refuses(t, fixtureBytes('cancer-binary.json'), /larger than the limit of 4096/, 'JSON beyond the size limit', { limits: { maxBytes: 4096 } });
  // Every 50th prefix of a JSON model and a UBJSON model: refused, never a crash or a hang.
  for (const file of ['iris-softmax.json', 'booster-softmax.ubj']) {
    const whole = fixtureBytes(file);
    let refused = 0;
    for (let n = 1; n < whole.length; n += 50) {
      try {
        convertXgboost(whole.subarray(0, n));
        t.fail(`${file}: a ${n}-byte prefix converted`);
      } catch (error) {
        if (!(error instanceof ConversionError)) throw error;
        refused++;
      }
    }
    t.ok(refused > 40, `${file}: ${refused} prefixes refused`);
  }
});

t.test('readXgboostModel exposes what the file holds', async (t) => {
  const m = readXgboostModel(fixtureBytes('cancer-early-stopping.ubj'));
  t.same(m.version, [1, 7, 4]);
  t.equal(m.objective, 'binary:logistic');
  t.equal(m.numFeature, 30);
  t.equal(m.trees.length, 8);
  t.same(m.iterationIndptr, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  t.equal(m.attributes.best_iteration, '3');
  const named = readXgboostModel(readFileSync(`${MLFLOW}diabetes-xgb/model.json`));
  t.same(named.featureNames, ['age', 'sex', 'bmi', 'bp', 's1', 's2', 's3', 's4', 's5', 's6']);
});
