// The layering rules, read from the sources: src/core/ is the bottom layer (it imports nothing
// from another room of src/), and onnxruntime-node is known to src/runtimes/onnx.ts alone, which
// imports it only lazily (types, and a dynamic import inside the worker side), so the main thread
// never loads it. Also: the rule catches a violation (checked against a made-up file).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const CORE = join(SRC, 'core');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.(ts|mts|mjs|js)$/.test(name) ? [path] : [];
  });
}

/** Every module specifier a source imports or re-exports, statically or dynamically, with whether it is type-only. */
function imports(text: string): { specifier: string; typeOnly: boolean; dynamic: boolean }[] {
  const found: { specifier: string; typeOnly: boolean; dynamic: boolean }[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?\bfrom\s+['"]([^'"]+)['"]/gm)) {
    found.push({ specifier: m[3], typeOnly: m[2] !== undefined, dynamic: false });
  }
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) found.push({ specifier: m[1], typeOnly: false, dynamic: false });
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push({ specifier: m[1], typeOnly: false, dynamic: true });
  return found;
}

/** The imports of a core file that leave src/core/ for another room of src/. */
function violations(file: string, text: string): string[] {
  return imports(text)
    .filter(({ specifier }) => specifier.startsWith('.'))
    .map(({ specifier }) => resolve(dirname(file), specifier))
    .filter((target) => target.startsWith(SRC) && !target.startsWith(CORE + sep))
    .map((target) => `${relative(SRC, file)} imports ${relative(SRC, target)}`);
}

t.test('src/core imports no other room of src/', async (t) => {
  const files = sources(CORE);
  t.ok(files.length > 10, `${files.length} core files read`);
  const found = files.flatMap((file) => violations(file, readFileSync(file, 'utf8')));
  t.same(found, [], 'core depends on nothing above it');
});

t.test('the rule catches a core file that imports another room', async (t) => {
  const fake = join(CORE, 'fake.ts');
  const text = "import type { ModelSpec } from '../runtimes/runtime.js';\nimport { x } from './errors.js';\nconst m = await import('../batching/scheduler.js');\n";
  t.same(violations(fake, text), ['core/fake.ts imports runtimes/runtime.js', 'core/fake.ts imports batching/scheduler.js']);
});

t.test('only src/runtimes/onnx.ts knows onnxruntime-node, and imports it lazily', async (t) => {
  const users: string[] = [];
  for (const file of sources(SRC)) {
    for (const i of imports(readFileSync(file, 'utf8'))) {
      if (i.specifier !== 'onnxruntime-node') continue;
      users.push(relative(SRC, file));
      if (!i.typeOnly && !i.dynamic) t.fail(`${relative(SRC, file)} imports onnxruntime-node eagerly`);
    }
  }
  t.same([...new Set(users)], [join('runtimes', 'onnx.ts')], 'one file');
});
