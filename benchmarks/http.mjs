#!/usr/bin/env node
// HTTP benchmark: Tessera's iris REST path against a bare fastify baseline, and Tessera with 1 vs 2
// inference workers. Load comes from wrk (least distortion on 2 cores, µs percentiles).
//
//   npm run bench:http                    full run (10 s per wrk run, 2 rounds)
//   npm run bench:http -- --quick         smoke run (2 s per wrk run, 1 round)
//   npm run bench:http -- --duration 5 --rounds 3 --connections 16,64
//
// `npm run bench` (run.mjs) runs this script with the gRPC and compute ones and sums up the targets.
//
// Everything binds to and talks to 127.0.0.1 only. Child servers are killed at the end, on
// SIGINT/SIGTERM and on any error. Results land in benchmarks/results/<timestamp>.{md,json}.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  BENCH_DIR, HOST, ROOT, assertAlive, cleanup, requireTool, fmt, freePort, gitCommit, hasWrk, machineInfo,
  machineMarkdown, measureRounds, parseBenchArgs, parseList, printReport, requirePositiveIntegers,
  runMain, runMeta, runWrk, setupCleanup, startChild, startHardLimit, tmpPath, waitHttpReady, withCpu, wrkSummary,
  wrkVersion, writeResults,
} from './lib.mjs';

const INFER_PATH = '/v2/models/iris/infer';
const IRIS_BODY = '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}';

// Every child (servers and the running wrk) is tracked and killed on the way out.
setupCleanup('bench', 'tessera-bench-');

// ---------------------------------------------------------------------------------------------
// Options

const { args, quick: QUICK, duration: DURATION, rounds: ROUNDS, warmup: WARMUP } = parseBenchArgs(
  'Usage: npm run bench:http [-- --quick] [--duration SEC] [--rounds N] [--connections 1,16,64] [--frontends N]\n' +
    '  --frontends N   also measure N front-end processes sharing the port (benchmarks/frontends-server.mjs; default 2, 1: off)',
  { connections: { type: 'string' }, frontends: { type: 'string' } },
);
const FRONTENDS = Number(args.frontends ?? 2);
const CONNECTIONS = parseList(args.connections ?? '1,16,64');
requirePositiveIntegers([['duration', DURATION], ['rounds', ROUNDS], ...CONNECTIONS.map((c) => ['connections', c])]);
// The w=1 vs w=2 comparison (which decides the documented parallel_workers default) is asked for
// at 16 and 64 connections; measuring w=1 at every level costs little and fills the table.

// ---------------------------------------------------------------------------------------------
// wrk request body (the wrk helpers live in lib.mjs)

const LUA = tmpPath('post.lua');
writeFileSync(
  LUA,
  [
    'wrk.method = "POST"',
    'wrk.headers["Content-Type"] = "application/json"',
    `wrk.body = '${IRIS_BODY}'`,
    '',
  ].join('\n'),
);

// ---------------------------------------------------------------------------------------------
// Servers

/** Ready route first, then one real request: the route must answer 200 with outputs, or the numbers mean nothing. */
async function waitReady(child, baseUrl) {
  await waitHttpReady(child, baseUrl);
  const res = await fetch(baseUrl + INFER_PATH, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: IRIS_BODY,
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== 200 || !Array.isArray(JSON.parse(text).outputs)) {
    throw new Error(`${child.name}: iris infer answered ${res.status}: ${text}`);
  }
  return Buffer.byteLength(text);
}

async function startTarget(target) {
  const httpPort = await freePort();
  let argv;
  if (target.kind === 'bare') {
    argv = [path.join(BENCH_DIR, 'bare-fastify.mjs'), '--port', String(httpPort), '--host', HOST];
  } else if (target.kind === 'frontends') {
    const [grpcPort, metricsPort] = [await freePort(), await freePort()];
    argv = [
      path.join(BENCH_DIR, 'frontends-server.mjs'), '--frontends', String(target.frontends), '--workers', String(target.workers),
      '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--metrics-port', String(metricsPort), '--host', HOST,
    ];
  } else {
    // gRPC / metrics ports are given explicit free ports too, so no fixed port (8081/8082) is
    // needed and two Tessera instances can run side by side.
    const [grpcPort, metricsPort] = [await freePort(), await freePort()];
    argv = [
      path.join(ROOT, 'bin', 'tessera.mjs'), 'start',
      '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--metrics-port', String(metricsPort),
      '--host', HOST, '--workers', String(target.workers), '--log-level', 'warn',
    ];
  }
  const child = startChild(target.label, argv);
  const base = `http://${HOST}:${httpPort}`;
  target.child = child;
  target.url = base + INFER_PATH;
  target.responseBytes = await waitReady(child, base);
  return target;
}

