// Inline execution (src/batching/inline.ts): microsecond models run on the main thread.
// - the size-class rule that decides it (measured run times, a bound, enough samples, the nearest
//   measured class above);
// - `execution: inline`: answers identical to the workers', each concurrent request its own rows,
//   no worker involved, statistics as for any execution; a deadline already passed is a 504; the
//   shutdown sequence counts inline runs; unload and reload;
// - `execution: auto`: the model moves to the main thread once its runs are measured short;
// - `workers`, custom runtimes and a bad value.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { INLINE_BOUND_MS, INLINE_MIN_SAMPLES, RunTimes } from '../../src/batching/inline.js';
import { shuttingDown } from '../../src/core/errors.js';
import { irisModel, mlpModel } from '../../src/modelgen/examples.js';
import { infer, rawRequest, startTestServer, tempDir, writeModel } from '../helpers/server.js';
import type { RunningServer } from '../../src/server.js';

type Out = { name: string; datatype: string; shape: number[]; data: number[] };

t.test('RunTimes: a size class fits once enough of its runs are within the bound', async (t) => {
  const times = new RunTimes();
  for (let i = 0; i < INLINE_MIN_SAMPLES - 1; i++) times.add(4, INLINE_BOUND_MS / 10);
  t.notOk(times.within(4), 'not before INLINE_MIN_SAMPLES runs');
  t.notOk(times.anyWithin);
  times.add(4, INLINE_BOUND_MS / 10);
  t.ok(times.within(4), 'then it fits');
  t.ok(times.within(3) && times.within(1), 'smaller classes take the verdict of the nearest measured class above');
  t.notOk(times.within(8), 'a larger class not measured does not');
  t.ok(times.anyWithin);
  // A class measured slow: it and the unmeasured classes just below it go to the workers.
  for (let i = 0; i < INLINE_MIN_SAMPLES; i++) times.add(1000, INLINE_BOUND_MS * 20);
  t.notOk(times.within(1000));
  t.notOk(times.within(600), 'unmeasured, below a slow class');
  t.ok(times.within(4), 'the measured fast class still fits');
  // The odd slow run does not move a class out; a class that turns slow does.
  for (let i = 0; i < 4; i++) times.add(4, 50);
  t.ok(times.within(4), 'a few outliers do not matter');
  for (let i = 0; i < 64; i++) times.add(4, INLINE_BOUND_MS * 5);
  t.notOk(times.within(4), 'a class that turned slow goes back to the workers');
});

const irisRequest = (rows: number, base: number, extra: object = {}) => ({
  inputs: [{ name: 'input', shape: [rows, 4], datatype: 'FP32', data: Array.from({ length: rows * 4 }, (_, i) => ((base + i) % 70) / 10) }],
  ...extra,
});

function repository(t: Parameters<typeof tempDir>[0]): string {
  const root = tempDir(t);
  writeModel(root, 'on_workers', irisModel(), { name: 'on_workers', parameters: { execution: 'workers' } });
  writeModel(root, 'inline', irisModel(), { name: 'inline', parameters: { execution: 'inline' } });
  writeModel(root, 'auto', irisModel(), { name: 'auto', max_batch_size: 16 });
  writeModel(root, 'slow', mlpModel([256, 1024, 10], 7), { name: 'slow' });
  return root;
}

const inlineOf = (s: RunningServer, model: string) => s.backend.inlineOf(s.dataplane.model(model).spec!.key);

