// Adaptive batching over real HTTP (the protocol surface; the scheduler's own rules are unit-tested
// in scheduler.test.ts): concurrent requests merge (the probe model reports the batch it ran with)
// and each gets exactly its own rows; each MLServer batching bug has a test that would catch it:
// per-request outputs (#514), shapes never mixed (#903, #1306), parameters kept per request (#1541),
// a wrong batch dimension fails clearly, ids preserved; preferred_batch_size reaches the scheduler.
import t from 'tap';
import { batchProbeModel, oneRowModel } from '../../src/modelgen/examples.js';
import { arrivals, untilArrived, writeGateModel } from '../helpers/gate.js';
import { infer, rawRequest, startTestServer, tempDir, writeModel, type RawResponse } from '../helpers/server.js';
import type { RunningServer } from '../../src/server.js';

type Out = { name: string; shape: number[]; data: number[] };
// One server for the file, on one worker: while the gate model holds it, requests of the other
// models queue in their schedulers.
const root = tempDir(t);
writeModel(root, 'probe', batchProbeModel(), { name: 'probe', max_batch_size: 32, max_batch_time: 0.5 });
writeModel(root, 'one_row', oneRowModel(), { name: 'one_row', max_batch_size: 8, max_batch_time: 0.5 });
writeModel(root, 'preferred', batchProbeModel(), { name: 'preferred', max_batch_size: 32, preferred_batch_size: [4, 64] });
const gate = writeGateModel(root);
const s: RunningServer = await startTestServer(t, { folder: root, settings: { parallel_workers: '1' } });

/** Occupies the only worker until `gate.release()`. */
const occupy = (): Promise<RawResponse> => gate.hold(s);

