// Every generated sklearn fixture (scripts/fixtures/make_sklearn_fixtures.py), in every way it was
// pickled (cloudpickle, pickle protocols 2-5, joblib plain / protocol 2 / zlib / gzip), converts
// to ONNX, and the graph run in onnxruntime-node gives what sklearn gave on the same rows:
// labels exactly, values within 1e-5 relative. Rows include tree-threshold rows (exact split
// values and their float64 / float32 neighbours) and rows bisected to within ~1e-9 of a linear
// decision boundary, which float32 arithmetic would misclassify.
import t from 'tap';
import { convertSklearn } from '../../src/convert/sklearn/index.js';
import { PREDICT_OUTPUT, PREDICT_PROBA_OUTPUT } from '../../src/convert/model.js';
import { fixtureBytes, inputTensor, loadCases, maxRelativeError, plain, run, type Cell } from './sklearn-helpers.js';

const TOLERANCE = 1e-5;
const cases = loadCases();

t.test('the fixture set covers every estimator kind of the issue', async (t) => {
  const kinds = new Set(cases.map((c) => c.estimator));
  for (const k of ['LinearRegression', 'Ridge', 'Lasso', 'ElasticNet', 'LogisticRegression', 'DecisionTreeClassifier', 'DecisionTreeRegressor',
    'RandomForestClassifier', 'RandomForestRegressor', 'ExtraTreesClassifier', 'ExtraTreesRegressor', 'GradientBoostingClassifier',
    'GradientBoostingRegressor', 'HistGradientBoostingClassifier', 'HistGradientBoostingRegressor', 'StandardScaler', 'RobustScaler',
    'SimpleImputer', 'OneHotEncoder', 'Pipeline']) {
    t.ok(kinds.has(k), `a fixture has a root ${k}`);
  }
  const variants = new Set(cases.flatMap((c) => c.files.map((f) => f.variant)));
  for (const v of ['cloudpickle', 'joblib', 'pickle-p2', 'pickle-p3', 'pickle-p4', 'pickle-p5', 'joblib-p2', 'joblib-zlib', 'joblib-gzip']) {
    t.ok(variants.has(v), `some fixture is pickled as ${v}`);
  }
});

for (const c of cases) {
  t.test(`${c.name} (${c.estimator})`, async (t) => {
    let reference: string | undefined;
    for (const file of c.files) {
      const model = convertSklearn(fixtureBytes(file.path), { format: file.format });
      // Every way of pickling the same model gives the same graph.
      const digest = Buffer.from(model.onnx).toString('base64');
      if (reference === undefined) reference = digest;
      else t.equal(digest, reference, `${file.variant}: same ONNX graph as ${c.files[0].variant}`);
      t.equal(model.inputs[0].datatype, c.input.type === 'string' ? 'BYTES' : 'FP64', `${file.variant}: input datatype`);
      t.same(model.inputs[0].shape, [-1, c.input.rows[0].length], `${file.variant}: input shape`);
      const out = await run(model, inputTensor(c.input.type, c.input.rows));

      if (c.transform) {
        t.equal(model.task, 'transformer');
        const err = maxRelativeError(out.transform.data as Float64Array, c.transform.flat());
        t.ok(err <= TOLERANCE, `${file.variant}: transform within ${TOLERANCE} relative (max ${err.toExponential(2)})`);
        t.same(out.transform.dims, [c.transform.length, c.transform[0].length], `${file.variant}: transform shape`);
        continue;
      }
      const expected = c.predict as Cell[] | Cell[][];
      const got = plain(out[PREDICT_OUTPUT]);
      if (model.task === 'classifier') {
        t.same(got, expected, `${file.variant}: predict labels exactly`);
      } else {
        const err = maxRelativeError(got as number[], expected.flat());
        t.ok(err <= TOLERANCE, `${file.variant}: predict within ${TOLERANCE} relative (max ${err.toExponential(2)})`);
        t.same(out[PREDICT_OUTPUT].dims, Array.isArray(expected[0]) ? [expected.length, (expected[0] as Cell[]).length] : [expected.length], `${file.variant}: predict shape`);
      }
      if (c.predict_proba) {
        t.ok(out[PREDICT_PROBA_OUTPUT], `${file.variant}: has predict_proba`);
        const err = maxRelativeError(out[PREDICT_PROBA_OUTPUT].data as Float64Array, c.predict_proba.flat());
        t.ok(err <= TOLERANCE, `${file.variant}: predict_proba within ${TOLERANCE} relative (max ${err.toExponential(2)})`);
      } else {
        t.notOk(model.outputs.some((o) => o.name === PREDICT_PROBA_OUTPUT), `${file.variant}: no predict_proba where sklearn has none`);
      }
    }
  });
}
