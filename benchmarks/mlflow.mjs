#!/usr/bin/env node
// MLflow benchmark: MLflow's /invocations against V2 JSON on the same server, and the converted
// scikit-learn tree ensembles, with wrk on 127.0.0.1; plus the load time of every MLflow fixture,
// converted (an empty conversion cache) and from the cache (a restart).
//
//   node benchmarks/mlflow.mjs               full run (10 s per wrk run, 2 rounds, 1/16/64 connections)
//   node benchmarks/mlflow.mjs --quick       smoke run (2 s per wrk run, 1 round, 1/64 connections)
//   node benchmarks/mlflow.mjs --duration 5 --rounds 3 --connections 1,16,64 --rows 32
//
// Models (the real MLflow-written ones in /work/shared/data/mlflow-models, or TESSERA_MLFLOW_MODELS):
//   iris   iris-logreg (sklearn flavor, tensor signature): /invocations {"inputs": [[…]]} vs V2 one FP64 [1, 4] input
//   wine   wine-elasticnet (sklearn flavor, 13 double columns): /invocations dataframe_split vs V2
//          per-column inputs with content_type pd (KServe's MLflow request)
//   forest diabetes-forest (RandomForestRegressor, 10 trees) and gbc cancer-gbc (GradientBoostingClassifier,
//          20 trees): V2 requests of --rows rows (FP64), reported as rows/s
// One Tessera (bin/tessera.mjs start, default workers) serves them all; the order of targets
// alternates every round. Results: benchmarks/results/mlflow-<time>.{md,json}.
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  HOST, ROOT, assertAlive, cleanup, fmt, freePort, gitCommit, hasWrk, machineInfo, machineMarkdown, measureRounds,
  parseBenchArgs, parseList, printReport, requirePositiveIntegers, requireTool, runMain, runMeta, runWrk, setupCleanup,
  startChild, startHardLimit, stopChild, tmpPath, waitHttpReady, waitUntil, wrkSummary, wrkVersion, writeResults,
} from './lib.mjs';

setupCleanup('bench:mlflow', 'tessera-bench-mlflow-');

const { args, quick: QUICK, duration: DURATION, rounds: ROUNDS, warmup: WARMUP } = parseBenchArgs(
  'Usage: node benchmarks/mlflow.mjs [--quick] [--duration SEC] [--rounds N] [--connections 1,16,64] [--rows N]',
  { connections: { type: 'string' }, rows: { type: 'string' } },
);
const CONNECTIONS = parseList(args.connections ?? (QUICK ? '1,64' : '1,16,64'));
const ROWS = Number(args.rows ?? 32);
requirePositiveIntegers([['duration', DURATION], ['rounds', ROUNDS], ['rows', ROWS], ...CONNECTIONS.map((c) => ['connections', c])]);

const MODELS_DIR = process.env.TESSERA_MLFLOW_MODELS ?? '/work/shared/data/mlflow-models';
const FIXTURES = ['wine-elasticnet', 'iris-logreg', 'iris-tree', 'diabetes-forest', 'cancer-gbc', 'wine-pipeline', 'iris-xgb', 'diabetes-xgb'];

// ---------------------------------------------------------------------------------------------
// Request bodies, from the recorded cases (real rows of the datasets)

function signatureColumns(name) {
  const sig = JSON.parse(parseYaml(readFileSync(path.join(MODELS_DIR, name, 'MLmodel'), 'utf8')).signature.inputs);
  return sig.every((s) => s.name !== undefined && s.type !== 'tensor') ? sig.map((s) => s.name) : undefined;
}

/** The first row of a model's recorded dataframe_split or inputs case, in signature order. */
function firstRows(name) {
  const cases = JSON.parse(readFileSync(path.join(MODELS_DIR, 'cases.json'), 'utf8')).filter((c) => c.model === name);
  const columns = signatureColumns(name);
  const split = cases.find((c) => c.format === 'dataframe_split');
  const body = JSON.parse(split.request.body).dataframe_split;
  const rows = columns === undefined ? body.data : body.data.map((r) => columns.map((c) => r[body.columns.indexOf(c)]));
  return { rows, columns };
}

