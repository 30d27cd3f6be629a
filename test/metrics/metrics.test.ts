// Prometheus metrics and Triton's statistics, from known traffic: the scraped counters and
// histogram counts, the REST /stats and the gRPC ModelStatistics must all match it exactly, with
// two workers and batching on. The metrics listener answers while every worker is saturated.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import type { ModelStatistics } from '../../src/core/statistics.js';
import { arrivals, untilArrived, writeGateModel } from '../helpers/gate.js';
import { grpcClients } from '../helpers/grpc.js';
import { exampleRepository, infer, rawRequest, startTestServer } from '../helpers/server.js';

const LOAD_CLIENT = fileURLToPath(new URL('../helpers/load-client.mjs', import.meta.url));

/** One sample of the Prometheus text format. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition (enough of it for these tests: no escaped quotes in label values). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"/g)) labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of every sample of `name` whose labels include `labels`. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

async function scrape(url: string | undefined): Promise<Sample[]> {
  if (url === undefined) throw new Error('metrics are disabled');
  const res = await rawRequest(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`metrics answered ${res.status}`);
  return parseMetrics(res.body.toString());
}

const irisBody = (id: string) => ({ id, inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] });

t.test('after known traffic the metrics, REST /stats and gRPC ModelStatistics match it exactly', async (t) => {
  const root = exampleRepository(t, ['iris']);
  const gate = writeGateModel(root);
  const server = await startTestServer(t, { folder: root, settings: { parallel_workers: '1' } });
  const iris = { model: 'iris', version: '1' };

  // 24 good requests sent while the gate model holds the only worker: the first takes iris's one
  // slot and waits behind the gate in the worker, the others queue in iris's batcher and are merged
  // (iris has max_batch_size 64). Then 3 with a wrong datatype, 1 asking for an unknown output,
  // and 5 good ones over gRPC.
  const held = gate.hold(server);
  const deadline = Date.now() + 10_000;
  while (!server.pool.workers().every((w) => w.inflight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  const before = arrivals('iris');
  const sent = Array.from({ length: 24 }, (_, i) => infer(server, 'iris', irisBody(`ok-${i}`)));
  await untilArrived('iris', before, 24);
  gate.release();
  const good = await Promise.all(sent);
  t.equal((await held).status, 200, 'the request holding the worker succeeded');
  t.ok(good.every((r) => r.status === 200), 'the good requests succeeded');
  const bad = await Promise.all([
    ...Array.from({ length: 3 }, () => infer(server, 'iris', { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP64', data: [1, 2, 3, 4] }] })),
    infer(server, 'iris', { ...irisBody('bad-output'), outputs: [{ name: 'nope' }] }),
  ]);
  t.same(bad.map((r) => r.status), [400, 400, 400, 400], 'the bad requests failed with 400');
  const grpc = grpcClients(server.grpcAddress);
  t.teardown(() => grpc.close());
  for (let i = 0; i < 5; i++) {
    await grpc.call('ModelInfer', {
      model_name: 'iris',
      id: `grpc-${i}`,
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [5.1, 3.5, 1.4, 0.2] } }],
    });
  }

  const m = await scrape(server.metricsUrl);
  // MLServer's names
  t.equal(value(m, 'model_infer_request_success_total', iris), 29, 'model_infer_request_success_total');
  t.equal(value(m, 'model_infer_request_failure_total', iris), 4, 'model_infer_request_failure_total');
  t.equal(value(m, 'model_infer_request_duration_count', iris), 33, 'model_infer_request_duration (summary) count');
  // Tessera's own
  t.equal(value(m, 'tessera_request_duration_seconds_count', iris), 33, 'request duration histogram: every request');
  t.equal(value(m, 'tessera_request_duration_seconds_bucket', { ...iris, le: '+Inf' }), 33, 'the +Inf bucket holds them all');
  t.equal(value(m, 'tessera_queue_duration_seconds_count', iris), 29, 'queue histogram: every successful request');
  t.equal(value(m, 'tessera_request_failures_total', { ...iris, reason: 'INVALID' }), 4, 'failures by reason');
  t.equal(value(m, 'tessera_inference_count_total', iris), 29, 'inference count: one row per request');
  const executions = value(m, 'tessera_execution_count_total', iris);
  t.ok(executions >= 1 && executions < 29, `the batcher merged requests: ${executions} executions for 29 requests`);
  t.equal(value(m, 'tessera_batch_size_count', iris), executions, 'batch size histogram: one sample per execution');
  t.equal(value(m, 'tessera_batch_size_sum', iris), 29, 'batch size histogram: rows add up');
  for (const phase of ['input', 'infer', 'output']) {
    t.equal(value(m, 'tessera_compute_duration_seconds_count', { ...iris, phase }), executions, `compute ${phase}: one sample per execution`);
  }
  t.equal(value(m, 'batch_request_queue_count', { model_name: 'iris', model_version: '1' }), executions, 'batch_request_queue: one sample per execution');
  t.ok(value(m, 'parallel_request_queue_count') >= executions, 'parallel_request_queue observed');
  // Per protocol
  t.equal(value(m, 'tessera_http_request_duration_seconds_count', { method: 'POST', route: '/v2/models/:model/infer', status: '200' }), 25, 'HTTP 200s on the infer route (24 iris, 1 gate)');
  t.equal(value(m, 'tessera_http_request_duration_seconds_count', { method: 'POST', route: '/v2/models/:model/infer', status: '400' }), 4, 'HTTP 400s on the infer route');
  t.equal(value(m, 'tessera_grpc_request_duration_seconds_count', { method: 'ModelInfer', code: 'OK' }), 5, 'gRPC ModelInfer OK');
  // Pool, models, process
  t.equal(value(m, 'tessera_model_state', { ...iris, state: 'READY' }), 1, 'iris is READY');
  t.equal(value(m, 'tessera_model_state', { ...iris, state: 'LOADING' }), 0, 'and not LOADING');
  t.ok(value(m, 'tessera_model_load_duration_seconds', iris) > 0, 'load time recorded');
  t.equal(m.filter((s) => s.name === 'tessera_worker_busy_seconds_total').length, 1, 'a busy-time counter per worker');
  t.ok(value(m, 'tessera_worker_busy_seconds_total') > 0, 'the workers were busy for some time');
  t.equal(value(m, 'tessera_pending_requests', iris), 0, 'nothing pending once the traffic is answered');
  t.ok(m.some((s) => s.name === 'nodejs_eventloop_lag_seconds'), "prom-client's default metrics (event-loop lag)");

  // Triton's statistics over REST agree with the metrics
  const rest = JSON.parse((await rawRequest(`${server.url}/v2/models/iris/stats`)).body.toString()) as { model_stats: ModelStatistics[] };
  t.equal(rest.model_stats.length, 1, 'one version of iris');
  const s = rest.model_stats[0];
  t.equal(s.name, 'iris');
  t.equal(s.version, '1');
  t.equal(s.inference_stats.success.count, 29, 'success count');
  t.equal(s.inference_stats.fail.count, 4, 'fail count');
  t.equal(s.inference_stats.queue.count, 29, 'queue count');
  t.equal(s.inference_stats.compute_infer.count, 29, 'compute_infer counted per successful request');
  t.equal(s.inference_count, 29, 'inference_count');
  t.equal(s.execution_count, executions, 'execution_count equals the executions metric');
  t.equal(s.batch_stats.reduce((n, b) => n + b.compute_infer.count, 0), executions, 'batch_stats: one entry per execution');
  t.equal(s.batch_stats.reduce((n, b) => n + b.batch_size * b.compute_infer.count, 0), 29, 'batch_stats: rows add up');
  t.ok(s.inference_stats.success.ns > 0 && s.inference_stats.compute_infer.ns > 0, 'durations are cumulative ns');
  t.ok(s.last_inference > Date.now() - 60_000 && s.last_inference <= Date.now(), 'last_inference is ms since the epoch');

  // ... and so does gRPC ModelStatistics (64-bit counters arrive as decimal strings)
  const g = await grpc.call<{ model_stats: Record<string, unknown>[] }>('ModelStatistics', { name: 'iris', version: '' });
  const numeric = (v: unknown): unknown =>
    typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : Array.isArray(v) ? v.map(numeric) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, numeric(x)])) : v;
  const restAgain = JSON.parse((await rawRequest(`${server.url}/v2/models/iris/stats`)).body.toString()) as { model_stats: ModelStatistics[] };
  t.same(numeric(g.model_stats[0]), restAgain.model_stats[0], 'gRPC ModelStatistics equals REST /stats');
  const all = await grpc.call<{ model_stats: { name: string }[] }>('ModelStatistics', { name: '', version: '' });
  t.same(all.model_stats.map((x) => x.name), ['gate', 'iris'], 'an empty name gives every model');
  await t.rejects(grpc.call('ModelStatistics', { name: 'nope', version: '' }), { code: 5 }, 'unknown model: NOT_FOUND');
});

t.test('/stats and /config answer for every example model', async (t) => {
  const names = ['iris', 'wine', 'add_sub', 'identity_fp32', 'identity_bytes', 'identity_int64', 'identity_bool'];
  const root = exampleRepository(t, names);
  const server = await startTestServer(t, { folder: root, settings: { parallel_workers: '2' } });
  const all = JSON.parse((await rawRequest(`${server.url}/v2/models/stats`)).body.toString()) as { model_stats: ModelStatistics[] };
  t.same(all.model_stats.map((s) => s.name).sort(), [...names].sort(), 'GET /v2/models/stats lists every model');
  for (const name of names) {
    const meta = JSON.parse((await rawRequest(`${server.url}/v2/models/${name}`)).body.toString()) as {
      versions: string[];
      inputs: { name: string; datatype: string; shape: number[] }[];
      outputs: { name: string }[];
    };
    const res = await rawRequest(`${server.url}/v2/models/${name}/config`);
    t.equal(res.status, 200, `${name}: config 200`);
    const config = JSON.parse(res.body.toString()) as {
      name: string;
      platform: string;
      max_batch_size: number;
      input: { name: string; data_type: string; dims: number[] }[];
      output: { name: string }[];
      dynamic_batching?: { max_queue_delay_microseconds: number };
      instance_group: { kind: string; count: number }[];
    };
    t.equal(config.name, name);
    t.equal(config.platform, 'onnxruntime_onnx');
    t.same(config.input.map((i) => i.name), meta.inputs.map((i) => i.name), `${name}: config inputs match the metadata (perf_analyzer checks this)`);
    t.same(config.output.map((o) => o.name), meta.outputs.map((o) => o.name), `${name}: config outputs match the metadata`);
    const dataType = (d: string): string => (d === 'BYTES' ? 'TYPE_STRING' : `TYPE_${d}`);
    t.same(config.input.map((i) => i.data_type), meta.inputs.map((i) => dataType(i.datatype)), `${name}: Triton data types`);
    if (config.max_batch_size > 0) {
      t.ok(config.dynamic_batching !== undefined, `${name}: batching model has dynamic_batching`);
      t.same(config.input.map((i) => i.dims), meta.inputs.map((i) => i.shape.slice(1)), `${name}: dims leave out the batch dimension`);
    } else {
      t.equal(config.dynamic_batching, undefined, `${name}: no dynamic_batching without batching`);
      t.same(config.input.map((i) => i.dims), meta.inputs.map((i) => i.shape), `${name}: dims are the full shape`);
    }
    t.same(config.instance_group, [{ name, kind: 'KIND_CPU', count: 2 }], `${name}: one instance per worker`);
    const stats = JSON.parse((await rawRequest(`${server.url}/v2/models/${name}/stats`)).body.toString()) as { model_stats: ModelStatistics[] };
    t.equal(stats.model_stats[0].name, name, `${name}: stats`);
    t.equal(stats.model_stats[0].inference_stats.success.count, 0, `${name}: no requests yet`);
    for (const v of meta.versions) {
      t.equal((await rawRequest(`${server.url}/v2/models/${name}/versions/${v}/config`)).status, 200, `${name} version ${v}: config`);
      t.equal((await rawRequest(`${server.url}/v2/models/${name}/versions/${v}/stats`)).status, 200, `${name} version ${v}: stats`);
    }
  }
  const iris = JSON.parse((await rawRequest(`${server.url}/v2/models/iris/config`)).body.toString()) as { max_batch_size: number; dynamic_batching: { max_queue_delay_microseconds: number } };
  t.equal(iris.max_batch_size, 64, 'iris: max_batch_size from its settings');
  t.equal(iris.dynamic_batching.max_queue_delay_microseconds, 2000, 'iris: max_batch_time 0.002 s = 2000 µs');
  for (const path of ['/v2/models/nope/stats', '/v2/models/nope/config', '/v2/models/iris/versions/9/stats', '/v2/models/iris/versions/9/config']) {
    const res = await rawRequest(`${server.url}${path}`);
    t.equal(res.status, 404, `${path}: 404`);
    t.match(JSON.parse(res.body.toString()), { error: /nope|9/ }, `${path}: {"error"} names it`);
  }
  // Exact with two workers: 60 concurrent iris requests (merged or not, on either worker).
  const burst = await Promise.all(Array.from({ length: 60 }, (_, i) => infer(server, 'iris', irisBody(`burst-${i}`))));
  t.ok(burst.every((r) => r.status === 200), 'a burst of 60 iris requests over 2 workers');
  const after = JSON.parse((await rawRequest(`${server.url}/v2/models/iris/stats`)).body.toString()) as { model_stats: ModelStatistics[] };
  const st = after.model_stats[0];
  t.equal(st.inference_stats.success.count, 60, 'success count exact with 2 workers');
  t.equal(st.inference_count, 60, 'inference count exact');
  t.equal(st.batch_stats.reduce((n, b) => n + b.batch_size * b.compute_infer.count, 0), 60, 'batch_stats rows exact');
  const m = await scrape(server.metricsUrl);
  t.equal(value(m, 'tessera_execution_count_total', { model: 'iris' }), st.execution_count, 'executions: metrics agree with statistics');
  t.equal(m.filter((x) => x.name === 'tessera_worker_busy_seconds_total').length, 2, 'a busy-time counter per worker');
  const meta = JSON.parse((await rawRequest(`${server.url}/v2`)).body.toString()) as { extensions: string[] };
  t.ok(meta.extensions.includes('statistics') && meta.extensions.includes('model_configuration'), 'extensions advertised');
});

t.test('the metrics listener answers while every worker is saturated', async (t) => {
  const root = exampleRepository(t, ['mlp']);
  const server = await startTestServer(t, { folder: root, settings: { parallel_workers: '1' } });
  const row = '[' + new Array(256).fill('0.5').join(',') + ']';
  const bodyFile = join(root, 'mlp-body.json');
  writeFileSync(bodyFile, `{"inputs":[{"name":"input","shape":[64,256],"datatype":"FP32","data":[${new Array(64).fill(row).join(',')}]}]}`);
  const loader = spawn(process.execPath, [LOAD_CLIENT, `${server.url}/v2/models/mlp/infer`, bodyFile, '4', '3']);
  let out = '';
  loader.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const finished = new Promise<void>((resolve) => loader.on('close', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!server.pool.workers().every((w) => w.inflight > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  let loadDone = false;
  void finished.then(() => (loadDone = true));
  const latencies: number[] = [];
  let busy = 0;
  // Up to 40 scrapes, and no more once 10 came while the worker was busy: then the load stops.
  for (let i = 0; i < 40 && !loadDone && busy < 10; i++) {
    const started = performance.now();
    const m = await scrape(server.metricsUrl);
    latencies.push(performance.now() - started);
    if (server.pool.workers().every((w) => w.inflight > 0)) busy++;
    if (i === 0) t.ok(m.some((s) => s.name === 'tessera_worker_inflight'), 'a full scrape');
    await new Promise((r) => setTimeout(r, 20));
  }
  loader.kill('SIGTERM');
  await finished;
  const load = JSON.parse(out) as { completed: number; failed: number };
  latencies.sort((a, b) => a - b);
  // Latency is reported, not asserted (a shared machine makes wall-clock bounds noise).
  t.comment(`scrape latency under saturation: p50 ${latencies[latencies.length >> 1].toFixed(2)} ms, max ${latencies[latencies.length - 1].toFixed(2)} ms; ${busy}/${latencies.length} with the worker busy; ${load.completed} mlp requests`);
  t.ok(busy > 0, 'full scrapes answered while the worker was busy');
  const after = await scrape(server.metricsUrl);
  t.equal(value(after, 'model_infer_request_success_total', { model: 'mlp' }), load.completed, 'every completed mlp request counted');
});

t.test('the metrics listener: 404 elsewhere, HEAD works, metrics_endpoint null disables it, a custom path', async (t) => {
  const root = exampleRepository(t, ['iris']);
  const server = await startTestServer(t, { folder: root, settings: { metrics_endpoint: '/prometheus' } });
  const ok = await rawRequest(`${server.metricsUrl}/prometheus`);
  t.equal(ok.status, 200, 'custom endpoint serves');
  t.match(String(ok.headers['content-type']), /text\/plain/, 'Prometheus text format');
  const head = await rawRequest(`${server.metricsUrl}/prometheus`, { method: 'HEAD' });
  t.equal(head.status, 200, 'HEAD');
  const missing = await rawRequest(`${server.metricsUrl}/metrics`);
  t.equal(missing.status, 404, 'another path: 404');
  t.match(JSON.parse(missing.body.toString()), { error: /\/prometheus/ }, 'the 404 says where the metrics are');
  const post = await rawRequest(`${server.metricsUrl}/prometheus`, { method: 'POST' });
  t.equal(post.status, 405, 'POST: 405');

  const off = await startTestServer(t, { folder: root, settings: { metrics_endpoint: 'null' } });
  t.equal(off.metricsUrl, undefined, 'metrics_endpoint null: no metrics listener');
  t.equal((await infer(off, 'iris', irisBody('x'))).status, 200, 'and inference still works');
  const stats = JSON.parse((await rawRequest(`${off.url}/v2/models/iris/stats`)).body.toString()) as { model_stats: ModelStatistics[] };
  t.equal(stats.model_stats[0].inference_stats.success.count, 1, 'statistics are kept without metrics');
});
