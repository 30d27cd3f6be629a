#!/usr/bin/env node
// Tessera's command line. The sources are TypeScript, compiled on load by tsx.
import { tsImport } from 'tsx/esm/api';

const { main } = await tsImport('../src/cli/main.ts', import.meta.url);
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