/** `count` rows, cycling through the recorded ones. */
const rowsOf = (rows, count) => Array.from({ length: count }, (_, i) => rows[i % rows.length]);

function luaPost(name, body) {
  const file = tmpPath(`${name}.lua`);
  // wrk's Lua takes the body as a long string: no quoting of the JSON needed.
  writeFileSync(file, ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"', `wrk.body = [==[${body}]==]`, ''].join('\n'));
  return file;
}

function targets() {
  const iris = firstRows('iris-logreg');
  const wine = firstRows('wine-elasticnet');
  const [irisRow] = iris.rows;
  const [wineRow] = wine.rows;
  const out = [
    { key: 'iris-inv', label: 'iris /invocations', path: '/endpoints/iris-logreg/invocations', body: JSON.stringify({ inputs: [irisRow] }), rows: 1 },
    { key: 'iris-v2', label: 'iris V2', path: '/v2/models/iris-logreg/infer', body: JSON.stringify({ inputs: [{ name: 'input-0', shape: [1, 4], datatype: 'FP64', data: irisRow }] }), rows: 1 },
    { key: 'wine-inv', label: 'wine /invocations', path: '/endpoints/wine-elasticnet/invocations', body: JSON.stringify({ dataframe_split: { columns: wine.columns, data: [wineRow] } }), rows: 1 },
    {
      key: 'wine-v2',
      label: 'wine V2 (pd)',
      path: '/v2/models/wine-elasticnet/infer',
      body: JSON.stringify({ parameters: { content_type: 'pd' }, inputs: wine.columns.map((name, j) => ({ name, shape: [1], datatype: 'FP64', data: [wineRow[j]] })) }),
      rows: 1,
    },
  ];
  for (const [key, model] of [['forest', 'diabetes-forest'], ['gbc', 'cancer-gbc']]) {
    const { rows, columns } = firstRows(model);
    const batch = rowsOf(rows, ROWS);
    const body =
      columns === undefined
        ? { inputs: [{ name: 'input-0', shape: [ROWS, batch[0].length], datatype: 'FP64', data: batch.flat() }] }
        : { parameters: { content_type: 'pd' }, inputs: columns.map((name, j) => ({ name, shape: [ROWS], datatype: 'FP64', data: batch.map((r) => r[j]) })) };
    out.push({ key, label: `${model} V2 ${ROWS} rows`, path: `/v2/models/${model}/infer`, body: JSON.stringify(body), rows: ROWS });
  }
  for (const t of out) t.lua = luaPost(t.key, t.body);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The server

async function startTessera(repo, cacheDir, loadAtStartup = true) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const argv = [
    path.join(ROOT, 'bin', 'tessera.mjs'), 'start', repo,
    '--http-port', String(http), '--grpc-port', String(grpc), '--metrics-port', String(metrics), '--host', HOST,
    '--conversion-cache-dir', cacheDir, '--log-level', 'info', '--load-models-at-startup', String(loadAtStartup),
  ];
  const child = startChild('tessera', argv);
  const lines = [];
  let partial = '';
  child.proc.stdout.on('data', (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop();
    for (const l of parts) if (l.startsWith('{') && l.includes('"model loaded"')) lines.push(JSON.parse(l));
  });
  const base = `http://${HOST}:${http}`;
  if (loadAtStartup) await waitHttpReady(child, base);
  else await waitUntil(child, async () => (await fetch(`${base}/v2/health/live`, { signal: AbortSignal.timeout(2000) })).status === 200, 90_000, 'live');
  return { child, base, loads: lines };
}

/**
 * Each fixture's load alone, one after another (POST /v2/repository/models/<m>/load on a server
 * that loaded nothing at start-up): the client's wall time and the server's log line.
 */
async function timeLoads(server) {
  const out = [];
  for (const name of FIXTURES) {
    const t0 = performance.now();
    const res = await fetch(`${server.base}/v2/repository/models/${name}/load`, { method: 'POST', signal: AbortSignal.timeout(120_000) });
    const wallMs = performance.now() - t0;
    if (res.status !== 200) throw new Error(`loading ${name}: ${res.status} ${await res.text()}`);
    await new Promise((r) => setTimeout(r, 50)); // the log line is written as the load answers
    const l = server.loads.find((x) => x.model === name) ?? {};
    out.push({ model: name, wallMs, loadMs: l.loadMs, prepareMs: l.prepareMs, convertMs: l.convertMs ?? null, cache: l.cache ?? 'n/a', onnxBytes: l.onnxBytes, sourceBytes: l.sourceBytes, estimator: l.estimator });
  }
  return out;
}

/** One real request per target: each must answer 200, or its numbers mean nothing. */
async function check(base, t) {
  const res = await fetch(base + t.path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: t.body, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${t.label}: ${res.status} ${text}`);
  return Buffer.byteLength(text);
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  requireTool('wrk', 'wrk', hasWrk);
  if (!existsSync(path.join(MODELS_DIR, 'cases.json'))) throw new Error(`the MLflow models are not in ${MODELS_DIR} (set TESSERA_MLFLOW_MODELS)`);
  const started = new Date();
  const machine = { ...machineInfo(), wrk: wrkVersion() };
  const commit = gitCommit(['src', 'bin']);
  const list = targets();
  const perRun = DURATION * CONNECTIONS.length * list.length * ROUNDS + WARMUP * list.length;
  process.stdout.write(
    `Tessera MLflow benchmark (${QUICK ? 'quick' : 'full'}): ${DURATION}s per run, ${ROUNDS} round(s), connections ${CONNECTIONS.join(',')}, ` +
      `${ROWS} rows per tree-ensemble request; about ${Math.ceil(perRun / 60)} min of load.\n` +
      `Machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}; commit ${commit ?? 'unknown'}\n\n`,
  );
  const hardLimit = startHardLimit((perRun * 2 + 300) * 1000);

  // In the run's private temp folder (lib.mjs): removed at exit, whatever happens.
  const repo = tmpPath('repo');
  const cacheDir = tmpPath('conversion-cache');
  mkdirSync(repo);
  mkdirSync(cacheDir);
  for (const name of FIXTURES) cpSync(path.join(MODELS_DIR, name), path.join(repo, name), { recursive: true });

  // Load times, one model at a time: converted (an empty cache), then from the cache after a restart.
  process.stdout.write('load times: converting each fixture (empty conversion cache) ... ');
  let server = await startTessera(repo, cacheDir, false);
  const cold = await timeLoads(server);
  process.stdout.write('done; restarted on the same cache ... ');
  await stopChild(server.child);
  server = await startTessera(repo, cacheDir, false);
  const warm = await timeLoads(server);
  await stopChild(server.child);
  process.stdout.write('done\nstarting tessera with every fixture ... ');
  server = await startTessera(repo, cacheDir);
  process.stdout.write(`ready (${server.base})\n`);
  for (const t of list) t.responseBytes = await check(server.base, t);
  for (const t of list) {
    process.stdout.write(`warm-up ${t.label} (${WARMUP}s, 16 connections)\n`);
    await runWrk(server.base + t.path, 16, WARMUP, t.lua);
  }
  const runs = await measureRounds(CONNECTIONS, list, ROUNDS, async (t, c, round) => {
    const r = await runWrk(server.base + t.path, c, DURATION, t.lua);
    process.stdout.write(
      `  c=${String(c).padStart(2)} round ${round + 1} ${t.label.padEnd(30)} ${fmt(r.rps, 0).padStart(6)} req/s` +
        (t.rows > 1 ? ` (${fmt(r.rps * t.rows, 0)} rows/s)` : '') +
        `  p50 ${fmt(r.p50, 3)}  p99 ${fmt(r.p99, 3)} ms${r.non2xx ? `  non-2xx ${r.non2xx}` : ''}\n`,
    );
    return r;
  });
  assertAlive([{ label: 'tessera', child: server.child }]);
  await cleanup();

  const flag = (s) => (s.non2xx || s.socketErrors ? ` ⚠ ${s.non2xx} non-2xx, ${s.socketErrors} socket errors` : '');
  const tables = CONNECTIONS.map((c) => {
    const lines = [`### ${c} connection${c === 1 ? '' : 's'}`, '', '| target | req/s | rows/s | p50 ms | p99 ms | vs V2 |', '|---|---:|---:|---:|---:|---:|'];
    for (const t of list) {
      const s = wrkSummary(runs[c][t.key]);
      const v2 = t.key.endsWith('-inv') ? wrkSummary(runs[c][t.key.replace('-inv', '-v2')]) : undefined;
      lines.push(`| ${t.label}${flag(s)} | ${fmt(s.rps, 0)} | ${fmt(s.rps * t.rows, 0)} | ${fmt(s.p50, 3)} | ${fmt(s.p99, 3)} | ${v2 ? fmt(s.rps / v2.rps) : ''} |`);
    }
    return lines.join('\n');
  });
  const loadTable = [
    '### Load time of each fixture',
    '',
    '| model | estimator | source bytes | ONNX bytes | converted: load ms | of which convert ms | from the cache: load ms | repository call ms (converted / cached) |',
    '|---|---|---:|---:|---:|---:|---:|---:|',
    ...cold.map(
      (c, i) =>
        `| ${c.model} | ${c.estimator ?? ''} | ${c.sourceBytes ?? ''} | ${c.onnxBytes ?? ''} | ${fmt(c.loadMs, 1)} | ${fmt(c.convertMs, 1)} | ${fmt(warm[i].loadMs, 1)} (${warm[i].cache}) | ${fmt(c.wallMs, 1)} / ${fmt(warm[i].wallMs, 1)} |`,
    ),
    '',
    "Each fixture loaded alone (POST /v2/repository/models/<m>/load, one after another, on a server that loaded nothing at start-up). Load ms: the server's log line (prepare in one worker: read, convert or cache lookup; then every worker's ONNX Runtime session). The first load of a server also pays for the workers' first import of the runtime code.",
  ].join('\n');

  const md = printReport([
    `# Tessera MLflow benchmark — ${started.toISOString()}${QUICK ? ' (quick)' : ''}`,
    '',
    ...machineMarkdown(machine, machine.wrk, commit),
    `- Load: \`wrk -t1 -cC -d${DURATION}s --latency\`, POST, one row per request (tree ensembles: ${ROWS} rows); ${ROUNDS} round(s), order alternated; means over rounds.`,
    '- Server: `bin/tessera.mjs start <repo>` (default workers), the eight MLflow fixtures as zero-config MLflow folders.',
    '',
    ...tables.flatMap((t) => [t, '']),
    loadTable,
    '',
  ]);
  writeResults('mlflow-', started, md, {
    ...runMeta(started, QUICK),
    durationSeconds: DURATION,
    rounds: ROUNDS,
    rowsPerEnsembleRequest: ROWS,
    machine,
    commit,
    targets: list.map(({ lua, ...t }) => t),
    scenarios: CONNECTIONS.map((c) => ({
      connections: c,
      results: Object.fromEntries(list.map((t) => [t.key, { ...wrkSummary(runs[c][t.key]), rowsPerSecond: wrkSummary(runs[c][t.key]).rps * t.rows, runs: runs[c][t.key].map(({ raw, ...r }) => r) }])),
    })),
    loadTimes: { converted: cold, fromCache: warm },
  });
  clearTimeout(hardLimit);
}

runMain(main);
