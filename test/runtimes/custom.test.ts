// Custom runtimes (implementation: "./module.mjs"): user JavaScript/TypeScript modules served over
// real HTTP and gRPC like ONNX models, batched when the settings set max_batch_size, with each
// failure mode answered clearly (a throw, a bad-input signal, malformed outputs, an async hang, a
// synchronous infinite loop that blocks its worker) while the server keeps serving other models.
// Also: the example under examples/custom-runtime, a TypeScript module with metadata(), load
// failures with reasons, and a reload that picks up an edited module.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { irisModel } from '../../src/modelgen/examples.js';
import { grpcClients } from '../helpers/grpc.js';
import { capturingLogger, infer, rawRequest, startTestServer, tempDir, writeModel } from '../helpers/server.js';

const EXAMPLE = fileURLToPath(new URL('../../examples/custom-runtime/', import.meta.url));

/** One module, one behaviour per `mode` value, so a single model load covers every case. */
const FAULTY = `
export function predict(inputs, parameters) {
  const mode = inputs[0].data[0];
  const y = (data, extra = {}) => [{ name: 'y', datatype: 'FP32', shape: [2], data, ...extra }];
  switch (mode) {
    case 0: return y(new Float32Array([1, 2]));
    case 1: throw new Error('boom: the model could not cope');
    case 2: throw Object.assign(new Error('mode 2 is not a valid input for this model'), { code: 'INVALID_INPUT' });
    case 3: return y(new Float32Array([1, 2, 3]));
    case 4: return y(new Float32Array([1, 2]), { datatype: 'FLOAT' });
    case 5: return y([1, 2]);
    case 6: return new Promise(() => {}); // never settles
    case 7: for (;;) {} // blocks the worker's thread
    case 8: return [{ name: 'z', datatype: 'FP32', shape: [2], data: new Float32Array(2) }];
    case 9: return 42;
    case 10: return { y: { shape: [2], data: new Float32Array([Number(parameters.scale ?? -1), Object.keys(parameters).length]) } };
    default: return y(new Float32Array([mode, mode]));
  }
}
`;

/** Batched: each row doubled, plus the rows of the execution it ran in (the batch size). */
const PROBE = `
export async function predict([x]) {
  const rows = x.shape[0];
  const doubled = new Float32Array(x.data.length);
  for (let i = 0; i < doubled.length; i++) doubled[i] = x.data[i] * 2;
  return { doubled: { datatype: 'FP32', shape: x.shape, data: doubled }, batch: { datatype: 'INT64', shape: [rows, 1], data: new BigInt64Array(rows).fill(BigInt(rows)) } };
}
`;

/** Keeps its worker's thread busy for \`ms\` milliseconds (to make other requests queue). */
const BUSY = `
export function predict([ms]) {
  const until = Date.now() + Number(ms.data[0]);
  while (Date.now() < until) {}
  return [{ name: 'done', datatype: 'BOOL', shape: [1], data: new Uint8Array([1]) }];
}
`;

/** TypeScript, with its metadata exported instead of declared in the settings. */
const TYPESCRIPT = `
type Tensor = { name: string; datatype: string; shape: number[]; data: Float64Array };
let offset = 0;
export function load(settings: { parameters: { extra?: { offset?: number } } }): void {
  offset = settings.parameters.extra?.offset ?? 0;
}
export function metadata() {
  return { inputs: [{ name: 'x', datatype: 'FP64', shape: [-1] }], outputs: [{ name: 'y', datatype: 'FP64', shape: [-1] }] };
}
export function predict(inputs: Tensor[]) {
  const x = inputs[0];
  return [{ name: 'y', datatype: 'FP64', shape: x.shape, data: x.data.map((v) => v + offset) }];
}
`;

function customModel(root: string, name: string, file: string, code: string, settings: object): void {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), code);
  writeFileSync(join(dir, 'model-settings.json'), JSON.stringify({ name, implementation: `./${file}`, ...settings }));
}

const modeBody = (mode: number, extra: object = {}) => ({ inputs: [{ name: 'mode', datatype: 'INT32', shape: [1], data: [mode] }], ...extra });
const IRIS = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };

