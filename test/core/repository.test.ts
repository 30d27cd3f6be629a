// Model discovery and versions: settings folders, names, Triton's <model>/<version>/ layout,
// zero-config folders, env-only models, duplicates; MLServer's default-version rule; and a
// versioned repository served over HTTP.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { settingsReader } from '../../src/config/load.js';
import { discoverModels } from '../../src/core/repository.js';
import { runtimes } from '../../src/runtimes/registry.js';
import { identityModel, irisModel } from '../../src/modelgen/examples.js';
import { infer, rawRequest, startTestServer, tempDir, writeModel } from '../helpers/server.js';

const settings = (dir: string, value: object): void => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model-settings.json'), JSON.stringify(value));
};

// One server for the tests over HTTP, each with its own models.
const served = tempDir(t);
// versions over HTTP: 1 and 2, and version 3 broken (the default must be the highest READY one)
settings(join(served, 'ident'), {});
writeModel(join(served, 'ident'), '1', identityModel('fp32'));
writeModel(join(served, 'ident'), '2', identityModel('fp32'));
writeModel(join(served, 'ident'), '3', new Uint8Array([1, 2, 3]));
// an unversioned model beside a version of it
writeModel(served, 'm', identityModel('fp32'), { name: 'm' });
settings(join(served, 'm5'), { name: 'm', parameters: { version: '5' } });
writeFileSync(join(served, 'm5', 'model.onnx'), identityModel('fp32'));
// settings inputs/outputs over the graph's
writeModel(served, 'narrow', identityModel('fp32'), {
  name: 'narrow',
  inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 3] }],
});
writeModel(served, 'wrongtype', identityModel('fp32'), {
  name: 'wrongtype',
  inputs: [{ name: 'INPUT0', datatype: 'INT32', shape: [-1, 3] }],
});
const server = await startTestServer(t, { folder: served });

t.test('discovery', async (t) => {
  const root = tempDir(t);
  // 1. settings with a name, recursively nested
  settings(join(root, 'group', 'a'), { name: 'alpha' });
  writeFileSync(join(root, 'group', 'a', 'model.onnx'), irisModel());
  // 2. name defaults to the folder; uri points at a file
  settings(join(root, 'beta'), { parameters: { uri: './weights.onnx' } });
  writeFileSync(join(root, 'beta', 'weights.onnx'), irisModel());
  // 3. Triton layout: versions as numeric sub-folders of a settings folder
  settings(join(root, 'gamma'), {});
  for (const v of ['1', '2', '10']) writeModel(join(root, 'gamma'), v, irisModel());
  // 4. MLServer layout: one settings file per version folder, named after the version
  settings(join(root, 'delta', '3'), { parameters: { version: '3' } });
  writeFileSync(join(root, 'delta', '3', 'model.onnx'), irisModel());
  // 5. zero-config folders, plain and versioned
  writeModel(root, 'epsilon', irisModel());
  writeModel(join(root, 'zeta'), '4', irisModel());

  const { models } = discoverModels(root, { env: {}, settings: settingsReader, runtimes });
  t.same(
    models.map((m) => [m.name, m.version, m.modelPath.slice(root.length + 1)]),
    [
      ['alpha', '', 'group/a/model.onnx'],
      ['beta', '', 'beta/weights.onnx'],
      ['delta', '3', 'delta/3/model.onnx'],
      ['epsilon', '', 'epsilon/model.onnx'],
      ['gamma', '1', 'gamma/1/model.onnx'],
      ['gamma', '10', 'gamma/10/model.onnx'],
      ['gamma', '2', 'gamma/2/model.onnx'],
      ['zeta', '4', 'zeta/4/model.onnx'],
    ],
  );
});

t.test('two models with one name: that name is UNAVAILABLE with both places named, the others are found', async (t) => {
  const root = tempDir(t);
  settings(join(root, 'x'), { name: 'same' });
  settings(join(root, 'y'), { name: 'same' });
  settings(join(root, 'z'), { name: 'other' });
  const found = discoverModels(root, { env: {}, settings: settingsReader, runtimes });
  t.same(found.models.map((m) => m.name), ['other', 'same']);
  t.match(found.models[1].error, /two models are named 'same' \(unversioned\): x\/model-settings.json and y\/model-settings.json/);
  t.equal(found.models[0].error, undefined);
  t.match(found.warnings.join('\n'), /two models are named 'same'/);
});

t.test('a model from MLSERVER_MODEL_* alone when the repository has none (mlflow / KServe style)', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'classifier.onnx'), irisModel());
  const { models } = discoverModels(root, { env: { MLSERVER_MODEL_URI: './classifier.onnx', MLSERVER_MODEL_NAME: 'mlflow-model' }, settings: settingsReader, runtimes });
  t.same(models.map((m) => [m.name, m.version]), [['mlflow-model', '']]);
  t.equal(models[0].modelPath, join(root, 'classifier.onnx'));
});

t.test('KServe: MLSERVER_MODEL_NAME renames a zero-config model at the root', async (t) => {
  const root = tempDir(t);
  writeFileSync(join(root, 'model.onnx'), irisModel());
  const { models } = discoverModels(root, { env: { MLSERVER_MODEL_NAME: 'my-isvc' }, settings: settingsReader, runtimes });
  t.same(models.map((m) => m.name), ['my-isvc']);
});

t.test('versions over HTTP: default version, versioned routes, metadata versions', async (t) => {
  const body = { inputs: [{ name: 'INPUT0', shape: [1, 1], datatype: 'FP32', data: [1] }] };
  const plain = await infer(server, 'ident', body);
  t.equal(plain.status, 200);
  t.equal(plain.json().model_version, '2', 'unversioned request goes to the highest ready version');
  const v1 = await infer(server, 'ident', body, '/v2/models/ident/versions/1/infer');
  t.equal(v1.json().model_version, '1');
  const v3 = await infer(server, 'ident', body, '/v2/models/ident/versions/3/infer');
  t.equal(v3.status, 503, 'the broken version is not ready');
  const meta = (await rawRequest(`${server.url}/v2/models/ident`)).json();
  t.same(meta.versions, ['3', '2', '1']);
  t.equal((await rawRequest(`${server.url}/v2/models/ident/versions/3/ready`)).status, 503);
  t.equal((await rawRequest(`${server.url}/v2/models/ident/versions/1/ready`)).status, 200);
});

t.test('an unversioned model is the default even when versions exist', async (t) => {
  const res = await infer(server, 'm', { inputs: [{ name: 'INPUT0', shape: [1, 1], datatype: 'FP32', data: [1] }] });
  t.equal(res.status, 200);
  t.notOk('model_version' in res.json(), 'answered by the unversioned model');
});

t.test('settings inputs/outputs override the graph metadata, and are validated', async (t) => {
  const meta = (await rawRequest(`${server.url}/v2/models/narrow`)).json();
  t.same(meta.inputs, [{ name: 'INPUT0', datatype: 'FP32', shape: [-1, 3] }]);
  const bad = await infer(server, 'narrow', { inputs: [{ name: 'INPUT0', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] });
  t.equal(bad.status, 400, 'the overridden fixed dim is enforced');
  const list = (await rawRequest(`${server.url}/v2/models`)).json().models as { name: string; state: string; reason: string }[];
  t.match(list.find((m) => m.name === 'wrongtype'), { state: 'UNAVAILABLE', reason: /'INPUT0' is FP32 in the model, not INT32/ });
});
