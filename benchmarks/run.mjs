#!/usr/bin/env node
// HTTP benchmark: Tessera's iris REST path against a bare fastify baseline, and Tessera with 1 vs 2
// inference workers. Load comes from wrk (least distortion on 2 cores, µs percentiles).
//
//   npm run bench                    full run (10 s per wrk run, 2 rounds)
//   npm run bench -- --quick         smoke run (2 s per wrk run, 1 round)
//   npm run bench -- --duration 5 --rounds 3 --connections 16,64
//
// Everything binds to and talks to 127.0.0.1 only. Child servers are killed at the end, on
// SIGINT/SIGTERM and on any error. Results land in benchmarks/results/<timestamp>.{md,json}.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const HOST = '127.0.0.1';
const INFER_PATH = '/v2/models/iris/infer';
const READY_PATH = '/v2/health/ready';
const IRIS_BODY = '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}';

// ---------------------------------------------------------------------------------------------
// Options

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write(
    'Usage: npm run bench [-- --quick] [--duration SEC] [--rounds N] [--connections 1,16,64]\n',
  );
  process.exit(0);
}
const QUICK = args.quick;
const DURATION = Number(args.duration ?? (QUICK ? 2 : 10));
const ROUNDS = Number(args.rounds ?? (QUICK ? 1 : 2));
const WARMUP = QUICK ? 1 : 3;
const CONNECTIONS = (args.connections ?? '1,16,64').split(',').map(Number);
for (const [name, v] of [['duration', DURATION], ['rounds', ROUNDS], ...CONNECTIONS.map((c) => ['connections', c])]) {
  if (!Number.isInteger(v) || v < 1) fail(`--${name} must be a positive integer`);
}
// The w=1 vs w=2 comparison (which decides the documented parallel_workers default) is asked for
// at 16 and 64 connections; measuring w=1 at every level costs little and fills the table.

// ---------------------------------------------------------------------------------------------
// Cleanup: every child (servers and the running wrk) is tracked and killed on the way out.

const children = new Set(); // { name, proc, group }
let cleaning = null;
let interrupted = false;
const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'tessera-bench-'));

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(1);
}

function killGroup(child, signal) {
  try {
    if (child.group) process.kill(-child.proc.pid, signal);
    else child.proc.kill(signal);
  } catch {
    /* already gone */
  }
}

function alive(child) {
  return child.proc.exitCode === null && child.proc.signalCode === null;
}

