// The per-model scheduler in-process, with a fake run function in place of the worker pool: ordering
// (FIFO, priority levels, the default level), merging by signature, preferred batch sizes,
// max_batch_time, slots, a full queue, queue timeouts, absolute deadlines, cancellation, per-request
// outputs, failures, statistics hooks, and 250k queued requests with a 5 s batch window.
// Assertions are on order and counts, never on latency.
import tap from 'tap';

const t = tap;
import { ModelScheduler, LOOKAHEAD } from '../../src/batching/scheduler.js';
import { TesseraError } from '../../src/core/errors.js';
import type { QueuePolicy, RequestOptions, RunFn } from '../../src/core/scheduling.js';
import type { ExecutionTiming, InferenceObserver, ModelRef, RequestTrace } from '../../src/core/statistics.js';
import type { Tensor } from '../../src/core/tensor.js';
import { PROBE, queuePolicy } from '../helpers/queue-policy.js';

const IDENTITY = PROBE;

const policy = queuePolicy;

/** A request's inputs: INPUT0 of `rows` × `cols`, every element its id (so executions show who ran). */
function request(id: number, rows = 1, cols = 1): Tensor[] {
  return [{ name: 'INPUT0', datatype: 'FP32', shape: [rows, cols], data: new Float32Array(rows * cols).fill(id) }];
}

interface Call {
  /** The request id of each row, in order. */
  rowIds: number[];
  /** Request ids in the order they were merged. */
  ids: number[];
  outputs: string[];
}

/**
 * Stands in for the worker pool. OUTPUT0 echoes INPUT0; BATCH is [rows, 1] filled with the batch's
 * rows. While `hold` is set, each run waits for `release()`.
 */
class FakeModel {
  readonly calls: Call[] = [];
  /** Rows of every execution so far. */
  rowsRun = 0;
  hold = true;
  /** Thrown by the next runs when set. */
  failure: Error | undefined;
  /** Answers with one row whatever the batch (a model that does not keep the batch dimension). */
  dropBatchDim = false;
  private readonly held: (() => void)[] = [];

  readonly run: RunFn = async (inputs, outputs, clock) => {
    const input = inputs.find((x) => x.name === 'INPUT0')!;
    const data = input.data as Float32Array;
    const [rows, cols] = input.shape;
    const rowIds = Array.from({ length: rows }, (_, r) => data[r * cols]);
    const ids = rowIds.filter((id, r) => r === 0 || rowIds[r - 1] !== id);
    this.calls.push({ rowIds, ids, outputs: [...outputs] });
    this.rowsRun += rows;
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    clock.startedAt += 1;
    clock.endedAt = clock.startedAt + 2;
    if (this.failure !== undefined) throw this.failure;
    const outRows = this.dropBatchDim ? 1 : rows;
    return outputs.map((name): Tensor => {
      if (name === 'BATCH') return { name, datatype: 'FP32', shape: [outRows, 1], data: new Float32Array(outRows).fill(rows) };
      return { name, datatype: 'FP32', shape: [outRows, cols], data: data.slice(0, outRows * cols) };
    });
  };

  /** Runs waiting for release. */
  get waiting(): number {
    return this.held.length;
  }

  /** Lets the oldest held run finish. */
  release(): void {
    this.held.shift()?.();
  }

  releaseAll(): void {
    this.hold = false;
    while (this.held.length > 0) this.release();
  }
}

interface Watched {
  done: boolean;
  value?: Tensor[];
  error?: TesseraError;
  settled: Promise<void>;
}

/** Follows a submission (a handler attached at once, so refusals are never unhandled). */
function watch(p: Promise<Tensor[]>): Watched {
  const w: Watched = { done: false, settled: Promise.resolve() };
  w.settled = p.then(
    (value) => {
      w.done = true;
      w.value = value;
    },
    (error: TesseraError) => {
      w.done = true;
      w.error = error;
    },
  );
  return w;
}

/** Lets pending promise reactions (and any due timers) run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Waits (by turns of the event loop, up to 5 s) until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Blocks the thread for `ms` (so a deadline passes with no timer able to run). */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

function setup(p: Partial<QueuePolicy> = {}, observer?: InferenceObserver): { model: FakeModel; sched: ModelScheduler } {
  const model = new FakeModel();
  return { model, sched: new ModelScheduler(IDENTITY, policy(p), model.run, observer) };
}

const idsOf = (calls: Call[]): number[][] => calls.map((c) => c.ids);

