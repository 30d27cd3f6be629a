#!/usr/bin/env node
// The benchmark harness: runs the HTTP, gRPC and compute benchmarks one after another (each starts
// its own servers and its own limit: bare fastify, bare grpc-js, raw ONNX Runtime) and writes one
// summary of the issue's targets, every ratio taken within one script's run.
//
//   npm run bench                         everything, full (about 12 min)
//   npm run bench -- --quick              smoke run of everything (about 2 min)
//   npm run bench -- --only http,compute  a subset
//   npm run bench -- --quick --duration 1 --rounds 1 --out DIR   shorter still (CI's smoke run)
//
// --quick, --duration and --rounds are passed to every script. Each script's own tables land next to
// the summary: benchmarks/results/{http,grpc,compute}-<time>.{md,json} and summary-<time>.{md,json}.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, fmt, gitCommit, machineInfo, printReport, runMain, runMeta, writeResults } from './lib.mjs';

const SCRIPTS = {
  http: 'http.mjs',
  grpc: 'grpc.mjs',
  compute: 'compute.mjs',
};

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    only: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'Usage: npm run bench [-- --quick] [--duration SEC] [--rounds N] [--only http,grpc,compute] [--out DIR]\n' +
      '  Runs benchmarks/{http,grpc,compute}.mjs in turn and sums up the targets.\n' +
      '  --out DIR writes the results there instead of benchmarks/results/.\n' +
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
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(BENCH_DIR, SCRIPTS[key]), ...passed], {
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
// Targets (issue #4), each read from the JSON of the script that measured it and its limit

const atLeast = (target) => ({ text: `≥ ${target}`, met: (v) => v >= target });
const below = (target, unit = '') => ({ text: `< ${target}${unit}`, met: (v) => v < target });

function targetRows(results) {
  const rows = [];
  const add = (measure, value, goal, shown = fmt(value), source) =>
    rows.push({ measure, value, shown, target: goal.text, met: Number.isFinite(value) ? goal.met(value) : null, source });
  const http = results.http;
  if (http) {
    // Tessera's default worker count is cores - 1 (at least 1); the HTTP script measures w=1 and w=2.
    const key = `w${Math.min(2, Math.max(1, http.data.machine.cores - 1))}`;
    for (const s of http.data.scenarios.filter((x) => x.connections >= 16)) {
      add(`REST iris req/s ÷ bare fastify, ${s.connections} connections (${key})`, s.results[key]?.ratioToBare, atLeast(0.7), undefined, http.file);
    }
  }
  const grpc = results.grpc;
  if (grpc) {
    for (const s of grpc.data.scenarioA.results) {
      add(`gRPC iris req/s ÷ bare grpc-js, ${s.streams} stream${s.streams === 1 ? '' : 's'}`, s.ratioRps, atLeast(0.7), undefined, grpc.file);
    }
  }
  const compute = results.compute;
  if (compute) {
    const h = compute.data.http;
    add('mlp with batching ÷ raw ORT best, 32 connections (1-row requests)', h.batchingOnVsRawBest.c32, atLeast(0.9), undefined, compute.file);
    add('mlp with batching ÷ raw ORT best, 64 connections (1-row requests)', h.batchingOnVsRawBest.c64, atLeast(0.9), undefined, compute.file);
    add(
      `mlp with batching ÷ raw ORT best, ${h.multiRow.connections} connections (${h.multiRow.rowsPerRequest}-row requests)`,
      h.multiRow.ratioToRawBest, atLeast(0.9), undefined, compute.file,
    );
    add('mlp batching on ÷ off, 64 connections', h.batchingOnVsOffC64, atLeast(3), `${fmt(h.batchingOnVsOffC64)}×`, compute.file);
    const d = h.p50BatchingOnVsOffC1.relativeDifference;
    add('mlp p50 at 1 connection, batching on vs off', d, { text: '≤ +10 %', met: (v) => v <= 0.1 }, `${d >= 0 ? '+' : ''}${fmt(d * 100, 1)} %`, compute.file);
    const p99 = compute.data.readyUnderLoad.busy.p99;
    add('/v2/health/ready p99, every worker saturated', p99, below(10, ' ms'), `${fmt(p99, 3)} ms`, compute.file);
  }
  return rows;
}

async function main() {
  const started = new Date();
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
    '| measure | value | target | |',
    '|---|---:|---:|---|',
    ...rows.map((r) => `| ${r.measure} | ${r.shown} | ${r.target} | ${verdict(r.met)} |`),
    '',
    ...(results.compute ? [`Start-up to ready (bundled models): median ${fmt(results.compute.data.startup.medianMs, 0)} ms.`, ''] : []),
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
