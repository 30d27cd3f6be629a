#!/usr/bin/env node
// Start-up and idle memory of the compiled server (dist/, what the image and `npm start` run)
// against the TypeScript sources run by tsx (how Tessera ran before it had a build):
//
//   node benchmarks/startup.mjs [--runs N] [--workers W] [--idle-ms MS] [--modes compiled,tsx,tsx-cold]
//
// Each run spawns `node bin/tessera.mjs start settings` (every bundled model, mlp included) on free
// loopback ports and measures
//   - ready ms: from spawn to the first 200 of GET /v2/health/ready (polled every 10 ms);
//   - idle RSS and PSS of the whole process tree (the server and any child process, such as the
//     esbuild services tsx starts), read from /proc after --idle-ms at rest; PSS shares pages
//     between processes fairly, so it is the figure to add up.
// Modes (TESSERA_FROM_SOURCE picks the path, see bin/tessera.mjs):
//   compiled   dist/ (built first if stale)
//   tsx        the sources through tsx, with tsx's compile cache warm (a developer's machine)
//   tsx-cold   the same with an empty cache (a fresh TMPDIR each run): what a new container would do
// Modes alternate within every round, so drift on a shared machine hits them alike; the report
// gives medians and each mode's ratio to compiled, within this run.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  HOST, ROOT, fmt, freePort, gitCommit, machineInfo, machineMarkdown, printReport, runMain, setupCleanup,
  startChild, startHardLimit, stopChild, treeMemory, writeResults,
} from './lib.mjs';

const USAGE = `Usage: node benchmarks/startup.mjs [--runs N] [--workers W] [--idle-ms MS] [--modes LIST]
  --runs N       rounds; each round starts every mode once (default 5)
  --workers W    --workers passed to tessera (default: its own default)
  --idle-ms MS   rest after ready before memory is read (default 2000)
  --modes LIST   comma-separated among compiled, tsx, tsx-cold (default all three)`;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    workers: { type: 'string' },
    'idle-ms': { type: 'string', default: '2000' },
    modes: { type: 'string', default: 'compiled,tsx,tsx-cold' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const RUNS = Number(args.runs);
const IDLE_MS = Number(args['idle-ms']);
const MODES = args.modes.split(',').map((m) => m.trim());
for (const m of MODES) if (!['compiled', 'tsx', 'tsx-cold'].includes(m)) throw new Error(`unknown mode ${m}`);
if (!(RUNS >= 1) || !(IDLE_MS >= 0)) throw new Error('--runs must be >= 1 and --idle-ms >= 0');
const READY_TIMEOUT_MS = 120_000;
const POLL_MS = 10;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function oneRun(mode, round) {
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const argv = [path.join(ROOT, 'bin', 'tessera.mjs'), 'start', path.join(ROOT, 'settings'),
    '--host', HOST, '--http-port', String(http), '--grpc-port', String(grpc), '--metrics-port', String(metrics)];
  if (args.workers !== undefined) argv.push('--workers', args.workers);
  // startChild copies process.env at spawn time: set the mode's variables around the call.
  const saved = { from: process.env.TESSERA_FROM_SOURCE, tmp: process.env.TMPDIR };
  const coldTmp = mode === 'tsx-cold' ? mkdtempSync(path.join(os.tmpdir(), 'tessera-startup-tsx-')) : undefined;
  process.env.TESSERA_FROM_SOURCE = mode === 'compiled' ? '0' : '1';
  if (coldTmp !== undefined) process.env.TMPDIR = coldTmp;
  const t0 = performance.now();
  const child = startChild(`tessera ${mode} #${round}`, argv);
  process.env.TESSERA_FROM_SOURCE = saved.from;
  if (saved.from === undefined) delete process.env.TESSERA_FROM_SOURCE;
  if (saved.tmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = saved.tmp;
  try {
    let readyMs;
    for (;;) {
      if (child.proc.exitCode !== null || child.proc.signalCode !== null) throw new Error(`${child.name} exited early:\n${child.log}`);
      const ok = await fetch(`http://${HOST}:${http}/v2/health/ready`, { signal: AbortSignal.timeout(1000) }).then(
        async (res) => {
          await res.arrayBuffer();
          return res.status === 200;
        },
        () => false,
      );
      const elapsed = performance.now() - t0;
      if (ok) {
        readyMs = elapsed;
        break;
      }
      if (elapsed > READY_TIMEOUT_MS) throw new Error(`${child.name}: not ready after ${READY_TIMEOUT_MS / 1000} s:\n${child.log}`);
      await sleep(POLL_MS);
    }
    await sleep(IDLE_MS);
    return { mode, round, readyMs, ...treeMemory(child.proc.pid) };
  } finally {
    await stopChild(child);
    if (coldTmp !== undefined) rmSync(coldTmp, { recursive: true, force: true });
  }
}

async function main() {
  setupCleanup('bench:startup', 'tessera-startup-');
  const limit = startHardLimit((RUNS * MODES.length * (READY_TIMEOUT_MS + IDLE_MS + 10_000)) + 120_000);
  const started = new Date();
  if (MODES.includes('compiled')) {
    const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) throw new Error('npm run build failed');
  }
  const runs = [];
  for (let round = 1; round <= RUNS; round++) {
    // Alternate the order every round (a, b, c then c, b, a) so drift hits every mode alike.
    const order = round % 2 === 1 ? MODES : [...MODES].reverse();
    for (const mode of order) {
      const r = await oneRun(mode, round);
      runs.push(r);
      process.stderr.write(`  ${mode.padEnd(9)} round ${round}: ready ${fmt(r.readyMs, 0)} ms, RSS ${fmt(r.rssMiB, 1)} MiB, PSS ${fmt(r.pssMiB, 1)} MiB (${r.processes.join(', ')})\n`);
    }
  }
  clearTimeout(limit);

  const summary = MODES.map((mode) => {
    const mine = runs.filter((r) => r.mode === mode);
    return {
      mode,
      readyMs: median(mine.map((r) => r.readyMs)),
      rssMiB: median(mine.map((r) => r.rssMiB)),
      pssMiB: median(mine.map((r) => r.pssMiB)),
      processes: median(mine.map((r) => r.processes.length)),
    };
  });
  const base = summary.find((s) => s.mode === 'compiled');
  const ratio = (x, b) => (b === undefined ? 'n/a' : `${fmt(x / b, 2)}×`);
  const machine = machineInfo();
  const commit = gitCommit(['src', 'bin', 'scripts']);
  const md = printReport([
    '# Start-up to ready and idle memory: compiled JS vs tsx',
    '',
    ...machineMarkdown(machine, `${RUNS} rounds, idle ${IDLE_MS} ms, workers ${args.workers ?? 'default'}`, commit),
    '- Command: `node bin/tessera.mjs start settings` (every bundled model), ready = first 200 of `/v2/health/ready`',
    '',
    '| mode | ready ms (median) | vs compiled | idle RSS MiB (tree) | idle PSS MiB (tree) | vs compiled (PSS) | processes |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...summary.map(
      (s) =>
        `| ${s.mode} | ${fmt(s.readyMs, 0)} | ${ratio(s.readyMs, base?.readyMs)} | ${fmt(s.rssMiB, 1)} | ${fmt(s.pssMiB, 1)} | ${ratio(s.pssMiB, base?.pssMiB)} | ${s.processes} |`,
    ),
    '',
  ]);
  writeResults('startup-', started, md, { machine, commit, runs: RUNS, idleMs: IDLE_MS, summary, raw: runs });
}

runMain(main);
