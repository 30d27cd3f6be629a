#!/usr/bin/env node
// Memory benchmark: the resident memory of Tessera's whole process tree (the server and anything
// it starts), as the compiled server runs (dist/, what `npm start` and the image run; built first
// if stale).
//
//   1. Idle with the bundled models: `bin/tessera.mjs start settings` (every bundled model), RSS
//      and PSS of the tree after --idle-ms at rest, median of --runs starts.
//   2. Per-model cost: the same server on an empty repository; on a repository of one tiny probe
//      model (a renamed copy of identity_fp32), whose cost over the empty server is ONNX Runtime's
//      own (its native library and a session in the worker, paid once whatever the models); then on
//      the probe plus each bundled model: a model's cost is that RSS minus the probe's alone
//      (measured against the empty server instead, every model would carry the runtime's cost, and
//      the costs would not add up to the bundled total). Plus iris after 2,000 requests
//      (its main-thread session for inline execution made by then).
//   3. (--long-minutes M, off by default: it is long) RSS growth under load: the bundled settings,
//      wrk -c48 on REST iris and -c16 on mlp at once (64 connections) for M minutes, RSS sampled
//      every 30 s; growth = last sample ÷ the first sample after the first minute (warm-up) - 1.
//
//   node benchmarks/memory.mjs [--runs N] [--idle-ms MS] [--long-minutes M] [--quick]
//   npm run bench -- --long-rss      runs all the benchmarks and this with --long-minutes 10
//
// Everything binds to and talks to 127.0.0.1 only. Results: benchmarks/results/memory-<time>.{md,json}.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  HOST, ROOT, alive, fmt, freePort, gitCommit, hasWrk, machineInfo, machineMarkdown, printReport, requireTool, runMain,
  runMeta, runWrk, setupCleanup, startChild, startHardLimit, stopChild, tmpPath, treeMemory, waitUntil, writeResults,
} from './lib.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    'idle-ms': { type: 'string' },
    'long-minutes': { type: 'string', default: '0' },
    duration: { type: 'string' }, // accepted (run.mjs passes it on); not used
    rounds: { type: 'string' }, // likewise
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write('Usage: node benchmarks/memory.mjs [--quick] [--runs N] [--idle-ms MS] [--long-minutes M]\n');
  process.exit(0);
}
const RUNS = Number(args.runs ?? (args.quick ? 1 : 3));
const IDLE_MS = Number(args['idle-ms'] ?? (args.quick ? 1000 : 3000));
const LONG_MINUTES = Number(args['long-minutes']);
const SAMPLE_SECONDS = 30;
const IRIS_BODY = '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}';
const MLP_BODY = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 256], datatype: 'FP32', data: Array(256).fill(0.5) }] });
const SETTINGS = path.join(ROOT, 'settings');
const MODELS_DIR = path.join(SETTINGS, 'models');

setupCleanup('bench:memory', 'tessera-bench-memory-');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Starts the compiled server on `folder`; resolves once it answers (ready, or live for an empty repository). */
async function start(name, folder, { empty = false } = {}) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const argv = [path.join(ROOT, 'bin', 'tessera.mjs'), 'start', folder, '--host', HOST,
    '--http-port', String(http), '--grpc-port', String(grpc), '--metrics-port', String(metrics), '--log-level', 'warn'];
  const saved = process.env.TESSERA_FROM_SOURCE;
  process.env.TESSERA_FROM_SOURCE = '0'; // the compiled server, whatever the checkout's state
  const child = startChild(name, argv);
  if (saved === undefined) delete process.env.TESSERA_FROM_SOURCE;
  else process.env.TESSERA_FROM_SOURCE = saved;
  const base = `http://${HOST}:${http}`;
  const route = empty ? '/v2/health/live' : '/v2/health/ready';
  await waitUntil(child, async () => (await fetch(base + route, { signal: AbortSignal.timeout(2000) })).status === 200, 120_000, `GET ${route} = 200`);
  return { child, base };
}

/** Idle memory of one start on `folder` (median over runs happens in the caller). */
async function idle(name, folder, options = {}) {
  const server = await start(name, folder, options);
  try {
    if (options.before !== undefined) await options.before(server);
    await sleep(IDLE_MS);
    return treeMemory(server.child.proc.pid);
  } finally {
    await stopChild(server.child);
  }
}

async function medianIdle(name, folder, options = {}) {
  const samples = [];
  for (let i = 0; i < RUNS; i++) samples.push(await idle(`${name} #${i + 1}`, folder, options));
  return { rssMiB: median(samples.map((s) => s.rssMiB)), pssMiB: median(samples.map((s) => s.pssMiB)), processes: samples[0].processes, samples };
}

