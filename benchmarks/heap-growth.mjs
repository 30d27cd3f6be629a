#!/usr/bin/env node
// Heap growth: what `heap_growing_percent` trades. V8's adaptive growing factor (0) lets the main
// heap grow under steady traffic for minutes, to ~4x what survives a collection; a fixed factor
// keeps the heap near its live data and collects more often. For each setting, one compiled
// server (iris on 127.0.0.1) takes
//   - small requests: wrk, 16 connections on REST iris (2 rows) for --seconds; the server's RSS is
//     sampled every second, its main V8 heap (committed, used) every 5 s from its /metrics;
//   - large requests: wrk, 4 connections, 8192-row iris requests (~330 KB of JSON) for half as long.
// Settings are measured in one run, their order reversed each round, so ratios against V8's
// adaptive factor are taken under the same machine conditions.
//
//   node benchmarks/heap-growth.mjs [--percents 0,30,100] [--seconds 120] [--rounds 1] [--quick]
//
// Results: benchmarks/results/heap-growth-<time>.{md,json}.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  HOST, ROOT, fmt, freePort, gitCommit, hasWrk, machineInfo, machineMarkdown, requireTool, runMain, runMeta, runWrk,
  setupCleanup, startChild, startHardLimit, stopChild, tmpPath, treeMemory, waitUntil, wrkVersion, writeResults,
} from './lib.mjs';
import { mainHeap } from '../scripts/server-process.mjs';