t.test('fast path: nothing queued and a slot free runs at once, without a cancellation signal', async (t) => {
  const { model, sched } = setup({ maxBatchSize: 8, maxBatchTimeMs: 1000, preferredBatchSizes: [4] });
  let signals = 0;
  const trace: RequestTrace = { queueNs: -1 };
  const w = watch(sched.submit(request(1), ['OUTPUT0'], { cancellation: () => (signals++, new AbortController().signal), trace }));
  t.equal(model.calls.length, 1, 'the run started within submit: no timer, no wait for company or a preferred size');
  t.equal(sched.queued, 0);
  t.equal(trace.queueNs, 0, 'no time queued');
  model.releaseAll();
  await w.settled;
  t.equal(signals, 0, 'the cancellation signal was never made');
  t.same(Array.from(w.value![0].data as Float32Array), [1]);
  t.same(sched.history, [{ requests: 1, rows: 1 }]);
});

t.test('FIFO within a level, one execution per request when not batching', async (t) => {
  const { model, sched } = setup();
  const all = [1, 2, 3, 4].map((id) => watch(sched.submit(request(id), ['OUTPUT0'])));
  t.equal(sched.queued, 3, 'one runs, three wait');
  t.equal(sched.running, 1);
  while (model.waiting > 0 || sched.queued > 0) {
    model.release();
    await turn();
  }
  await Promise.all(all.map((w) => w.settled));
  t.same(idsOf(model.calls), [[1], [2], [3], [4]]);
  all.forEach((w, i) => t.same(Array.from(w.value![0].data as Float32Array), [i + 1], `request ${i + 1} got its own output`));
});

t.test('priority levels: 1 first, FIFO within a level, no priority means the default level', async (t) => {
  const { model, sched } = setup({ priorityLevels: 3, defaultPriority: 2 });
  const busy = watch(sched.submit(request(0), ['OUTPUT0']));
  const queued = [
    watch(sched.submit(request(31), ['OUTPUT0'], { priority: 3 })),
    watch(sched.submit(request(21), ['OUTPUT0'])), // default level 2
    watch(sched.submit(request(11), ['OUTPUT0'], { priority: 1 })),
    watch(sched.submit(request(32), ['OUTPUT0'], { priority: 3 })),
    watch(sched.submit(request(22), ['OUTPUT0'], { priority: 2 })),
    watch(sched.submit(request(12), ['OUTPUT0'], { priority: 1 })),
  ];
  t.equal(sched.queued, 6);
  model.releaseAll();
  await Promise.all([busy, ...queued].map((w) => w.settled));
  t.same(idsOf(model.calls), [[0], [11], [12], [21], [22], [31], [32]]);
});

t.test('priority 0 means the default level; a default level of 0 means the lowest', async (t) => {
  const { model, sched } = setup({ priorityLevels: 3, defaultPriority: 0 });
  const all = [watch(sched.submit(request(0), ['OUTPUT0']))];
  all.push(watch(sched.submit(request(3), ['OUTPUT0'], { priority: 0 })));
  all.push(watch(sched.submit(request(2), ['OUTPUT0'], { priority: 2 })));
  all.push(watch(sched.submit(request(4), ['OUTPUT0'])));
  all.push(watch(sched.submit(request(1), ['OUTPUT0'], { priority: 1 })));
  model.releaseAll();
  await Promise.all(all.map((w) => w.settled));
  t.same(idsOf(model.calls), [[0], [1], [2], [3], [4]]);
});

t.test('merging: the head and compatible requests in queue order, up to max_batch_size rows, shapes never mixed', async (t) => {
  const { model, sched } = setup({ maxBatchSize: 8 });
  const busy = watch(sched.submit(request(0), ['OUTPUT0', 'BATCH']));
  const sub = (id: number, rows: number, cols = 1, options: RequestOptions = {}) =>
    watch(sched.submit(request(id, rows, cols), ['OUTPUT0', 'BATCH'], options));
  const reqs = [
    sub(1, 3),
    sub(2, 2, 3), // another shape: its own batch
    sub(3, 4),
    sub(4, 2), // 2 + 3 + 2: fits behind 8 and 1 (3 was skipped: 2 + 3 + 4 > 8)
    sub(5, 1), // 2 + 3 + 2 + 1 = 8: the batch is full
    sub(6, 9), // more rows than max_batch_size: alone
    sub(7, 1, 3),
    sub(8, 2, 1, { priority: 1 }), // highest level: heads the first batch
  ];
  t.equal(sched.queued, 8);
  model.releaseAll();
  await Promise.all([busy, ...reqs].map((w) => w.settled));
  t.same(idsOf(model.calls), [[0], [8, 1, 4, 5], [2, 7], [3], [6]], 'batches in queue order, by signature, up to 8 rows');
  t.same(
    model.calls.map((c) => c.rowIds.length),
    [1, 8, 3, 4, 9],
    'rows per execution',
  );
  const rows = [3, 2, 4, 2, 1, 9, 1, 2];
  const cols = [1, 3, 1, 1, 1, 1, 3, 1];
  reqs.forEach((w, i) => {
    const [out, batch] = w.value!;
    t.same(out.shape, [rows[i], cols[i]], `request ${i + 1}: its own shape`);
    t.ok((out.data as Float32Array).every((v) => v === i + 1), `request ${i + 1}: its own rows`);
    t.same(batch.shape, [rows[i], 1]);
  });
  t.equal((reqs[0].value![1].data as Float32Array)[0], 8, 'request 1 ran in the batch of 8 rows');
  t.same(sched.history.map((h) => [h.requests, h.rows]), [[1, 1], [4, 8], [2, 3], [1, 4], [1, 9]]);
});