t.test('custom runtimes over HTTP and gRPC', async (t) => {
  const root = tempDir(t);
  writeModel(root, 'iris', irisModel());
  customModel(root, 'faulty', 'faulty.mjs', FAULTY, {
    inputs: [{ name: 'mode', datatype: 'INT32', shape: [1] }],
    outputs: [{ name: 'y', datatype: 'FP32', shape: [2] }],
    request_timeout: 1,
  });
  customModel(root, 'probe', 'probe.mjs', PROBE, {
    inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 2] }],
    outputs: [
      { name: 'doubled', datatype: 'FP32', shape: [-1, 2] },
      { name: 'batch', datatype: 'INT64', shape: [-1, 1] },
    ],
    max_batch_size: 16,
    max_batch_time: 1,
  });
  customModel(root, 'busy', 'busy.mjs', BUSY, {
    inputs: [{ name: 'ms', datatype: 'INT32', shape: [1] }],
    outputs: [{ name: 'done', datatype: 'BOOL', shape: [1] }],
  });
  customModel(root, 'typed', 'typed.ts', TYPESCRIPT, { parameters: { extra: { offset: 0.5 } } });
  cpSync(join(EXAMPLE, 'sentiment'), join(root, 'sentiment'), { recursive: true });
  const { logger, lines } = capturingLogger('info');
  // Two workers: one blocked or busy while the other serves.
  const server = await startTestServer(t, { folder: root, logger, settings: { parallel_workers: '2' } });
  const client = grpcClients(server.grpcAddress);
  t.teardown(() => client.close());

  t.test('every model loads with its runtime and metadata', async (t) => {
    const models = (await rawRequest(`${server.url}/v2/models`)).json().models as { name: string; state: string; reason: string }[];
    for (const m of models) t.equal(m.state, 'READY', `${m.name} READY ${m.reason}`);
    const meta = (await rawRequest(`${server.url}/v2/models/typed`)).json();
    t.same(meta, { name: 'typed', versions: [], platform: 'custom', inputs: [{ name: 'x', datatype: 'FP64', shape: [-1] }], outputs: [{ name: 'y', datatype: 'FP64', shape: [-1] }] }, 'metadata() of a TypeScript module');
    const config = (await rawRequest(`${server.url}/v2/models/probe/config`)).json();
    t.match(config, { backend: 'custom', max_batch_size: 16, default_model_filename: 'probe.mjs' });
  });

  t.test('results over HTTP: typed arrays, BYTES, parameters, a TypeScript module', async (t) => {
    const ok = await infer(server, 'faulty', modeBody(0));
    t.equal(ok.status, 200, ok.text);
    t.same(ok.json().outputs, [{ name: 'y', datatype: 'FP32', shape: [2], data: [1, 2] }]);
    const params = await infer(server, 'faulty', modeBody(10, { parameters: { scale: 3, priority: 1 } }));
    t.same((params.json().outputs as { data: number[] }[])[0].data, [3, 1], 'predict() gets the request parameters, control keys left out');
    const typed = await infer(server, 'typed', { inputs: [{ name: 'x', datatype: 'FP64', shape: [3], data: [1, 2, 3] }] });
    t.same(typed.json().outputs, [{ name: 'y', datatype: 'FP64', shape: [3], data: [1.5, 2.5, 3.5] }], 'load(settings) read parameters.extra');
    const sentiment = await infer(server, 'sentiment', { inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], data: ['I love it, great', 'this is terrible'] }] });
    t.equal(sentiment.status, 200, sentiment.text);
    t.same((sentiment.json().outputs as { data: unknown[] }[])[1].data, ['positive', 'negative'], 'the example answers');
  });

  t.test('over gRPC: results and the same errors with their codes', async (t) => {
    const res = await client.call<{ outputs: { name: string; contents: { fp32_contents: number[] } }[] }>('ModelInfer', {
      model_name: 'faulty',
      inputs: [{ name: 'mode', datatype: 'INT32', shape: [1], contents: { int_contents: [0] } }],
    });
    t.same(res.outputs[0].contents.fp32_contents, [1, 2]);
    const mode = (m: number) => ({ model_name: 'faulty', inputs: [{ name: 'mode', datatype: 'INT32', shape: [1], contents: { int_contents: [m] } }] });
    await t.rejects(client.call('ModelInfer', mode(1)), { code: grpc.status.INTERNAL, details: /custom runtime \.\/faulty\.mjs \(model faulty\): predict\(\) failed: boom/ });
    await t.rejects(client.call('ModelInfer', mode(2)), { code: grpc.status.INVALID_ARGUMENT, details: /mode 2 is not a valid input/ });
    await t.rejects(client.call('ModelInfer', mode(3)), { code: grpc.status.INTERNAL, details: /output 'y': shape \[2\] needs 2 elements but the data has 3/ });
    await t.rejects(client.call('ModelInfer', mode(6)), { code: grpc.status.DEADLINE_EXCEEDED, details: /did not answer within its request_timeout of 1 s/ });
  });

  t.test('failures over HTTP: each clear, naming the module and the output', async (t) => {
    const cases: [number, number, RegExp][] = [
      [1, 500, /^custom runtime \.\/faulty\.mjs \(model faulty\): predict\(\) failed: boom: the model could not cope$/],
      [2, 400, /^mode 2 is not a valid input for this model$/],
      [3, 500, /output 'y': shape \[2\] needs 2 elements but the data has 3/],
      [4, 500, /output 'y': unknown datatype "FLOAT"/],
      [5, 500, /output 'y': data must be a Float32Array for FP32, not an array/],
      [8, 500, /predict\(\) did not return output 'y' \(it returned: z\)/],
      [9, 500, /predict\(\) must return an array of output tensors or an object of them by name, not number/],
      [6, 504, /model faulty did not answer within its request_timeout of 1 s/],
    ];
    for (const [m, status, message] of cases) {
      const res = await infer(server, 'faulty', modeBody(m));
      t.equal(res.status, status, `mode ${m}: ${status}`);
      t.same(Object.keys(res.json()), ['error']);
      t.match(res.json().error, message, `mode ${m}: ${res.json().error}`);
    }
    t.equal((await infer(server, 'faulty', modeBody(0))).status, 200, 'the model still serves');
    t.equal((await infer(server, 'iris', IRIS)).status, 200, 'and so do the others');
  });

  t.test('concurrent requests are batched: each gets its own rows', async (t) => {
    // Two workers: keep both busy (the busy model blocks each for a while) so that probe requests
    // queue and merge when a worker frees.
    const busy = [infer(server, 'busy', { inputs: [{ name: 'ms', datatype: 'INT32', shape: [1], data: [600] }] }), infer(server, 'busy', { inputs: [{ name: 'ms', datatype: 'INT32', shape: [1], data: [600] }] })];
    const deadline = Date.now() + 5000;
    while (!server.pool.workers().every((w) => w.inflight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const sizes = [1, 2, 3, 1, 2];
    const responses = await Promise.all(
      sizes.map((rows, i) => infer(server, 'probe', { id: `p${i}`, inputs: [{ name: 'x', datatype: 'FP32', shape: [rows, 2], data: Array.from({ length: rows * 2 }, (_, k) => 100 * i + k) }] })),
    );
    for (const b of await Promise.all(busy)) t.equal(b.status, 200);
    let merged = false;
    responses.forEach((res, i) => {
      t.equal(res.status, 200, res.text);
      const [doubled, batch] = res.json().outputs as { shape: number[]; data: number[] }[];
      t.same(doubled.shape, [sizes[i], 2], `request ${i}: its own rows`);
      t.same(doubled.data, Array.from({ length: sizes[i] * 2 }, (_, k) => 2 * (100 * i + k)), `request ${i}: its own values`);
      if (batch.data[0] > sizes[i]) merged = true;
    });
    t.ok(merged, 'some requests ran in a merged batch');
  });

  t.test('a synchronous infinite loop: 504, its worker is replaced, the server keeps serving', async (t) => {
    const before = server.pool.workers().map((w) => w.id);
    const spin = infer(server, 'faulty', modeBody(7));
    // While one worker is blocked, the other serves.
    for (let i = 0; i < 3; i++) t.equal((await infer(server, 'iris', IRIS)).status, 200, `iris answers while a worker is blocked (${i})`);
    const res = await spin;
    t.equal(res.status, 504, res.text);
    t.match(res.json().error, /did not answer within its request_timeout of 1 s/);
    const deadline = Date.now() + 15_000;
    while (!(server.pool.workers().length === server.pool.size && server.pool.workers().some((w) => !before.includes(w.id)))) {
      if (Date.now() > deadline) throw new Error('the blocked worker was not replaced');
      await new Promise((r) => setTimeout(r, 20));
    }
    t.pass('the blocked worker was replaced');
    t.ok(lines().some((l) => /inference worker \d+ is blocked: model faulty blocked it past its request_timeout/.test(String(l.msg))), 'the replacement is logged with its reason');
    for (let i = 0; i < 4; i++) {
      t.equal((await infer(server, 'faulty', modeBody(0))).status, 200, `the model serves again (${i})`);
      t.equal((await infer(server, 'iris', IRIS)).status, 200, `iris serves (${i})`);
    }
    const stats = (await rawRequest(`${server.url}/v2/models/faulty/stats`)).json().model_stats as { inference_stats: { fail: { count: number } } }[];
    t.ok(stats[0].inference_stats.fail.count >= 9, 'failures are counted');
  });
});