// ---------------------------------------------------------------------------------------------
// Reporting

function scenarioTable(connections, rows, bareRps) {
  const lines = [
    `### iris, ${connections} connection${connections === 1 ? '' : 's'}`,
    '',
    '| target | req/s | p50 ms | p90 ms | p99 ms | req/s vs bare | CPU µs/req, main thread | CPU µs/req, all threads |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const { label, s } of rows) {
    const ratio = bareRps ? fmt(s.rps / bareRps) : 'n/a';
    const errs = s.non2xx || s.socketErrors ? ` ⚠ ${s.non2xx} non-2xx, ${s.socketErrors} socket errors` : '';
    lines.push(`| ${label}${errs} | ${fmt(s.rps, 0)} | ${fmt(s.p50, 3)} | ${fmt(s.p90, 3)} | ${fmt(s.p99, 3)} | ${ratio} | ${fmt(s.cpuMainUs, 1)} | ${fmt(s.cpuAllUs, 1)} |`);
  }
  return lines.join('\n');
}

function workersVerdict(connections, w2, w1) {
  const diff = (w2.rps - w1.rps) / w1.rps;
  const pct = `${fmt(Math.abs(diff) * 100, 1)} %`;
  const p99 = `p99 ${fmt(w2.p99, 3)} ms (w=2) vs ${fmt(w1.p99, 3)} ms (w=1)`;
  if (Math.abs(diff) < 0.05) return `- ${connections} connections: w=2 and w=1 within noise (${pct} apart in req/s); ${p99}.`;
  return `- ${connections} connections: **w=${diff > 0 ? 2 : 1} faster** by ${pct} in req/s; ${p99}.`;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  requireTool('wrk', 'wrk', hasWrk);
  const started = new Date();
  const machine = { ...machineInfo(), wrk: wrkVersion() };
  const commit = gitCommit(['src', 'bin', 'settings']);
  const perRun = DURATION * CONNECTIONS.length * 4 * ROUNDS + WARMUP * 4;
  process.stdout.write(
    `Tessera HTTP benchmark (${QUICK ? 'quick' : 'full'}): ${DURATION}s per run, ${ROUNDS} round(s), ` +
      `connections ${CONNECTIONS.join(',')}; about ${Math.ceil(perRun / 60)} min of load.\n` +
      `Machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}; commit ${commit ?? 'unknown'}\n\n`,
  );

  const hardLimit = startHardLimit((perRun * 2 + 300) * 1000);

  const targets = [
    { key: 'bare', label: 'bare fastify', kind: 'bare' },
    { key: 'w2', label: 'tessera w=2', kind: 'tessera', workers: 2 },
    { key: 'w1', label: 'tessera w=1', kind: 'tessera', workers: 1 },
    // Direction 4 of issue #13: two front-end processes sharing the port (cluster), one worker in all.
    ...(FRONTENDS > 1 ? [{ key: 'f2', label: `${FRONTENDS} front-ends`, kind: 'frontends', frontends: FRONTENDS, workers: 1 }] : []),
  ];
  // Started one after another so start-up work does not overlap; idle servers cost ~no CPU.
  for (const t of targets) {
    process.stdout.write(`starting ${t.label} ... `);
    await startTarget(t);
    process.stdout.write(`ready (${t.url}, iris reply ${t.responseBytes} bytes)\n`);
  }
  for (const t of targets) {
    process.stdout.write(`warm-up ${t.label} (${WARMUP}s, 16 connections)\n`);
    await runWrk(t.url, 16, WARMUP, LUA);
  }

  // runs[connections][key] = [result, ...]
  const runs = await measureRounds(CONNECTIONS, targets, ROUNDS, async (t, c, round) => {
    // CPU per request of the server's main thread and of all its threads, from /proc (lib.mjs).
    const r = await withCpu(t.child.proc.pid, () => runWrk(t.url, c, DURATION, LUA));
    process.stdout.write(
      `  c=${String(c).padStart(2)} round ${round + 1} ${t.label.padEnd(13)} ${fmt(r.rps, 0).padStart(6)} req/s` +
        `  p50 ${fmt(r.p50, 3)}  p90 ${fmt(r.p90, 3)}  p99 ${fmt(r.p99, 3)} ms` +
        `  cpu/req main ${fmt(r.cpu.mainUsPerRequest, 1)} µs, all ${fmt(r.cpu.allUsPerRequest, 1)} µs` +
        (r.non2xx ? `  non-2xx ${r.non2xx}` : '') +
        '\n',
    );
    return r;
  });

  assertAlive(targets);
  await cleanup();

  // Tables
  const cpuMean = (rs, k) => rs.reduce((a, r) => a + r.cpu[k], 0) / rs.length;
  const scenarios = CONNECTIONS.map((c) => {
    const rows = targets.map((t) => ({
      key: t.key,
      label: t.label,
      s: { ...wrkSummary(runs[c][t.key]), cpuMainUs: cpuMean(runs[c][t.key], 'mainUsPerRequest'), cpuAllUs: cpuMean(runs[c][t.key], 'allUsPerRequest') },
    }));
    return { connections: c, rows };
  });
  const tables = scenarios.map(({ connections, rows }) => scenarioTable(connections, rows, rows[0].s.rps));
  const verdictLines = scenarios
    .filter(({ connections }) => connections >= 16)
    .map(({ connections, rows }) => workersVerdict(connections, rows[1].s, rows[2].s));

  const md = printReport([
    `# Tessera HTTP benchmark — ${started.toISOString()}${QUICK ? ' (quick)' : ''}`,
    '',
    ...machineMarkdown(machine, machine.wrk, commit),
    `- Load: \`wrk -t1 -cC -d${DURATION}s --timeout 5s --latency -s post.lua\`, POST ${INFER_PATH}, iris 1×4 FP32 JSON body;` +
      ` ${ROUNDS} round(s) per cell, order alternated each round; values are the mean over rounds.`,
    `- Targets: bare fastify (\`benchmarks/bare-fastify.mjs\`: default JSON parse + fixed reply of ${targets[0].responseBytes} bytes);` +
      ` Tessera (\`bin/tessera.mjs start --workers N\`, reply ${targets[1].responseBytes} bytes). All on ${HOST}.`,
    '',
    ...tables.flatMap((t) => [t, '']),
    '### parallel_workers: 2 vs 1',
    '',
    ...(verdictLines.length ? verdictLines : ['- (no scenario with ≥ 16 connections in this run)']),
    '',
    ...(FRONTENDS > 1
      ? [
          `### ${FRONTENDS} front-end processes sharing the port vs one (both with one inference worker in all)`,
          '',
          '`benchmarks/frontends-server.mjs`: a cluster prototype (issue #13, direction 4), not a product feature. CPU per request is the whole process tree\'s.',
          '',
          ...scenarios.map(({ connections, rows }) => {
            const one = rows.find((r) => r.key === 'w1').s;
            const many = rows.find((r) => r.key === 'f2').s;
            return `- ${connections} connection(s): ${fmt(many.rps, 0)} vs ${fmt(one.rps, 0)} req/s (${fmt(many.rps / one.rps)}×); p99 ${fmt(many.p99, 3)} vs ${fmt(one.p99, 3)} ms; CPU ${fmt(many.cpuAllUs, 1)} vs ${fmt(one.cpuAllUs, 1)} µs/request.`;
          }),
          '',
        ]
      : []),
  ]);

  const json = {
    ...runMeta(started, QUICK),
    durationSeconds: DURATION,
    rounds: ROUNDS,
    warmupSeconds: WARMUP,
    machine,
    commit,
    request: { method: 'POST', path: INFER_PATH, body: IRIS_BODY },
    targets: targets.map((t) => ({ key: t.key, label: t.label, workers: t.workers ?? null, responseBytes: t.responseBytes })),
    scenarios: scenarios.map(({ connections, rows }) => ({
      connections,
      results: Object.fromEntries(
        rows.map(({ key, s }) => [
          key,
          {
            ...s,
            ratioToBare: s.rps / rows[0].s.rps,
            runs: runs[connections][key].map(({ raw, ...r }) => r),
          },
        ]),
      ),
    })),
    workersComparison: scenarios
      .filter(({ connections }) => connections >= 16)
      .map(({ connections, rows }) => ({
        connections,
        w2Rps: rows[1].s.rps,
        w1Rps: rows[2].s.rps,
        faster: rows[1].s.rps >= rows[2].s.rps ? 'w=2' : 'w=1',
        relativeDifference: (rows[1].s.rps - rows[2].s.rps) / rows[2].s.rps,
      })),
  };
  writeResults('http-', started, md, json);
  clearTimeout(hardLimit);
}

runMain(main);