t.test('requests whose inputs disagree on dim 0 run alone', async (t) => {
  const { model, sched } = setup({ maxBatchSize: 8 });
  const busy = watch(sched.submit(request(0), ['OUTPUT0']));
  const odd: Tensor[] = [...request(1, 2), { name: 'INPUT1', datatype: 'FP32', shape: [3, 1], data: new Float32Array(3) }];
  const a = watch(sched.submit(request(2), ['OUTPUT0']));
  const b = watch(sched.submit(odd, ['OUTPUT0']));
  const c = watch(sched.submit(request(3), ['OUTPUT0']));
  model.releaseAll();
  await Promise.all([busy, a, b, c].map((w) => w.settled));
  t.same(idsOf(model.calls), [[0], [2, 3], [1]]);
});

t.test(`a dispatch looks at most ${LOOKAHEAD} compatible requests past those that do not fit`, async (t) => {
  const { model, sched } = setup({ maxBatchSize: 64 });
  const all = [watch(sched.submit(request(0), ['OUTPUT0']))];
  all.push(watch(sched.submit(request(1, 60), ['OUTPUT0'])));
  // LOOKAHEAD requests of 8 rows (none fits beside 60), then a 4-row one that would fit.
  for (let i = 0; i < LOOKAHEAD; i++) all.push(watch(sched.submit(request(100 + i, 8), ['OUTPUT0'])));
  all.push(watch(sched.submit(request(2, 4), ['OUTPUT0'])));
  model.release();
  await until(() => model.calls.length === 2, 'the second execution starts');
  t.same(model.calls[1].ids, [1], 'the 4-row request beyond the look-ahead waits for a later batch');
  model.releaseAll();
  await Promise.all(all.map((w) => w.settled));
  t.ok(all.every((w) => w.error === undefined), 'every request ran');

  // Within the look-ahead it joins.
  const second = setup({ maxBatchSize: 64 });
  const more = [watch(second.sched.submit(request(0), ['OUTPUT0'])), watch(second.sched.submit(request(1, 60), ['OUTPUT0']))];
  for (let i = 0; i < LOOKAHEAD - 1; i++) more.push(watch(second.sched.submit(request(100 + i, 8), ['OUTPUT0'])));
  more.push(watch(second.sched.submit(request(2, 4), ['OUTPUT0'])));
  second.model.releaseAll();
  await Promise.all(more.map((w) => w.settled));
  t.same(second.model.calls[1].ids, [1, 2], 'the 4-row request within the look-ahead joins the 60 rows');
});

t.test('preferred_batch_size [4]: 8 one-row requests behind a busy slot run as 1 + 4 + 3', async (t) => {
  const { model, sched } = setup({ maxBatchSize: 32, preferredBatchSizes: [4] });
  const all = Array.from({ length: 8 }, (_, i) => watch(sched.submit(request(i), ['OUTPUT0', 'BATCH'])));
  t.equal(model.calls.length, 1, 'the first took the free slot alone, at once');
  t.equal(sched.queued, 7);
  model.release();
  await until(() => model.calls.length === 2, 'the second execution starts');
  t.same(model.calls[1].ids, [1, 2, 3, 4], 'cut back to the preferred 4');
  t.equal(sched.queued, 3, 'the rest stays queued, first in line');
  model.releaseAll();
  await Promise.all(all.map((w) => w.settled));
  t.same(idsOf(model.calls), [[0], [1, 2, 3, 4], [5, 6, 7]], 'no prefix of the last 3 makes 4: they go whole');
  t.same(
    all.map((w) => (w.value![1].data as Float32Array)[0]),
    [1, 4, 4, 4, 4, 3, 3, 3],
  );
});

