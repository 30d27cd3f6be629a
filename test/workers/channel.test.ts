// The workers' channels (src/workers/pool.ts): every request after piscina's first task goes to a
// worker on its own MessagePort, posted at dispatch, so several wait in a worker at once.
// - concurrent requests over two workers each get their own answer;
// - a worker replaced with requests waiting on its channel fails exactly those (500 naming why),
//   and its replacement serves;
// - a running ONNX request past its deadline is answered 504 at the deadline while the run ends;
// - stopStarting (the shutdown grace over): requests waiting in a worker refuse with 503, the
//   running one finishes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { identityModel, mlpModel } from '../../src/modelgen/examples.js';
import { infer, rawRequest, startTestServer, tempDir, writeModel, type RawResponse } from '../helpers/server.js';
import type { RunningServer } from '../../src/server.js';

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const SLEEP = `
export async function predict([ms]) {
  await new Promise((resolve) => setTimeout(resolve, Number(ms.data[0])));
  return [{ name: 'slept', datatype: 'INT32', shape: ms.shape, data: new Int32Array(ms.data) }];
}
`;

/** JSON of `rows` rows of 256 short numbers: a run of the slow mlp long enough to act during it. */
const mlpBody = (rows: number): string => {
  const row = '[' + new Array(256).fill('0.5').join(',') + ']';
  return `{"inputs":[{"name":"input","shape":[${rows},256],"datatype":"FP32","data":[${new Array(rows).fill(row).join(',')}]}]}`;
};

function repository(t: Parameters<typeof tempDir>[0]): string {
  const root = tempDir(t);
  // `workers`: these tests are about the worker path, so no model moves to the main thread.
  // No queue bound: the concurrency test sends more requests at once than the default bound holds.
  writeModel(root, 'ident', identityModel('fp32'), { name: 'ident', max_queue_size: 0, parameters: { execution: 'workers' } });
  writeModel(root, 'slow', mlpModel([256, 2048, 2048, 10], 3), { name: 'slow' });
  mkdirSync(join(root, 'sleep'));
  writeFileSync(join(root, 'sleep', 'sleep.mjs'), SLEEP);
  writeFileSync(
    join(root, 'sleep', 'model-settings.json'),
    JSON.stringify({ name: 'sleep', implementation: './sleep.mjs', inputs: [{ name: 'ms', datatype: 'INT32', shape: [-1] }], outputs: [{ name: 'slept', datatype: 'INT32', shape: [-1] }] }),
  );
  return root;
}

const sleepFor = (s: RunningServer, ms: number): Promise<RawResponse> => infer(s, 'sleep', { inputs: [{ name: 'ms', shape: [1], datatype: 'INT32', data: [ms] }] });

// One repository for every server of this file (the slow mlp is ~19 MB to generate and write); the
// servers only read it.
const root = repository(t);

