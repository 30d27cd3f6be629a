// The six real MLflow sklearn models in /work/shared/data/mlflow-models (written by MLflow's own
// save_model with cloudpickle): each converts, and on every case of cases.json (boundary rows
// included) the graph's `predict` equals sklearn's recorded `predict` (labels exactly, values within
// 1e-5 relative) and `predict_proba` equals `sklearn_predict_proba`. The request bodies are parsed
// here only to get the rows (column requests are ordered by the signature's column names); the
// MLflow layer that serves them is tested elsewhere.
import { existsSync, readFileSync } from 'node:fs';
import t from 'tap';
import { parse as parseYaml } from 'yaml';
import { PREDICT_OUTPUT, PREDICT_PROBA_OUTPUT } from '../../src/convert/model.js';
import { convertSklearn } from '../../src/convert/sklearn/index.js';
import { rowsOf } from '../mlflow/serving-helpers.js';
import { inputTensor, maxRelativeError, plain, run } from './sklearn-helpers.js';

const DIR = '/work/shared/data/mlflow-models';
const MODELS = ['wine-elasticnet', 'iris-logreg', 'iris-tree', 'diabetes-forest', 'cancer-gbc', 'wine-pipeline'];
const TOLERANCE = 1e-5;

interface MlflowCase {
  model: string;
  format: string;
  rows: { boundary_row: unknown };
  request: { body: string };
  response: { body: string };
  sklearn_predict: number[];
  sklearn_predict_proba?: number[][];
}

const present = existsSync(`${DIR}/cases.json`);
t.test('the MLflow models are here', { skip: present ? false : `the MLflow models are not on this machine (${DIR})` }, async (t) => {
  t.ok(present);
});
if (present) {
  const cases = JSON.parse(readFileSync(`${DIR}/cases.json`, 'utf8')) as MlflowCase[];
  for (const name of MODELS) {
    t.test(name, async (t) => {
      const mlmodel = parseYaml(readFileSync(`${DIR}/${name}/MLmodel`, 'utf8')) as {
        flavors: { sklearn: { pickled_model: string; serialization_format: 'cloudpickle' | 'pickle' } };
        signature: { inputs: string };
      };
      const sig = JSON.parse(mlmodel.signature.inputs) as Array<{ type: string; name?: string }>;
      const columns = sig.every((s) => s.name !== undefined && s.type !== 'tensor') ? sig.map((s) => s.name as string) : undefined;
      const flavor = mlmodel.flavors.sklearn;
      const model = convertSklearn(new Uint8Array(readFileSync(`${DIR}/${name}/${flavor.pickled_model}`)), { format: flavor.serialization_format });
      t.match(model.description, /^sklearn /);
      const mine = cases.filter((c) => c.model === name);
      t.ok(mine.length >= 3, `${mine.length} cases`);
      for (const c of mine) {
        const rows = rowsOf(c.request.body, columns);
        const out = await run(model, inputTensor('double', rows));
        const got = plain(out[PREDICT_OUTPUT]);
        const mlflowAnswer = (JSON.parse(c.response.body) as { predictions: number[] }).predictions;
        if (model.task === 'classifier') {
          t.same(got, c.sklearn_predict, `${c.format}: predict labels exactly${c.rows.boundary_row ? ' (boundary row included)' : ''}`);
          t.same(got, mlflowAnswer, `${c.format}: equal to MLflow's /invocations answer`);
        } else {
          const err = maxRelativeError(got as number[], c.sklearn_predict);
          t.ok(err <= TOLERANCE, `${c.format}: predict within ${TOLERANCE} relative of sklearn (max ${err.toExponential(2)})`);
          t.ok(maxRelativeError(got as number[], mlflowAnswer) <= TOLERANCE, `${c.format}: and of MLflow's answer`);
        }
        if (c.sklearn_predict_proba) {
          const err = maxRelativeError(out[PREDICT_PROBA_OUTPUT].data as Float64Array, c.sklearn_predict_proba.flat());
          t.ok(err <= TOLERANCE, `${c.format}: predict_proba within ${TOLERANCE} relative (max ${err.toExponential(2)})`);
        }
      }
    });
  }
}