t.test('preferred_batch_size: a group whose rows are preferred goes whole; the largest preferred prefix wins', async (t) => {
  const { model, sched } = setup({ maxBatchSize: 32, preferredBatchSizes: [2, 4, 6] });
  const all = [watch(sched.submit(request(0), ['OUTPUT0']))];
  // Rows 1, 1, 2, 3, 3: running totals 1, 2, 4, 7, 10; 10 is not preferred, the largest preferred
  // prefix is 4 (the first three). Then 3 + 3 = 6, preferred: whole.
  [1, 1, 2, 3, 3].forEach((rows, i) => all.push(watch(sched.submit(request(i + 1, rows), ['OUTPUT0']))));
  model.releaseAll();
  await Promise.all(all.map((w) => w.settled));
  t.same(idsOf(model.calls), [[0], [1, 2, 3], [4, 5]]);
});

t.test('max_batch_time: a request queued longer is dispatched though no slot is free', async (t) => {
  const { model, sched } = setup({ maxBatchSize: 16, maxBatchTimeMs: 15 });
  const busy = watch(sched.submit(request(0), ['OUTPUT0']));
  const queued = [1, 2, 3].map((id) => watch(sched.submit(request(id), ['OUTPUT0'])));
  t.equal(model.calls.length, 1, 'they queue while the only slot is busy');
  await until(() => model.calls.length === 2, 'max_batch_time dispatches the queue');
  t.same(model.calls[1].ids, [1, 2, 3], 'merged, while the first execution still runs');
  t.equal(sched.running, 2, 'beyond the slots');
  t.equal(sched.queued, 0);
  model.releaseAll();
  await Promise.all([busy, ...queued].map((w) => w.settled));
  t.ok(queued.every((w) => w.value !== undefined));
});

t.test('slots: that many executions at once, the rest queue', async (t) => {
  const { model, sched } = setup({ slots: 3 });
  const all = Array.from({ length: 7 }, (_, i) => watch(sched.submit(request(i), ['OUTPUT0'])));
  t.equal(model.calls.length, 3);
  t.equal(sched.queued, 4);
  model.release();
  await turn();
  t.equal(model.calls.length, 4, 'a finished execution frees its slot for the next');
  t.equal(sched.queued, 3);
  model.releaseAll();
  await Promise.all(all.map((w) => w.settled));
  t.same(idsOf(model.calls), [[0], [1], [2], [3], [4], [5], [6]]);
});

t.test('a full queue refuses at once', async (t) => {
  const { model, sched } = setup({ maxQueueSize: 2 });
  const admitted = [0, 1, 2].map((id) => watch(sched.submit(request(id), ['OUTPUT0'])));
  const refused = watch(sched.submit(request(3), ['OUTPUT0']));
  await refused.settled;
  t.ok(refused.error instanceof TesseraError);
  t.match(refused.error, { code: 'QUEUE_FULL', message: 'the queue of model probe is full (max_queue_size 2)' });
  t.equal(refused.error!.httpStatus, 503);
  t.equal(refused.error!.failureReason, 'REJECTED');
  t.equal(sched.queued, 2, 'the queue keeps its two');
  model.releaseAll();
  await Promise.all(admitted.map((w) => w.settled));
  t.same(idsOf(model.calls), [[0], [1], [2]], 'the refused one never ran');
});

t.test('queue timeouts: the model default and the per-request timeout; timed-out requests never run', async (t) => {
  const { model, sched } = setup({ queueTimeoutMs: 40, priorityLevels: 1, defaultPriority: 1 });
  const busy = watch(sched.submit(request(0), ['OUTPUT0']));
  const byDefault = watch(sched.submit(request(1), ['OUTPUT0']));
  const own = watch(sched.submit(request(2), ['OUTPUT0'], { timeoutMs: 10 }));
  const patient = watch(sched.submit(request(3), ['OUTPUT0'], { timeoutMs: 60_000 }));
  await own.settled;
  t.match(own.error, { code: 'QUEUE_TIMEOUT', message: 'request timed out in queue after 10 ms (model probe)' });
  t.equal(own.error!.httpStatus, 503);
  t.equal(own.error!.failureReason, 'REJECTED');
  await byDefault.settled;
  t.match(byDefault.error, { code: 'QUEUE_TIMEOUT', message: 'request timed out in queue after 40 ms (model probe)' });
  t.equal(sched.queued, 1, 'only the patient one is left');
  model.releaseAll();
  await Promise.all([busy.settled, patient.settled]);
  t.same(idsOf(model.calls), [[0], [3]]);
});

