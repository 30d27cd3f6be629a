// The model repository extension over HTTP: index (with an empty body), unload (infer then 404,
// index UNAVAILABLE), load (new versions load, vanished ones unload), a model file replaced on
// disk and reloaded while requests keep flowing, and errors.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { identityModel, mlpModel } from '../../src/modelgen/examples.js';
import { exampleRepository, infer, rawRequest, startTestServer, writeModel } from '../helpers/server.js';

const post = (url: string, body?: string, headers: Record<string, string> = {}) => rawRequest(url, { method: 'POST', headers, body });
const IRIS = { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] };

t.test('index, unload and load', async (t) => {
  const root = exampleRepository(t, ['iris', 'identity_fp32']);
  const server = await startTestServer(t, { folder: root });
  const meta = (await rawRequest(`${server.url}/v2`)).json();
  t.ok((meta.extensions as string[]).includes('model_repository'), 'advertised');

  const index = await post(`${server.url}/v2/repository/index`); // no body, no Content-Type
  t.equal(index.status, 200);
  t.same(index.json(), [
    { name: 'identity_fp32', version: '', state: 'READY', reason: '' },
    { name: 'iris', version: '1', state: 'READY', reason: '' },
  ]);

  const unload = await post(`${server.url}/v2/repository/models/iris/unload`);
  t.equal(unload.status, 200);
  t.equal((await infer(server, 'iris', IRIS)).status, 404, 'infer on an unloaded model is 404');
  t.equal((await rawRequest(`${server.url}/v2/models/iris/ready`)).status, 404);
  const after = (await post(`${server.url}/v2/repository/index`, '{}', { 'content-type': 'application/json' })).json() as unknown as { name: string; state: string; reason: string }[];
  t.match(after.find((m) => m.name === 'iris'), { state: 'UNAVAILABLE', reason: 'unloaded' });
  const readyOnly = (await post(`${server.url}/v2/repository/index`, '{"ready": true}')).json() as unknown as { name: string }[];
  t.same(readyOnly.map((m) => m.name), ['identity_fp32'], '{"ready": true} keeps the ready ones');
  t.equal((await post(`${server.url}/v2/repository/models/iris/unload`)).status, 200, 'unloading again is fine');

  const load = await post(`${server.url}/v2/repository/models/iris/load`);
  t.equal(load.status, 200);
  t.equal((await infer(server, 'iris', IRIS)).status, 200, 'serves again after load');

  const unknownLoad = await post(`${server.url}/v2/repository/models/nope/load`);
  t.equal(unknownLoad.status, 404);
  t.match(unknownLoad.json(), { error: /nope not found in the model repository/ });
  t.equal((await post(`${server.url}/v2/repository/models/nope/unload`)).status, 404);
  t.equal((await post(`${server.url}/v2/repository/index`, '{"ready": 3}')).status, 400);
  t.equal((await post(`${server.url}/v2/repository/index`, '[1]')).status, 400);
  t.equal((await post(`${server.url}/v2/repository/myrepo/index`)).status, 200, "Triton's repository-name form");
});

t.test('load picks up new versions and unloads vanished ones', async (t) => {
  const root = exampleRepository(t, []);
  mkdirSync(join(root, 'ident'));
  writeFileSync(join(root, 'ident', 'model-settings.json'), '{}');
  writeModel(join(root, 'ident'), '1', identityModel('fp32'));
  const server = await startTestServer(t, { folder: root });
  writeModel(join(root, 'ident'), '2', identityModel('fp32'));
  rmSync(join(root, 'ident', '1'), { recursive: true });
  t.equal((await post(`${server.url}/v2/repository/models/ident/load`)).status, 200);
  const index = (await post(`${server.url}/v2/repository/index`)).json() as unknown as { name: string; version: string; state: string }[];
  t.same(index.map((m) => [m.name, m.version, m.state]), [['ident', '2', 'READY']]);
  const res = await infer(server, 'ident', { inputs: [{ name: 'INPUT0', shape: [1, 1], datatype: 'FP32', data: [3] }] });
  t.equal(res.json().model_version, '2');
});

t.test('a model file replaced on disk and reloaded while requests flow: no request fails', async (t) => {
  const root = exampleRepository(t, []);
  writeModel(root, 'net', mlpModel([4, 64, 3], 1), { name: 'net' });
  // Two workers: the new instance loads on each while both serve the old one.
  const server = await startTestServer(t, { folder: root, settings: { parallel_workers: '2' } });
  const body = { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }] };
  const before = ((await infer(server, 'net', body)).json().outputs as { data: number[] }[])[0].data;

  let stop = false;
  const statuses: number[] = [];
  const client = async (): Promise<void> => {
    while (!stop) statuses.push((await infer(server, 'net', body)).status);
  };
  const clients = Array.from({ length: 4 }, client);
  const answered = async (n: number): Promise<void> => {
    for (const until = Date.now() + 30_000; statuses.length < n && Date.now() < until; ) await new Promise((r) => setTimeout(r, 5));
  };
  await answered(20); // the clients are going
  writeFileSync(join(root, 'net', 'model.onnx'), mlpModel([4, 64, 3], 2));
  const loadStarted = statuses.length;
  const load = await post(`${server.url}/v2/repository/models/net/load`);
  const duringLoad = statuses.length - loadStarted;
  await answered(statuses.length + 20); // and keep going after it
  stop = true;
  await Promise.all(clients);
  t.equal(load.status, 200);
  t.ok(statuses.length >= 40 && duringLoad > 0, `${statuses.length} requests around the reload, ${duringLoad} answered while it ran`);
  t.same([...new Set(statuses)], [200], 'every request during the reload succeeded');
  const afterOut = ((await infer(server, 'net', body)).json().outputs as { data: number[] }[])[0].data;
  t.not(JSON.stringify(afterOut), JSON.stringify(before), 'the new weights answer after the reload');
});

t.test('a failed reload keeps the old instance serving and reports why', async (t) => {
  const root = exampleRepository(t, ['iris']);
  const server = await startTestServer(t, { folder: root });
  writeFileSync(join(root, 'iris', 'model.onnx'), 'garbage');
  const load = await post(`${server.url}/v2/repository/models/iris/load`);
  t.equal(load.status, 400);
  t.match(load.json(), { error: /failed to load 'iris': 1: / });
  t.equal((await infer(server, 'iris', IRIS)).status, 200, 'the old instance still serves');
});