t.test('load failures leave the model UNAVAILABLE with the reason; a reload picks up an edited module', async (t) => {
  const root = tempDir(t);
  writeModel(root, 'iris', irisModel());
  customModel(root, 'nopredict', 'nopredict.mjs', 'export const x = 1;', { inputs: [{ name: 'a', datatype: 'FP32', shape: [1] }], outputs: [{ name: 'b', datatype: 'FP32', shape: [1] }] });
  customModel(root, 'nometa', 'nometa.mjs', 'export function predict() { return []; }', {});
  customModel(root, 'broken', 'broken.mjs', 'export function predict( {', { inputs: [{ name: 'a', datatype: 'FP32', shape: [1] }], outputs: [{ name: 'b', datatype: 'FP32', shape: [1] }] });
  customModel(root, 'loadfails', 'loadfails.mjs', "export function load() { throw new Error('no weights here'); } export function predict() { return []; }", {
    inputs: [{ name: 'a', datatype: 'FP32', shape: [1] }],
    outputs: [{ name: 'b', datatype: 'FP32', shape: [1] }],
  });
  mkdirSync(join(root, 'missing'));
  writeFileSync(join(root, 'missing', 'model-settings.json'), JSON.stringify({ name: 'missing', implementation: './gone.mjs' }));
  const answer = (n: number) => `export function predict() { return [{ name: 'v', datatype: 'INT32', shape: [1], data: new Int32Array([${n}]) }]; }`;
  const versioned = { inputs: [{ name: 'a', datatype: 'INT32', shape: [1] }], outputs: [{ name: 'v', datatype: 'INT32', shape: [1] }] };
  customModel(root, 'edited', 'edited.mjs', answer(1), versioned);
  const server = await startTestServer(t, { folder: root });
  const models = (await rawRequest(`${server.url}/v2/models`)).json().models as { name: string; state: string; reason: string }[];
  const reason = (name: string) => models.find((m) => m.name === name);
  t.match(reason('nopredict'), { state: 'UNAVAILABLE', reason: /custom runtime \.\/nopredict\.mjs \(model nopredict\): the module must export a function predict/ });
  t.match(reason('nometa'), { state: 'UNAVAILABLE', reason: /declare the model's inputs and outputs/ });
  t.match(reason('broken'), { state: 'UNAVAILABLE', reason: /the module failed to import/ });
  t.match(reason('loadfails'), { state: 'UNAVAILABLE', reason: /load\(\) failed: no weights here/ });
  t.match(reason('missing'), { state: 'UNAVAILABLE', reason: /module .*gone\.mjs does not exist/ });
  t.equal(reason('iris')?.state, 'READY', 'the others serve');

  const body = { inputs: [{ name: 'a', datatype: 'INT32', shape: [1], data: [0] }] };
  t.same((await infer(server, 'edited', body)).json().outputs, [{ name: 'v', datatype: 'INT32', shape: [1], data: [1] }]);
  writeFileSync(join(root, 'edited', 'edited.mjs'), answer(2));
  t.equal((await rawRequest(`${server.url}/v2/repository/models/edited/load`, { method: 'POST' })).status, 200);
  t.same((await infer(server, 'edited', body)).json().outputs, [{ name: 'v', datatype: 'INT32', shape: [1], data: [2] }], 'the edited module serves after a reload');
});
