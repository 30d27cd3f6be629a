// Queue policy over real sockets (the protocol surface; the scheduler's rules are unit-tested in
// scheduler.test.ts): a full queue refuses (503 / UNAVAILABLE), a queue timeout
// (model default or the request's `timeout`) answers 503, a high-priority request overtakes queued
// low-priority ones, and a request whose client went away (HTTP close, gRPC cancel) never runs.
import { request as httpRequest } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { batchProbeModel } from '../../src/modelgen/examples.js';
import { writeGateModel } from '../helpers/gate.js';
import { infer, startTestServer, tempDir, writeModel, type RawResponse } from '../helpers/server.js';
import { grpcClients } from '../helpers/grpc.js';
import type { RunningServer } from '../../src/server.js';
import { SLOTS_PER_WORKER } from '../../src/batching/backend.js';

/** Execution slots of a model that does not batch, with the one worker these tests use. */
const SLOTS = SLOTS_PER_WORKER.plain;
const fill = (s: RunningServer, model: string): Promise<RawResponse>[] => Array.from({ length: SLOTS }, () => infer(s, model, probe(1)));

// One server for the file: a probe model per test (each with the queue settings its test needs)
// and the gate model, on one worker, so the gate holding it holds every probe request behind it.
const root = tempDir(t);
for (const [name, settings] of [
  ['probe_full', { max_queue_size: 2 }],
  ['probe_timeout', { queue_timeout: 0.1 }],
  ['probe_priority', {}],
  ['probe_gone', {}],
] as const) {
  writeModel(root, name, batchProbeModel(), { name, ...settings });
}
const gate = writeGateModel(root);
const s: RunningServer = await startTestServer(t, { folder: root, settings: { parallel_workers: '1' } });

/** Holds the only worker until `gate.release()`. */
const occupy = (): Promise<RawResponse> => gate.hold(s);

const probe = (rows: number, extra: object = {}): object => ({
  inputs: [{ name: 'INPUT0', shape: [rows, 1], datatype: 'FP32', data: new Array(rows).fill(1) }],
  ...extra,
});
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A probe model's scheduler (made on its first request). */
const probeScheduler = (model: string) => s.backend.scheduler(s.dataplane.model(model).spec!.key);

/** Waits (up to 10 s) until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await settle(5);
  }
}

/** Waits until the occupying request is running on the worker. */
async function untilBusy(): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!s.pool.workers().some((w) => w.inflight > 0)) {
    if (Date.now() > deadline) throw new Error('the worker never got busy');
    await settle(5);
  }
}

t.test('a full queue answers 503 / UNAVAILABLE at once', async (t) => {
  const m = 'probe_full';
  const busy = occupy();
  await untilBusy();
  // SLOTS requests take the model's execution slots (waiting in the busy worker), 2 fill the queue.
  const admitted = [...fill(s, m), infer(s, m, probe(1)), infer(s, m, probe(1))];
  await until(() => probeScheduler(m)?.running === SLOTS && probeScheduler(m)?.queued === 2, 'the slots and the queue are full');
  const refused = await infer(s, m, probe(1));
  t.equal(refused.status, 503);
  t.match(refused.json(), { error: /the queue of model probe_full is full \(max_queue_size 2\)/ });
  const client = grpcClients(s.grpcAddress);
  t.teardown(() => client.close());
  await t.rejects(
    client.call('ModelInfer', { model_name: m, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [1] } }] }),
    { code: grpc.status.UNAVAILABLE, details: /queue of model probe_full is full/ },
  );
  gate.release();
  t.equal((await busy).status, 200);
  t.same([...new Set((await Promise.all(admitted)).map((r) => r.status))], [200], 'the admitted ones all ran');
});