const { values: args } = parseArgs({
  options: {
    percents: { type: 'string', default: '0,30,100' },
    seconds: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write('node benchmarks/heap-growth.mjs [--percents 0,30,100] [--seconds 120] [--rounds 1] [--quick]\n');
  process.exit(0);
}
const PERCENTS = args.percents.split(',').map(Number);
const SECONDS = Number(args.seconds ?? (args.quick ? 10 : 120));
const ROUNDS = Number(args.rounds);
for (const p of PERCENTS) if (!Number.isInteger(p) || p < 0 || p > 300) throw new Error(`--percents: ${p} is not a whole number from 0 to 300`);
if (!(SECONDS >= 4) || !(ROUNDS >= 1)) throw new Error('--seconds must be at least 4 and --rounds at least 1');

setupCleanup('bench:heap-growth', 'tessera-bench-heap-');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
};
const MiB = 1024 * 1024;

function irisBody(rows) {
  const data = [];
  for (let i = 0; i < rows; i++) data.push(5.1 + (i % 7) / 10, 3.5, 1.4 + (i % 5) / 10, 0.2);
  return JSON.stringify({ inputs: [{ name: 'input', shape: [rows, 4], datatype: 'FP32', data }] });
}

function luaPost(name, body) {
  const file = tmpPath(name);
  writeFileSync(file, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[${body}]==]\n`);
  return file;
}

async function start(percent, repo) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const argv = [path.join(ROOT, 'bin', 'tessera.mjs'), 'start', repo, '--host', HOST,
    '--http-port', String(http), '--grpc-port', String(grpc), '--metrics-port', String(metrics), '--log-level', 'warn'];
  const saved = { from: process.env.TESSERA_FROM_SOURCE, percent: process.env.TESSERA_HEAP_GROWING_PERCENT };
  process.env.TESSERA_FROM_SOURCE = '0'; // the compiled server, whatever the checkout's state
  process.env.TESSERA_HEAP_GROWING_PERCENT = String(percent);
  const child = startChild(`tessera (heap_growing_percent ${percent})`, argv);
  for (const [key, value] of [['TESSERA_FROM_SOURCE', saved.from], ['TESSERA_HEAP_GROWING_PERCENT', saved.percent]]) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  const base = `http://${HOST}:${http}`;
  await waitUntil(child, async () => (await fetch(`${base}/v2/health/ready`, { signal: AbortSignal.timeout(2000) })).status === 200, 120_000, 'ready');
  return { child, base, metricsUrl: `http://${HOST}:${metrics}/metrics` };
}

async function measure(percent, repo, small, large) {
  const server = await start(percent, repo);
  try {
    const pid = server.child.proc.pid;
    const rss = [];
    const heaps = [];
    let tick = 0;
    const started = performance.now();
    const sampler = setInterval(() => {
      const at = (performance.now() - started) / 1000;
      rss.push({ at, mib: treeMemory(pid).rssMiB });
      if (tick++ % 5 === 0) void mainHeap(server.metricsUrl).then((h) => h !== undefined && heaps.push({ at, ...h }));
    }, 1000);
    let smallRun;
    try {
      smallRun = await runWrk(`${server.base}/v2/models/iris/infer`, 16, SECONDS, small);
    } finally {
      clearInterval(sampler);
    }
    await sleep(200);
    // RSS growth over the run from its first sixth on (start-up and the first requests left out).
    const from = rss.filter((s) => s.at >= SECONDS / 6 && s.at < SECONDS / 6 + 5).map((s) => s.mib);
    const end = rss.slice(-5).map((s) => s.mib);
    const lateHeaps = heaps.filter((h) => h.at >= SECONDS / 2);
    const before = treeMemory(pid).rssMiB;
    const largeRun = await runWrk(`${server.base}/v2/models/iris/infer`, 4, Math.max(2, Math.round(SECONDS / 2)), large);
    const after = treeMemory(pid).rssMiB;
    const result = {
      percent,
      small: { rps: smallRun.rps, p50: smallRun.p50, p99: smallRun.p99, non2xx: smallRun.non2xx, command: smallRun.command },
      rss: { fromMiB: median(from), endMiB: median(end), maxMiB: Math.max(...rss.map((s) => s.mib)), growth: median(end) / median(from) - 1 },
      heap: {
        committedEndMiB: median(lateHeaps.map((h) => h.total)) / MiB,
        lowestUsedMiB: Math.min(...lateHeaps.map((h) => h.used)) / MiB,
      },
      large: { rps: largeRun.rps, p50: largeRun.p50, p99: largeRun.p99, non2xx: largeRun.non2xx, rssBeforeMiB: before, rssAfterMiB: after, command: largeRun.command },
    };
    process.stdout.write(`  ${String(percent).padStart(3)} %: small ${fmt(result.small.rps, 0)} req/s (p50 ${fmt(result.small.p50, 3)}, p99 ${fmt(result.small.p99, 3)} ms), ` +
      `RSS ${fmt(result.rss.fromMiB, 1)} -> ${fmt(result.rss.endMiB, 1)} MiB (${fmt(result.rss.growth * 100, 1)} %), heap ${fmt(result.heap.committedEndMiB, 1)} MiB committed / ${fmt(result.heap.lowestUsedMiB, 1)} lowest used; ` +
      `large ${fmt(result.large.rps, 1)} req/s (p99 ${fmt(result.large.p99, 1)} ms), RSS after ${fmt(after, 1)} MiB\n`);
    return result;
  } finally {
    await stopChild(server.child);
  }
}

async function main() {
  requireTool('wrk', 'wrk', hasWrk);
  const started = new Date();
  const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('the build (scripts/build.mjs) failed');
  const limit = startHardLimit((PERCENTS.length * ROUNDS * (SECONDS * 1.5 + 90) + 60) * 1000);
  const repo = tmpPath('repo');
  mkdirSync(repo);
  cpSync(path.join(ROOT, 'settings', 'models', 'iris'), path.join(repo, 'iris'), { recursive: true });
  const small = luaPost('small.lua', irisBody(2));
  const large = luaPost('large.lua', irisBody(8192));
  process.stdout.write(`Tessera heap growth: heap_growing_percent ${PERCENTS.join(', ')}; ${SECONDS} s small + ${Math.round(SECONDS / 2)} s large each, ${ROUNDS} round(s)\n`);
  const runs = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? PERCENTS : [...PERCENTS].reverse();
    for (const percent of order) runs.push({ round, ...(await measure(percent, repo, small, large)) });
  }
  clearTimeout(limit);

  const base = PERCENTS[0];
  const avg = (percent, pick) => {
    const xs = runs.filter((r) => r.percent === percent).map(pick);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  const machine = machineInfo();
  const commit = gitCommit(['src', 'benchmarks']);
  const lines = [
    `# Heap growth (heap_growing_percent) — ${started.toISOString()}`,
    '',
    ...machineMarkdown(machine, wrkVersion(), commit),
    `- ${SECONDS} s of 2-row REST iris requests at 16 connections, then ${Math.round(SECONDS / 2)} s of 8192-row requests at 4 connections, per setting and round (${ROUNDS}); one server per setting; means over rounds.`,
    `- RSS growth: median of the last 5 samples ÷ median of 5 samples from ${fmt(SECONDS / 6, 0)} s. Heap: the main thread's, from the second half of the small-request run.`,
    `- Commands: \`${runs[0].small.command}\`, \`${runs[0].large.command}\`.`,
    '',
    `| heap_growing_percent | small req/s | ÷ ${base} | p50 ms | p99 ms | RSS from → end MiB | RSS growth | heap committed MiB | heap lowest used MiB | large req/s | ÷ ${base} | large p99 ms | RSS after large MiB |`,
    '|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|',
    ...PERCENTS.map((p) => `| ${p === 0 ? '0 (V8 adaptive)' : p} | ${fmt(avg(p, (r) => r.small.rps), 0)} | ${fmt(avg(p, (r) => r.small.rps) / avg(base, (r) => r.small.rps))} | ${fmt(avg(p, (r) => r.small.p50), 3)} | ${fmt(avg(p, (r) => r.small.p99), 3)} | ` +
      `${fmt(avg(p, (r) => r.rss.fromMiB), 1)} → ${fmt(avg(p, (r) => r.rss.endMiB), 1)} | ${fmt(avg(p, (r) => r.rss.growth) * 100, 1)} % | ${fmt(avg(p, (r) => r.heap.committedEndMiB), 1)} | ${fmt(avg(p, (r) => r.heap.lowestUsedMiB), 1)} | ` +
      `${fmt(avg(p, (r) => r.large.rps), 1)} | ${fmt(avg(p, (r) => r.large.rps) / avg(base, (r) => r.large.rps))} | ${fmt(avg(p, (r) => r.large.p99), 1)} | ${fmt(avg(p, (r) => r.large.rssAfterMiB), 1)} |`),
    '',
  ];
  const md = lines.join('\n');
  process.stdout.write(`\n${md}`);
  writeResults('heap-growth-', started, md, { ...runMeta(started, args.quick), machine, commit, seconds: SECONDS, rounds: ROUNDS, runs });
}

runMain(main);
