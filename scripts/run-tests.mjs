// npm test: type-check, run the tap suite, and end with the plain line "N passed, N failed"
// (counts from tap's own summary); exits non-zero on any failure.
import { spawnSync, spawn } from 'node:child_process';

const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
const typeErrors = tsc.status === 0 ? 0 : 1;
if (typeErrors) console.error('typecheck failed');

const args = ['tap', ...process.argv.slice(2)];
const child = spawn('npx', args, { stdio: ['ignore', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-20000);
});
child.on('close', (code) => {
  // tap's closing summary: "# { total: N, pass: N, fail: N, ... }" (with colour codes on a TTY).
  const plain = tail.replace(/\x1b\[[0-9;]*m/g, '');
  const match = [...plain.matchAll(/^#\s*\{([^}]*)\}\s*$/gm)].pop();
  const summary = match
    ? Object.fromEntries([...match[1].matchAll(/(\w+):\s*(\d+)/g)].map(([, k, v]) => [k, Number(v)]))
    : undefined;
  const passed = summary?.pass ?? 0;
  let failed = summary?.fail ?? (code !== 0 ? 1 : 0);
  const skipped = (summary?.skip ?? 0) + (summary?.todo ?? 0);
  failed += typeErrors;
  const ok = code === 0 && failed === 0 && summary !== undefined;
  if (!ok && failed === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(ok ? 0 : 1);
});
