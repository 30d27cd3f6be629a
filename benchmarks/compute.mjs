#!/usr/bin/env node
// Compute benchmark: how close Tessera gets to what ONNX Runtime itself can do with the 4.7M-weight
// `mlp` model (256-2048-2048-10), what adaptive batching buys, how the readiness route behaves while
// the workers are saturated, and how long start-up takes.
//
//   1. Raw ORT: benchmarks/raw-ort.mjs in a child process, session.run in a tight loop at batch
//      1, 8, 32, 128 (intraOpNumThreads = cores, no spinning). Best rows/s = "raw ORT best".
//   2. Tessera over HTTP (wrk, one 1×256 row per request) against two copies of mlp in a temp
//      repository: mlp_batch (max_batch_size 128, max_batch_time 2 ms) and mlp_plain (no batching).
//   2b. Compute-bound: mlp_batch with 32-row requests over raw gRPC (h2load, raw_input_contents)
//      and binary HTTP (wrk, binary tensor extension both ways), 16 concurrent each: rows/s ÷ raw
//      ORT best (the front end's per-request cost is shared by 32 rows, so the pool and the batcher
//      are what is measured).
//   3. GET /v2/health/ready latency (wrk -c1) idle, and while wrk -c64 drives mlp_plain.
//   4. Start-up: spawn Tessera on the bundled settings/ folder, time to the first 200 of the ready route.
//
//   npm run bench:compute                  full run (3 s per batch size, 10 s per wrk run, 2 rounds, 3 start-ups)
//   npm run bench:compute -- --quick       smoke run (1 s per batch size, 2 s per wrk run, 1 round, 1 start-up)
//   npm run bench:compute -- --duration 5 --rounds 3 --connections 1,32,64 --workers 1 --raw-seconds 2 --startup-runs 5
//
// Everything binds to and talks to 127.0.0.1 only. Child processes are killed at the end, on
// SIGINT/SIGTERM and on any error. Results land in benchmarks/results/compute-<timestamp>.{md,json}.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import {
  BENCH_DIR, HOST, ROOT, alive, assertAlive, cleanup, requireTool, fmt, freePort, gitCommit, grpcFrame, h2loadVersion,
  hasWrk, machineInfo, machineMarkdown, measureRounds, parseBenchArgs, parseList, printReport,
  requirePositiveIntegers, rpsSummary, runH2load, runMain, runMeta, runTool, runWrk, setupCleanup, startChild,
  startHardLimit, stopChild, tmpPath, waitHttpReady, wrkSummary, wrkVersion, writeResults,
} from './lib.mjs';

const MODEL_FILE = path.join(ROOT, 'settings', 'models', 'mlp', 'model.onnx');
const FEATURES = 256; // mlp: input `input` FP32 [-1, 256], output `logits` FP32 [-1, 10]
const OUTPUTS = 10;
const RAW_BATCHES = [1, 8, 32, 128];
const MODELS = [
  { key: 'batch', label: 'mlp_batch (batching on)', settings: { name: 'mlp_batch', max_batch_size: 128, max_batch_time: 0.002 } },
  { key: 'plain', label: 'mlp_plain (batching off)', settings: { name: 'mlp_plain' } },
];
const READY_PATH = '/v2/health/ready';
const mlpBody = (rows) =>
  JSON.stringify({ inputs: [{ name: 'input', shape: [rows, FEATURES], datatype: 'FP32', data: Array(rows * FEATURES).fill(0.5) }] });
const BODY = mlpBody(1);
// Clients that send several rows per request: the front end's per-request cost is shared by
// MULTI_ROWS rows, so this shows how close the batcher and the pool get to ORT once HTTP is not the
// limit (1-row requests cost the HTTP thread more than the model costs ORT per row).
const MULTI_ROWS = 8;
const MULTI_CONNECTIONS = 64;
const SATURATE_CONNECTIONS = 64; // wrk on mlp_plain while the ready route is measured
// Compute-bound scenario: 32-row requests, 16 concurrent, over raw gRPC and binary HTTP.
const BOUND_ROWS = 32;
const BOUND_CONNECTIONS = 16;
const PROTO = path.join(ROOT, 'proto', 'grpc_service.proto');
const GRPC_METHOD = '/inference.GRPCInferenceService/ModelInfer';
const HEALTH_SECONDS = 5; // wrk -c1 on the ready route under load
const IDLE_HEALTH_SECONDS = 2; // the same on the idle server, for comparison
const STARTUP_POLL_MS = 20;
const STARTUP_TIMEOUT_MS = 90_000;

