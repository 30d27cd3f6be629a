#!/usr/bin/env node
// Tessera's command line. Runs the compiled JavaScript in dist/ (`npm run build`; `npm install`
// and `npm start` build it). tsx is a development tool only:
// - in a source checkout (src/ beside dist/) whose sources changed after the last build, or that
//   was never built, the TypeScript sources run through tsx, so tests and development never run
//   stale code;
// - TESSERA_FROM_SOURCE=1 forces the sources (tsx); TESSERA_FROM_SOURCE=0 forces dist/.
// An installed package or the container image has no src/: it always runs dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const compiled = new URL('dist/cli/main.js', root);
const sources = new URL('src/cli/main.ts', root);

async function fromSource() {
  const force = process.env.TESSERA_FROM_SOURCE;
  if (force === '0' || !existsSync(sources)) return false;
  if (force === '1') return true;
  if (!existsSync(compiled)) return true;
  const { buildState } = await import('../scripts/build-state.mjs');
  return !buildState(fileURLToPath(root)).current;
}

let main;
if (await fromSource()) {
  let tsImport;
  try {
    ({ tsImport } = await import('tsx/esm/api'));
  } catch {
    tsImport = undefined;
  }
  if (tsImport !== undefined) {
    ({ main } = await tsImport('../src/cli/main.ts', import.meta.url));
  } else if (existsSync(compiled)) {
    process.stderr.write('tessera: src/ is newer than dist/ and tsx is not installed: running dist/ (npm run build)\n');
  } else {
    process.stderr.write('tessera: dist/ has not been built and tsx is not installed: run npm run build\n');
    process.exit(1);
  }
}
main ??= (await import(compiled.href)).main;
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
