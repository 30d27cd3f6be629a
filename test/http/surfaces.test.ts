// The HTTP front end as plugins: each surface answers its errors in its own shape (the V2 ones
// {"error"}, an added surface its own, e.g. MLflow's {"error_code","message"}), with statuses from
// the error catalogue; x-request-timeout deadlines (504); gzip_enabled false really turns response
// compression off; root_path prefixes the API docs' URLs while routes stay where they are.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyPluginAsync } from 'fastify';
import t from 'tap';
import { asTesseraError, modelNotFound } from '../../src/core/errors.js';
import { identityModel } from '../../src/modelgen/examples.js';
import type { SurfaceOptions } from '../../src/http/plugins/surface.js';
import { exampleRepository, infer, rawRequest, startTestServer, writeModel } from '../helpers/server.js';

/** A surface with MLflow's error shape, to show a plugin answers in its own. */
const mlflowLike: FastifyPluginAsync<SurfaceOptions> = async (app, options) => {
  app.setErrorHandler((error, _request, reply) => {
    const e = asTesseraError(error);
    const code = (error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'BAD_REQUEST' : e.mlflowCode;
    const status = (error as { statusCode?: number }).statusCode ?? e.httpStatus;
    return reply.code(status).type('application/json').send(JSON.stringify({ error_code: code, message: e.message }));
  });
  app.post('/test/invocations', async (req, reply) => {
    const body = JSON.parse((req.body as Buffer).toString()) as { model: string };
    options.dataplane.modelMetadata(body.model); // 404 for an unknown model, as a catalogued error
    return reply.send({ ok: true });
  });
  app.get('/test/missing', async () => {
    throw modelNotFound('Model nope not found');
  });
};

const SLEEP = `
export async function predict([ms]) {
  await new Promise((resolve) => setTimeout(resolve, Number(ms.data[0])));
  return [{ name: 'slept', datatype: 'INT32', shape: [1], data: new Int32Array([ms.data[0]]) }];
}
`;

t.test('the V2 surfaces, deadlines, compression and root_path', async (t) => {
  const root = exampleRepository(t, ['iris']);
  writeModel(root, 'identity', identityModel('fp32'), { name: 'identity' });
  mkdirSync(join(root, 'sleep'));
  writeFileSync(join(root, 'sleep', 'sleep.mjs'), SLEEP);
  writeFileSync(
    join(root, 'sleep', 'model-settings.json'),
    JSON.stringify({ name: 'sleep', implementation: './sleep.mjs', inputs: [{ name: 'ms', datatype: 'INT32', shape: [1] }], outputs: [{ name: 'slept', datatype: 'INT32', shape: [1] }] }),
  );
  const server = await startTestServer(t, { folder: root, settings: { http_max_input_size: '16384' } });

  t.test('each V2 surface answers {"error"} with the status of its code', async (t) => {
    const v2: [string, string, number, RegExp, string?][] = [
      ['POST', '/v2/models/nope/infer', 404, /Model nope not found/],
      ['GET', '/v2/models/nope/stats', 404, /Model nope not found/],
      ['GET', '/v2/models/iris/versions/9/config', 404, /with version 9 not found/],
      ['POST', '/v2/repository/index', 400, /must be a JSON object/, '[1]'],
      ['POST', '/v2/repository/models/nope/load', 404, /not found in the model repository/],
      ['GET', '/v2/docs/assets/nope.js', 404, /Not Found/],
      ['GET', '/v2/nothing/here', 404, /Not Found: GET \/v2\/nothing\/here/],
      ['POST', '/v2/models/iris/infer', 413, /larger than the limit of 16384 bytes \(setting http_max_input_size\)/, 'x'.repeat(20_000)],
      ['POST', '/v2/models/iris/infer', 400, /malformed JSON/, '{"inputs": ['],
    ];
    for (const [method, path, status, message, body] of v2) {
      const res = await rawRequest(server.url + path, { method, ...(body !== undefined ? { body } : {}) });
      t.equal(res.status, status, `${method} ${path}: ${status}`);
      t.same(Object.keys(res.json()), ['error'], `${method} ${path}: {"error"}`);
      t.match(res.json().error, message);
    }
    const x = await rawRequest(`${server.url}/v2/models/iris/infer`, { method: 'POST', headers: { 'x-request-timeout': 'soon' }, body: '{}' });
    t.equal(x.status, 400);
    t.match(x.json(), { error: /header x-request-timeout 'soon' is not a timeout/ });
  });

  t.test('x-request-timeout: a deadline that passes answers 504 and counts as TIMEOUT', async (t) => {
    const body = (ms: number) => JSON.stringify({ inputs: [{ name: 'ms', datatype: 'INT32', shape: [1], data: [ms] }] });
    const quick = await rawRequest(`${server.url}/v2/models/sleep/infer`, { method: 'POST', headers: { 'x-request-timeout': '5s' }, body: body(10) });
    t.equal(quick.status, 200, 'answered before its deadline');
    const late = await rawRequest(`${server.url}/v2/models/sleep/infer`, { method: 'POST', headers: { 'x-request-timeout': '200ms' }, body: body(3000) });
    t.equal(late.status, 504);
    t.match(late.json(), { error: /the request's deadline passed before model sleep answered/ });
    const metrics = await rawRequest(`${server.metricsUrl}/metrics`);
    t.match(metrics.text, /tessera_request_failures_total\{model="sleep",version="",reason="TIMEOUT"\} 1/, 'the failure reason derives from the code');
  });

  t.test('gzip_enabled false turns response compression off; root_path prefixes the docs', async (t) => {
    const big = { inputs: [{ name: 'INPUT0', shape: [1, 2000], datatype: 'FP32', data: Array.from({ length: 2000 }, (_, i) => i) }] };
    const ask = (url: string) => rawRequest(`${url}/v2/models/identity/infer`, { method: 'POST', headers: { 'accept-encoding': 'gzip', 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify(big)) });
    const compressed = await ask(server.url);
    t.equal(compressed.status, 200);
    t.equal(compressed.headers['content-encoding'], 'gzip', 'by default a large answer is gzipped');

    const off = await startTestServer(t, { folder: root, settings: { gzip_enabled: 'false', root_path: '/tessera' } });
    const plain = await ask(off.url);
    t.equal(plain.status, 200, 'gzip request bodies are still accepted');
    t.equal(plain.headers['content-encoding'], undefined, 'gzip_enabled false: not compressed');
    t.equal((plain.json().outputs as { data: number[] }[])[0].data.length, 2000);

    const page = await rawRequest(`${off.url}/v2/docs`);
    t.equal(page.status, 200, 'routes stay where they are (the proxy strips the prefix)');
    t.match(page.text, /url: '\/tessera\/v2\/docs\/dataplane\.json'/);
    t.match(page.text, /src="\/tessera\/v2\/docs\/assets\/swagger-ui-bundle\.js"/);
    const doc = (await rawRequest(`${off.url}/v2/docs/dataplane.json`)).json();
    t.same(doc.servers, [{ url: '/tessera' }], 'the API document points at the prefix');
    t.same((await rawRequest(`${server.url}/v2/docs/dataplane.json`)).json().servers, [{ url: '/' }]);
  });
});

t.test('an added surface keeps its own error shape beside the V2 ones', async (t) => {
  const root = exampleRepository(t, ['iris']);
  const { startServer } = await import('../../src/server.js');
  const { pino } = await import('pino');
  const server = await startServer({
    folder: root,
    env: {},
    flags: { host: '127.0.0.1', http_port: '0', grpc_port: '0', metrics_port: '0', parallel_workers: '1', http_max_input_size: '4096' },
    logger: pino({ level: 'silent' }),
    httpSurfaces: [{ name: 'mlflow-like', plugin: mlflowLike }],
  });
  t.teardown(() => server.close());
  await server.loaded;
  const ok = await rawRequest(`${server.url}/test/invocations`, { method: 'POST', body: '{"model":"iris"}' });
  t.equal(ok.status, 200);
  const unknown = await rawRequest(`${server.url}/test/invocations`, { method: 'POST', body: '{"model":"nope"}' });
  t.equal(unknown.status, 404);
  t.same(unknown.json(), { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Model nope not found' }, "the catalogue's MLflow code");
  const thrown = await rawRequest(`${server.url}/test/missing`);
  t.same(thrown.json(), { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Model nope not found' });
  const large = await rawRequest(`${server.url}/test/invocations`, { method: 'POST', body: 'x'.repeat(5000) });
  t.equal(large.status, 413);
  t.match(large.json(), { error_code: 'BAD_REQUEST' }, "fastify's own errors reach the surface's handler too");
  const v2 = await infer(server, 'nope', {});
  t.same(v2.json(), { error: 'Model nope not found' }, 'the V2 surface still answers {"error"}');
});