t.test('absolute deadlines', async (t) => {
  t.test('passing while queued: deadline exceeded, never runs', async (t) => {
    const { model, sched } = setup({ queueTimeoutMs: 60_000 });
    const busy = watch(sched.submit(request(0), ['OUTPUT0']));
    const late = watch(sched.submit(request(1), ['OUTPUT0'], { deadline: performance.now() + 15 }));
    const other = watch(sched.submit(request(2), ['OUTPUT0']));
    await late.settled;
    t.match(late.error, { code: 'DEADLINE_EXCEEDED', message: "the request's deadline passed before model probe could run it" });
    t.equal(late.error!.httpStatus, 504);
    t.equal(late.error!.grpcCode, 4, 'gRPC DEADLINE_EXCEEDED');
    t.equal(sched.queued, 1);
    model.releaseAll();
    await Promise.all([busy.settled, other.settled]);
    t.same(idsOf(model.calls), [[0], [2]]);
  });

  t.test('already passed on arrival: refused on the fast path and the queue path', async (t) => {
    const { model, sched } = setup();
    const fast = watch(sched.submit(request(1), ['OUTPUT0'], { deadline: performance.now() - 1 }));
    await fast.settled;
    t.match(fast.error, { code: 'DEADLINE_EXCEEDED', message: /deadline passed/ });
    const busy = watch(sched.submit(request(0), ['OUTPUT0']));
    const queued = watch(sched.submit(request(2), ['OUTPUT0'], { deadline: performance.now() - 1 }));
    await queued.settled;
    t.match(queued.error, { code: 'DEADLINE_EXCEEDED', message: /deadline passed/ });
    t.equal(sched.queued, 0);
    model.releaseAll();
    await busy.settled;
    t.same(idsOf(model.calls), [[0]]);
  });

  t.test('passed by dispatch time (no timer had a chance to run): dropped, the next one runs', async (t) => {
    const { model, sched } = setup({ maxBatchSize: 8 });
    const busy = watch(sched.submit(request(0), ['OUTPUT0']));
    const head = watch(sched.submit(request(1), ['OUTPUT0'], { deadline: performance.now() + 5 }));
    const next = watch(sched.submit(request(2), ['OUTPUT0']));
    const member = watch(sched.submit(request(3), ['OUTPUT0'], { deadline: performance.now() + 5 }));
    const last = watch(sched.submit(request(4), ['OUTPUT0']));
    spin(10); // the deadlines pass while this thread is busy: the expiry timer cannot fire
    model.releaseAll(); // the slot frees: its next dispatch runs in microtasks, before any timer
    await busy.settled;
    t.equal(sched.queued, 0, 'dispatched and dropped before any timer ran');
    t.same(idsOf(model.calls), [[0], [2, 4]], 'the expired head and member were dropped, not run');
    await Promise.all([head.settled, member.settled, next.settled, last.settled]);
    t.match(head.error, { code: 'DEADLINE_EXCEEDED', message: /deadline passed/ });
    t.match(member.error, { code: 'DEADLINE_EXCEEDED', message: /deadline passed/ });
    t.same(Array.from(last.value![0].data as Float32Array), [4]);
  });

  t.test('the earlier of deadline and timeout applies', async (t) => {
    const { model, sched } = setup();
    const busy = watch(sched.submit(request(0), ['OUTPUT0']));
    const w = watch(sched.submit(request(1), ['OUTPUT0'], { timeoutMs: 10, deadline: performance.now() + 60_000 }));
    await w.settled;
    t.match(w.error, { message: 'request timed out in queue after 10 ms (model probe)' });
    model.releaseAll();
    await busy.settled;
  });
});