// Every child (raw-ort, servers, wrk) is tracked and killed on the way out.
setupCleanup('bench:compute', 'tessera-bench-compute-');

// ---------------------------------------------------------------------------------------------
// Options

const { args, quick: QUICK, duration: DURATION, rounds: ROUNDS, warmup: WARMUP } = parseBenchArgs(
  'Usage: npm run bench:compute [-- --quick] [--duration SEC] [--rounds N] [--connections 1,32,64]\n' +
    '         [--workers N] [--raw-seconds SEC] [--startup-runs N]\n' +
    '  --workers       Tessera inference workers (default: Tessera\'s default, cores - 1, at least 1)\n' +
    '  --raw-seconds   raw ORT loop per batch size (default 3, quick 1)\n' +
    '  --startup-runs  start-up timings on the bundled settings/ (default 3, quick 1)',
  { connections: { type: 'string' }, workers: { type: 'string' }, 'raw-seconds': { type: 'string' }, 'startup-runs': { type: 'string' } },
);
const CORES = machineInfo().cores;
const CONNECTIONS = parseList(args.connections ?? '1,32,64');
const WORKERS = Number(args.workers ?? Math.max(1, CORES - 1)); // Tessera's own default, passed explicitly
const RAW_SECONDS = Number(args['raw-seconds'] ?? (QUICK ? 1 : 3));
const STARTUP_RUNS = Number(args['startup-runs'] ?? (QUICK ? 1 : 3));
const HEALTH_LEAD = QUICK ? 1 : 2; // seconds of -c64 load before the ready route is measured
requirePositiveIntegers([
  ['duration', DURATION], ['rounds', ROUNDS], ['workers', WORKERS], ['raw-seconds', RAW_SECONDS],
  ['startup-runs', STARTUP_RUNS], ...CONNECTIONS.map((c) => ['connections', c]),
]);
// Tessera gives each worker floor(cores / workers) ORT intra-op threads.
const INTRA_OP = Math.max(1, Math.floor(CORES / WORKERS));

// wrk request: one 1×256 row. A long bracket ([==[ ... ]==]) holds the JSON, which has brackets in it.
const LUA = tmpPath('mlp.lua');
writeFileSync(
  LUA,
  ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"', `wrk.body = [==[${BODY}]==]`, ''].join('\n'),
);
const LUA_MULTI = tmpPath('mlp-multi.lua');
writeFileSync(
  LUA_MULTI,
  ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"', `wrk.body = [==[${mlpBody(MULTI_ROWS)}]==]`, ''].join('\n'),
);

// ---------------------------------------------------------------------------------------------
// 1. Raw ONNX Runtime

async function runRawOrt() {
  const argv = [
    path.join(BENCH_DIR, 'raw-ort.mjs'), '--model', MODEL_FILE, '--threads', String(CORES),
    '--batches', RAW_BATCHES.join(','), '--seconds', String(RAW_SECONDS),
  ];
  const r = await runTool(process.execPath, argv, (RAW_BATCHES.length * (RAW_SECONDS + 2) + 60) * 1000);
  if (r.code !== 0) throw new Error(`raw-ort.mjs exited ${r.code}: ${r.err || r.out}`);
  const lines = r.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const [info, ...batches] = lines;
  if (!info || batches.length !== RAW_BATCHES.length) throw new Error(`raw-ort.mjs: unexpected output:\n${r.out}\n${r.err}`);
  if (info.input !== 'input' || info.output !== 'logits' || info.features !== FEATURES) {
    throw new Error(`raw-ort.mjs: ${MODEL_FILE} is not the expected mlp (input/logits, ${FEATURES} features): ${JSON.stringify(info)}`);
  }
  const best = batches.reduce((a, b) => (b.rowsPerSec > a.rowsPerSec ? b : a));
  return { info, batches, best };
}

// ---------------------------------------------------------------------------------------------
// 2. Tessera on a temp repository with mlp_batch and mlp_plain

