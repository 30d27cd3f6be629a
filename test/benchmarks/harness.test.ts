// The benchmark harness runs end to end (smoke only: benchmarks are measured by `npm run bench`,
// never asserted in tests). `npm run bench -- --quick` with 1-second runs starts Tessera and every
// limit (bare fastify, bare grpc-js, raw ONNX Runtime), drives them with wrk and h2load (installed
// from apt when missing), and writes each script's tables and the summary of targets.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { tempDir } from '../helpers/server.js';

const RUN = fileURLToPath(new URL('../../benchmarks/run.mjs', import.meta.url));

interface TargetRow {
  measure: string;
  value: number;
  target: string;
}

t.test('npm run bench -- --quick works end to end', async (t) => {
  const out = tempDir(t);
  const res = spawnSync(process.execPath, [RUN, '--quick', '--duration', '1', '--rounds', '1'], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '', TESSERA_BENCH_RESULTS_DIR: out },
    timeout: 600_000,
  });
  t.equal(res.status, 0, `exit status\n${res.stderr.slice(-3000)}`);
  const files = readdirSync(out);
  for (const name of ['http', 'grpc', 'compute', 'summary']) {
    t.ok(
      files.some((f) => f.startsWith(`${name}-`) && f.endsWith('.md')) && files.some((f) => f.startsWith(`${name}-`) && f.endsWith('.json')),
      `${name} results written: ${files.join(', ')}`,
    );
  }
  const read = (prefix: string, ext: string): string => readFileSync(join(out, files.find((f) => f.startsWith(prefix) && f.endsWith(ext))!), 'utf8');
  const http = read('http-', '.md');
  t.match(http, /\| bare fastify \| \d+/, 'a bare fastify row with figures');
  t.match(http, /\| tessera w=1 \| \d+/, 'a Tessera row with figures');
  t.match(read('grpc-', '.md'), /bare grpc-js/, 'the gRPC limit measured');
  t.match(read('compute-', '.md'), /Raw ORT best throughput: \d+ rows\/s/, 'the compute limit measured');
  const summary = JSON.parse(read('summary-', '.json')) as { machine?: unknown; targets: TargetRow[] };
  t.ok(summary.machine, 'machine described');
  t.equal(summary.targets.length, 11, 'every target row present');
  for (const row of summary.targets) t.ok(Number.isFinite(row.value), `${row.measure}: a measured value (${row.value}) against ${row.target}`);
});