t.test('two workers', async (t) => {
  // One server for both tests: the first leaves it idle (busy() 0), the second then replaces a worker.
  const server = await startTestServer(t, { folder: root, settings: { parallel_workers: '2' } });

  t.test('two workers: concurrent requests each get their own answer', async (t) => {
    const n = 300;
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) => infer(server, 'ident', { id: `r${i}`, inputs: [{ name: 'INPUT0', shape: [1, 3], datatype: 'FP32', data: [i, i + 0.5, -i] }] })),
    );
    let own = 0;
    answers.forEach((res, i) => {
      const out = (res.json().outputs as { data: number[] }[] | undefined)?.[0];
      if (res.status === 200 && res.json().id === `r${i}` && JSON.stringify(out?.data) === JSON.stringify([i, i + 0.5, -i])) own++;
    });
    const failed = answers.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`);
    t.same(failed.slice(0, 3), [], 'every request answered 200');
    t.equal(own, n, 'every request got its own data back');
    t.equal(server.backend.busy(), 0);
  });

  t.test("two workers: a replacement gets its own channel, not a survivor's", async (t) => {
    // piscina announces a replacement worker before it lists it as ready: its channel must still
    // reach it, not the surviving worker (which would then serve both channels alone).
    const [gone, survivor] = server.pool.workers();
    t.ok(server.pool.replaceWorker(gone.id, 'killed by the test'), 'one of two workers terminated');
    await until(() => server.pool.workers().length === 2 && !server.pool.workers().some((w) => w.id === gone.id), 'the replacement is up');
    const held = await server.pool.workerModels(); // throws if a channel is answered by another thread
    t.same([...held.keys()].sort(), server.pool.workers().map((w) => w.id).sort(), 'each worker answers on its own channel');
    for (const [id, models] of held) t.ok(models.some((m) => m.startsWith('ident')), `worker ${id} holds ident`);
    // Both serve: requests spread over the two workers' channels all get their own answers.
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => infer(server, 'ident', { id: `r${i}`, inputs: [{ name: 'INPUT0', shape: [1, 1], datatype: 'FP32', data: [i] }] })),
    );
    t.equal(answers.filter((r, i) => r.status === 200 && (r.json().outputs as { data: number[] }[])[0].data[0] === i).length, 100, 'every request answered with its own data');
    t.ok(server.pool.workers().some((w) => w.id === survivor.id), 'the survivor still serves');
  });
});

t.test('one worker: replacement, deadlines while running, and the shutdown grace', async (t) => {
  const server = await startTestServer(t, { folder: root, settings: { parallel_workers: '1' } });

  t.test('a worker replaced with requests waiting on its channel fails exactly those', async (t) => {
    const [worker] = server.pool.workers();
    const held = [sleepFor(server, 5000), sleepFor(server, 5000), sleepFor(server, 5000)];
    await until(() => server.pool.workers()[0]?.inflight === 3, 'the three requests are in the worker');
    t.ok(server.pool.replaceWorker(worker.id, 'killed by the test'), 'terminated (a JavaScript runtime is not a native call)');
    for (const res of await Promise.all(held)) {
      t.equal(res.status, 500, res.text);
      t.match(res.json().error, new RegExp(`inference failed: worker ${worker.id} was replaced: killed by the test`));
    }
    await until(() => server.pool.workers().length === 1 && server.pool.workers()[0].id !== worker.id, 'the replacement is up');
    const again = await sleepFor(server, 1);
    t.equal(again.status, 200, again.text);
    t.equal((await infer(server, 'ident', { inputs: [{ name: 'INPUT0', shape: [1, 1], datatype: 'FP32', data: [7] }] })).status, 200, 'an ONNX model serves on it too');
  });

  t.test('a running ONNX request past its deadline is answered 504 at the deadline; the run ends', async (t) => {
    // Binary rows: decoding them is a copy, so the deadline passes while the model runs, not before.
    const rows = 15_000; // a run of several hundred ms; the deadline passes well after the body arrived
    const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [rows, 256], datatype: 'FP32', parameters: { binary_data_size: rows * 256 * 4 } }] }));
    const body = Buffer.concat([header, Buffer.from(new Float32Array(rows * 256).fill(0.5).buffer)]);
    const started = performance.now();
    const late = await rawRequest(`${server.url}/v2/models/slow/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length), 'x-request-timeout': '200ms' },
      body,
    });
    t.equal(late.status, 504, late.text);
    t.match(late.json().error, /the request's deadline passed before model slow answered/, 'answered by the running deadline');
    t.comment(`answered after ${(performance.now() - started).toFixed(0)} ms`);
    await until(() => server.pool.workers()[0]?.inflight === 0, 'the run ended');
    const next = await infer(server, 'slow', mlpBody(1));
    t.equal(next.status, 200, 'the worker serves the next request');
  });

  t.test('stopStarting: requests waiting in the worker refuse with 503, the running one finishes', async (t) => {
    const running = infer(server, 'slow', mlpBody(4000));
    await until(() => server.pool.workers()[0]?.inflight === 1 && server.pool.inNativeCall(), 'the first run is inside ONNX Runtime');
    const waiting = [infer(server, 'slow', mlpBody(2)), infer(server, 'slow', mlpBody(2))];
    await until(() => server.pool.workers()[0]?.inflight === 3, 'two more wait in the worker');
    server.pool.stopStarting();
    t.equal((await running).status, 200, 'the running request finishes');
    for (const res of await Promise.all(waiting)) {
      t.equal(res.status, 503, res.text);
      t.match(res.json().error, /shutting down/);
    }
  });
});
