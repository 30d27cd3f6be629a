// The benchmark harness's command line, checked fast (no servers, no load tools): --help and a bad
// --only. The harness itself runs end to end in .ci/run (`npm run bench -- --quick --duration 1
// --rounds 1 --out DIR`), not in the test suite: it takes over a minute and needs wrk and h2load.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const RUN = fileURLToPath(new URL('../../benchmarks/run.mjs', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' }, timeout: 30_000 });

t.test('npm run bench -- --help', async (t) => {
  const res = run(['--help']);
  t.equal(res.status, 0);
  t.match(res.stdout, /Usage: npm run bench/);
  t.match(res.stdout, /--out DIR/);
  t.match(res.stdout, /Needs wrk and h2load/);
});

t.test('an unknown benchmark in --only stops with exit 2 and names it', async (t) => {
  const res = run(['--only', 'http,nope']);
  t.equal(res.status, 2);
  t.match(res.stderr, /unknown benchmark\(s\) nope; known: http, grpc, compute/);
});
