// npm test: type-check, run the tap suite, and end with the plain line "N passed, N failed"
// (", N skipped" when some were; counts from tap's own summary); exits non-zero on any failure,
// a type error counting as one.
//
// - dist/ is rebuilt first when src/ changed since the last build (`npm install` builds it; CI's
//   clean clone is current), so that the tests which spawn the CLI run the compiled server as a
//   user does, not the sources through tsx (bin/tessera.mjs falls back to tsx if the build fails).
// - The type-check (tsc) runs beside tap, its output held back and printed after tap's: the tests
//   spend much of their time waiting on servers and timers, which leaves it CPU to use. It is
//   incremental (its .tsbuildinfo in node_modules/.cache, where tools keep their caches, so it goes
//   with the checkout and leaves nothing in the temp folder): after the first run only
//   the files changed since, and those that depend on them, are checked again (~4-5 s of CPU instead
//   of ~12 s on the 2-core machine); `npm run typecheck` stays a full check.
// - tap runs two files at a time (package.json "tap".jobs) on the 2-core CI machine.
// - Everything the suite writes goes to temp folders: the tests' XDG_CACHE_HOME (the conversion
//   cache's default, ONNX Runtime's own files), XDG_CONFIG_HOME and npm's log folder are in a
//   folder of this run, removed at the end (test/helpers/test-env.mjs).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();
const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

const runDir = mkdtempSync(join(tmpdir(), 'tessera-test-run-'));
// test/helpers/test-env.mjs (loaded into every test process) points XDG_CACHE_HOME and the other
// per-user folders the tests' tools write to into this run's folder.
const env = { ...process.env, TESSERA_TEST_HOME: join(runDir, 'home') };
mkdirSync(env.TESSERA_TEST_HOME);
// Interrupted (Ctrl-C reaches the children too): still remove the run's folder.
process.once('SIGINT', () => {
  rmSync(runDir, { recursive: true, force: true });
  process.exit(130);
});

/** Runs a command; resolves with its exit code and (when `capture`) its combined output. */
function run(command, args, { capture = false, stdout = 'inherit' } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', capture ? 'pipe' : stdout, capture ? 'pipe' : 'inherit'] });
    let output = '';
    if (capture) {
      child.stdout.on('data', (c) => (output += c));
      child.stderr.on('data', (c) => (output += c));
    }
    child.on('error', (error) => resolve({ code: 1, output: `${output}${error.message}\n`, child }));
    child.on('close', (code) => resolve({ code: code ?? 1, output, child }));
  });
}

// 1. dist/ current with src/ (a no-op when it is).
const build = await run(process.execPath, ['scripts/build.mjs', '--if-stale'], { capture: true });
if (build.code !== 0) {
  process.stderr.write(`${build.output}run-tests: the build failed: the CLI tests run the sources through tsx (the type-check below says why)\n`);
} else if (build.output.trim() !== '') {
  process.stderr.write(`${build.output.trim()}\nrun-tests: dist/ rebuilt (${seconds()})\n`);
}

// 2. The type-check, beside the suite.
const buildInfo = join(ROOT, 'node_modules', '.cache', 'tessera', 'typecheck.tsbuildinfo');
mkdirSync(dirname(buildInfo), { recursive: true });
const typecheck = run(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', buildInfo], { capture: true });

// 3. The suite (tap, with the project's "tap" settings), its TAP stream passed through.
let tail = '';
const tap = new Promise((resolve) => {
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tap'), process.argv.slice(2), { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  child.stdout.on('data', (chunk) => {
    process.stdout.write(chunk);
    tail = (tail + chunk.toString()).slice(-20000);
  });
  child.on('error', (error) => {
    process.stderr.write(`run-tests: cannot run tap: ${error.message}\n`);
    resolve(1);
  });
  child.on('close', (code) => resolve(code ?? 1));
});

const tapCode = await tap;
const tsc = await typecheck;
if (tsc.output.trim() !== '') process.stdout.write(`${tsc.output.trimEnd()}\n`);
const typeErrors = tsc.code === 0 ? 0 : 1;
if (typeErrors) console.error('typecheck failed');
rmSync(runDir, { recursive: true, force: true });

// tap's closing summary: "# { total: N, pass: N, fail: N, ... }" (with colour codes on a TTY).
const plain = tail.replace(/\x1b\[[0-9;]*m/g, '');
const match = [...plain.matchAll(/^#\s*\{([^}]*)\}\s*$/gm)].pop();
const summary = match
  ? Object.fromEntries([...match[1].matchAll(/(\w+):\s*(\d+)/g)].map(([, k, v]) => [k, Number(v)]))
  : undefined;
const passed = summary?.pass ?? 0;
let failed = (summary?.fail ?? (tapCode !== 0 ? 1 : 0)) + typeErrors;
const skipped = (summary?.skip ?? 0) + (summary?.todo ?? 0);
const ok = tapCode === 0 && failed === 0 && summary !== undefined;
if (!ok && failed === 0) failed = 1;
console.error(`run-tests: ${seconds()}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(ok ? 0 : 1);
