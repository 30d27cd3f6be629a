#!/usr/bin/env node
// The benchmark harness: runs the HTTP, gRPC, compute and memory benchmarks one after another (each
// starts its own servers and its own limit: bare fastify, bare grpc-js, raw ONNX Runtime) and writes
// one summary of issue #13's targets, every ratio taken within one script's run.
//
//   npm run bench                         everything, full (about 16 min)
//   npm run bench -- --long-rss           ... plus 10 min of RSS growth under 64 connections
//   npm run bench -- --quick              smoke run of everything (about 2 min)
//   npm run bench -- --only http,compute  a subset
//   npm run bench -- --quick --duration 1 --rounds 1 --out DIR   shorter still (CI's smoke run)
//
// --quick, --duration and --rounds are passed to every script. Each script's own tables land next to
// the summary: benchmarks/results/{http,grpc,compute}-<time>.{md,json} and summary-<time>.{md,json}.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, ROOT, fmt, gitCommit, machineInfo, printReport, runMain, runMeta, writeResults } from './lib.mjs';

const SCRIPTS = {
  http: 'http.mjs',
  grpc: 'grpc.mjs',
  compute: 'compute.mjs',
  memory: 'memory.mjs',
};

/**
 * "Today" for the issue's "p50 at 1 connection: no worse than today" row: the last full run before
 * issue #13's changes, committed under results/ (read from there, so the figure can be traced).
 */
const BEFORE = { http: 'http-2026-11-22T09-23-26Z.json', compute: 'compute-2026-11-22T09-29-25Z.json' };

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string' },
    'long-rss': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'Usage: npm run bench [-- --quick] [--duration SEC] [--rounds N] [--only http,grpc,compute,memory] [--out DIR] [--long-rss]\n' +
      '  Runs benchmarks/{http,grpc,compute,memory}.mjs in turn and sums up the targets of issue #13.\n' +
      '  --out DIR writes the results there instead of benchmarks/results/.\n' +
      '  --long-rss adds the 10-minute RSS growth run under 64 connections to memory.mjs (long: run it once).\n' +
      '  Needs wrk and h2load (Debian: apt-get install wrk nghttp2-client; .ci/run installs them).\n' +
      '  Each script has more options of its own: npm run bench:http -- --help (and bench:grpc, bench:compute).\n',
  );
  process.exit(0);
}
const only = (args.only ?? Object.keys(SCRIPTS).join(',')).split(',');
const unknown = only.filter((k) => !(k in SCRIPTS));
if (unknown.length > 0) {
  process.stderr.write(`bench: --only: unknown benchmark(s) ${unknown.join(', ')}; known: ${Object.keys(SCRIPTS).join(', ')}\n`);
  process.exit(2);
}
const passed = [
  ...(args.quick ? ['--quick'] : []),
  ...(args.duration ? ['--duration', args.duration] : []),
  ...(args.rounds ? ['--rounds', args.rounds] : []),
];
if (args.out) process.env.TESSERA_BENCH_RESULTS_DIR = path.resolve(args.out);
const resultsDir = process.env.TESSERA_BENCH_RESULTS_DIR || path.join(BENCH_DIR, 'results');

/**
 * Runs one script with its results sent to a private folder, then moves them beside the summary
 * and returns the parsed JSON (the script's own figures, limits included).
 */
