// Models that used to fail the server, or be reported wrongly (issue #14):
//
// Finding 7: one malformed model-settings.json anywhere stopped start-up (exit 2), and at run time
// made every repository index/load answer 400; unknown fields in model settings were silently
// ignored although the README says they warn. Now a broken folder is one UNAVAILABLE model with
// its reason (paths relative to the repository), the others serve, the repository routes work,
// unknown fields warn by name, and strict_readiness decides whether readiness waits for every
// model. With no model at all, a clear warning says so.
//
// Finding 6: a replacement worker used to reload the model from disk, so after the file was
// overwritten and a worker died, the model answered 500 on every request while it, and the
// server, reported ready. Now a replacement loads the bytes read at load time (the ONNX model keeps
// serving what was loaded), and a model no replacement can load again (a custom runtime whose
// module is gone) turns UNAVAILABLE with the reason: /v2/models, model readiness and the answers
// (503, not 500) reflect what serves.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { identityModel, irisModel } from '../../src/modelgen/examples.js';
import { grpcClients } from '../helpers/grpc.js';
import { capturingLogger, exampleRepository, infer, rawRequest, startTestServer, tempDir } from '../helpers/server.js';
import { sleep } from './helpers.js';

const IRIS = { inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }] };
const ECHO = { inputs: [{ name: 'x', shape: [3], datatype: 'FP32', data: [1, 2, 3] }] };

function folder(root: string, name: string, settings: string): void {
  mkdirSync(join(root, name), { recursive: true });
  writeFileSync(join(root, name, 'model.onnx'), irisModel());
  writeFileSync(join(root, name, 'model-settings.json'), settings);
}

const root = exampleRepository(t, ['iris']);
folder(root, 'broken-json', '{ "name": "broken-json", ');
folder(root, 'bad-values', JSON.stringify({ name: 'badvalues', max_batch_size: 'lots' }));
folder(
  root,
  'unknown',
  JSON.stringify({
    name: 'unknown',
    bogus: 1,
    parameters: { foo: 2 },
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4], extra_field: true }],
  }),
);
// A custom runtime: its module is imported by each worker, from disk.
mkdirSync(join(root, 'echo'));
writeFileSync(join(root, 'echo', 'echo.mjs'), "export function predict(inputs) { return [{ name: 'y', datatype: 'FP32', shape: inputs[0].shape, data: inputs[0].data }]; }\n");
writeFileSync(
  join(root, 'echo', 'model-settings.json'),
  JSON.stringify({ name: 'echo', implementation: './echo.mjs', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }] }),
);

type Status = { name: string; state: string; reason: string };

const { logger, lines } = capturingLogger('warn');
const server = await startTestServer(t, { folder: root, logger, settings: { parallel_workers: '1' } });
const clients = grpcClients(server.grpcAddress);
t.teardown(() => clients.close());
const models = async (): Promise<Status[]> => (await rawRequest(`${server.url}/v2/models`)).json().models as Status[];

t.test('lenient repository: broken folders are UNAVAILABLE with their reasons, the others serve', async (t) => {
  const list = await models();
  const of = (name: string): Status | undefined => list.find((m) => m.name === name);
  t.match(of('iris'), { state: 'READY' });
  t.match(of('unknown'), { state: 'READY' }, 'unknown fields do not stop a model');
  t.match(of('broken-json'), { state: 'UNAVAILABLE', reason: /invalid model-settings\.json: broken-json\/model-settings\.json is not valid JSON/ });
  t.match(of('badvalues'), { state: 'UNAVAILABLE', reason: /bad-values\/model-settings\.json: field 'max_batch_size' has value "lots"; expected number/ });
  t.notOk(JSON.stringify(list).includes(root), 'reasons name paths relative to the repository');
  t.equal((await infer(server, 'iris', IRIS)).status, 200);
  t.equal((await infer(server, 'echo', ECHO)).status, 200);
  t.equal((await infer(server, 'badvalues', IRIS)).status, 503);
  t.equal((await rawRequest(`${server.url}/v2/health/ready`)).status, 200, 'ready: strict_readiness is off by default');

  const warnings = lines().map((l) => String(l.msg));
  for (const field of ["unknown field 'bogus'", "unknown field 'parameters.foo'", "unknown field 'inputs[0].extra_field'"]) {
    t.ok(warnings.some((w) => w.includes(field)), `warns: ${field}`);
  }
  t.ok(warnings.some((w) => /broken-json/.test(w)), 'the broken folder is logged');

  // The repository routes keep working, at run time too: a new broken folder is one more entry.
  folder(root, 'later', '[1,2');
  const index = await rawRequest(`${server.url}/v2/repository/index`, { method: 'POST' });
  t.equal(index.status, 200, 'the index answers (it was 400 for every call)');
  const listed = index.json() as unknown as Status[];
  t.same(listed.map((m) => m.name).sort(), ['badvalues', 'broken-json', 'echo', 'iris', 'later', 'unknown']);
  t.match(listed.find((m) => m.name === 'later'), { state: 'UNAVAILABLE', reason: /later\/model-settings\.json is not valid JSON/ });
  const load = await rawRequest(`${server.url}/v2/repository/models/badvalues/load`, { method: 'POST' });
  t.equal(load.status, 400);
  t.match(load.json(), { error: /failed to load 'badvalues'.*max_batch_size/ });
  const reload = await rawRequest(`${server.url}/v2/repository/models/iris/load`, { method: 'POST' });
  t.equal(reload.status, 200, 'loading a good model works');
  const grpcIndex = await clients.call<{ models: Status[] }>('RepositoryIndex', {});
  t.equal(grpcIndex.models.length, 6, 'gRPC RepositoryIndex too');
});