function makeRepository() {
  const repo = tmpPath('repository');
  for (const m of MODELS) {
    const dir = path.join(repo, m.settings.name);
    mkdirSync(dir, { recursive: true });
    copyFileSync(MODEL_FILE, path.join(dir, 'model.onnx'));
    writeFileSync(path.join(dir, 'model-settings.json'), JSON.stringify(m.settings) + '\n');
  }
  return repo;
}

async function tesseraArgv(folder) {
  // gRPC / metrics ports are free ports too, so no fixed port (8081/8082) is needed.
  const [httpPort, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const argv = [
    path.join(ROOT, 'bin', 'tessera.mjs'), 'start', folder,
    '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--metrics-port', String(metricsPort),
    '--host', HOST, '--workers', String(WORKERS), '--log-level', 'warn',
  ];
  return { argv, base: `http://${HOST}:${httpPort}`, grpcPort };
}

/** One real request per model: 200 with a [1, 10] `logits` output, or the numbers mean nothing. */
async function checkModel(child, url) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const out = res.status === 200 ? JSON.parse(text).outputs?.[0] : null;
  if (out?.name !== 'logits' || JSON.stringify(out.shape) !== JSON.stringify([1, OUTPUTS])) {
    throw new Error(`${child.name}: ${url} answered ${res.status}: ${text.slice(0, 500)}`);
  }
}

async function startServer(repo) {
  const { argv, base, grpcPort } = await tesseraArgv(repo);
  const child = startChild(`tessera w=${WORKERS}`, argv);
  await waitHttpReady(child, base);
  const targets = MODELS.map((m) => ({ ...m, child, url: `${base}/v2/models/${m.settings.name}/infer` }));
  for (const t of targets) await checkModel(child, t.url);
  return { child, base, grpcPort, targets };
}

const flagged = (s) => (s.non2xx || s.socketErrors ? ` ⚠ ${s.non2xx} non-2xx, ${s.socketErrors} socket errors` : '');

function printWrk(what, r) {
  process.stdout.write(
    `  ${what} ${fmt(r.rps, 0).padStart(6)} req/s  p50 ${fmt(r.p50, 3)}  p90 ${fmt(r.p90, 3)}  p99 ${fmt(r.p99, 3)} ms` +
      (r.non2xx ? `  non-2xx ${r.non2xx}` : '') +
      '\n',
  );
}

// ---------------------------------------------------------------------------------------------
// 2b. Compute-bound: 32-row requests over raw gRPC and binary HTTP

/** One grpc-js call with the request h2load sends: grpc-status 0 and [32, 10] logits, or the numbers mean nothing. */
async function checkGrpcMlp(port, request) {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const proto = grpc.loadPackageDefinition(definition);
  const client = new proto.inference.GRPCInferenceService(`${HOST}:${port}`, grpc.credentials.createInsecure());
  try {
    const response = await new Promise((resolve, reject) =>
      client.ModelInfer(request, { deadline: new Date(Date.now() + 30_000) }, (e, r) => (e ? reject(e) : resolve(r))),
    );
    const out = response.outputs?.[0];
    if (out?.name !== 'logits' || out.shape.map(Number).join(',') !== `${BOUND_ROWS},${OUTPUTS}` || response.raw_output_contents?.[0]?.length !== BOUND_ROWS * OUTPUTS * 4) {
      throw new Error(`unexpected gRPC mlp response: ${JSON.stringify(response).slice(0, 300)}`);
    }
  } finally {
    client.close();
  }
}