t.test('cancellation', async (t) => {
  t.test('a client gone before it queues is refused; one gone while queued leaves; a dispatched one runs to the end', async (t) => {
    const { model, sched } = setup({ maxBatchSize: 8 });
    const running = new AbortController();
    const busy = watch(sched.submit(request(0), ['OUTPUT0'], { cancellation: () => running.signal }));
    const gone = new AbortController();
    gone.abort();
    const before = watch(sched.submit(request(1), ['OUTPUT0'], { cancellation: () => gone.signal }));
    await before.settled;
    t.match(before.error, { code: 'CANCELLED', message: 'the client went away' });
    t.equal(before.error!.failureReason, 'CANCELED');
    t.equal(sched.queued, 0, 'it never queued');
    const queued = new AbortController();
    const leaving = watch(sched.submit(request(2, 5), ['OUTPUT0'], { cancellation: () => queued.signal }));
    const staying = watch(sched.submit(request(3), ['OUTPUT0']));
    t.equal(sched.queued, 2);
    queued.abort();
    t.equal(sched.queued, 1, 'left the queue at once');
    await leaving.settled;
    t.match(leaving.error, { code: 'CANCELLED' });
    running.abort(); // already dispatched
    model.releaseAll();
    await Promise.all([busy.settled, staying.settled]);
    t.ok(busy.value, 'the dispatched request ran to the end');
    t.same(idsOf(model.calls), [[0], [3]], 'the cancelled ones never ran');
    t.notOk(
      sched.history.some((h) => h.rows === 5),
      'no 5-row execution',
    );
  });

  t.test('cancelling after dispatch does nothing to a merged batch', async (t) => {
    const { model, sched } = setup({ maxBatchSize: 8 });
    const busy = watch(sched.submit(request(0), ['OUTPUT0']));
    const ctl = new AbortController();
    const a = watch(sched.submit(request(1), ['OUTPUT0'], { cancellation: () => ctl.signal }));
    const b = watch(sched.submit(request(2), ['OUTPUT0']));
    model.release();
    await until(() => model.calls.length === 2, 'the batch is dispatched');
    ctl.abort();
    model.releaseAll();
    await Promise.all([busy.settled, a.settled, b.settled]);
    t.same(idsOf(model.calls), [[0], [1, 2]]);
    t.same(Array.from(a.value![0].data as Float32Array), [1]);
  });
});

t.test('outputs: the union runs once, each request gets the outputs it asked for, in its order', async (t) => {
  const { model, sched } = setup({ maxBatchSize: 8 });
  const busy = watch(sched.submit(request(0), ['OUTPUT0']));
  const a = watch(sched.submit(request(1, 2), ['OUTPUT0']));
  const b = watch(sched.submit(request(2), ['BATCH']));
  const c = watch(sched.submit(request(3), ['BATCH', 'OUTPUT0']));
  model.releaseAll();
  await Promise.all([busy, a, b, c].map((w) => w.settled));
  t.same(model.calls[1], { rowIds: [1, 1, 2, 3], ids: [1, 2, 3], outputs: ['OUTPUT0', 'BATCH'] });
  t.same(a.value!.map((x) => [x.name, x.shape, Array.from(x.data as Float32Array)]), [['OUTPUT0', [2, 1], [1, 1]]]);
  t.same(b.value!.map((x) => [x.name, x.shape, Array.from(x.data as Float32Array)]), [['BATCH', [1, 1], [4]]]);
  t.same(c.value!.map((x) => [x.name, x.shape, Array.from(x.data as Float32Array)]), [
    ['BATCH', [1, 1], [4]],
    ['OUTPUT0', [1, 1], [3]],
  ]);
});

t.test('a failing execution rejects every member; the scheduler goes on', async (t) => {
  const { model, sched } = setup({ maxBatchSize: 8 });
  const busy = watch(sched.submit(request(0), ['OUTPUT0']));
  const members = [1, 2, 3].map((id) => watch(sched.submit(request(id), ['OUTPUT0'])));
  model.failure = new Error('worker died');
  model.releaseAll();
  await Promise.all([busy, ...members].map((w) => w.settled));
  t.same(idsOf(model.calls), [[0], [1, 2, 3]]);
  for (const w of [busy, ...members]) t.match(w.error, { message: 'worker died' });

  // A model that drops the batch dimension fails the merged requests, naming the output.
  model.failure = undefined;
  model.dropBatchDim = true;
  model.hold = true;
  const lone = watch(sched.submit(request(4), ['OUTPUT0']));
  const merged = [5, 6].map((id) => watch(sched.submit(request(id), ['OUTPUT0'])));
  model.releaseAll();
  await Promise.all([lone, ...merged].map((w) => w.settled));
  t.ok(lone.value, 'alone, one row is right');
  for (const w of merged) {
    t.match(w.error, { code: 'INTERNAL', message: "model 'probe' returned output 'OUTPUT0' with shape [1,1] for a batch of 2 rows" });
  }
  model.dropBatchDim = false;
  const after = watch(sched.submit(request(7), ['OUTPUT0']));
  await after.settled;
  t.ok(after.value, 'later requests run');
  t.equal(sched.running, 0);
});

