// piscina loads plain JavaScript; this shim compiles the TypeScript worker with tsx on load.
import { tsImport } from 'tsx/esm/api';

const worker = await tsImport('./worker.ts', import.meta.url);
export default worker.default;