/** Waits until the occupying request is running on the worker. */
async function untilBusy(): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!s.pool.workers().some((w) => w.inflight > 0)) {
    if (Date.now() > deadline) throw new Error('the worker never got busy');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Sends `requests` while the worker is held, and lets the worker go once every one of them has
 * reached the model's scheduler (queued, or dispatched to the held worker): then they are all
 * there to be batched, however slowly a loaded machine delivered them.
 */
async function whileHeld<T>(model: string, requests: () => Promise<T>[]): Promise<T[]> {
  const before = arrivals(model);
  const sent = requests();
  await untilArrived(model, before, sent.length);
  gate.release();
  return Promise.all(sent);
}

const probe = (rows: number, base: number, extra: object = {}): object => ({
  inputs: [{ name: 'INPUT0', shape: [rows, 2], datatype: 'FP32', data: Array.from({ length: rows * 2 }, (_, i) => base + i) }],
  ...extra,
});

t.test('concurrent requests merge, and each gets exactly its own rows', async (t) => {
  const busy = occupy();
  await untilBusy();
  const sizes = [1, 2, 3, 1, 4, 2];
  const responses = await whileHeld('probe', () => sizes.map((rows, i) => infer(s, 'probe', probe(rows, 1000 * (i + 1), { id: `r${i}` }))));
  t.equal((await busy).status, 200);
  const batches = new Set<number>();
  responses.forEach((res, i) => {
    t.equal(res.status, 200, res.text);
    const body = res.json();
    t.equal(body.id, `r${i}`, 'request id preserved');
    const [out, batch] = body.outputs as Out[];
    t.same(out.shape, [sizes[i], 2], `request ${i}: its own row count`);
    t.same(out.data, Array.from({ length: sizes[i] * 2 }, (_, k) => 1000 * (i + 1) + k), `request ${i}: its own rows`);
    t.same(batch.shape, [sizes[i], 1]);
    batches.add(batch.data[0]);
  });
  t.ok(Math.max(...batches) > Math.max(...sizes), `requests were merged (batch sizes seen: ${[...batches].join(', ')})`);
});

t.test('MLServer batching bugs stay fixed', async (t) => {
  t.test('#514: requested outputs are honoured per request', async (t) => {
    const busy = occupy();
    await untilBusy();
    const [a, b, c] = await whileHeld('probe', () => [
      infer(s, 'probe', probe(1, 10, { outputs: [{ name: 'OUTPUT0' }] })),
      infer(s, 'probe', probe(1, 20, { outputs: [{ name: 'BATCH' }] })),
      infer(s, 'probe', probe(1, 30)),
    ]);
    await busy;
    t.same((a.json().outputs as Out[]).map((o) => o.name), ['OUTPUT0']);
    t.same((b.json().outputs as Out[]).map((o) => o.name), ['BATCH']);
    t.same((c.json().outputs as Out[]).map((o) => o.name), ['OUTPUT0', 'BATCH']);
    t.ok((b.json().outputs as Out[])[0].data[0] >= 2, 'they did share a batch');
  });

  t.test('#903/#1306: requests of different shapes are never merged into one tensor', async (t) => {
    const busy = occupy();
    await untilBusy();
    const wide = { inputs: [{ name: 'INPUT0', shape: [1, 3], datatype: 'FP32', data: [7, 8, 9] }] };
    const [narrow1, other, narrow2] = await whileHeld('probe', () => [infer(s, 'probe', probe(1, 1)), infer(s, 'probe', wide), infer(s, 'probe', probe(1, 5))]);
    await busy;
    t.same((other.json().outputs as Out[])[0].data, [7, 8, 9], 'the [1,3] request gets its own data');
    t.same((other.json().outputs as Out[])[0].shape, [1, 3]);
    t.equal((other.json().outputs as Out[])[1].data[0], 1, 'and ran in a batch of its own shape');
    t.same((narrow1.json().outputs as Out[])[0].data, [1, 2]);
    t.same((narrow2.json().outputs as Out[])[0].data, [5, 6]);
  });

  t.test('#1541: request parameters are kept per request, not merged', async (t) => {
    const busy = occupy();
    await untilBusy();
    // The first request takes the free slot alone; the next two queue and share a batch.
    const [, a, b] = await whileHeld('probe', () => [
      infer(s, 'probe', probe(1, 0, { parameters: { tenant: 'first' } })),
      infer(s, 'probe', probe(1, 1, { parameters: { tenant: 'a', only_a: true } })),
      infer(s, 'probe', probe(1, 2, { parameters: { tenant: 'b' } })),
    ]);
    await busy;
    t.same(a.json().parameters, { tenant: 'a', only_a: true });
    t.same(b.json().parameters, { tenant: 'b' });
    t.ok((a.json().outputs as Out[])[1].data[0] >= 2, 'they did share a batch');
  });

  t.test('a model returning a wrong batch dimension fails the batch with a clear 500', async (t) => {
    const busy = occupy();
    await untilBusy();
    const body = (base: number) => ({ inputs: [{ name: 'INPUT0', shape: [1, 4], datatype: 'FP32', data: [base, base + 1, base + 2, base + 3] }] });
    const results = await whileHeld('one_row', () => [infer(s, 'one_row', body(0)), infer(s, 'one_row', body(10)), infer(s, 'one_row', body(20))]);
    await busy;
    const failed = results.filter((r) => r.status === 500);
    t.ok(failed.length >= 2, `the merged requests failed (${results.map((r) => r.status).join(', ')})`);
    for (const r of failed) {
      t.same(Object.keys(r.json()), ['error']);
      t.match(r.json().error, /model 'one_row' returned output 'OUTPUT0' with shape \[1,4\] for a batch of \d+ rows/);
    }
    for (const r of results.filter((x) => x.status === 200)) t.same((r.json().outputs as Out[])[0].shape, [1, 4], 'none gets empty or foreign outputs');
  });
});

t.test('preferred_batch_size from the model settings cuts a larger queue into preferred batches', async (t) => {
  const config = await rawRequest(`${s.url}/v2/models/preferred/config`);
  t.same(JSON.parse(config.text).dynamic_batching.preferred_batch_size, [4], 'config lists the usable preferred sizes (64 > max_batch_size is dropped)');
  const busy = occupy();
  await untilBusy();
  // 8 one-row requests: the first takes the free slot at once (alone), 7 queue behind it; when the
  // slot frees, 4 go (the preferred size), then the remaining 3 (no prefix of them makes 4).
  const responses = await whileHeld('preferred', () => Array.from({ length: 8 }, (_, i) => infer(s, 'preferred', probe(1, 100 * i))));
  t.equal((await busy).status, 200);
  const seen = responses.map((res, i) => {
    t.equal(res.status, 200, res.text);
    const [out, batch] = res.json().outputs as Out[];
    t.same(out.data, [100 * i, 100 * i + 1], `request ${i}: its own row`);
    return batch.data[0];
  });
  t.same([...seen].sort(), [1, 3, 3, 3, 4, 4, 4, 4], `batch sizes seen: ${seen.join(', ')}`);
  const lone = await infer(s, 'preferred', probe(1, 0));
  t.equal((lone.json().outputs as Out[])[1].data[0], 1, 'a lone request runs alone');
});
