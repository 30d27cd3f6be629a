// convertSklearn's contract beyond the numbers: the ConvertedModel it returns (graph input and
// output metadata, task, labels, description) agrees with what ONNX Runtime reports, and models
// it cannot convert faithfully are refused with a ConversionError naming the class and the field
// (never guessed): unfitted estimators, other layouts, categorical HistGradientBoosting,
// infrequent one-hot categories, arbitrary init estimators, multi-output classifiers,
// string imputers, classes without a converter, callable column selectors.
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import t from 'tap';
import { ConversionError } from '../../src/convert/model.js';
import { convertSklearn, SUPPORTED_ESTIMATORS } from '../../src/convert/sklearn/index.js';
import { FIXTURES, fixtureBytes } from './sklearn-helpers.js';

const convert = (path: string) => convertSklearn(fixtureBytes(path));

t.test('metadata of a classifier with int labels', async (t) => {
  const m = convert('models/logreg-multinomial.cloudpickle.pkl');
  t.equal(m.task, 'classifier');
  t.equal(m.estimator, 'sklearn.linear_model._logistic.LogisticRegression');
  t.same(m.inputs, [{ name: 'input', datatype: 'FP64', shape: [-1, 4] }]);
  t.same(m.outputs, [{ name: 'predict', datatype: 'INT64', shape: [-1] }, { name: 'predict_proba', datatype: 'FP64', shape: [-1, 3] }]);
  t.same(m.classLabels, { kind: 'int64', values: [0n, 1n, 2n] });
  t.match(m.description, /^sklearn LogisticRegression → classifier, 4 double features, 3 classes \(int64 labels\), with predict_proba; \d+ ONNX nodes/);
  const session = await ort.InferenceSession.create(m.onnx);
  t.same(session.inputNames, ['input']);
  t.same(session.outputNames, ['predict', 'predict_proba']);
});

t.test('metadata of classifiers with string labels, regressors, multi-target regressors and transformers', async (t) => {
  const strings = convert('models/forest-classifier-strings.cloudpickle.pkl');
  t.same(strings.outputs[0], { name: 'predict', datatype: 'BYTES', shape: [-1] });
  t.same(strings.classLabels, { kind: 'string', values: ['barbera', 'barolo', 'grignolino'] });
  const svc = convert('models/linear-svc.cloudpickle.pkl');
  t.same(svc.outputs.map((o) => o.name), ['predict'], 'LinearSVC: predict only (sklearn has no predict_proba)');
  const reg = convert('models/gb-regressor.cloudpickle.pkl');
  t.equal(reg.task, 'regressor');
  t.same(reg.outputs, [{ name: 'predict', datatype: 'FP64', shape: [-1] }]);
  t.equal(reg.classLabels, undefined);
  const two = convert('models/tree-regressor-2outputs.cloudpickle.pkl');
  t.same(two.outputs, [{ name: 'predict', datatype: 'FP64', shape: [-1, 2] }]);
  const scaler = convert('models/scalers.cloudpickle.pkl');
  t.equal(scaler.task, 'transformer');
  t.same(scaler.outputs, [{ name: 'transform', datatype: 'FP64', shape: [-1, 6] }]);
  const mixed = convert('models/column-transformer-strings.cloudpickle.pkl');
  t.same(mixed.inputs, [{ name: 'input', datatype: 'BYTES', shape: [-1, 7] }], 'string categories: every column arrives as text');
  t.same(convertSklearn(fixtureBytes('models/linreg.cloudpickle.pkl'), { inputName: 'X' }).inputs[0].name, 'X', 'input name option');
});

t.test('SUPPORTED_ESTIMATORS lists the converters', async (t) => {
  for (const name of ['LinearRegression', 'LogisticRegression', 'RandomForestClassifier', 'HistGradientBoostingRegressor', 'Pipeline', 'ColumnTransformer', 'OneHotEncoder']) {
    t.ok(SUPPORTED_ESTIMATORS.includes(name), name);
  }
});

interface Refused { file: string; error: string; note: string }
const refused = JSON.parse(readFileSync(new URL('refused/refused.json', FIXTURES), 'utf8')) as Refused[];

t.test('models that cannot be converted faithfully are refused, naming what is wrong', async (t) => {
  t.ok(refused.length >= 12, `${refused.length} refusal fixtures`);
  for (const r of refused) {
    let caught: unknown;
    try {
      convert(r.file);
    } catch (e) {
      caught = e;
    }
    t.ok(caught instanceof ConversionError, `${r.file} (${r.note}): ConversionError`);
    t.ok((caught as Error).message.includes(r.error), `${r.file}: message names '${r.error}' — ${(caught as Error).message}`);
  }
});

t.test('a pickle of data that is not an estimator is refused', async (t) => {
  t.throws(() => convert('pickle/containers.p4.pkl'), { name: 'ConversionError', message: /holds a dict, not a fitted estimator/ });
  t.throws(() => convert('pickle/array-float64.p4.pkl'), { name: 'ConversionError', message: /holds a ndarray/ });
});

t.test('crafted layouts: a pipeline containing itself, an absurd feature count', async (t) => {
  // Pipeline whose steps are [('a', <itself>)], built with the memo (protocol 2).
  const selfPipeline = Buffer.from('\x80\x02csklearn.pipeline\nPipeline\n)\x81q\x00}X\x05\x00\x00\x00steps]X\x01\x00\x00\x00ah\x00\x86asb.', 'latin1');
  t.throws(() => convertSklearn(selfPipeline), { name: 'ConversionError', message: /nested more than 32 deep \(or contain themselves\)/ });
  // StandardScaler claiming 10^15 input features.
  const huge = Buffer.alloc(8);
  huge.writeBigInt64LE(10n ** 15n);
  const scaler = Buffer.concat([
    Buffer.from('\x80\x02csklearn.preprocessing._data\nStandardScaler\n)\x81}X\x0e\x00\x00\x00n_features_in_\x8a\x07', 'latin1'),
    huge.subarray(0, 7), Buffer.from('sb.', 'latin1'),
  ]);
  t.throws(() => convertSklearn(scaler), { name: 'ConversionError', message: /n_features_in_ is 1000000000000000; a model has between 1 and 16777216 features/ });
});