t.test('strict readiness: not ready while a configured model is not READY', async (t) => {
  // The rule itself, on this server (the setting's wiring is checked with no models, below).
  server.dataplane.strictReadiness = true;
  t.teardown(() => void (server.dataplane.strictReadiness = false));
  t.equal((await infer(server, 'iris', IRIS)).status, 200, 'iris serves');
  t.equal((await rawRequest(`${server.url}/v2/health/ready`)).status, 503, 'but the server is not ready: badvalues is UNAVAILABLE');
  t.same(await clients.call('ServerReady', {}), { ready: false });
});

t.test('after a file overwrite and a worker death: ONNX serves the loaded model, a model that cannot reload is UNAVAILABLE', async (t) => {
  const before = await infer(server, 'iris', IRIS);
  t.equal(before.status, 200);

  // The files change under the server, then its only worker dies.
  writeFileSync(join(root, 'iris', 'model.onnx'), identityModel('fp32'));
  rmSync(join(root, 'echo', 'echo.mjs'));
  const [only] = server.pool.workers();
  t.ok(server.pool.replaceWorker(only.id, 'killed by the test'), 'the worker is terminated');

  const deadline = Date.now() + 15_000;
  while ((await models()).find((m) => m.name === 'echo')?.state === 'READY' && Date.now() < deadline) await sleep(50);

  const iris = await infer(server, 'iris', IRIS);
  t.equal(iris.status, 200, 'iris answers');
  t.same(iris.json().outputs, before.json().outputs, 'as the model loaded at start-up, not the file now on disk');
  const list = await models();
  t.match(list.find((m) => m.name === 'iris'), { state: 'READY' });
  t.match(list.find((m) => m.name === 'echo'), { state: 'UNAVAILABLE', reason: /its worker was replaced and no worker could load it again: .*echo\.mjs/ });
  const refused = await infer(server, 'echo', ECHO);
  t.equal(refused.status, 503, `the lost model answers 503, not 500 (${refused.text})`);
  t.match(refused.json(), { error: /Model echo is not ready: it is UNAVAILABLE: its worker was replaced/ });
  t.equal((await rawRequest(`${server.url}/v2/models/echo/ready`)).status, 503, 'its readiness says so');
  t.same(await clients.call('ModelReady', { name: 'echo', version: '' }), { ready: false }, 'over gRPC too');
  t.equal((await rawRequest(`${server.url}/v2/health/ready`)).status, 200, 'the server stays ready: iris serves (strict_readiness is off)');
});

t.test('no models: a warning; readiness per strict_readiness', async (t) => {
  const empty = tempDir(t);
  for (const strict of ['false', 'true']) {
    const { logger, lines } = capturingLogger('warn');
    const server = await startTestServer(t, { folder: empty, logger, settings: { parallel_workers: '1', strict_readiness: strict } });
    t.ok(lines().some((l) => l.level === 40 && /no models found under/.test(String(l.msg))), `strict_readiness ${strict}: warned`);
    t.equal((await rawRequest(`${server.url}/v2/health/ready`)).status, strict === 'true' ? 200 : 503, `strict_readiness ${strict}: readiness`);
    await server.close();
  }
});
