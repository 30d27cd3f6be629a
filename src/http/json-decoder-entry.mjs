// piscina loads plain JavaScript; this shim compiles the TypeScript decoder with tsx on load
// (the build ships json-decoder.js and leaves this file out).
import { tsImport } from 'tsx/esm/api';

const decoder = await tsImport('./json-decoder.ts', import.meta.url);
export default decoder.default;
