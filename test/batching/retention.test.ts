// What a dropped model load leaves behind: nothing. A scheduler whose requests have all been
// answered holds no timer, so once the backend drops it (a rolling reload, an unload) it is
// collected at once, with the load's spec and artifact bytes it holds. (Its expiry timer, armed
// for a running request's deadline, used to stay pending until that deadline, 60 s by default:
// a server reloading models kept every load of the last minute alive.) Checked with forced GCs.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import t from 'tap';
import { ModelScheduler } from '../../src/batching/scheduler.js';
import type { RunFn } from '../../src/core/scheduling.js';
import type { Tensor } from '../../src/core/tensor.js';
import { PROBE, queuePolicy } from '../helpers/queue-policy.js';
import { exampleRepository, infer, rawRequest, startTestServer } from '../helpers/server.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Whether the target of `ref` survives full GCs (run after the current job, which keeps it alive). */
async function survives(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return ref.deref() !== undefined;
}

const request = (): Tensor[] => [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 1], data: new Float32Array([1]) }];
const echo: RunFn = async (inputs) => [{ ...inputs[0], name: 'OUTPUT0' }];

t.test('a scheduler whose requests with deadlines were answered is collected once dropped', async (t) => {
  for (const [what, run] of [
    ['answered', echo],
    ['failed', (async () => Promise.reject(new Error('the model failed'))) as RunFn],
  ] as const) {
    let scheduler: ModelScheduler | undefined = new ModelScheduler(PROBE, queuePolicy({ maxBatchSize: 4 }), run);
    const ref = new WeakRef(scheduler);
    // The deadline is far off: only its timer could hold the scheduler until then.
    await scheduler.submit(request(), ['OUTPUT0'], { deadline: performance.now() + 60_000, modelTimeoutMs: 60_000 }).catch(() => undefined);
    t.equal(scheduler.running, 0, `${what}: nothing runs`);
    scheduler = undefined;
    t.notOk(await survives(ref), `${what}: collected`);
  }
});

t.test("a rolling reload and an unload leave the old load's scheduler to the GC", async (t) => {
  const root = exampleRepository(t, ['iris']);
  const server = await startTestServer(t, { folder: root });
  const IRIS = { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] };
  const keyOf = (): string => server.dataplane.model('iris').spec!.key;

  t.equal((await infer(server, 'iris', IRIS)).status, 200);
  const first = keyOf();
  const firstScheduler = new WeakRef(server.backend.scheduler(first)!);
  t.equal((await rawRequest(`${server.url}/v2/repository/models/iris/load`, { method: 'POST' })).status, 200, 'reloaded');
  t.not(keyOf(), first, 'a new load serves');
  t.equal(server.backend.scheduler(first), undefined, 'the backend dropped the old scheduler');
  t.notOk(await survives(firstScheduler), 'the old scheduler is collected after the rolling reload');

  t.equal((await infer(server, 'iris', IRIS)).status, 200);
  const second = new WeakRef(server.backend.scheduler(keyOf())!);
  t.equal((await rawRequest(`${server.url}/v2/repository/models/iris/unload`, { method: 'POST' })).status, 200, 'unloaded');
  t.notOk(await survives(second), 'the scheduler is collected after the unload');
});
