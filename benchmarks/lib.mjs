// Plumbing shared by the benchmark scripts run.mjs (HTTP, wrk), grpc.mjs (gRPC, h2load) and
// compute.mjs (model compute, wrk): options, child processes and their cleanup, readiness, tool
// installation, wrk runs and their parsing, machine/commit info, the rounds loop and results files.
// What a script measures and how it reports it stays in the script.
//
// The child-process helpers keep one registry per benchmark process (module state): call
// setupCleanup() once, first thing, before anything is spawned.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

// benchmarks/ (helper servers, results/) and the repository root (cwd of Tessera, git commands).
export const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(BENCH_DIR, '..');
// Everything binds to and talks to loopback only, so a run never opens a port to the network.
export const HOST = '127.0.0.1';
// Tessera's readiness route, polled before any load is sent.
const READY_PATH = '/v2/health/ready';

// ---------------------------------------------------------------------------------------------
// Options and errors

let prefix = 'bench'; // the npm script name, on every message to stderr

// Stops the run with a message that names the script (bench / bench:grpc) it came from.
function fail(message) {
  process.stderr.write(`${prefix}: ${message}\n`);
  process.exit(1);
}

// --quick / --duration / --rounds / --help mean the same in both scripts (same defaults); each
// script adds its own options (concurrency levels, ...). Prints the usage and exits on --help.
export function parseBenchArgs(usage, extraOptions) {
  const { values: args } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      ...extraOptions,
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (args.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  const quick = args.quick;
  return {
    args,
    quick,
    duration: Number(args.duration ?? (quick ? 2 : 10)),
    rounds: Number(args.rounds ?? (quick ? 1 : 2)),
    warmup: quick ? 1 : 3,
  };
}

// Concurrency levels are given as a comma-separated list (--connections 1,16,64, --streams ...).
export const parseList = (text) => text.split(',').map(Number);

// Every numeric option is checked before anything starts, so a typo fails at once, not mid-run.
export function requirePositiveIntegers(pairs) {
  for (const [name, v] of pairs) {
    if (!Number.isInteger(v) || v < 1) fail(`--${name} must be a positive integer`);
  }
}

// ---------------------------------------------------------------------------------------------
// Cleanup: every child (servers, load tools, curl) is tracked and killed on the way out.

const children = new Set(); // { name, proc, group, log? }
let tmpPrefix = 'tessera-bench-';
let tmpDir = null;
let cleaning = null;
let interrupted = false;

// Signals a child, or its whole process group when it was started in one (Tessera's workers die too).
function killGroup(child, signal) {
  try {
    if (child.group) process.kill(-child.proc.pid, signal);
    else child.proc.kill(signal);
  } catch {
    /* already gone */
  }
}

// A server that died mid-run makes its numbers meaningless; the scripts check this before reporting.
export function alive(child) {
  return child.proc.exitCode === null && child.proc.signalCode === null;
}

// Throws (with the server's last log lines) if any target's server is gone after the load.
export function assertAlive(targets, during = 'the run') {
  for (const t of targets) {
    if (!alive(t.child)) throw new Error(`${t.label} died during ${during}:\n${t.child.log}`);
  }
}

// Path of a file in this run's private temp dir (made on first use, removed on exit): request
// bodies, h2load logs, ... never collide with another run or stay behind.
export function tmpPath(name) {
  tmpDir ??= mkdtempSync(path.join(os.tmpdir(), tmpPrefix));
  return path.join(tmpDir, name);
}

function removeTmpDir() {
  if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
}

// SIGTERM, then SIGKILL after a grace period: a server that hangs on shutdown cannot hang the run.
export async function stopChild(child, graceMs = 8000) {
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

// Stops every tracked child and removes the temp dir; safe to call from several places at once.
export function cleanup() {
  cleaning ??= Promise.all([...children].map((c) => stopChild(c))).finally(removeTmpDir);
  return cleaning;
}

// Installs the handlers that kill the children on normal exit, Ctrl-C/SIGTERM/SIGHUP and crashes,
// and sets the name used in messages. Called once per script, before anything is spawned.
export function setupCleanup(name, tempDirPrefix) {
  prefix = name;
  tmpPrefix = tempDirPrefix;
  // Last resort if the process exits without awaiting cleanup: synchronous SIGKILL.
  process.on('exit', () => {
    for (const child of children) if (alive(child)) killGroup(child, 'SIGKILL');
    removeTmpDir();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(signal, () => {
      interrupted = true;
      process.stderr.write(`\n${prefix}: ${signal}, stopping child processes...\n`);
      cleanup().finally(() => process.exit(130));
    });
  }
  process.on('uncaughtException', (error) => {
    process.stderr.write(`${prefix}: ${error?.stack ?? error}\n`);
    cleanup().finally(() => process.exit(1));
  });
  process.on('unhandledRejection', (error) => {
    process.stderr.write(`${prefix}: ${error?.stack ?? error}\n`);
    cleanup().finally(() => process.exit(1));
  });
}

// Hard upper bound on the whole run, whatever hangs; clearTimeout() the result when done.
export function startHardLimit(ms) {
  const timer = setTimeout(() => {
    process.stderr.write(`${prefix}: overall time limit reached, aborting\n`);
    cleanup().finally(() => process.exit(1));
  }, ms);
  timer.unref();
  return timer;
}

// Runs main() and exits with 0, or 1 after an error (130 after a signal), children stopped first.
export function runMain(main) {
  main().then(
    () => process.exit(0),
    (error) => {
      // After a signal, the killed load tool makes main() fail too: the signal handler already reports and exits.
      if (!interrupted) process.stderr.write(`${prefix}: ${error?.stack ?? error}\n`);
      cleanup().finally(() => process.exit(interrupted ? 130 : 1));
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Child processes

// Runs a tracked tool (wrk, h2load, curl) to completion with a time limit, so a hung tool is
// killed and a Ctrl-C stops it; resolves { code, out, err } (code: exit code or signal name).
export function runTool(cmd, argv, timeoutMs) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const child = { name: cmd, proc, group: false };
    children.add(child);
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += d));
    proc.stderr.on('data', (d) => (err += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    proc.on('error', (e) => {
      clearTimeout(timer);
      children.delete(child);
      reject(e);
    });
    proc.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      if (timedOut) return reject(new Error(`${cmd} timed out after ${timeoutMs / 1000}s: ${err || out}`));
      resolve({ code: code ?? signal, out, err });
    });
  });
}

// Servers get ports the OS reports free, so no fixed port is needed and runs can share a machine.
export function freePort() {
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

// Starts a tracked Node server (Tessera or a bare baseline) from the repository root, keeping the
// tail of its output for error messages.
export function startChild(name, argv) {
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

// Polls probe() until it is true; fails fast (with the server's log) if the server exits first.
export async function waitUntil(child, probe, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(child)) throw new Error(`${child.name} exited early (${child.proc.exitCode ?? child.proc.signalCode}):\n${child.log}`);
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${child.name}: ${what} not reached after ${timeoutMs / 1000}s:\n${child.log}`);
}

// Load is sent only once the server answers GET /v2/health/ready with 200 (model loaded).
export function waitHttpReady(child, baseUrl, timeoutMs = 90_000) {
  return waitUntil(
    child,
    async () => (await fetch(baseUrl + READY_PATH, { signal: AbortSignal.timeout(2000) })).status === 200,
    timeoutMs,
    `GET ${READY_PATH} = 200`,
  );
}

// The load tools are Debian packages (.ci/run installs them). The benchmarks never install
// anything: a missing tool stops the run with a message saying how to get it.
export function requireTool(tool, aptPackage, isInstalled) {
  if (isInstalled()) return;
  fail(`${tool} is required and is not installed.\n       Install it (Debian/Ubuntu: \`sudo apt-get install -y ${aptPackage}\`; .ci/run does) and run again.`);
}

// ---------------------------------------------------------------------------------------------
// wrk (run.mjs, compute.mjs): the HTTP load tool

export function hasWrk() {
  const r = spawnSync('wrk', ['-v'], { stdio: 'ignore', timeout: 10_000 });
  return !r.error; // wrk -v exits 1 after printing its version; only ENOENT matters
}

export function wrkVersion() {
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
export function parseWrk(out) {
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

// One wrk run against url: GET without a script, else whatever the Lua script sets (method, body).
// Resolves the parsed numbers plus the command (script shown by file name) and wrk's raw output.
export async function runWrk(url, connections, seconds, script = null) {
  // One wrk thread: the machine may have only 2 cores, both needed by the server under test.
  const argv = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '--latency', ...(script ? ['-s', script] : []), url];
  const r = await runTool('wrk', argv, (seconds + 20) * 1000);
  if (r.code !== 0) throw new Error(`wrk exited ${r.code}: ${r.err || r.out}`);
  const command = `wrk ${argv.join(' ')}`;
  return { ...parseWrk(r.out), command: script ? command.replace(script, path.basename(script)) : command, raw: r.out };
}

// ---------------------------------------------------------------------------------------------
// Measuring and reporting

// Each (level, target) cell is measured `rounds` times, the target order alternated each round
// (ABC, CBA, ...) so drift on a shared box hits all targets alike. measure(target, level, round)
// runs (and prints) one measurement. Returns runs[level][target.key] = [result, ...].
export async function measureRounds(levels, targets, rounds, measure) {
  const runs = {};
  for (const level of levels) {
    runs[level] = Object.fromEntries(targets.map((t) => [t.key, []]));
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const t of order) runs[level][t.key].push(await measure(t, level, round));
    }
  }
  return runs;
}

export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length; // over rounds
// Table numbers; 'n/a' instead of NaN/Infinity (e.g. percentiles of an empty log).
export const fmt = (n, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

// req/s of a cell over its rounds: mean, plus min and max to show the spread.
export function rpsSummary(runs) {
  const rps = runs.map((r) => r.rps);
  return { rps: mean(rps), rpsMin: Math.min(...rps), rpsMax: Math.max(...rps) };
}

// A wrk cell over its rounds: req/s (mean, min, max), mean p50/p90/p99, and the summed non-2xx
// responses and socket errors (flagged in the tables: such a cell's numbers are suspect).
export function wrkSummary(runs) {
  const pick = (k) => mean(runs.map((r) => r[k]));
  return {
    ...rpsSummary(runs),
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

// The machine the numbers come from, recorded with every result (numbers depend on it).
export function machineInfo() {
  return {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
  };
}

// Every report ends with the same caveat (single runs on a shared box are noisy, so only ratios
// within a run count) and is printed in full before it is written to disk. Returns the markdown.
export function printReport(lines) {
  const md = [...lines, 'Numbers vary ±10–20 % between runs on a shared box: compare ratios within one run.', ''].join('\n');
  process.stdout.write('\n' + md);
  return md;
}

// The same three header lines in every results file: machine, Node + load tool, commit.
export function machineMarkdown(machine, toolVersion, commit) {
  return [
    `- Machine: ${machine.cores} cores (os.availableParallelism), ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.platform}`,
    `- Node ${machine.node}; ${toolVersion}`,
    `- Commit: ${commit ?? 'unknown (git failed)'}`,
  ];
}

// Short HEAD commit, marked when the given folders (the code under test) have uncommitted changes,
// so a result can be traced to the code it measured; null when git fails.
export function gitCommit(folders) {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return null;
  const commit = r.stdout.trim();
  const s = spawnSync('git', ['status', '--porcelain', '--', ...folders], { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
  return !s.error && s.status === 0 && s.stdout.trim() ? `${commit} (+ uncommitted changes in ${folders.join('/')})` : commit;
}

// The fields every results JSON starts with: when the run started and ended, quick or full.
export function runMeta(started, quick) {
  return { startedAt: started.toISOString(), finishedAt: new Date().toISOString(), mode: quick ? 'quick' : 'full' };
}

// Writes benchmarks/results/<namePrefix><start time>.{md,json} and says where; runs never overwrite
// each other because the start time (to the second) is in the name. TESSERA_BENCH_RESULTS_DIR
// sends them elsewhere (the test suite's smoke run writes into a temp folder).
export function writeResults(namePrefix, started, md, json) {
  const resultsDir = process.env.TESSERA_BENCH_RESULTS_DIR || path.join(BENCH_DIR, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
  const base = path.join(resultsDir, `${namePrefix}${stamp}`);
  writeFileSync(`${base}.md`, md);
  writeFileSync(`${base}.json`, JSON.stringify(json, null, 2) + '\n');
  process.stdout.write(`\nResults: ${path.relative(ROOT, base)}.md and .json\n`);
  return base;
}

// ---------------------------------------------------------------------------------------------
// h2load (grpc.mjs, compute.mjs): gRPC load with a pre-encoded frame

export function h2loadVersion() {
  const r = spawnSync('h2load', ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return null;
  return (r.stdout ?? '').split('\n')[0].trim() || 'h2load';
}

/** A gRPC message frame: flag byte 0 (not compressed), 4-byte big-endian length, the protobuf bytes. */
export function grpcFrame(message) {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** The p-th percentile of an ascending array (nearest rank); NaN when empty. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Reads h2load's --log-file: start time (µs since epoch), HTTP status, duration (µs); tab-separated. */
function readH2loadLog(file) {
  const durationsMs = [];
  let other = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const [, status, duration] = line.split('\t');
    if (status === '200') durationsMs.push(Number(duration) / 1000);
    else other++;
  }
  return { durationsMs, other };
}

function parseH2load(out) {
  const finished = /finished in ([\d.]+)(m?s), ([\d.]+) req\/s/.exec(out);
  const reqs = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!finished || !reqs) throw new Error(`cannot parse h2load output:\n${out}`);
  return {
    seconds: Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1),
    rps: Number(finished[3]),
    done: Number(reqs[3]),
    succeeded: Number(reqs[4]),
    failed: Number(reqs[5]),
    errored: Number(reqs[6]),
    timeout: Number(reqs[7]),
    non2xx: codes ? Number(codes[2]) + Number(codes[3]) + Number(codes[4]) : 0,
  };
}

let h2loadLogs = 0;
/**
 * One h2load run: `connections` connections with one stream each (-m 1), POSTing the frame file to
 * `path` on 127.0.0.1:`port` for `seconds`. req/s plus p50/p90/p99 from the --log-file durations
 * (HTTP 200 only; h2load does not see grpc-status, callers check one call first).
 */
export async function runH2load({ port, path: urlPath, frame, connections, seconds }) {
  const logFile = tmpPath(`h2load-${++h2loadLogs}.log`);
  // One h2load thread: the machine may have only 2 cores, both needed by the server under test.
  const argv = [
    '-c', String(connections), '-m', '1', '-t', '1', '-D', String(seconds),
    '-d', frame, '-H', 'content-type: application/grpc', '-H', 'te: trailers',
    '--log-file', logFile,
    `http://${HOST}:${port}${urlPath}`,
  ];
  const r = await runTool('h2load', argv, (seconds + 30) * 1000);
  if (r.code !== 0) throw new Error(`h2load exited ${r.code}: ${r.err || r.out}`);
  const summary = parseH2load(r.out);
  const { durationsMs, other } = readH2loadLog(logFile);
  rmSync(logFile, { force: true });
  durationsMs.sort((a, b) => a - b);
  return {
    ...summary,
    logged200: durationsMs.length,
    loggedOther: other,
    p50: percentile(durationsMs, 50),
    p90: percentile(durationsMs, 90),
    p99: percentile(durationsMs, 99),
    durationsMs, // dropped before writing JSON
    command: `h2load ${argv.join(' ').replace(frame, path.basename(frame)).replace(logFile, 'h2load.log')}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Memory of a process tree (startup.mjs, memory.mjs), from /proc (Linux)

/** pid -> parent pid for every process, from /proc. */
function parents() {
  const map = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Field 4 of /proc/PID/stat is the parent; the command (field 2) may hold spaces, so cut after ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      map.set(Number(name), Number(after[1]));
    } catch {
      // the process ended meanwhile
    }
  }
  return map;
}

/** The process and all its descendants. */
function tree(root) {
  const byParent = new Map();
  for (const [pid, ppid] of parents()) byParent.set(ppid, [...(byParent.get(ppid) ?? []), pid]);
  const out = [];
  const walk = (pid) => {
    out.push(pid);
    for (const child of byParent.get(pid) ?? []) walk(child);
  };
  walk(root);
  return out;
}

/** Sum of RSS and PSS (KiB) over a process tree, with the command of each process. */
export function treeMemory(root) {
  let rss = 0;
  let pss = 0;
  const commands = [];
  for (const pid of tree(root)) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      pss += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      commands.push(readFileSync(`/proc/${pid}/comm`, 'utf8').trim());
    } catch {
      // gone
    }
  }
  return { rssMiB: rss / 1024, pssMiB: pss / 1024, processes: commands };
}


// ---------------------------------------------------------------------------------------------
// CPU time of a server's threads (Linux /proc): what one request costs each side, whatever the
// wall clock of a shared machine does

const CLOCK_TICK_MS = 1000 / (Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100);

/**
 * CPU time so far (ms) of a process's main thread (its thread id is the pid) and of all its threads
 * and its child processes' (the whole tree: the workers are threads of the same process).
 */
export function cpuTimes(pid) {
  const ticks = (file) => {
    const stat = readFileSync(file, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
  };
  try {
    const main = ticks(`/proc/${pid}/task/${pid}/stat`) * CLOCK_TICK_MS;
    let all = 0;
    for (const p of tree(pid)) {
      try {
        all += ticks(`/proc/${p}/stat`) * CLOCK_TICK_MS;
      } catch {
        // gone
      }
    }
    return { mainMs: main, allMs: all };
  } catch {
    return { mainMs: NaN, allMs: NaN };
  }
}

/** Runs `measure()` and returns its result with the CPU µs per request the server spent on it. */
export async function withCpu(pid, measure) {
  const before = cpuTimes(pid);
  const result = await measure();
  const after = cpuTimes(pid);
  const requests = result.requests ?? result.done ?? NaN;
  return {
    ...result,
    cpu: {
      mainUsPerRequest: ((after.mainMs - before.mainMs) * 1000) / requests,
      allUsPerRequest: ((after.allMs - before.allMs) * 1000) / requests,
    },
  };
}