/** The probe model of the per-model costs: identity_fp32 under another name. */
const PROBE = 'runtime_probe';

/** A repository folder with only the named bundled models (copies: the server never writes them), and the probe if asked. */
function repositoryOf(names, { probe = false } = {}) {
  const dir = tmpPath(`repo-${[...(probe ? [PROBE] : []), ...names].join('-') || 'empty'}`);
  mkdirSync(dir, { recursive: true });
  for (const n of names) cpSync(path.join(MODELS_DIR, n), path.join(dir, n), { recursive: true });
  if (probe) {
    const folder = path.join(dir, PROBE);
    cpSync(path.join(MODELS_DIR, 'identity_fp32'), folder, { recursive: true });
    const settingsFile = path.join(folder, 'model-settings.json');
    writeFileSync(settingsFile, JSON.stringify({ ...JSON.parse(readFileSync(settingsFile, 'utf8')), name: PROBE }));
  }
  return dir;
}

async function post(url, body, count) {
  for (let i = 0; i < count; i++) {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  }
}

async function longRun(minutes) {
  const server = await start('tessera (long run)', SETTINGS);
  const iris = tmpPath('iris.lua');
  const mlp = tmpPath('mlp.lua');
  writeFileSync(iris, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '${IRIS_BODY}'\n`);
  writeFileSync(mlp, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[${MLP_BODY}]==]\n`);
  const samples = [{ seconds: 0, ...treeMemory(server.child.proc.pid) }];
  const chunks = Math.round((minutes * 60) / SAMPLE_SECONDS);
  let requests = 0;
  let errors = 0;
  try {
    for (let i = 1; i <= chunks; i++) {
      const [a, b] = await Promise.all([
        runWrk(`${server.base}/v2/models/iris/infer`, 48, SAMPLE_SECONDS, iris),
        runWrk(`${server.base}/v2/models/mlp/infer`, 16, SAMPLE_SECONDS, mlp),
      ]);
      requests += (a.requests ?? 0) + (b.requests ?? 0);
      errors += a.non2xx + b.non2xx;
      if (!alive(server.child)) throw new Error(`tessera died during the long run:\n${server.child.log}`);
      const m = treeMemory(server.child.proc.pid);
      samples.push({ seconds: i * SAMPLE_SECONDS, ...m, irisRps: a.rps, mlpRps: b.rps });
      process.stdout.write(`  ${String(i * SAMPLE_SECONDS).padStart(4)} s: RSS ${fmt(m.rssMiB, 1)} MiB, PSS ${fmt(m.pssMiB, 1)} MiB (iris ${fmt(a.rps, 0)} req/s, mlp ${fmt(b.rps, 0)} req/s)\n`);
    }
  } finally {
    await stopChild(server.child);
  }
  // The first sample after one minute is the reference: start-up and warm-up growth is not a leak.
  const reference = samples.find((s) => s.seconds >= 60) ?? samples[samples.length - 1];
  const last = samples[samples.length - 1];
  return { minutes, sampleSeconds: SAMPLE_SECONDS, connections: { iris: 48, mlp: 16 }, requests, errors, samples, referenceSeconds: reference.seconds, growth: last.rssMiB / reference.rssMiB - 1 };
}

