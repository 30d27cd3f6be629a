// Logs: every line about a request carries its request id (the V2 `id`, the client's x-request-id,
// or a generated one), the access log is switched by `debug`, model events carry durations and
// reasons, and tensor data never reaches a log line.
import t from 'tap';
import { grpcClients } from '../helpers/grpc.js';
import { capturingLogger, exampleRepository, infer, rawRequest, startTestServer, writeModel } from '../helpers/server.js';

// A value no other part of a log line would hold: if it shows up, tensor data was logged.
const MARKER = 7.123456;
const body = (id?: string) => ({ ...(id ? { id } : {}), inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [MARKER, 3.5, 1.4, 0.2] }] });

t.test('log lines of one request share its id (HTTP and gRPC); the access log follows debug', async (t) => {
  const root = exampleRepository(t, ['iris']);
  const { logger, lines } = capturingLogger('debug');
  const server = await startTestServer(t, { folder: root, logger, settings: { debug: true } });

  t.equal((await infer(server, 'iris', body('good-1'))).status, 200);
  t.equal((await infer(server, 'iris', { ...body('bad-2'), outputs: [{ name: 'nope' }] })).status, 400);
  const traced = await rawRequest(`${server.url}/v2/models/iris/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'trace-3' },
    body: JSON.stringify(body()),
  });
  t.equal(traced.status, 200);
  t.equal((await infer(server, 'iris', body())).status, 200, 'a request with no id at all');
  const grpc = grpcClients(server.grpcAddress);
  t.teardown(() => grpc.close());
  await grpc.call('ModelInfer', { model_name: 'iris', id: 'grpc-4', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [MARKER, 1, 1, 1] } }] });
  await t.rejects(grpc.call('ModelInfer', { model_name: 'iris', id: 'grpc-5', inputs: [] }), { code: 3 });

  const all = lines();
  const of = (id: string) => all.filter((l) => l.requestId === id);
  const good = of('good-1');
  t.ok(good.some((l) => l.msg === 'request completed' && l.status === 200), 'good-1: access line with its V2 id');
  const bad = of('bad-2');
  t.ok(bad.some((l) => l.msg === 'request refused' && /nope/.test(String(l.reason))), 'bad-2: the refusal, with its reason, under its id');
  t.ok(bad.some((l) => l.msg === 'request completed' && l.status === 400), 'bad-2: access line under the same id');
  t.ok(of('trace-3').some((l) => l.msg === 'request completed'), 'x-request-id is the id when the body has none');
  const infers = all.filter((l) => typeof l.url === 'string' && (l.url as string).includes('/infer'));
  t.equal(infers.length, 4, 'one access line per HTTP infer request');
  t.ok(infers.every((l) => typeof l.requestId === 'string' && l.requestId !== ''), 'every one carries a request id (generated when none is given)');
  t.ok(of('grpc-4').some((l) => l.msg === 'call completed' && l.method === 'ModelInfer' && l.code === 'OK'), 'gRPC: access line with the V2 id');
  t.ok(of('grpc-5').some((l) => l.msg === 'call completed' && l.code === 'INVALID_ARGUMENT'), 'gRPC: the failed call under its id');
  const text = JSON.stringify(all);
  t.notOk(text.includes(String(MARKER)), 'no tensor data in any log line');
  t.notOk(all.some((l) => l.level === 30 && JSON.stringify(l).includes('"stack"')), 'no stack trace at info level');
});

t.test('without debug (info level)', async (t) => {
  const root = exampleRepository(t, ['iris']);
  writeModel(root, 'broken', new Uint8Array([1, 2, 3, 4]));
  const { logger, lines } = capturingLogger('info');
  const server = await startTestServer(t, { folder: root, logger });

  t.test('there is no access log', async (t) => {
    t.equal((await infer(server, 'iris', body('quiet-1'))).status, 200);
    t.equal(lines().filter((l) => l.requestId === 'quiet-1').length, 0, 'nothing logged about a successful request');
  });

  t.test('model load, unload and failure events carry durations and reasons', async (t) => {
    t.equal((await rawRequest(`${server.url}/v2/repository/models/iris/unload`, { method: 'POST' })).status, 200);
    const all = lines();
    t.ok(all.some((l) => l.msg === 'model loaded' && l.model === 'iris' && typeof l.loadMs === 'number'), 'load: model and time');
    t.ok(all.some((l) => l.msg === 'model failed to load' && l.model === 'broken' && typeof l.reason === 'string' && l.level === 50), 'failure: model and reason, at error level');
    t.ok(all.some((l) => l.msg === 'model unloaded' && l.model === 'iris' && typeof l.unloadMs === 'number'), 'unload: model and time');
  });
});