async function computeBound(server) {
  const raw = Buffer.from(new Float32Array(BOUND_ROWS * FEATURES).fill(0.5).buffer);
  // gRPC: the ModelInfer message encoded once and framed for h2load.
  const root = new protobuf.Root().loadSync(PROTO, { keepCase: true });
  const InferRequest = root.lookupType('inference.ModelInferRequest');
  const request = { model_name: 'mlp_batch', inputs: [{ name: 'input', datatype: 'FP32', shape: [BOUND_ROWS, FEATURES] }], raw_input_contents: [raw] };
  const frame = tmpPath('mlp32.frame');
  writeFileSync(frame, grpcFrame(Buffer.from(InferRequest.encode(InferRequest.fromObject(request)).finish())));
  await checkGrpcMlp(server.grpcPort, request);
  // Binary HTTP: JSON header + raw rows; the logits come back binary too.
  const header = Buffer.from(JSON.stringify({
    inputs: [{ name: 'input', shape: [BOUND_ROWS, FEATURES], datatype: 'FP32', parameters: { binary_data_size: raw.length } }],
    parameters: { binary_data_output: true },
  }));
  const bodyFile = tmpPath('mlp32.bin');
  writeFileSync(bodyFile, Buffer.concat([header, raw]));
  const lua = tmpPath('mlp32.lua');
  writeFileSync(lua, [
    'wrk.method = "POST"',
    'wrk.headers["Content-Type"] = "application/octet-stream"',
    `wrk.headers["Inference-Header-Content-Length"] = "${header.length}"`,
    `local f = io.open("${bodyFile}", "rb")`,
    'wrk.body = f:read("*a")',
    'f:close()',
    '',
  ].join('\n'));
  const url = `${server.base}/v2/models/mlp_batch/infer`;
  const check = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) }, body: Buffer.concat([header, raw]) });
  const answer = Buffer.from(await check.arrayBuffer());
  const headerLength = Number(check.headers.get('inference-header-content-length'));
  if (check.status !== 200 || answer.length - headerLength !== BOUND_ROWS * OUTPUTS * 4) {
    throw new Error(`binary HTTP mlp answered ${check.status}: ${answer.subarray(0, 300).toString()}`);
  }
  const paths = [
    { key: 'grpc', label: 'raw gRPC (h2load)', run: (seconds) => runH2load({ port: server.grpcPort, path: GRPC_METHOD, frame, connections: BOUND_CONNECTIONS, seconds }) },
    { key: 'http', label: 'binary HTTP (wrk)', run: (seconds) => runWrk(url, BOUND_CONNECTIONS, seconds, lua) },
  ];
  for (const p of paths) await p.run(WARMUP);
  const runs = { grpc: [], http: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const p of round % 2 === 0 ? paths : [...paths].reverse()) {
      const { durationsMs: _d, raw: _raw, ...r } = await p.run(DURATION);
      runs[p.key].push(r);
      const bad = (r.failed ?? 0) + (r.errored ?? 0) + (r.timeout ?? 0) + (r.non2xx ?? 0);
      process.stdout.write(`  ${p.label.padEnd(18)} round ${round + 1} ${fmt(r.rps * BOUND_ROWS, 0).padStart(7)} rows/s (${fmt(r.rps, 0)} req/s)  p50 ${fmt(r.p50, 3)}  p99 ${fmt(r.p99, 3)} ms${bad ? `  ⚠ ${bad} failed` : ''}\n`);
    }
  }
  const summary = (key) => {
    const rs = runs[key];
    const mean = (k) => rs.reduce((a, r) => a + r[k], 0) / rs.length;
    return { ...rpsSummary(rs), rowsPerSec: mean('rps') * BOUND_ROWS, p50: mean('p50'), p99: mean('p99'), runs: rs };
  };
  return { rows: BOUND_ROWS, connections: BOUND_CONNECTIONS, grpc: summary('grpc'), http: summary('http') };
}

// ---------------------------------------------------------------------------------------------
// 3. Readiness route under saturation

async function measureHealth(server) {
  const readyUrl = server.base + READY_PATH;
  const idle = await runWrk(readyUrl, 1, IDLE_HEALTH_SECONDS);
  printWrk(`ready route, idle server         `, idle);
  const plain = server.targets.find((t) => t.key === 'plain');
  // The load runs for the lead-in, the measurement and a 1 s tail, so it covers the whole measurement.
  const load = runWrk(plain.url, SATURATE_CONNECTIONS, HEALTH_LEAD + HEALTH_SECONDS + 1, LUA);
  load.catch(() => {}); // awaited below; avoids an unhandled rejection while the ready route is measured
  await sleep(HEALTH_LEAD * 1000);
  const busy = await runWrk(readyUrl, 1, HEALTH_SECONDS);
  const background = await load;
  printWrk(`ready route, mlp_plain under -c${SATURATE_CONNECTIONS}`, busy);
  printWrk(`  (the -c${SATURATE_CONNECTIONS} load on mlp_plain meanwhile)`, background);
  const strip = ({ raw, ...r }) => r;
  return { idle: strip(idle), busy: strip(busy), background: strip(background) };
}