t.test('statistics hooks: queue time per request, execution timing and rows via the observer', async (t) => {
  const dispatched: number[] = [];
  const executions: { ref: ModelRef; rows: number; timing: ExecutionTiming }[] = [];
  const observer: InferenceObserver = {
    dispatched: (_ref, waiting) => dispatched.push(waiting),
    execution: (ref, rows, timing) => executions.push({ ref, rows, timing }),
    request: () => undefined,
  };
  const { model, sched } = setup({ maxBatchSize: 8 }, observer);
  const traces: RequestTrace[] = Array.from({ length: 4 }, () => ({ queueNs: -1 }));
  const all = [watch(sched.submit(request(0), ['OUTPUT0'], { trace: traces[0] }))];
  all.push(watch(sched.submit(request(1, 2), ['OUTPUT0'], { trace: traces[1] })));
  all.push(watch(sched.submit(request(2, 3), ['OUTPUT0'], { trace: traces[2] })));
  all.push(watch(sched.submit(request(3, 1, 2), ['OUTPUT0'], { trace: traces[3] })));
  spin(2);
  model.releaseAll();
  await Promise.all(all.map((w) => w.settled));
  t.same(dispatched, [0, 1, 0], 'requests still queued at each dispatch');
  t.same(
    executions.map((e) => [e.ref, e.rows]),
    [
      [{ model: 'probe', version: '' }, 1],
      [{ model: 'probe', version: '' }, 5],
      [{ model: 'probe', version: '' }, 1],
    ],
  );
  for (const e of executions) t.ok(Math.abs(e.timing.computeInferNs - 2e6) < 1, 'compute_infer from the run clock');
  t.equal(traces[0].queueNs, 0, 'the fast path did not queue');
  t.ok(traces.slice(1).every((x) => x.queueNs > 0), 'the others record their time queued');
  t.equal(traces[1].execution, traces[2].execution, 'merged requests share their execution timing');
  t.ok(traces.every((x) => x.execution !== undefined));
});

t.test('history keeps the last 1000 executions, oldest first', async (t) => {
  const { model, sched } = setup({ slots: 2000 });
  model.hold = false;
  const all = Array.from({ length: 1005 }, (_, i) => watch(sched.submit(request(i, 1 + (i % 3)), ['OUTPUT0'])));
  await Promise.all(all.map((w) => w.settled));
  const history = sched.history;
  t.equal(history.length, 1000);
  t.same(history.slice(0, 3), [
    { requests: 1, rows: 1 + (5 % 3) },
    { requests: 1, rows: 1 + (6 % 3) },
    { requests: 1, rows: 1 + (7 % 3) },
  ]);
  t.same(history[999], { requests: 1, rows: 1 + (1004 % 3) });
});

/**
 * 250k one-row requests queue behind a busy slot (every tenth at priority 1); a slice of them is
 * cancelled; then the queue drains in batches of 64. The executions' rows show that every remaining
 * request ran exactly once, in order; every cancelled one is refused as CANCELLED; a sample checks
 * that each answer holds the request's own row.
 */
/** Every SAMPLE-th request checks its own answer (a reaction per request would double the promises). */
const SAMPLE = 50;

function bigQueue(maxBatchTimeMs: number, beforeEnqueue?: (sched: ModelScheduler) => void) {
  const N = 250_000;
  const cancelFrom = 100_000;
  const cancelTo = 130_000;
  const { model, sched } = setup({ maxBatchSize: 64, maxBatchTimeMs, priorityLevels: 2, defaultPriority: 2 });
  const busy = watch(sched.submit(request(-1), ['OUTPUT0']));
  // A lead request (id N, default level) queued first, when the test asks for one.
  const lead = beforeEnqueue === undefined ? undefined : watch(sched.submit(request(N), ['OUTPUT0']));
  beforeEnqueue?.(sched);
  const counts = { own: 0, foreign: 0, cancelled: 0, other: 0 };
  const refused = (error: TesseraError): void => {
    if (error.code === 'CANCELLED') counts.cancelled++;
    else counts.other++;
  };
  const controllers: AbortController[] = [];
  for (let id = 0; id < N; id++) {
    const options: RequestOptions = {};
    if (id % 10 === 0) options.priority = 1;
    if (id >= cancelFrom && id < cancelTo) {
      const ctl = new AbortController();
      controllers.push(ctl);
      options.cancellation = () => ctl.signal;
    }
    const answer = sched.submit(request(id), ['OUTPUT0'], options);
    if (options.cancellation !== undefined) answer.catch(refused);
    else if (id % SAMPLE === 0) {
      answer.then((out) => {
        if (out.length === 1 && out[0].shape[0] === 1 && (out[0].data as Float32Array)[0] === id) counts.own++;
        else counts.foreign++;
      }, refused);
    }
  }
  const expected: number[] = [];
  const cancelled = (id: number): boolean => id >= cancelFrom && id < cancelTo;
  for (let id = 0; id < N; id += 10) if (!cancelled(id)) expected.push(id);
  if (lead !== undefined) expected.push(N);
  for (let id = 0; id < N; id++) if (id % 10 !== 0 && !cancelled(id)) expected.push(id);
  let sampled = 0;
  for (let id = 0; id < N; id += SAMPLE) if (!cancelled(id)) sampled++;
  const settled = (): boolean =>
    model.rowsRun === 1 + expected.length && counts.own + counts.foreign === sampled && counts.cancelled + counts.other === cancelTo - cancelFrom;
  const reason = new Error('client closed');
  const cancel = (): void => controllers.forEach((c) => c.abort(reason));
  return { N, model, sched, busy, lead, counts, settled, cancel, cancelledCount: cancelTo - cancelFrom, expected, sampled };
}

