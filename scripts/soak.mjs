#!/usr/bin/env node
// Soak: hours of traffic compressed into minutes. 16 connections send iris requests without pause
// while, every 10 s, the repository API reloads iris under that load (a rolling reload: no gap)
// and unloads then loads wine. Passes with 0 errors and the server's RSS growth under 5 % (from the
// end of the warm-up to the end of the run; medians of 5 samples, so one GC does not decide). The
// warm-up is the first minute, as in benchmarks/memory.mjs: under this load RSS still grows for a
// minute or two with no load/unload at all (V8's heap and the allocators settling: +17 % from 20 s
// to 90 s in a run with the cycle off, 2026-12-01), which is start-up, not a leak. RSS per minute
// is printed, so the trend after it can be read, and split in two: the main thread's V8 heap
// (committed, from the server's own /metrics, and its lowest use in the minute, i.e. what survives
// collection) and everything else (the workers, ONNX Runtime, buffers, code). A leak shows as a
// rising floor or a rising rest; V8 sizing its heap shows as a rising committed heap only.
//
//   node scripts/soak.mjs [--seconds 600] [--connections 16] [--cycle 10] [--warmup 60]
//   node scripts/soak.mjs --url http://127.0.0.1:8080 --pid <server pid> [--metrics http://127.0.0.1:8082/metrics]
//                                                              (a server already running)
//
// Without --url it starts its own server (the bundled small models, on 127.0.0.1) and stops it
// after. Prints requests, errors, cycles and RSS; exits 1 when errors > 0 or RSS grew 5 % or more.
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { mainHeap, procRss, startBundledServer } from './server-process.mjs';

const MODELS = ['iris', 'wine'];
const IRIS = JSON.stringify({ inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }] });

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    connections: { type: 'string', default: '16' },
    cycle: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '60' },
    url: { type: 'string' },
    pid: { type: 'string' },
    metrics: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write('node scripts/soak.mjs [--seconds 600] [--connections 16] [--cycle 10] [--warmup 60] [--url URL --pid PID [--metrics URL]]\n');
  process.exit(0);
}
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const cycleMs = Number(values.cycle) * 1000;
const warmupMs = Math.min(Number(values.warmup) * 1000, (seconds * 1000) / 3);

function call(agent, url, method, body) {
  return new Promise((resolve) => {
    const req = request(url, { method, agent, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode, text }));
      res.on('error', (e) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e) => resolve({ error: e.code ?? e.message }));
    req.end(body);
  });
}

const server = values.url !== undefined ? { url: values.url, pid: Number(values.pid), metricsUrl: values.metrics, exited: new Promise(() => {}), stop: async () => ({ code: 0 }) } : await startBundledServer(MODELS, 'tessera-soak-');
let crashed = false;
void server.exited.then(() => (crashed = true));
const started = performance.now();
const stopAt = started + seconds * 1000;
let requests = 0;
const errors = [];
const error = (what) => {
  if (errors.length < 20) errors.push(what);
  else errors.length++;
};

// The load: every connection sends the next request as soon as the last is answered.
const load = Array.from({ length: connections }, async () => {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  while (performance.now() < stopAt && !crashed) {
    const res = await call(agent, `${server.url}/v2/models/iris/infer`, 'POST', IRIS);
    requests++;
    if (res.status !== 200) error(`iris: ${res.status ?? res.error} ${res.text?.slice(0, 200) ?? ''}`);
  }
  agent.destroy();
});

// The cycle: reload iris under load, unload and load wine.
let cycles = 0;
const cycle = (async () => {
  const agent = new Agent({ keepAlive: true });
  while (performance.now() + cycleMs < stopAt && !crashed) {
    await new Promise((r) => setTimeout(r, cycleMs));
    for (const [method, path] of [
      ['POST', '/v2/repository/models/iris/load'],
      ['POST', '/v2/repository/models/wine/unload'],
      ['POST', '/v2/repository/models/wine/load'],
    ]) {
      const res = await call(agent, `${server.url}${path}`, method);
      if (res.status !== 200) error(`${path}: ${res.status ?? res.error} ${res.text?.slice(0, 200) ?? ''}`);
    }
    cycles++;
  }
  agent.destroy();
})();