// ---------------------------------------------------------------------------------------------
// 4. Start-up time

/** Spawns Tessera on the bundled settings/, polls the ready route every 20 ms; ms from spawn to the first 200. */
async function timeStartup(run) {
  const { argv, base } = await tesseraArgv(path.join(ROOT, 'settings'));
  const url = base + READY_PATH;
  const t0 = performance.now();
  const child = startChild(`tessera start #${run}`, argv);
  try {
    let polls = 0;
    for (;;) {
      if (!alive(child)) throw new Error(`${child.name} exited early (${child.proc.exitCode ?? child.proc.signalCode}):\n${child.log}`);
      polls++;
      const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
        async (res) => {
          await res.arrayBuffer();
          return res.status === 200;
        },
        () => false,
      );
      const elapsed = performance.now() - t0;
      if (ok) return { ms: elapsed, polls };
      if (elapsed > STARTUP_TIMEOUT_MS) throw new Error(`${child.name}: not ready after ${STARTUP_TIMEOUT_MS / 1000}s:\n${child.log}`);
      await sleep(STARTUP_POLL_MS * (Math.floor(elapsed / STARTUP_POLL_MS) + 1) - elapsed); // next 20 ms tick
    }
  } finally {
    await stopChild(child);
  }
}

// ---------------------------------------------------------------------------------------------
// Reporting

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const signedPct = (x) => (Number.isFinite(x) ? `${x >= 0 ? '+' : '-'}${fmt(Math.abs(x) * 100, 1)} %` : 'n/a');

function rawTable(raw) {
  return [
    '| batch | runs | rows/s | p50 ms/run | p99 ms/run |',
    '|---:|---:|---:|---:|---:|',
    ...raw.batches.map(
      (b) => `| ${b.batch} | ${b.runs} | ${fmt(b.rowsPerSec, 0)} | ${fmt(b.p50Ms, 3)} | ${fmt(b.p99Ms, 3)} |`,
    ),
  ].join('\n');
}

