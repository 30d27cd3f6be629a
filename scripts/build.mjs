#!/usr/bin/env node
// npm run build: compiles src/ to dist/ (tsconfig.build.json) and copies the non-TypeScript files
// the code reads beside itself (the ONNX subset .proto, the example CSVs, ...), so that dist/ is
// a drop-in for src/ one level below the package root. Paths the code resolves relative to its own
// file (../../proto, ../../settings, ../package.json) therefore point at the same places.
//
//   node scripts/build.mjs              build (fails on type errors; dist/ is left as it was)
//   node scripts/build.mjs --if-stale   build only when src/ changed after the last build
//
// The new tree is compiled into a sibling folder and swapped in at the end, so a failed build never
// leaves a half-written dist/ and a running server never sees one.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STAMP, buildState } from './build-state.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');
const NEXT = join(ROOT, 'dist.next');
const OLD = join(ROOT, 'dist.old');

/** Source files that are not copied: TypeScript (compiled instead) and tsx shims (dev only). */
function isSourceOnly(file) {
  if (/\.(ts|mts|cts)$/.test(file)) return true;
  // A development shim that loads TypeScript through tsx (e.g. src/workers/worker-entry.mjs) has
  // no place in the build: the compiled code loads the compiled module directly.
  return /\.(mjs|js|cjs)$/.test(file) && /from ['"]tsx(\/|['"])/.test(readFileSync(file, 'utf8'));
}

function copyAssets(from, to, copied) {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.isDirectory()) {
      copyAssets(source, join(to, entry.name), copied);
    } else if (entry.isFile() && !isSourceOnly(source)) {
      mkdirSync(to, { recursive: true });
      cpSync(source, join(to, entry.name));
      copied.push(relative(SRC, source));
    }
  }
}

/**
 * Compiled files that statically import tsx, so that the server would need it to start: the build
 * must not ship any. (A dynamic import for an optional feature, such as loading a user's TypeScript
 * custom runtime, is allowed: it is only reached when that feature is used.)
 */
function tsxImports(dir, found = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) tsxImports(path, found);
    else if (/\.(m?js|cjs)$/.test(entry.name) && /from ['"]tsx(\/|['"])/.test(readFileSync(path, 'utf8'))) found.push(relative(dir, path));
  }
  return found;
}

const ifStale = process.argv.includes('--if-stale');
if (ifStale) {
  const state = buildState(ROOT);
  if (state.current) process.exit(0);
  console.error(`tessera build: ${state.reason}; building`);
}

const started = new Date();
rmSync(NEXT, { recursive: true, force: true });
const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
if (!existsSync(tsc)) {
  console.error('tessera build: TypeScript is not installed (npm install, with dev dependencies)');
  process.exit(1);
}
const compiled = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', NEXT], { stdio: 'inherit' });
if (compiled.status !== 0) {
  rmSync(NEXT, { recursive: true, force: true });
  console.error('tessera build: tsc failed; dist/ is unchanged');
  process.exit(compiled.status ?? 1);
}
const copied = [];
copyAssets(SRC, NEXT, copied);
const leftovers = tsxImports(NEXT);
if (leftovers.length > 0) {
  rmSync(NEXT, { recursive: true, force: true });
  console.error(`tessera build: compiled files import tsx statically, so the server would need it to start: ${leftovers.join(', ')}`);
  process.exit(1);
}
// The stamp carries the time the build *started*: a source file saved while tsc ran is newer
// than it, so the build counts as stale and runs again.
const stamp = join(NEXT, relative('dist', STAMP));
mkdirSync(dirname(stamp), { recursive: true });
writeFileSync(stamp, `${JSON.stringify({ builtFrom: 'src/', started: started.toISOString(), assets: copied })}\n`);
utimesSync(stamp, started, started);

rmSync(OLD, { recursive: true, force: true });
if (existsSync(DIST)) renameSync(DIST, OLD);
renameSync(NEXT, DIST);
rmSync(OLD, { recursive: true, force: true });
console.error(`tessera build: dist/ written (${copied.length} asset files copied) in ${Date.now() - started.getTime()} ms`);