// RSS, every second; the main thread's heap every 5 s (beside that second's RSS).
const samples = [];
const heaps = [];
let tick = 0;
const sampler = setInterval(() => {
  const at = performance.now() - started;
  const rss = procRss(server.pid);
  if (rss === undefined) return;
  samples.push({ at, rss });
  if (tick++ % 5 === 0 && server.metricsUrl !== undefined) {
    void mainHeap(server.metricsUrl).then((heap) => heap !== undefined && heaps.push({ at, rest: rss - heap.total, ...heap }));
  }
}, 1000);
const progress = setInterval(() => process.stderr.write(`\r${((performance.now() - started) / 1000).toFixed(0)} s, ${requests} requests, ${errors.length} errors`), 5000);

await Promise.all([...load, cycle]);
clearInterval(sampler);
clearInterval(progress);
process.stderr.write('\n');
const crashedDuringRun = crashed;
const exitCode = crashedDuringRun ? 'crashed' : (await server.stop()).code;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};
const afterWarmup = samples.filter((s) => s.at >= warmupMs).map((s) => s.rss);
const baseline = median(afterWarmup.slice(0, 5));
const end = median(afterWarmup.slice(-5));
const growth = ((end - baseline) / baseline) * 100;
const mb = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const elapsed = (performance.now() - started) / 1000;
process.stdout.write(`soak: ${elapsed.toFixed(0)} s, ${connections} connections: ${requests} requests (${(requests / elapsed).toFixed(0)}/s), ${errors.length} errors, ${cycles} load/unload cycles\n`);
if (samples.length > 0) {
  process.stdout.write(`soak: server RSS after ${warmupMs / 1000} s warm-up ${mb(baseline)}, at the end ${mb(end)} (${growth >= 0 ? '+' : ''}${growth.toFixed(2)} %), max ${mb(Math.max(...samples.map((s) => s.rss)))}\n`);
}
if (samples.length > 0) {
  const minutes = [];
  for (let m = 0; m * 60_000 < samples.at(-1).at; m++) {
    const inMinute = samples.filter((x) => x.at >= m * 60_000 && x.at < (m + 1) * 60_000).map((x) => x.rss);
    if (inMinute.length > 0) minutes.push(`${m + 1}: ${(median(inMinute) / 1024 / 1024).toFixed(0)}`);
  }
  process.stdout.write(`soak: server RSS by minute (median MiB) ${minutes.join(', ')}\n`);
}
if (heaps.length > 0) {
  const rows = [];
  for (let m = 0; m * 60_000 < heaps.at(-1).at; m++) {
    const inMinute = heaps.filter((x) => x.at >= m * 60_000 && x.at < (m + 1) * 60_000);
    if (inMinute.length === 0) continue;
    const mib = (b) => (b / 1024 / 1024).toFixed(0);
    rows.push(`${m + 1}: ${mib(median(inMinute.map((x) => x.total)))}/${mib(Math.min(...inMinute.map((x) => x.used)))}/${mib(median(inMinute.map((x) => x.rest)))}`);
  }
  process.stdout.write(`soak: by minute, main V8 heap committed (median) / used at its lowest / RSS outside it (median), MiB: ${rows.join(', ')}\n`);
  const spaceMiB = (x) => Object.entries(x.spaces).filter(([, b]) => b >= 1024 * 1024).map(([name, b]) => `${name} ${(b / 1024 / 1024).toFixed(1)}`).join(', ');
  process.stdout.write(`soak: main V8 heap by space, committed MiB, after the warm-up: ${spaceMiB(heaps.find((x) => x.at >= warmupMs) ?? heaps[0])}; at the end: ${spaceMiB(heaps.at(-1))}\n`);
}
process.stdout.write(`soak: server ${crashedDuringRun ? 'CRASHED' : `stopped with exit code ${exitCode}`}\n`);
for (const e of errors.slice(0, 20)) process.stdout.write(`  ${e}\n`);
const ok = errors.length === 0 && !crashedDuringRun && exitCode === 0 && (samples.length === 0 || growth < 5);
process.stdout.write(`soak: ${ok ? 'PASS' : 'FAIL'} (0 errors and RSS growth < 5 % required)\n`);
process.exit(ok ? 0 : 1);