async function stopChild(child, graceMs = 8000) {
  if (!alive(child)) {
    children.delete(child);
    return;
  }
  const exited = new Promise((resolve) => child.proc.once('exit', resolve));
  killGroup(child, 'SIGTERM');
  const timer = new Promise((resolve) => setTimeout(() => resolve('timeout'), graceMs));
  if ((await Promise.race([exited, timer])) === 'timeout') {
    killGroup(child, 'SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  }
  children.delete(child);
}

function cleanup() {
  cleaning ??= Promise.all([...children].map((c) => stopChild(c))).finally(() => {
    rmSync(tmpDir, { recursive: true, force: true });
  });
  return cleaning;
}

// Last resort if the process exits without awaiting cleanup: synchronous SIGKILL.
process.on('exit', () => {
  for (const child of children) if (alive(child)) killGroup(child, 'SIGKILL');
  rmSync(tmpDir, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}, stopping child processes...\n`);
    cleanup().finally(() => process.exit(130));
  });
}
process.on('uncaughtException', (error) => {
  process.stderr.write(`bench: ${error?.stack ?? error}\n`);
  cleanup().finally(() => process.exit(1));
});
process.on('unhandledRejection', (error) => {
  process.stderr.write(`bench: ${error?.stack ?? error}\n`);
  cleanup().finally(() => process.exit(1));
});

// ---------------------------------------------------------------------------------------------
// wrk

function hasWrk() {
  const r = spawnSync('wrk', ['-v'], { stdio: 'ignore', timeout: 10_000 });
  return !r.error; // wrk -v exits 1 after printing its version; only ENOENT matters
}

function ensureWrk() {
  if (hasWrk()) return;
  process.stdout.write('wrk not found; installing it with apt-get install -y wrk ...\n');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const run = (argv) => {
    const [cmd, ...rest] = [...sudo, ...argv];
    const r = spawnSync(cmd, rest, {
      stdio: 'inherit',
      timeout: 300_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    return !r.error && r.status === 0;
  };
  if (!run(['apt-get', 'install', '-y', 'wrk'])) {
    process.stdout.write('apt-get install failed; running apt-get update and retrying ...\n');
    run(['apt-get', 'update']);
    run(['apt-get', 'install', '-y', 'wrk']);
  }
  if (!hasWrk()) {
    fail(
      'wrk is required and could not be installed automatically.\n' +
        '       Install it yourself (Debian/Ubuntu: `sudo apt-get install -y wrk`) and run again.',
    );
  }
}

function wrkVersion() {
  const r = spawnSync('wrk', ['-v'], { encoding: 'utf8', timeout: 10_000 });
  return ((r.stdout ?? '') + (r.stderr ?? '')).split('\n')[0].trim();
}

const UNIT_MS = { us: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function toMs(text) {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`cannot parse wrk latency "${text}"`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** Parses wrk --latency output. Exported shape: rps, p50/p75/p90/p99 (ms), requests, errors. */
function parseWrk(out) {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`wrk output has no Requests/sec line:\n${out}`);
  const pct = {};
  for (const m of out.matchAll(/^\s+(50|75|90|99)(?:\.000)?%\s+(\S+)/gm)) pct[m[1]] = toMs(m[2]);
  for (const p of ['50', '90', '99']) if (pct[p] === undefined) throw new Error(`wrk output lacks p${p}:\n${out}`);
  const total = /(\d+) requests in ([\d.]+\w+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(rps[1]),
    p50: pct['50'],
    p75: pct['75'] ?? null,
    p90: pct['90'],
    p99: pct['99'],
    requests: total ? Number(total[1]) : null,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock
      ? { connect: Number(sock[1]), read: Number(sock[2]), write: Number(sock[3]), timeout: Number(sock[4]) }
      : null,
  };
}

const LUA = path.join(tmpDir, 'post.lua');
writeFileSync(
  LUA,
  [
    'wrk.method = "POST"',
    'wrk.headers["Content-Type"] = "application/json"',
    `wrk.body = '${IRIS_BODY}'`,
    '',
  ].join('\n'),
);

function runWrk(url, connections, seconds) {
  // One wrk thread: the machine may have only 2 cores, both needed by the server under test.
  const argv = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '--latency', '-s', LUA, url];
  return new Promise((resolve, reject) => {
    const proc = spawn('wrk', argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const child = { name: 'wrk', proc, group: false };
    children.add(child);
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), (seconds + 20) * 1000);
    proc.on('error', (e) => {
      clearTimeout(timer);
      children.delete(child);
      reject(e);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (code !== 0) return reject(new Error(`wrk exited ${code ?? signal}: ${err || out}`));
      try {
        resolve({ ...parseWrk(out), command: `wrk ${argv.join(' ').replace(LUA, 'post.lua')}`, raw: out });
      } catch (e) {
        reject(e);
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Servers

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function startChild(name, argv) {
  // Own process group, so the whole tree can be signalled and a terminal Ctrl-C is handled by us.
  const proc = spawn(process.execPath, argv, {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, NODE_ENV: 'production' },
  });
  const child = { name, proc, group: true, log: '' };
  const keep = (d) => {
    child.log = (child.log + d).slice(-8000);
  };
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  proc.on('error', (e) => keep(`spawn error: ${e.message}\n`));
  children.add(child);
  return child;
}

async function waitReady(child, baseUrl, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(child)) throw new Error(`${child.name} exited early (${child.proc.exitCode ?? child.proc.signalCode}):\n${child.log}`);
    try {
      const res = await fetch(baseUrl + READY_PATH, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (Date.now() >= deadline) throw new Error(`${child.name} not ready after ${timeoutMs / 1000}s:\n${child.log}`);
  // One real request: the route must answer 200 with outputs, or the numbers mean nothing.
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
    argv = [path.join(HERE, 'bare-fastify.mjs'), '--port', String(httpPort), '--host', HOST];
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

function gitCommit() {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return null;
  const commit = r.stdout.trim();
  const s = spawnSync('git', ['status', '--porcelain', '--', 'src', 'bin', 'settings'], { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
  return !s.error && s.status === 0 && s.stdout.trim() ? `${commit} (+ uncommitted changes in src/bin/settings)` : commit;
}

function mean(xs) {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function summarise(runs) {
  const pick = (k) => mean(runs.map((r) => r[k]));
  return {
    rps: pick('rps'),
    rpsMin: Math.min(...runs.map((r) => r.rps)),
    rpsMax: Math.max(...runs.map((r) => r.rps)),
    p50: pick('p50'),
    p90: pick('p90'),
    p99: pick('p99'),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    socketErrors: runs.reduce(
      (a, r) => a + (r.socketErrors ? Object.values(r.socketErrors).reduce((x, y) => x + y, 0) : 0),
      0,
    ),
  };
}

const fmt = (n, d = 2) => n.toFixed(d);

function scenarioTable(connections, rows, bareRps) {
  const lines = [
    `### iris, ${connections} connection${connections === 1 ? '' : 's'}`,
    '',
    '| target | req/s | p50 ms | p90 ms | p99 ms | req/s vs bare |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const { label, s } of rows) {
    const ratio = bareRps ? fmt(s.rps / bareRps) : 'n/a';
    const errs = s.non2xx || s.socketErrors ? ` ⚠ ${s.non2xx} non-2xx, ${s.socketErrors} socket errors` : '';
    lines.push(`| ${label}${errs} | ${fmt(s.rps, 0)} | ${fmt(s.p50, 3)} | ${fmt(s.p90, 3)} | ${fmt(s.p99, 3)} | ${ratio} |`);
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
  ensureWrk();
  const started = new Date();
  const machine = {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
    wrk: wrkVersion(),
  };
  const commit = gitCommit();
  const perRun = DURATION * CONNECTIONS.length * 3 * ROUNDS + WARMUP * 3;
  process.stdout.write(
    `Tessera HTTP benchmark (${QUICK ? 'quick' : 'full'}): ${DURATION}s per run, ${ROUNDS} round(s), ` +
      `connections ${CONNECTIONS.join(',')}; about ${Math.ceil(perRun / 60)} min of load.\n` +
      `Machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}; commit ${commit ?? 'unknown'}\n\n`,
  );

  // Hard upper bound on the whole run, whatever hangs.
  const hardLimit = setTimeout(() => {
    process.stderr.write('bench: overall time limit reached, aborting\n');
    cleanup().finally(() => process.exit(1));
  }, (perRun * 2 + 300) * 1000);
  hardLimit.unref();

  const targets = [
    { key: 'bare', label: 'bare fastify', kind: 'bare' },
    { key: 'w2', label: 'tessera w=2', kind: 'tessera', workers: 2 },
    { key: 'w1', label: 'tessera w=1', kind: 'tessera', workers: 1 },
  ];
  // Started one after another so start-up work does not overlap; idle servers cost ~no CPU.
  for (const t of targets) {
    process.stdout.write(`starting ${t.label} ... `);
    await startTarget(t);
    process.stdout.write(`ready (${t.url}, iris reply ${t.responseBytes} bytes)\n`);
  }
  for (const t of targets) {
    process.stdout.write(`warm-up ${t.label} (${WARMUP}s, 16 connections)\n`);
    await runWrk(t.url, 16, WARMUP);
  }

  const runs = {}; // runs[connections][key] = [result, ...]
  for (const c of CONNECTIONS) {
    runs[c] = Object.fromEntries(targets.map((t) => [t.key, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order each round (ABC, CBA, ...) so drift on a shared box hits all targets alike.
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) {
        const r = await runWrk(t.url, c, DURATION);
        runs[c][t.key].push(r);
        process.stdout.write(
          `  c=${String(c).padStart(2)} round ${round + 1} ${t.label.padEnd(13)} ${fmt(r.rps, 0).padStart(6)} req/s` +
            `  p50 ${fmt(r.p50, 3)}  p90 ${fmt(r.p90, 3)}  p99 ${fmt(r.p99, 3)} ms` +
            (r.non2xx ? `  non-2xx ${r.non2xx}` : '') +
            '\n',
        );
      }
    }
  }

  for (const t of targets) {
    if (!alive(t.child)) throw new Error(`${t.label} died during the run:\n${t.child.log}`);
  }
  await cleanup();

  // Tables
  const scenarios = CONNECTIONS.map((c) => {
    const rows = targets.map((t) => ({ key: t.key, label: t.label, s: summarise(runs[c][t.key]) }));
    return { connections: c, rows };
  });
  const tables = scenarios.map(({ connections, rows }) => scenarioTable(connections, rows, rows[0].s.rps));
  const verdictLines = scenarios
    .filter(({ connections }) => connections >= 16)
    .map(({ connections, rows }) => workersVerdict(connections, rows[1].s, rows[2].s));

  const md = [
    `# Tessera HTTP benchmark — ${started.toISOString()}${QUICK ? ' (quick)' : ''}`,
    '',
    `- Machine: ${machine.cores} cores (os.availableParallelism), ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.platform}`,
    `- Node ${machine.node}; ${machine.wrk}`,
    `- Commit: ${commit ?? 'unknown (git failed)'}`,
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
    'Numbers vary ±10–20 % between runs on a shared box: compare ratios within one run.',
    '',
  ].join('\n');

  process.stdout.write('\n' + md);

  const resultsDir = path.join(HERE, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
  const base = path.join(resultsDir, stamp);
  const json = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
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
  writeFileSync(`${base}.md`, md);
  writeFileSync(`${base}.json`, JSON.stringify(json, null, 2) + '\n');
  process.stdout.write(`\nResults: ${path.relative(ROOT, base)}.md and .json\n`);
  clearTimeout(hardLimit);
}

main().then(
  () => process.exit(0),
  (error) => {
    // After a signal, the killed wrk makes main() fail too: the signal handler already reports and exits.
    if (!interrupted) process.stderr.write(`bench: ${error?.stack ?? error}\n`);
    cleanup().finally(() => process.exit(interrupted ? 130 : 1));
  },
);
