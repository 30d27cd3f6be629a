// Deadlines of running requests in the scheduler (one heap and one timer per model, no timer per
// request): a request whose deadline passes while its execution runs is answered
// DEADLINE_EXCEEDED at the deadline, the others of its batch get their outputs when it ends; the
// message names the model's request_timeout when that is the deadline, queued or running.
import t from 'tap';
import { ModelScheduler } from '../../src/batching/scheduler.js';
import type { TesseraError } from '../../src/core/errors.js';
import type { QueuePolicy, RunFn } from '../../src/core/scheduling.js';
import type { Tensor } from '../../src/core/tensor.js';
import { PROBE, queuePolicy } from '../helpers/queue-policy.js';

const policy = (p: Partial<QueuePolicy> = {}): QueuePolicy => queuePolicy({ maxBatchSize: 8, ...p });
const IDENTITY = PROBE;
const request = (id: number): Tensor[] => [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 1], data: new Float32Array([id]) }];

/** A model whose runs wait for release(); each output echoes its input. */
function heldModel() {
  const held: (() => void)[] = [];
  const run: RunFn = async (inputs) => {
    await new Promise<void>((resolve) => held.push(resolve));
    return [{ ...inputs[0], name: 'OUTPUT0' }];
  };
  return { run, release: () => held.splice(0).forEach((r) => r()), get waiting() { return held.length; } };
}

// The fake model's runs hold nothing that keeps the process alive (a worker's channel would), and
// the scheduler's timer does not hold the process for running requests: this interval does.
const alive = setInterval(() => undefined, 1000);
t.teardown(() => clearInterval(alive));

const settle = (p: Promise<Tensor[]>) => p.then((v) => ({ value: v, error: undefined as TesseraError | undefined }), (error: TesseraError) => ({ value: undefined, error }));

t.test('a running request is answered at its deadline; the rest of its batch at the end of the run', async (t) => {
  const model = heldModel();
  const sched = new ModelScheduler(IDENTITY, policy(), model.run);
  const busy = settle(sched.submit(request(0), ['OUTPUT0']));
  // Queued behind the busy slot, then merged into one execution.
  const late = settle(sched.submit(request(1), ['OUTPUT0'], { deadline: performance.now() + 40 }));
  const patient = settle(sched.submit(request(2), ['OUTPUT0']));
  model.release(); // the first run ends; the two queued requests run together
  await busy;
  while (model.waiting === 0) await new Promise((r) => setImmediate(r));
  t.equal(sched.running, 1, 'the merged execution runs');
  const answered = await late;
  t.match(answered.error, { code: 'DEADLINE_EXCEEDED', message: "the request's deadline passed before model probe answered" });
  t.equal(sched.running, 1, 'its execution still runs');
  model.release();
  const rest = await patient;
  t.same(Array.from(rest.value![0].data as Float32Array), [2], 'the other request of the batch gets its own output');
  t.equal(sched.running, 0);
});

t.test("the model's request_timeout is named when it is the deadline", async (t) => {
  const model = heldModel();
  const sched = new ModelScheduler(IDENTITY, policy({ maxBatchSize: 1 }), model.run);
  const running = settle(sched.submit(request(0), ['OUTPUT0'], { deadline: performance.now() + 30, modelTimeoutMs: 30 }));
  const queued = settle(sched.submit(request(1), ['OUTPUT0'], { deadline: performance.now() + 20, modelTimeoutMs: 20 }));
  t.match((await queued).error, { code: 'DEADLINE_EXCEEDED', message: 'model probe did not answer within its request_timeout of 0.02 s' }, 'queued');
  t.match((await running).error, { code: 'DEADLINE_EXCEEDED', message: 'model probe did not answer within its request_timeout of 0.03 s' }, 'running');
  const passed = await settle(new ModelScheduler(IDENTITY, policy(), model.run).submit(request(2), ['OUTPUT0'], { deadline: performance.now() - 1, modelTimeoutMs: 1 }));
  t.match(passed.error, { message: 'model probe did not answer within its request_timeout of 0.001 s' }, 'passed before dispatch');
  model.release();
});
