// The benchmark harness runs end to end (smoke only: benchmarks are measured by `npm run bench`,
// never asserted in tests). It starts Tessera and the bare fastify baseline, drives both with wrk
// (installed from apt when missing) for one second, and writes its tables.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { tempDir } from '../helpers/server.js';

const RUN = fileURLToPath(new URL('../../benchmarks/run.mjs', import.meta.url));

t.test('npm run bench -- --quick works end to end', async (t) => {
  const out = tempDir(t);
  const res = spawnSync(process.execPath, [RUN, '--quick', '--duration', '1', '--rounds', '1', '--connections', '1'], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '', TESSERA_BENCH_RESULTS_DIR: out },
    timeout: 300_000,
  });
  t.equal(res.status, 0, `exit status\n${res.stderr.slice(-3000)}`);
  const files = readdirSync(out);
  t.ok(files.some((f) => f.endsWith('.md')) && files.some((f) => f.endsWith('.json')), `results written: ${files.join(', ')}`);
  const md = readFileSync(join(out, files.find((f) => f.endsWith('.md'))!), 'utf8');
  t.match(md, /### iris, 1 connection/);
  t.match(md, /\| bare fastify \| \d+/, 'a bare fastify row with figures');
  t.match(md, /\| tessera w=1 \| \d+/, 'a Tessera row with figures');
  const json = JSON.parse(readFileSync(join(out, files.find((f) => f.endsWith('.json'))!), 'utf8')) as { machine?: unknown };
  t.ok(json.machine, 'machine described');
});