function checkDrain(t: Pick<typeof tap, 'equal' | 'ok' | 'same'>, big: ReturnType<typeof bigQueue>): void {
  const { model, counts, cancelledCount, expected, sampled } = big;
  const ran = model.calls.slice(1).flatMap((c) => c.ids);
  t.equal(ran.length, expected.length, `${expected.length} requests ran`);
  const firstMismatch = ran.findIndex((id, i) => id !== expected[i]);
  t.equal(firstMismatch, -1, 'in priority order, FIFO within each level');
  const last = model.calls[model.calls.length - 1];
  t.ok(
    model.calls.slice(1).every((c) => c.ids.length === 64 || c === last),
    `batches of 64 (${model.calls.length - 1} executions)`,
  );
  t.same(counts, { own: sampled, foreign: 0, cancelled: cancelledCount, other: 0 }, `the ${sampled} sampled got their own row; every cancelled one was refused as CANCELLED`);
}

t.test('250k queued requests with a 5 s batch window: enqueue, cancel a slice, drain', async (t) => {
  const big = bigQueue(5000);
  const { sched, model, busy, N } = big;
  t.equal(sched.queued, N, 'all queued');
  big.cancel();
  t.equal(sched.queued, N - big.cancelledCount, 'exact count after cancelling a slice');
  t.equal(model.calls.length, 1, 'nothing dispatched while the slot is busy and the window open');
  model.releaseAll();
  await busy.settled;
  await until(big.settled, 'every request is answered');
  t.equal(sched.queued, 0);
  t.equal(sched.running, 0);
  checkDrain(t, big);
  t.equal(model.calls.length, 1 + Math.ceil((N - big.cancelledCount) / 64));
});

t.test('max_batch_time firing while 250k requests stay queued (the old RangeError), on a controlled clock', async (t) => {
  // The scheduler reads performance.now(); the test sets it, so that when the real 20 ms timer
  // fires, the lead request is overdue and the 250k behind it are not: the timer dispatches up to
  // the lead, then re-arms over a queue of ~200k (where Math.min(...queue) threw).
  const realNow = performance.now.bind(performance);
  let clock = realNow();
  performance.now = () => clock;
  t.teardown(() => {
    performance.now = realNow;
  });
  const big = bigQueue(20, () => {
    clock += 10; // the lead waited 10 ms when the others arrive
  });
  const { sched, model, busy, lead, N } = big;
  big.cancel();
  const total = N - big.cancelledCount + 1;
  t.equal(sched.queued, total);
  model.hold = false; // executions dispatched by the timer finish at once; the first holds the slot
  clock += 10; // the lead has waited max_batch_time, the others half of it
  await until(() => model.calls.length > 1, 'the timer fires');
  // In queue order the lead follows the priority-1 requests: everything up to its batch went.
  const leadAt = big.expected.indexOf(N);
  const dispatched = (Math.floor(leadAt / 64) + 1) * 64;
  t.equal(model.calls.length, 1 + dispatched / 64, 'batches up to and including the lead');
  t.equal(sched.queued, total - dispatched, 'the rest stays queued, the timer re-armed');
  clock += 10; // now every request has waited max_batch_time
  await until(big.settled, 'the re-armed timer dispatches the rest');
  t.equal(sched.queued, 0);
  t.equal(busy.done, false, 'all that while, the first execution held the only slot');
  checkDrain(t, big);
  await lead!.settled;
  t.same(Array.from(lead!.value![0].data as Float32Array), [N]);
  model.release();
  await busy.settled;
  t.ok(busy.value);
});