function httpTable(cells, rawBest) {
  const lines = [
    '| connections | model | rows/s (= req/s) | p50 ms | p90 ms | p99 ms | ÷ raw ORT best |',
    '|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const { connections, rows } of cells) {
    for (const { label, s } of rows) {
      lines.push(
        `| ${connections} | ${label}${flagged(s)} | ${fmt(s.rps, 0)} | ${fmt(s.p50, 3)} | ${fmt(s.p90, 3)} | ${fmt(s.p99, 3)} | ${fmt(s.rps / rawBest)} |`,
      );
    }
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  requireTool('wrk', 'wrk', hasWrk);
  requireTool('h2load', 'nghttp2-client', () => Boolean(h2loadVersion()));
  if (!existsSync(MODEL_FILE)) {
    process.stdout.write(`${path.relative(ROOT, MODEL_FILE)} missing; generating the bundled models ...\n`);
    spawnSync('npx', ['tsx', 'src/modelgen/cli.ts', '--if-missing'], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 });
    if (!existsSync(MODEL_FILE)) throw new Error(`${MODEL_FILE} is missing (run \`npx tsx src/modelgen/cli.ts --if-missing\`)`);
  }
  const started = new Date();
  const machine = { ...machineInfo(), wrk: wrkVersion() };
  const commit = gitCommit(['src', 'bin', 'settings']);
  const loadSeconds =
    RAW_BATCHES.length * (RAW_SECONDS + 0.5) +
    WARMUP * MODELS.length + DURATION * (CONNECTIONS.length * MODELS.length + 1) * ROUNDS + (2 * WARMUP + 2 * DURATION * ROUNDS) +
    IDLE_HEALTH_SECONDS + HEALTH_LEAD + HEALTH_SECONDS + 1;
  const hardLimit = startHardLimit((loadSeconds * 2 + 120 + STARTUP_RUNS * 60) * 1000);
  process.stdout.write(
    `Tessera compute benchmark (${QUICK ? 'quick' : 'full'}): raw ORT ${RAW_SECONDS}s per batch size; wrk ${DURATION}s per run, ` +
      `${ROUNDS} round(s), connections ${CONNECTIONS.join(',')}; ${STARTUP_RUNS} start-up(s); about ` +
      `${Math.ceil(loadSeconds / 60)} min of load plus start-ups.\n` +
      `Machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}; commit ${commit ?? 'unknown'}\n` +
      `Tessera: --workers ${WORKERS} (${INTRA_OP} ORT intra-op thread(s) each)\n\n`,
  );

  // 1. Raw ORT, with nothing else of ours running.
  process.stdout.write(`1. raw ORT (${CORES} intra-op threads, ${RAW_SECONDS}s per batch size) ...\n`);
  const raw = await runRawOrt();
  for (const b of raw.batches) {
    process.stdout.write(`  batch ${String(b.batch).padStart(3)}  ${fmt(b.rowsPerSec, 0).padStart(7)} rows/s  p50 ${fmt(b.p50Ms, 3)} ms/run\n`);
  }
  const rawBest = raw.best.rowsPerSec;

  // 2. Tessera over HTTP.
  process.stdout.write(`\n2. Tessera mlp over HTTP: starting on a temp repository (mlp_batch, mlp_plain) ... `);
  const server = await startServer(makeRepository());
  process.stdout.write(`ready (${server.base})\n`);
  for (const t of server.targets) {
    process.stdout.write(`  warm-up ${t.settings.name} (${WARMUP}s, 32 connections)\n`);
    await runWrk(t.url, 32, WARMUP, LUA);
  }
  const runs = await measureRounds(CONNECTIONS, server.targets, ROUNDS, async (t, c, round) => {
    const r = await runWrk(t.url, c, DURATION, LUA);
    printWrk(`c=${String(c).padStart(2)} round ${round + 1} ${t.settings.name.padEnd(9)}`, r);
    return r;
  });
  const batchTarget = server.targets.find((t) => t.key === 'batch');
  const multiRuns = [];
  for (let round = 0; round < ROUNDS; round++) {
    const r = await runWrk(batchTarget.url, MULTI_CONNECTIONS, DURATION, LUA_MULTI);
    printWrk(`c=${MULTI_CONNECTIONS} round ${round + 1} mlp_batch, ${MULTI_ROWS} rows per request`, r);
    multiRuns.push(r);
  }
  assertAlive(server.targets, 'the HTTP runs');

  // 2b. Compute-bound.
  process.stdout.write(`\n2b. compute-bound: mlp_batch, ${BOUND_ROWS}-row requests, ${BOUND_CONNECTIONS} concurrent, raw gRPC and binary HTTP\n`);
  const bound = await computeBound(server);
  assertAlive(server.targets, 'the compute-bound runs');

  // 3. Ready route while the worker(s) are saturated.
  process.stdout.write(`\n3. ${READY_PATH} latency (wrk -c1), idle and while wrk -c${SATURATE_CONNECTIONS} drives mlp_plain\n`);
  const health = await measureHealth(server);
  assertAlive(server.targets, 'the readiness runs');
  await stopChild(server.child);

  // 4. Start-up, with no other server running.
  process.stdout.write(`\n4. start-up on the bundled settings/ (${STARTUP_RUNS} run(s))\n`);
  const startups = [];
  for (let i = 1; i <= STARTUP_RUNS; i++) {
    const s = await timeStartup(i);
    process.stdout.write(`  run ${i}: ready after ${fmt(s.ms, 0)} ms (${s.polls} polls)\n`);
    startups.push(s);
  }
  await cleanup();

  // Summary numbers
  const cells = CONNECTIONS.map((c) => ({
    connections: c,
    rows: server.targets.map((t) => ({ key: t.key, label: t.label, s: wrkSummary(runs[c][t.key]) })),
  }));
  const cell = (c, key) => cells.find((x) => x.connections === c)?.rows.find((r) => r.key === key)?.s;
  const batchVsRaw = Object.fromEntries([32, 64].map((c) => [c, (cell(c, 'batch')?.rps ?? NaN) / rawBest]));
  const onOff64 = (cell(64, 'batch')?.rps ?? NaN) / (cell(64, 'plain')?.rps ?? NaN);
  const p50On1 = cell(1, 'batch')?.p50 ?? NaN;
  const p50Off1 = cell(1, 'plain')?.p50 ?? NaN;
  const p50Delta1 = (p50On1 - p50Off1) / p50Off1;
  const startupMs = startups.map((s) => s.ms);
  const multi = wrkSummary(multiRuns);
  const multiRowsPerSec = multi.rps * MULTI_ROWS;

  const md = printReport([
    `# Tessera compute benchmark — ${started.toISOString()}${QUICK ? ' (quick)' : ''}`,
    '',
    ...machineMarkdown(machine, `${machine.wrk}; onnxruntime-node ${raw.info.ort}`, commit),
    `- Model: bundled \`mlp\` (256-2048-2048-10, 4.7M weights), input 1×256 FP32 per row. Tessera \`--workers ${WORKERS}\`` +
      ` (${INTRA_OP} ORT intra-op thread(s) per worker, no spinning). All on ${HOST}.`,
    '',
    `## 1. Raw ONNX Runtime (no server)`,
    '',
    `\`raw-ort.mjs\`: one InferenceSession (intraOpNumThreads ${CORES}, allow_spinning 0), \`session.run\` in a loop` +
      ` for ${RAW_SECONDS}s per batch size after a warm-up.`,
    '',
    rawTable(raw),
    '',
    `**Raw ORT best throughput: ${fmt(rawBest, 0)} rows/s** (batch ${raw.best.batch}).`,
    '',
    `## 2. Tessera mlp over HTTP`,
    '',
    `\`wrk -t1 -cC -d${DURATION}s --timeout 5s --latency -s mlp.lua\`, one 1×256 row per request (rows/s = req/s);` +
      ` mlp_batch: \`max_batch_size\` 128, \`max_batch_time\` 0.002 s; mlp_plain: no batching. ${WARMUP}s warm-up per model;` +
      ` ${ROUNDS} round(s) per cell, order alternated each round; values are the mean over rounds.`,
    '',
    httpTable(cells, rawBest),
    '',
    `The same mlp_batch with ${MULTI_ROWS} rows per request (${MULTI_CONNECTIONS} connections): ${fmt(multiRowsPerSec, 0)} rows/s` +
      ` (${fmt(multi.rps, 0)} req/s), p50 ${fmt(multi.p50, 3)} / p99 ${fmt(multi.p99, 3)} ms${flagged(multi)}.`,
    '',
    '| comparison | value |',
    '|---|---:|',
    `| batching on ÷ raw ORT best, 32 connections | ${fmt(batchVsRaw[32])} |`,
    `| batching on ÷ raw ORT best, 64 connections | ${fmt(batchVsRaw[64])} |`,
    `| batching on ÷ raw ORT best, ${MULTI_CONNECTIONS} connections of ${MULTI_ROWS}-row requests | ${fmt(multiRowsPerSec / rawBest)} |`,
    `| batching on ÷ off, 64 connections (rows/s) | ${fmt(onOff64)}× |`,
    `| p50 latency batching on vs off, 1 connection | ${signedPct(p50Delta1)} (${fmt(p50On1, 3)} vs ${fmt(p50Off1, 3)} ms) |`,
    '',
    `## 2b. Compute-bound: ${BOUND_ROWS}-row requests to mlp_batch, ${BOUND_CONNECTIONS} concurrent`,
    '',
    `Raw gRPC: \`h2load -c ${BOUND_CONNECTIONS} -m 1 -t 1\` with a pre-encoded ModelInfer frame (raw_input_contents ${BOUND_ROWS}×${FEATURES} FP32, raw logits back);` +
      ` binary HTTP: \`wrk -c${BOUND_CONNECTIONS}\` with the binary tensor extension both ways. ${DURATION}s per run, ${ROUNDS} round(s) alternated, mean over rounds.`,
    '',
    '| path | rows/s | req/s | p50 ms | p99 ms | ÷ raw ORT best |',
    '|---|---:|---:|---:|---:|---:|',
    ...['grpc', 'http'].map((k) => {
      const b = bound[k];
      return `| ${k === 'grpc' ? 'raw gRPC' : 'binary HTTP'} | ${fmt(b.rowsPerSec, 0)} | ${fmt(b.rps, 0)} | ${fmt(b.p50, 3)} | ${fmt(b.p99, 3)} | ${fmt(b.rowsPerSec / rawBest)} |`;
    }),
    '',
    `## 3. ${READY_PATH} latency while the worker(s) are saturated`,
    '',
    `\`wrk -t1 -c1 --latency\` on GET ${READY_PATH}: ${IDLE_HEALTH_SECONDS}s on the idle server, then ${HEALTH_SECONDS}s` +
      ` while \`wrk -c${SATURATE_CONNECTIONS}\` drives mlp_plain (started ${HEALTH_LEAD}s earlier).`,
    '',
    '| condition | req/s | p50 ms | p90 ms | p99 ms |',
    '|---|---:|---:|---:|---:|',
    `| idle server${flagged(health.idle)} | ${fmt(health.idle.rps, 0)} | ${fmt(health.idle.p50, 3)} | ${fmt(health.idle.p90, 3)} | ${fmt(health.idle.p99, 3)} |`,
    `| mlp_plain at -c${SATURATE_CONNECTIONS} (${fmt(health.background.rps, 0)} rows/s meanwhile${flagged(health.background)})${flagged(health.busy)}` +
      ` | ${fmt(health.busy.rps, 0)} | ${fmt(health.busy.p50, 3)} | ${fmt(health.busy.p90, 3)} | ${fmt(health.busy.p99, 3)} |`,
    '',
    `## 4. Start-up to ready`,
    '',
    `\`bin/tessera.mjs start settings --workers ${WORKERS}\` (all bundled models), time from spawn to the first 200 of` +
      ` GET ${READY_PATH}, polled every ${STARTUP_POLL_MS} ms.`,
    '',
    '| runs | min ms | median ms | each run ms |',
    '|---:|---:|---:|---|',
    `| ${startups.length} | ${fmt(Math.min(...startupMs), 0)} | ${fmt(median(startupMs), 0)} | ${startupMs.map((m) => fmt(m, 0)).join(', ')} |`,
    '',
  ]);

  const json = {
    ...runMeta(started, QUICK),
    machine,
    commit,
    tessera: { workers: WORKERS, intraOpThreadsPerWorker: INTRA_OP },
    rawOrt: {
      ...raw.info,
      secondsPerBatch: RAW_SECONDS,
      batches: raw.batches,
      bestRowsPerSec: rawBest,
      bestBatch: raw.best.batch,
    },
    http: {
      durationSeconds: DURATION,
      rounds: ROUNDS,
      warmupSeconds: WARMUP,
      request: { method: 'POST', body: BODY },
      models: MODELS.map((m) => ({ key: m.key, settings: m.settings })),
      scenarios: cells.map(({ connections, rows }) => ({
        connections,
        results: Object.fromEntries(
          rows.map(({ key, s }) => [
            key,
            { ...s, ratioToRawBest: s.rps / rawBest, runs: runs[connections][key].map(({ raw: _raw, ...r }) => r) },
          ]),
        ),
      })),
      batchingOnVsRawBest: { c32: batchVsRaw[32], c64: batchVsRaw[64] },
      multiRow: {
        rowsPerRequest: MULTI_ROWS,
        connections: MULTI_CONNECTIONS,
        ...multi,
        rowsPerSec: multiRowsPerSec,
        ratioToRawBest: multiRowsPerSec / rawBest,
        runs: multiRuns.map(({ raw: _raw, ...r }) => r),
      },
      batchingOnVsOffC64: onOff64,
      p50BatchingOnVsOffC1: { on: p50On1, off: p50Off1, relativeDifference: p50Delta1 },
    },
    computeBound: {
      ...bound,
      grpc: { ...bound.grpc, ratioToRawBest: bound.grpc.rowsPerSec / rawBest },
      http: { ...bound.http, ratioToRawBest: bound.http.rowsPerSec / rawBest },
    },
    readyUnderLoad: {
      path: READY_PATH,
      loadConnections: SATURATE_CONNECTIONS,
      leadSeconds: HEALTH_LEAD,
      seconds: HEALTH_SECONDS,
      idleSeconds: IDLE_HEALTH_SECONDS,
      ...health,
    },
    startup: {
      folder: 'settings',
      pollMs: STARTUP_POLL_MS,
      runs: startups,
      minMs: Math.min(...startupMs),
      medianMs: median(startupMs),
    },
  };
  writeResults('compute-', started, md, json);
  clearTimeout(hardLimit);
}

runMain(main);
