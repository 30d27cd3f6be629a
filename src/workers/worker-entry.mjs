// piscina loads plain JavaScript; this shim runs the worker for a pool loaded from the TypeScript
// sources (tsx: tests, development). It runs the compiled worker in dist/ when that build is
// current with src/, else compiles the TypeScript worker with tsx on load: the rule of
// bin/tessera.mjs (TESSERA_FROM_SOURCE=1 forces the sources, =0 dist/), so no stale code runs.
// A worker thread that loads its modules through tsx costs about three times the CPU of one that
// loads dist/ (~0.6 s against ~0.2 s), and the test suite starts workers for every server it runs.
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { loadsCompiled } from '../../scripts/build-state.mjs';

const compiled = new URL('../../dist/workers/worker.js', import.meta.url);
const worker = loadsCompiled(fileURLToPath(new URL('../../', import.meta.url)), compiled) ? await import(compiled.href) : await tsImport('./worker.ts', import.meta.url);
export default worker.default;
