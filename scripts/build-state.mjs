// Whether dist/ (the compiled server, `npm run build`) is current with src/. Shared by the build
// (`--if-stale`) and by bin/tessera.mjs, which runs the TypeScript sources through tsx instead of a
// stale dist/ in a source checkout, so development and tests never run yesterday's code.
//
// "Current" means: dist/ holds the stamp the build writes last, and no file or folder under src/
// (nor the build's own configuration) changed after it. Folder mtimes count too, so a deleted or
// renamed source file makes dist/ stale. A walk over src/ is ~100 stats, about a millisecond.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Written by scripts/build.mjs after a successful build; its mtime is the build time. */
export const STAMP = 'dist/.build-stamp';

/** Files besides src/ whose change calls for a new build. */
const BUILD_INPUTS = ['tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs'];

function newestMtime(path) {
  let newest = 0;
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  newest = stat.mtimeMs;
  if (!stat.isDirectory()) return newest;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    newest = Math.max(newest, newestMtime(join(path, entry.name)));
  }
  return newest;
}

/**
 * `{ current: true }` when dist/ was built after the last change to src/; otherwise the reason.
 * `root` is the package folder (a path).
 */
export function buildState(root) {
  let built;
  try {
    built = statSync(join(root, STAMP)).mtimeMs;
  } catch {
    return { current: false, reason: 'dist/ has not been built (npm run build)' };
  }
  const changed = Math.max(newestMtime(join(root, 'src')), ...BUILD_INPUTS.map((f) => newestMtime(join(root, f))));
  if (changed > built) return { current: false, reason: 'src/ changed after the last build (npm run build)' };
  return { current: true };
}

/**
 * Whether a module of a source checkout should load its compiled copy `compiled` (a URL or path
 * under dist/) rather than its TypeScript source: TESSERA_FROM_SOURCE=0 forces dist/ and =1 the
 * sources; otherwise dist/ when the copy exists and the build is current with src/ (the rule of
 * bin/tessera.mjs, for the worker and JSON-decoder entries of a pool loaded from the sources).
 */
export function loadsCompiled(root, compiled) {
  if (!existsSync(compiled)) return false;
  const force = process.env.TESSERA_FROM_SOURCE;
  if (force === '0' || force === '1') return force === '0';
  return buildState(root).current;
}