function runScript(key) {
  const own = mkdtempSync(path.join(tmpdir(), `tessera-bench-${key}-`));
  const extra = key === 'memory' && args['long-rss'] ? ['--long-minutes', '10'] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(BENCH_DIR, SCRIPTS[key]), ...passed, ...extra], {
      stdio: 'inherit',
      env: { ...process.env, TESSERA_BENCH_RESULTS_DIR: own },
    });
    const forward = (signal) => child.kill(signal);
    process.once('SIGINT', forward).once('SIGTERM', forward);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward).off('SIGTERM', forward);
      try {
        if (code !== 0) throw new Error(`${SCRIPTS[key]} failed (${signal ?? `exit ${code}`})`);
        const files = readdirSync(own);
        const json = files.find((f) => f.endsWith('.json'));
        if (json === undefined) throw new Error(`${SCRIPTS[key]} wrote no results`);
        mkdirSync(resultsDir, { recursive: true });
        for (const f of files) renameSync(path.join(own, f), path.join(resultsDir, f));
        resolve({ file: json.replace(/\.json$/, ''), data: JSON.parse(readFileSync(path.join(resultsDir, json), 'utf8')) });
      } catch (error) {
        reject(error);
      } finally {
        rmSync(own, { recursive: true, force: true });
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Targets (issue #13), each read from the JSON of the script that measured it and its limit

const atLeast = (target, unit = '') => ({ text: `≥ ${target}${unit}`, met: (v) => v >= target });
const atMost = (target, unit = '') => ({ text: `≤ ${target}${unit}`, met: (v) => v <= target });
const below = (target, unit = '') => ({ text: `< ${target}${unit}`, met: (v) => v < target });

/** A committed results file of the run before issue #13 (null when absent). */
function before(key) {
  try {
    return JSON.parse(readFileSync(path.join(BENCH_DIR, 'results', BEFORE[key]), 'utf8'));
  } catch {
    return null;
  }
}

function targetRows(results) {
  const rows = [];
  /** raw: the figures behind the value (Tessera's and the limit's), shown beside it. */
  const add = (measure, value, goal, raw, shown = fmt(value)) =>
    rows.push({ measure, value, shown, target: goal.text, met: Number.isFinite(value) ? goal.met(value) : null, raw });
  const na = (measure, target, why) => rows.push({ measure, value: null, shown: 'not measured', target, met: null, raw: why });
  const rps = (x) => `${fmt(x, 0)} req/s`;
  const http = results.http?.data;
  const grpc = results.grpc?.data;
  const compute = results.compute?.data;
  const memory = results.memory?.data;
  // Tessera's default worker count is cores - 1 (at least 1); the HTTP script measures w=1 and w=2.
  const key = http ? `w${Math.min(2, Math.max(1, http.machine.cores - 1))}` : 'w1';
  if (http) {
    for (const s of http.scenarios.filter((x) => x.connections >= 16)) {
      const t = s.results[key];
      add(`REST iris ÷ bare fastify, ${s.connections} connections (${key})`, t?.ratioToBare, atLeast(0.7), `${rps(t?.rps)} vs ${rps(s.results.bare.rps)}`);
    }
  }
  if (grpc) {
    for (const s of grpc.scenarioA.results) {
      const goal = s.streams === 1 ? atLeast(0.5) : atLeast(0.7);
      add(`gRPC iris ÷ bare grpc-js, ${s.streams} stream${s.streams === 1 ? '' : 's'}`, s.ratioRps, goal, `${rps(s.tessera.rps)} vs ${rps(s.bare.rps)}`);
    }
  }
  if (compute) {
    const h = compute.http;
    const c64 = h.scenarios.find((x) => x.connections === 64)?.results;
    add('mlp, 64 connections of 1-row requests, batching on ÷ off', h.batchingOnVsOffC64, atLeast(3, '×'), `${fmt(c64?.batch?.rps, 0)} vs ${fmt(c64?.plain?.rps, 0)} rows/s`, `${fmt(h.batchingOnVsOffC64)}×`);
    const raw = compute.rawOrt;
    const bound = compute.computeBound;
    for (const [k, name] of [['grpc', 'raw gRPC'], ['http', 'binary HTTP']]) {
      add(
        `compute-bound: mlp, ${bound.rows}-row requests over ${name} ÷ raw ORT best batch`,
        bound[k].ratioToRawBest,
        atLeast(0.9),
        `${fmt(bound[k].rowsPerSec, 0)} vs ${fmt(raw.bestRowsPerSec, 0)} rows/s (raw batch ${raw.bestBatch})`,
      );
    }
    const busy = compute.readyUnderLoad.busy;
    add('/v2/health/ready p99 while every worker is saturated', busy.p99, below(10, ' ms'), `p50 ${fmt(busy.p50, 3)} ms; ${fmt(compute.readyUnderLoad.background.rps, 0)} mlp rows/s meanwhile`, `${fmt(busy.p99, 3)} ms`);
  }
  // p50 at 1 connection against the run before issue #13 (committed; cross-run, so +10 % is allowed for noise).
  const oldHttp = before('http');
  const oldCompute = before('compute');
  if (http) {
    const now = http.scenarios.find((x) => x.connections === 1)?.results[key];
    const then = oldHttp?.scenarios.find((x) => x.connections === 1)?.results[key];
    if (now && then) add(`p50 at 1 connection, REST iris (${key}), ÷ before #13`, now.p50 / then.p50, atMost(1.1), `${fmt(now.p50, 3)} ms now vs ${fmt(then.p50, 3)} ms in ${BEFORE.http}`);
    const ratio = now ? now.p99 / now.p50 : NaN;
    add('p99 ÷ p50 at 1 connection, REST iris', ratio, atMost(2, '×'), now ? `p99 ${fmt(now.p99, 3)} ms, p50 ${fmt(now.p50, 3)} ms` : '', `${fmt(ratio)}×`);
  }
  if (compute) {
    const now = compute.http.scenarios.find((x) => x.connections === 1)?.results.plain;
    const then = oldCompute?.http.scenarios.find((x) => x.connections === 1)?.results.plain;
    if (now && then) add('p50 at 1 connection, mlp (no batching), ÷ before #13', now.p50 / then.p50, atMost(1.1), `${fmt(now.p50, 3)} ms now vs ${fmt(then.p50, 3)} ms in ${BEFORE.compute}`);
  }
  if (grpc) {
    const a2 = grpc.scenarioA2;
    na('gRPC at 1 stream, identity: Tessera ÷ MLServer with workers=0', '≥ 1.5×',
      `MLServer cannot be installed here (no PyPI; Debian has no pydantic v2). Tessera: ${rps(a2.tessera.rps)}, p50 ${fmt(a2.tessera.p50, 3)} / p99 ${fmt(a2.tessera.p99, 3)} ms; ÷ bare grpc-js ${fmt(a2.ratioRps)} (${rps(a2.bare.rps)})`);
    const c = grpc.scenarioC;
    rows.push({ measure: 'small requests while 16 MiB JSON requests run: REST iris p99 (c=1)', value: c.during.p99, shown: `${fmt(c.during.p99, 3)} ms`, target: '(measured)', met: null, raw: `alone ${fmt(c.alone.p99, 3)} ms; ${c.bigRequests} big requests of ${fmt(c.bigMeanMs, 0)} ms` });
  }
  if (memory) {
    add('RSS of the process tree at idle, bundled models', memory.bundled.rssMiB, below(200, ' MiB'),
      `no model ${fmt(memory.empty.rssMiB, 1)} MiB; ONNX Runtime itself +${fmt(memory.runtime?.costMiB ?? NaN, 1)}; then per model: ${memory.perModel.map((m) => `${m.model} +${fmt(m.costMiB, 1)}`).join(', ')}`, `${fmt(memory.bundled.rssMiB, 1)} MiB`);
    if (memory.long) {
      add(`RSS growth after ${memory.long.minutes} min at 64 connections`, memory.long.growth, { text: '< 5 %', met: (v) => v < 0.05 }, `${fmt(memory.long.samples.find((x) => x.seconds === memory.long.referenceSeconds)?.rssMiB, 1)} → ${fmt(memory.long.samples.at(-1).rssMiB, 1)} MiB`, `${fmt(memory.long.growth * 100, 1)} %`);
    } else {
      na(`RSS growth after 10 min at 64 connections`, '< 5 %', 'long run not part of this invocation (npm run bench -- --long-rss)');
    }
  }
  return rows;
}

async function main() {
  const started = new Date();
  // The compiled server is what is measured (bin/tessera.mjs runs dist/ when it is fresh).
  const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('the build (scripts/build.mjs) failed');
  const machine = machineInfo();
  const commit = gitCommit(['src', 'bin', 'settings']);
  process.stdout.write(`Tessera benchmarks (${args.quick ? 'quick' : 'full'}): ${only.join(', ')}\n\n`);
  const results = {};
  for (const key of only) {
    process.stdout.write(`\n======== ${SCRIPTS[key]} ========\n`);
    results[key] = await runScript(key);
  }
  const rows = targetRows(results);
  const verdict = (m) => (m === null ? 'n/a' : m ? 'met' : '**missed**');
  const md = printReport([
    `# Tessera benchmark summary — ${started.toISOString()}${args.quick ? ' (quick)' : ''}`,
    '',
    `- Machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}, ${machine.platform}`,
    `- Commit: ${commit ?? 'unknown'}`,
    `- Each ratio is Tessera against the limit measured in the same script run; the tables are in ` +
      Object.values(results).map((r) => `\`${r.file}.md\``).join(', ') + '.',
    ...(args.quick ? ['- Quick mode: short runs, for checking that the harness works, not for figures.'] : []),
    '',
    '| measure | value | target | | figures (Tessera vs the limit measured in the same run) |',
    '|---|---:|---:|---|---|',
    ...rows.map((r) => `| ${r.measure} | ${r.shown} | ${r.target} | ${verdict(r.met)} | ${r.raw ?? ''} |`),
    '',
    ...(results.compute ? [`Start-up to ready (bundled models): median ${fmt(results.compute.data.startup.medianMs, 0)} ms.`, ''] : []),
    '`n/a`: not measurable in this run (the reason is in the row). "before #13": the committed results of the last run before issue #13 (cross-run, so 10 % is allowed for noise).',
    '',
  ]);
  writeResults('summary-', started, md, {
    ...runMeta(started, args.quick),
    machine,
    commit,
    files: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.file])),
    targets: rows,
  });
}

runMain(main);