async function main() {
  requireTool('wrk', 'wrk', hasWrk);
  const started = new Date();
  const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('the build (scripts/build.mjs) failed');
  const bundled = readdirSync(MODELS_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const limit = startHardLimit(((bundled.length + 4) * RUNS * 150 + LONG_MINUTES * 120 + 300) * 1000);
  process.stdout.write(`Tessera memory benchmark: ${RUNS} run(s) per configuration, ${IDLE_MS} ms idle; models ${bundled.join(', ')}` +
    (LONG_MINUTES > 0 ? `; then ${LONG_MINUTES} min under load` : '') + '\n');

  const all = await medianIdle('tessera (bundled models)', SETTINGS);
  process.stdout.write(`  bundled models: RSS ${fmt(all.rssMiB, 1)} MiB, PSS ${fmt(all.pssMiB, 1)} MiB (${all.processes.join(', ')})\n`);
  const empty = await medianIdle('tessera (no model)', repositoryOf([]), { empty: true });
  process.stdout.write(`  no model: RSS ${fmt(empty.rssMiB, 1)} MiB\n`);
  const probe = await medianIdle(`tessera (${PROBE})`, repositoryOf([], { probe: true }));
  const runtimeMiB = probe.rssMiB - empty.rssMiB;
  process.stdout.write(`  ONNX Runtime (a tiny probe model): RSS ${fmt(probe.rssMiB, 1)} MiB (+${fmt(runtimeMiB, 1)} MiB over no model)\n`);
  const perModel = [];
  for (const name of bundled) {
    const m = await medianIdle(`tessera (${PROBE} + ${name})`, repositoryOf([name], { probe: true }));
    perModel.push({ model: name, rssMiB: m.rssMiB, pssMiB: m.pssMiB, costMiB: m.rssMiB - probe.rssMiB });
    process.stdout.write(`  ${name}: RSS ${fmt(m.rssMiB, 1)} MiB (+${fmt(m.rssMiB - probe.rssMiB, 1)} MiB over the probe alone)\n`);
  }
  const irisRepo = repositoryOf(['iris'], { probe: true });
  const irisInline = await medianIdle('tessera (iris, after 2000 requests)', irisRepo, {
    before: (server) => post(`${server.base}/v2/models/iris/infer`, IRIS_BODY, 2000),
  });
  const irisIdle = perModel.find((m) => m.model === 'iris');
  process.stdout.write(`  iris after 2000 requests: RSS ${fmt(irisInline.rssMiB, 1)} MiB\n`);

  let long = null;
  if (LONG_MINUTES > 0) {
    process.stdout.write(`\nRSS under load: ${LONG_MINUTES} min, wrk -c48 iris + -c16 mlp\n`);
    long = await longRun(LONG_MINUTES);
    process.stdout.write(`  growth ${fmt(long.growth * 100, 1)} % (from ${long.referenceSeconds} s to the end)\n`);
  }
  clearTimeout(limit);

  const machine = machineInfo();
  const commit = gitCommit(['src', 'bin', 'settings']);
  const md = printReport([
    `# Tessera memory benchmark — ${started.toISOString()}${args.quick ? ' (quick)' : ''}`,
    '',
    ...machineMarkdown(machine, `${RUNS} run(s) per configuration, ${IDLE_MS} ms idle before reading`, commit),
    '- The compiled server (`bin/tessera.mjs start`, dist/), default workers; RSS and PSS summed over the whole process tree (/proc/PID/smaps_rollup).',
    '',
    '## Idle',
    '',
    '| configuration | RSS MiB | PSS MiB | cost, MiB |',
    '|---|---:|---:|---:|',
    `| every bundled model (${bundled.length}) | ${fmt(all.rssMiB, 1)} | ${fmt(all.pssMiB, 1)} | ${fmt(all.rssMiB - empty.rssMiB, 1)} over no model |`,
    `| no model | ${fmt(empty.rssMiB, 1)} | ${fmt(empty.pssMiB, 1)} | — |`,
    `| ${PROBE} (identity_fp32 renamed): ONNX Runtime loaded | ${fmt(probe.rssMiB, 1)} | ${fmt(probe.pssMiB, 1)} | ${fmt(runtimeMiB, 1)} over no model |`,
    ...perModel.map((m) => `| ${PROBE} + ${m.model} | ${fmt(m.rssMiB, 1)} | ${fmt(m.pssMiB, 1)} | ${fmt(m.costMiB, 1)} over the probe |`),
    `| ${PROBE} + iris, after 2,000 iris requests (inline session made) | ${fmt(irisInline.rssMiB, 1)} | ${fmt(irisInline.pssMiB, 1)} | ${fmt(irisInline.rssMiB - (irisIdle?.rssMiB ?? NaN), 1)} over idle |`,
    '',
    ...(long
      ? [
          `## RSS under load (${long.minutes} min, wrk -c48 REST iris + -c16 REST mlp)`,
          '',
          `Growth from ${long.referenceSeconds} s to the end: **${fmt(long.growth * 100, 1)} %** (${long.requests} requests, ${long.errors} non-2xx).`,
          '',
          '| seconds | RSS MiB | PSS MiB | iris req/s | mlp req/s |',
          '|---:|---:|---:|---:|---:|',
          ...long.samples.map((s) => `| ${s.seconds} | ${fmt(s.rssMiB, 1)} | ${fmt(s.pssMiB, 1)} | ${fmt(s.irisRps ?? NaN, 0)} | ${fmt(s.mlpRps ?? NaN, 0)} |`),
          '',
        ]
      : ['(RSS under load not measured in this run: `--long-minutes M`, or `npm run bench -- --long-rss`.)', '']),
  ]);
  writeResults('memory-', started, md, {
    ...runMeta(started, args.quick),
    machine,
    commit,
    runs: RUNS,
    idleMs: IDLE_MS,
    bundled: { models: bundled, ...all },
    empty,
    runtime: { model: PROBE, ...probe, costMiB: runtimeMiB },
    perModel,
    irisAfterRequests: { requests: 2000, ...irisInline },
    long,
  });
}

runMain(main);
