// File helpers of the tests: temp folders removed when the test ends, and model repositories the
// project's own generator writes. Apart from test/helpers/server.ts (which re-exports them) so that
// a test that starts no server in its own process does not load the server's modules through tsx
// (~0.5-0.9 s of CPU per test file).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeExamples } from '../../src/modelgen/examples.js';

export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A temp folder removed when the test ends. */
export function tempDir(t: Teardown, prefix = 'tessera-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A repository folder holding the named example models. */
export function exampleRepository(t: Teardown, names: string[]): string {
  const root = tempDir(t);
  writeExamples(root, names);
  return root;
}

export function writeModel(root: string, name: string, onnx: Uint8Array, settings?: object): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), onnx);
  if (settings !== undefined) writeFileSync(join(dir, 'model-settings.json'), JSON.stringify(settings));
  return dir;
}
