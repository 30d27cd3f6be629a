// piscina loads plain JavaScript; this shim runs the JSON decoder for a pool loaded from the
// TypeScript sources (tsx: tests, development): the compiled decoder in dist/ when that build is
// current with src/, else the TypeScript decoder compiled with tsx on load (the rule of
// bin/tessera.mjs and src/workers/worker-entry.mjs; TESSERA_FROM_SOURCE=1 forces the sources, =0
// dist/). The build ships json-decoder.js and leaves this file out.
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { loadsCompiled } from '../../scripts/build-state.mjs';

const compiled = new URL('../../dist/http/json-decoder.js', import.meta.url);
const decoder = loadsCompiled(fileURLToPath(new URL('../../', import.meta.url)), compiled) ? await import(compiled.href) : await tsImport('./json-decoder.ts', import.meta.url);
export default decoder.default;