t.test('queue timeouts: the model default and the request timeout parameter', async (t) => {
  const m = 'probe_timeout';
  const busy = occupy();
  await untilBusy();
  const slots = fill(s, m);
  await until(() => probeScheduler(m)?.running === SLOTS, 'the fillers hold every slot');
  const queued = await infer(s, m, probe(1));
  t.equal(queued.status, 503);
  t.match(queued.json(), { error: /request timed out in queue after 100 ms \(model probe_timeout\)/ });
  const own = await infer(s, m, probe(1, { parameters: { timeout: 30_000 } }));
  t.equal(own.status, 503, 'timeout parameter (µs)');
  t.match(own.json(), { error: /timed out in queue after 30 ms/ });
  const bad = await infer(s, m, probe(1, { parameters: { timeout: -5 } }));
  t.equal(bad.status, 400);
  t.match(bad.json(), { error: /parameter 'timeout' must be a non-negative integer/ });
  gate.release();
  await busy;
  t.same([...new Set((await Promise.all(slots)).map((r) => r.status))], [200]);
});

t.test('a high-priority request overtakes queued low-priority ones', async (t) => {
  const m = 'probe_priority';
  const busy = occupy();
  await untilBusy();
  const order: string[] = [];
  const track = (name: string, p: Promise<RawResponse>) => p.then((r) => (order.push(name), r));
  const fillers = fill(s, m).map((p, i) => track(`filler${i}`, p));
  await until(() => probeScheduler(m)?.running === SLOTS, 'the fillers hold every slot');
  const low = [1, 2, 3].map((i) => track(`low${i}`, infer(s, m, probe(1, { parameters: { priority: 2 } }))));
  await until(() => probeScheduler(m)?.queued === 3, 'the low-priority requests are queued');
  const high = track('high', infer(s, m, probe(1, { parameters: { priority: 1 } })));
  await until(() => probeScheduler(m)?.queued === 4, 'the high-priority request is queued too');
  gate.release();
  const results = await Promise.all([busy, ...fillers, ...low, high]);
  t.same([...new Set(results.map((r) => r.status))], [200]);
  t.ok(order.indexOf('high') < order.indexOf('low1'), `order: ${order.join(', ')}`);
  const bad = await infer(s, m, probe(1, { parameters: { priority: 3 } }));
  t.equal(bad.status, 400);
  t.match(bad.json(), { error: /'priority' is 3 but the model has 2 priority levels/ });
});

t.test('a request whose client went away leaves the queue without running', async (t) => {
  const m = 'probe_gone';
  const busy = occupy();
  await untilBusy();
  const fillers = fill(s, m);
  const scheduler = () => probeScheduler(m);
  await until(() => scheduler()?.running === SLOTS, 'the fillers hold every slot');
  // HTTP: a 5-row request whose client closes the connection while it is queued.
  const req = httpRequest(`${s.url}/v2/models/${m}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' } });
  req.on('error', () => undefined);
  req.end(JSON.stringify(probe(5)));
  // gRPC: a 7-row call cancelled while queued.
  const client = grpcClients(s.grpcAddress);
  t.teardown(() => client.close());
  const call = (client.inference.ModelInfer as (r: object, cb: (e: unknown) => void) => grpc.ClientUnaryCall)(
    { model_name: m, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [7, 1], contents: { fp32_contents: new Array(7).fill(1) } }] },
    () => undefined,
  );
  await until(() => scheduler()?.queued === 2, 'both are queued');
  t.equal(scheduler()!.queued, 2, 'both are queued');
  req.destroy();
  call.cancel();
  await until(() => scheduler()?.queued === 0, 'both left the queue');
  t.equal(scheduler()!.queued, 0, 'both left the queue');
  t.equal(scheduler()!.running, SLOTS, 'while the fillers still hold the slots');
  gate.release();
  await busy;
  await Promise.all(fillers);
  const after = await infer(s, m, probe(1));
  t.equal(after.status, 200);
  const executed = scheduler()!.history.map((h) => h.rows);
  t.notOk(executed.includes(5), `the HTTP request never ran (executions: ${executed.join(', ')})`);
  t.notOk(executed.includes(7), 'the cancelled gRPC call never ran');
});
