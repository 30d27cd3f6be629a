// Server readiness: not ready while a model is still loading, not ready with zero models, and a
// broken model leaves the others serving with its reason visible.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { irisModel } from '../../src/modelgen/examples.js';
import { exampleRepository, infer, rawRequest, startTestServer, tempDir, writeModel } from '../helpers/server.js';

// One server for the two tests of models that cannot load beside one that can.
const root = exampleRepository(t, ['iris']);
writeModel(root, 'broken', new TextEncoder().encode('this is not an ONNX model'), { name: 'broken' });
writeModel(root, 'hf', irisModel(), { name: 'hf', implementation: 'mlserver_huggingface.HuggingFaceRuntime' });
writeModel(root, 'sk', irisModel(), { name: 'sk', implementation: 'mlserver_sklearn.SKLearnModel' });
execFileSync('mkdir', ['-p', join(root, 'gone')]);
await writeFile(join(root, 'gone', 'model-settings.json'), JSON.stringify({ name: 'gone', parameters: { uri: './missing.onnx' } }));
const server = await startTestServer(t, { folder: root });

t.test('not ready while a slow model loads, ready once it has loaded', async (t) => {
  const root = tempDir(t);
  writeModel(root, 'iris', irisModel());
  // The slow model's file is a FIFO: its load blocks until the test writes the model into it.
  const slowDir = join(root, 'slow');
  execFileSync('mkdir', ['-p', slowDir]);
  const fifo = join(slowDir, 'slow.onnx');
  execFileSync('mkfifo', [fifo]);
  await writeFile(join(slowDir, 'model-settings.json'), JSON.stringify({ name: 'slow', parameters: { uri: 'slow.onnx' } }));

  // One worker: two readers of one FIFO would split its bytes between them.
  const server = await startTestServer(t, { folder: root, settings: { parallel_workers: '1' }, waitLoaded: false });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const iris = await rawRequest(`${server.url}/v2/models/iris/ready`);
    if (iris.status === 200) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  t.equal((await rawRequest(`${server.url}/v2/models/iris/ready`)).status, 200, 'iris is ready');
  const during = await rawRequest(`${server.url}/v2/health/ready`);
  t.equal(during.status, 503, 'server not ready while a model is loading');
  t.same(during.json(), { ready: false });
  const slowReady = await rawRequest(`${server.url}/v2/models/slow/ready`);
  t.equal(slowReady.status, 503);
  t.same(slowReady.json(), { name: 'slow', ready: false });
  const list = (await rawRequest(`${server.url}/v2/models`)).json().models as { name: string; state: string }[];
  t.equal(list.find((m) => m.name === 'slow')?.state, 'LOADING');
  const inferWhileLoading = await infer(server, 'slow', { inputs: [] });
  t.equal(inferWhileLoading.status, 503, 'infer on a loading model is 503');
  t.match(inferWhileLoading.json(), { error: /slow is not ready: it is LOADING/ });

  await writeFile(fifo, irisModel());
  await server.loaded;
  const after = await rawRequest(`${server.url}/v2/health/ready`);
  t.equal(after.status, 200, 'ready once every model has loaded');
  t.same(after.json(), { ready: true });
});

t.test('not ready with zero models', async (t) => {
  const server = await startTestServer(t, { folder: tempDir(t) });
  const res = await rawRequest(`${server.url}/v2/health/ready`);
  t.equal(res.status, 503);
  t.same(res.json(), { ready: false });
  const live = await rawRequest(`${server.url}/v2/health/live`);
  t.equal(live.status, 200, 'still live');
  t.same((await rawRequest(`${server.url}/v2/models`)).json(), { models: [] });
});

t.test('a broken model file leaves the others serving, with its reason visible', async (t) => {
  const ready = await rawRequest(`${server.url}/v2/health/ready`);
  t.equal(ready.status, 200, 'ready: every model finished loading and one is READY');
  const list = (await rawRequest(`${server.url}/v2/models`)).json().models as { name: string; state: string; reason: string }[];
  const broken = list.find((m) => m.name === 'broken');
  t.equal(broken?.state, 'UNAVAILABLE');
  t.match(broken?.reason, /protobuf|parse|model/i, `reason: ${broken?.reason}`);
  const brokenReady = await rawRequest(`${server.url}/v2/models/broken/ready`);
  t.equal(brokenReady.status, 503);
  const res = await infer(server, 'broken', { inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }] });
  t.equal(res.status, 503);
  t.match(res.json(), { error: /broken is not ready: it is UNAVAILABLE: / });
  const iris = await infer(server, 'iris', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] });
  t.equal(iris.status, 200, 'the other model serves');
});

t.test('a model whose file is missing, an unknown implementation, and an sklearn folder without its pickle are UNAVAILABLE with reasons', async (t) => {
  const list = (await rawRequest(`${server.url}/v2/models`)).json().models as { name: string; state: string; reason: string }[];
  t.match(list.find((m) => m.name === 'hf'), { state: 'UNAVAILABLE', reason: /implementation 'mlserver_huggingface.HuggingFaceRuntime' is not supported/ });
  t.match(list.find((m) => m.name === 'sk'), { state: 'UNAVAILABLE', reason: /folder without a model file \(model.joblib, model.pickle or model.pkl\)/ });
  t.match(list.find((m) => m.name === 'gone'), { state: 'UNAVAILABLE', reason: /ENOENT|no such file/ });
  t.equal((await rawRequest(`${server.url}/v2/health/ready`)).status, 200);
});