t.test('execution modes over HTTP', async (t) => {
  const server = await startTestServer(t, { folder: repository(t), settings: { parallel_workers: '1' } });

  t.test('inline: the same answers as the workers, each concurrent request its own, no worker used', async (t) => {
    t.equal(inlineOf(server, 'on_workers'), undefined, 'execution: workers has no inline side');
    const inline = inlineOf(server, 'inline')!;
    t.ok(inline.ready, 'execution: inline has its main-thread session once loaded');
    const before = inline.runs;
    const requests = Array.from({ length: 40 }, (_, i) => irisRequest(1 + (i % 5), i * 7, { id: `r${i}` }));
    const expected = await Promise.all(requests.map((r) => infer(server, 'on_workers', r)));
    let workerTasks = 0;
    const sampler = setInterval(() => (workerTasks += server.pool.workers().reduce((n, w) => n + w.inflight, 0)), 1);
    const answers = await Promise.all(requests.map((r) => infer(server, 'inline', r)));
    clearInterval(sampler);
    answers.forEach((res, i) => {
      t.equal(res.status, 200, res.text);
      t.equal(res.json().id, `r${i}`);
      t.same(res.json().outputs, expected[i].json().outputs, `request ${i}: the workers' answer`);
    });
    t.equal(inline.runs - before, requests.length, 'every request ran inline');
    t.equal(workerTasks, 0, 'no worker had a task meanwhile');
    const stats = (await rawRequest(`${server.url}/v2/models/inline/stats`)).json().model_stats as { execution_count: number; inference_count: number }[];
    t.equal(stats[0].execution_count, requests.length, 'statistics count each inline execution');
    t.equal(stats[0].inference_count, requests.reduce((n, r) => n + r.inputs[0].shape[0], 0), 'and its rows');
  });

  t.test('inline: a deadline already passed answers 504 without running', async (t) => {
    const inline = inlineOf(server, 'inline')!;
    const before = inline.runs;
    const res = await rawRequest(`${server.url}/v2/models/inline/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-timeout': '0' },
      body: JSON.stringify(irisRequest(1, 0)),
    });
    t.equal(res.status, 504, res.text);
    t.match(res.json().error, /deadline passed before model inline could run it/);
    t.equal(inline.runs, before, 'it did not run');
  });

  t.test('auto: a model measured to run in microseconds moves to the main thread', async (t) => {
    const inline = inlineOf(server, 'auto')!;
    t.equal(inline.mode, 'auto');
    t.notOk(inline.ready, 'no main-thread session before any measurement');
    const first = await infer(server, 'auto', irisRequest(2, 3));
    for (let i = 0; i < 400 && inline.runs === 0; i++) {
      const res = await infer(server, 'auto', irisRequest(1, i));
      if (res.status !== 200) t.fail(res.text);
    }
    t.ok(inline.ready, `the session was made (${JSON.stringify(inline.times.summary())})`);
    t.ok(inline.runs > 0, 'and requests run inline');
    const again = await infer(server, 'auto', irisRequest(2, 3));
    t.same(again.json().outputs, first.json().outputs, 'with the same answers');
  });

  t.test('a large request of an auto model stays on the workers', async (t) => {
    const inline = inlineOf(server, 'auto')!;
    const before = inline.runs;
    const res = await infer(server, 'auto', irisRequest(20_000, 1));
    t.equal(res.status, 200);
    t.equal((res.json().outputs as Out[])[0].shape[0], 20_000);
    t.equal(inline.runs, before, 'its size class was never measured short');
  });

  t.test('the shutdown sequence counts inline runs (it waits for none to be left)', async (t) => {
    const spec = server.dataplane.model('inline').spec!;
    const running = server.backend.infer(spec, [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: new Float32Array([5.1, 3.5, 1.4, 0.2]) }], ['label']);
    t.equal(server.backend.busy(), 1, 'an inline run in flight is busy work');
    const [label] = await running;
    t.same(Array.from(label.data as BigInt64Array), [0n], 'setosa');
    t.equal(server.backend.busy(), 0, 'nothing left running');
  });

  t.test('unload and reload an inline model', async (t) => {
    t.equal((await rawRequest(`${server.url}/v2/repository/models/inline/unload`, { method: 'POST' })).status, 200);
    t.equal((await infer(server, 'inline', irisRequest(1, 1))).status, 404);
    t.equal((await rawRequest(`${server.url}/v2/repository/models/inline/load`, { method: 'POST' })).status, 200);
    t.ok(inlineOf(server, 'inline')?.ready, 'the new load has its main-thread session');
    t.equal((await infer(server, 'inline', irisRequest(1, 1))).status, 200);
  });

  t.test('closed: inline requests get the shutdown error too', async (t) => {
    server.backend.close(() => shuttingDown('the server is shutting down'));
    const res = await infer(server, 'inline', irisRequest(1, 1));
    t.equal(res.status, 503);
  });
});

t.test('custom runtimes never run inline; a bad execution value leaves the model UNAVAILABLE', async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'echo'));
  writeFileSync(join(root, 'echo', 'echo.mjs'), 'export async function predict([x]) { return [{ name: "y", datatype: x.datatype, shape: x.shape, data: x.data }]; }\n');
  writeFileSync(
    join(root, 'echo', 'model-settings.json'),
    JSON.stringify({ name: 'echo', implementation: './echo.mjs', parameters: { execution: 'inline' }, inputs: [{ name: 'x', datatype: 'FP32', shape: [-1] }], outputs: [{ name: 'y', datatype: 'FP32', shape: [-1] }] }),
  );
  writeModel(root, 'bad', irisModel(), { name: 'bad', parameters: { execution: 'main' } });
  const server = await startTestServer(t, { folder: root, settings: { parallel_workers: '1' } });
  t.equal(inlineOf(server, 'echo'), undefined, 'user JavaScript stays on a worker, where a hang can be cut off');
  const res = await infer(server, 'echo', { inputs: [{ name: 'x', shape: [2], datatype: 'FP32', data: [1, 2] }] });
  t.equal(res.status, 200, res.text);
  const index = (await rawRequest(`${server.url}/v2/repository/index`, { method: 'POST' })).json() as unknown as { name: string; state: string; reason: string }[];
  const bad = index.find((m) => m.name === 'bad');
  t.equal(bad?.state, 'UNAVAILABLE');
  t.match(bad?.reason, /execution/);
});
