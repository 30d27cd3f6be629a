// The gRPC call wrapper, which every handler goes through: the client's deadline (grpc-timeout)
// bounds the request, whether it is running (DEADLINE_EXCEEDED, counted as TIMEOUT) or still
// queued (it leaves the queue and never runs); a cancelled call leaves the queue (CANCELED); the
// request id comes from the message's id, else the x-request-id metadata; health Watch is
// reported like any call.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { grpcClients } from '../helpers/grpc.js';
import { capturingLogger, rawRequest, startTestServer, tempDir } from '../helpers/server.js';

const SLEEP = `
export async function predict([ms]) {
  const rows = ms.shape[0];
  await new Promise((resolve) => setTimeout(resolve, Number(ms.data[0])));
  return [{ name: 'slept', datatype: 'INT32', shape: [rows], data: new Int32Array(ms.data) }];
}
`;

type Stats = { execution_count: number; inference_stats: { fail: { count: number } } };

t.test('deadlines, cancellation, request ids and streams through the call wrapper', async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, 'sleep'));
  writeFileSync(join(root, 'sleep', 'sleep.mjs'), SLEEP);
  // Batching, with one-row requests: one execution at a time (a worker's spare slot for batching
  // models takes only a batch of at least half max_batch_size), so a second request waits in the
  // model's queue.
  writeFileSync(
    join(root, 'sleep', 'model-settings.json'),
    JSON.stringify({ name: 'sleep', implementation: './sleep.mjs', max_batch_size: 16, inputs: [{ name: 'ms', datatype: 'INT32', shape: [-1] }], outputs: [{ name: 'slept', datatype: 'INT32', shape: [-1] }] }),
  );
  const { logger, lines } = capturingLogger('info');
  const server = await startTestServer(t, { folder: root, logger, settings: { parallel_workers: '1', debug: true } });
  const client = grpcClients(server.grpcAddress);
  t.teardown(() => client.close());
  const inference = client.inference as unknown as Record<string, (req: object, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: unknown) => void) => grpc.ClientUnaryCall>;
  const sleep = (ms: number, id = '') => ({ model_name: 'sleep', id, inputs: [{ name: 'ms', datatype: 'INT32', shape: [1], contents: { int_contents: [ms] } }] });
  const call = (request: object, options: grpc.CallOptions = {}, metadata = new grpc.Metadata()) => {
    let handle!: grpc.ClientUnaryCall;
    const done = new Promise<unknown>((resolve, reject) => {
      handle = inference.ModelInfer.call(client.inference, request, metadata, options, (e, v) => (e ? reject(e) : resolve(v)));
    });
    done.catch(() => undefined);
    return { handle, done };
  };
  const stats = async (): Promise<Stats> => ((await rawRequest(`${server.url}/v2/models/sleep/stats`)).json().model_stats as Stats[])[0];
  const metric = async (pattern: RegExp): Promise<number> => {
    const text = (await rawRequest(`${server.metricsUrl}/metrics`)).text;
    return Number(pattern.exec(text)?.[1] ?? 0);
  };
  const eventually = async (what: string, check: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`never: ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const timeouts = /tessera_request_failures_total\{model="sleep",version="",reason="TIMEOUT"\} (\d+)/;
  const cancels = /tessera_request_failures_total\{model="sleep",version="",reason="CANCELED"\} (\d+)/;
  const grpcCode = (code: string) => new RegExp(`tessera_grpc_request_duration_seconds_count\\{method="ModelInfer",code="${code}"\\} (\\d+)`);

  t.test('a running request past the client deadline: DEADLINE_EXCEEDED, counted as TIMEOUT', async (t) => {
    const { done } = call(sleep(1500), { deadline: Date.now() + 300 });
    await t.rejects(done, { code: grpc.status.DEADLINE_EXCEEDED });
    await eventually('the server reports the deadline', async () => (await metric(grpcCode('DEADLINE_EXCEEDED'))) === 1);
    t.equal(await metric(timeouts), 1, 'failure reason TIMEOUT');
  });

  t.test('a queued request past the client deadline leaves the queue without running', async (t) => {
    await eventually('the worker is free', async () => server.pool.workers().every((w) => w.inflight === 0));
    const before = await stats();
    const [timeoutsBefore, cancelsBefore] = [await metric(timeouts), await metric(cancels)];
    const first = call(sleep(1500, 'first'));
    await eventually('the first runs', async () => server.pool.workers().some((w) => w.inflight > 0));
    const queued = call(sleep(10, 'queued'), { deadline: Date.now() + 300 });
    await t.rejects(queued.done, { code: grpc.status.DEADLINE_EXCEEDED });
    await first.done;
    // At its deadline the client gives up on its own (DEADLINE_EXCEEDED above) and resets the
    // stream, while the server's timer for the same grpc-timeout fires: whichever reaches the
    // queued request first takes it out, counted TIMEOUT (the server's timer) or CANCELED (the
    // client's reset arrived first). Either way it is counted once and never runs.
    await eventually('the queued request is counted as failed', async () => (await metric(timeouts)) - timeoutsBefore + (await metric(cancels)) - cancelsBefore === 1);
    t.equal((await metric(timeouts)) - timeoutsBefore + (await metric(cancels)) - cancelsBefore, 1, 'counted once, as TIMEOUT or CANCELED');
    const after = await stats();
    t.equal(after.execution_count - before.execution_count, 1, 'only the first request ran');
    t.equal(after.inference_stats.fail.count - before.inference_stats.fail.count, 1, 'the queued request failed');
  });

  t.test('a cancelled call leaves the queue: CANCELLED, counted as CANCELED', async (t) => {
    await eventually('the worker is free', async () => server.pool.workers().every((w) => w.inflight === 0));
    const before = await stats();
    const [cancelsBefore, cancelledCallsBefore] = [await metric(cancels), await metric(grpcCode('CANCELLED'))];
    const first = call(sleep(1000, 'first'));
    await eventually('the first runs', async () => server.pool.workers().some((w) => w.inflight > 0));
    const queued = call(sleep(10, 'cancel-me'));
    // Cancelled once it waits in the queue: its arrival shows in the pending-requests gauge.
    await eventually('the second request queues', async () => (await metric(/tessera_pending_requests\{model="sleep",version=""\} (\d+)/)) >= 1);
    queued.handle.cancel();
    await t.rejects(queued.done, { code: grpc.status.CANCELLED });
    await first.done;
    await eventually('the cancellation is counted', async () => (await metric(cancels)) - cancelsBefore === 1);
    t.equal((await metric(grpcCode('CANCELLED'))) - cancelledCallsBefore, 1, 'the call is reported CANCELLED');
    t.equal((await stats()).execution_count - before.execution_count, 1, 'the cancelled request never ran');
  });

  t.test('request ids: the message id, else the x-request-id metadata', async (t) => {
    const metadata = new grpc.Metadata();
    metadata.set('x-request-id', 'from-metadata');
    await call(sleep(1), {}, metadata).done;
    await call(sleep(1, 'from-message'), {}, metadata).done;
    const completed = lines().filter((l) => l.msg === 'call completed' && l.method === 'ModelInfer').map((l) => l.requestId);
    t.ok(completed.includes('from-metadata'), 'metadata id on the access line');
    t.ok(completed.includes('from-message'), 'the V2 id wins');
  });

  t.test('health Watch goes through the wrapper', async (t) => {
    const watch = (client.health as unknown as Record<string, (r: object) => grpc.ClientReadableStream<{ status: string }>>).Watch.call(client.health, { service: '' });
    const first = await new Promise<{ status: string }>((resolve) => watch.once('data', resolve));
    t.equal(first.status, 'SERVING');
    watch.on('error', () => undefined);
    watch.cancel();
    await eventually('the watch is reported', async () => /tessera_grpc_request_duration_seconds_count\{method="Watch",code="CANCELLED"\} 1/.test((await rawRequest(`${server.metricsUrl}/metrics`)).text));
    t.pass('Watch reported as CANCELLED once the client went away');
  });
});
