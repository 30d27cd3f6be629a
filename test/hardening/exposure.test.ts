// What the server shows of itself (#14, finding 8): no absolute path in any answer (model
// reasons in /v2/models and the repository index, load errors, not-ready errors, a runtime's own
// error messages; V2, repository, MLflow and gRPC alike): paths inside the model repository are
// shown relative to it, others by their last segment. No stack trace in any answer, nor in any log
// line below error level. The Swagger UI and gRPC reflection are switchable. The default host is
// 127.0.0.1 (this machine only) and the container image binds 0.0.0.0 explicitly.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { loadServerSettings } from '../../src/config/load.js';
import { startServer } from '../../src/server.js';
import { capturingLogger, exampleRepository, startTestServer, tempDir } from '../helpers/server.js';
import { allRpcs, callRpc, send, type Rpc } from './security-clients.js';

const ROOT_DIR = new URL('../../', import.meta.url);
const rpc = (name: string, service = 'inference.GRPCInferenceService'): Rpc => allRpcs().find((r) => r.name === name && r.service === service) as Rpc;
const STACK = /\n\s+at [^\n]+:\d+:\d+/;

const custom = (dir: string, name: string, module: string): void => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.mjs`), module);
  writeFileSync(
    join(dir, 'model-settings.json'),
    JSON.stringify({ name, implementation: `./${name}.mjs`, inputs: [{ name: 'x', datatype: 'FP32', shape: [-1] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }] }),
  );
};

t.test('no absolute paths and no stack traces in answers; no stack below error level', async (t) => {
  const root = exampleRepository(t, ['identity_fp32']);
  const elsewhere = tempDir(t, 'tessera-elsewhere-');
  mkdirSync(join(root, 'broken'));
  writeFileSync(join(root, 'broken', 'model.onnx'), 'not an onnx file');
  mkdirSync(join(root, 'missing'));
  writeFileSync(join(root, 'missing', 'model-settings.json'), JSON.stringify({ parameters: { uri: './nope.onnx' } }));
  mkdirSync(join(root, 'outside'));
  writeFileSync(join(root, 'outside', 'model-settings.json'), JSON.stringify({ parameters: { uri: join(elsewhere, 'shared', 'model.onnx') } }));
  custom(join(root, 'gone'), 'gone', '');
  writeFileSync(join(root, 'gone', 'model-settings.json'), JSON.stringify({ name: 'gone', implementation: './vanished.mjs', inputs: [{ name: 'x', datatype: 'FP32', shape: [-1] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }] }));
  custom(join(root, 'badload'), 'badload', "import { readFileSync } from 'node:fs';\nexport function load(settings) { readFileSync(settings.parameters.uri + '/weights.bin'); }\nexport function predict(inputs) { return inputs; }\n");
  custom(join(root, 'thrower'), 'thrower', "export function predict() { throw new Error(`cannot read ${new URL('./weights.bin', import.meta.url).pathname}`); }\n");

  const { logger, lines } = capturingLogger('info');
  const server = await startTestServer(t, { folder: root, logger, settings: { parallel_workers: '1', mlflow_scoring: 'on' } });
  const client = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const answers: string[] = [];
  /** An answer must name no absolute path: not the repository, not the other folder, not the temp folder. */
  const clean = (what: string, text: string): void => {
    answers.push(text);
    for (const folder of [root, elsewhere, tmpdir(), new URL(ROOT_DIR).pathname.replace(/\/$/, '')]) t.notOk(text.includes(folder), `${what}: no ${folder}`);
    t.notMatch(text, STACK, `${what}: no stack trace`);
  };

  const models = await send(`${server.url}/v2/models`);
  clean('GET /v2/models', models.text);
  const reasons = Object.fromEntries((models.json().models as { name: string; reason: string }[]).map((m) => [m.name, m.reason]));
  t.match(reasons.missing, /open 'missing\/nope\.onnx'/, 'a path in the repository, relative to it');
  t.match(reasons.outside, /'…\/model\.onnx'/, 'a path outside it: its last segment');
  t.match(reasons.gone, /module gone\/vanished\.mjs does not exist/);
  t.match(reasons.badload, /badload\/weights\.bin/);
  t.equal(reasons.identity_fp32, '');

  const index = await send(`${server.url}/v2/repository/index`, { method: 'POST' });
  clean('POST /v2/repository/index', index.text);
  t.match(index.text, /missing\/nope\.onnx/);
  for (const model of ['broken', 'missing', 'outside', 'gone', 'badload']) {
    const load = await send(`${server.url}/v2/repository/models/${model}/load`, { method: 'POST' });
    t.equal(load.status, 400, `load ${model}: 400`);
    clean(`load ${model}`, load.text);
    const infer = await send(`${server.url}/v2/models/${model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": []}' });
    t.equal(infer.status, 503, `infer ${model}: 503`);
    clean(`infer ${model}`, infer.text);
  }
  const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] });
  const thrown = await send(`${server.url}/v2/models/thrower/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  t.equal(thrown.status, 500, "a runtime's own failure: 500");
  t.match(thrown.json().error, /cannot read thrower\/weights\.bin/, "a runtime's message: relative to the repository");
  clean('infer thrower', thrown.text);
  const mlflow = await send(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": [1]}' });
  t.ok(mlflow.status >= 400, `MLflow /invocations without an MLflow model: ${mlflow.status}`);
  clean('MLflow /invocations', mlflow.text);
  const unknown = await send(`${server.url}/v2/tmp/nope`);
  t.equal(unknown.json().error, 'Not Found: GET /v2/tmp/nope', 'route paths in messages are left alone');

  const grpcIndex = await callRpc(client, rpc('RepositoryIndex'), {});
  t.ok(grpcIndex.ok, 'gRPC RepositoryIndex');
  const indexText = JSON.stringify(grpcIndex.ok ? grpcIndex.value : grpcIndex);
  clean('gRPC RepositoryIndex', indexText);
  t.match(indexText, /missing\/nope\.onnx/);
  const grpcLoad = await callRpc(client, rpc('RepositoryModelLoad'), { model_name: 'badload' });
  t.match(grpcLoad, { ok: false, code: grpc.status.INVALID_ARGUMENT, details: /badload\/weights\.bin/ }, 'gRPC RepositoryModelLoad');
  clean('gRPC RepositoryModelLoad', JSON.stringify(grpcLoad));
  const message = { model_name: 'thrower', inputs: [{ name: 'x', datatype: 'FP32', shape: [1], contents: { fp32_contents: [1] } }] };
  const grpcInfer = await callRpc(client, rpc('ModelInfer'), message);
  t.match(grpcInfer, { ok: false, code: grpc.status.INTERNAL, details: /cannot read thrower\/weights\.bin/ }, 'gRPC ModelInfer');
  clean('gRPC ModelInfer', JSON.stringify(grpcInfer));
  const streamed = await callRpc(client, rpc('ModelStreamInfer'), message);
  t.match(streamed, { ok: true, value: { error_message: /cannot read thrower\/weights\.bin/ } }, 'gRPC ModelStreamInfer error_message');
  clean('gRPC ModelStreamInfer', JSON.stringify(streamed));
  const notReady = await callRpc(client, rpc('ModelInfer'), { ...message, model_name: 'missing' });
  t.match(notReady, { ok: false, code: grpc.status.UNAVAILABLE, details: /missing\/nope\.onnx/ });
  clean('gRPC ModelInfer not ready', JSON.stringify(notReady));

  // Logs: operators get the full story at error level; nothing below it carries a stack.
  const below = lines().filter((l) => (l.level as number) < 50);
  t.ok(below.length >= 3, `${below.length} lines below error level`);
  for (const line of below) {
    const text = JSON.stringify(line);
    if ('stack' in line || /"stack":/.test(text) || STACK.test(String(line.msg ?? ''))) t.fail(`a stack at level ${String(line.level)}: ${text.slice(0, 200)}`);
  }
  t.ok(answers.length >= 15, `${answers.length} answers checked`);

  t.test('Swagger UI and reflection are on by default', async (t) => {
    t.equal((await send(`${server.url}/v2/docs`)).status, 200);
    const listed = await callRpc(client, rpc('ServerReflectionInfo', 'grpc.reflection.v1.ServerReflection'), { list_services: '' });
    t.match(JSON.stringify(listed), /inference\.GRPCInferenceService/, 'reflection lists the services');
  });
});

t.test('switches: docs_enabled and grpc_reflection_enabled off; the default host is 127.0.0.1', async (t) => {
  const folder = tempDir(t);
  // No host given: the default applies (the test only ever binds loopback).
  const server = await startServer({
    folder,
    env: {},
    flags: { http_port: '0', grpc_port: '0', metrics_port: '0', parallel_workers: '1', load_models_at_startup: 'false', docs_enabled: 'false', grpc_reflection_enabled: 'false' },
    logger: capturingLogger('silent').logger,
  });
  t.teardown(() => server.close());
  t.equal(server.settings.host, '127.0.0.1', 'default host');
  t.equal((server.http.server.address() as { address: string }).address, '127.0.0.1', 'HTTP bound to 127.0.0.1');
  t.match(server.grpcAddress, /^127\.0\.0\.1:\d+$/);
  t.match(server.metricsUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  for (const path of ['/v2/docs', '/v2/docs/dataplane.json', '/v2/docs/assets/swagger-ui.css']) t.equal((await send(server.url + path)).status, 404, `${path}: 404`);
  const client = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  for (const service of ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']) {
    t.match(await callRpc(client, rpc('ServerReflectionInfo', service), { list_services: '' }), { ok: false, code: grpc.status.UNIMPLEMENTED }, `${service}: off`);
  }
  t.match(await callRpc(client, rpc('ServerLive'), {}), { ok: true }, 'the rest of gRPC serves');
});

t.test('the container image binds every interface explicitly', async (t) => {
  t.equal(loadServerSettings({ folder: tempDir(t), env: {} }).settings.host, '127.0.0.1', 'the CLI default: this machine only');
  t.equal(loadServerSettings({ folder: tempDir(t), env: { TESSERA_HOST: '0.0.0.0' } }).settings.host, '0.0.0.0', 'TESSERA_HOST moves it');
  const dockerfile = readFileSync(new URL('Dockerfile', ROOT_DIR), 'utf8');
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  t.match(finalStage, /\nENV [^\n]*(\\\n[^\n]*)*TESSERA_HOST=0\.0\.0\.0/, 'the image sets TESSERA_HOST=0.0.0.0');
});
