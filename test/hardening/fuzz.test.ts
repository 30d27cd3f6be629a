// The fuzz run, short: a few thousand mutated requests over HTTP JSON, HTTP binary and gRPC
// (scripts/fuzz.mjs, seeded), against a real server: no crash, every answer in its surface's
// shape (no 500, no INTERNAL: an input never causes an internal error), nothing logged at error
// level, memory bounded. The long run is `node scripts/fuzz.mjs --count 100000`.
import t from 'tap';
import { FUZZ_MODELS, runFuzz } from '../../scripts/fuzz.mjs';
import { capturingLogger, exampleRepository, startTestServer } from '../helpers/server.js';
import { MB } from './helpers.js';

const SEED = Number(process.env.TESSERA_FUZZ_SEED ?? 20261201);

t.test(`fuzz: 3000 mutated requests, seed ${SEED}`, async (t) => {
  const { logger, lines } = capturingLogger('warn');
  const server = await startTestServer(t, { folder: exampleRepository(t, FUZZ_MODELS), logger });
  const result = await runFuzz({
    url: server.url,
    grpcAddress: server.grpcAddress,
    seed: SEED,
    count: 3000,
    seconds: 12,
    concurrency: 16,
    rss: () => process.memoryUsage.rss(),
  });
  t.comment(`seed ${result.seed}: ${result.requests} requests ${JSON.stringify(result.counts)}`);
  t.comment(`outcomes ${JSON.stringify(result.outcomes)}`);
  t.ok(result.requests >= 1000, `${result.requests} requests sent`);
  t.same(result.failures, [], 'every answer in its surface shape, no internal error, the server live');
  t.equal(result.failed, 0);
  const errors = lines().filter((l) => Number(l.level) >= 50);
  t.same(errors.slice(0, 3), [], 'nothing logged at error level');
  const outcomes = Object.keys(result.outcomes).join(' ');
  for (const seen of ['http_json 200', 'http_json 400', 'http_binary 200', 'http_binary 400', 'grpc OK', 'grpc INVALID_ARGUMENT']) {
    t.match(outcomes, seen, `reached ${seen}`);
  }
  const rss = result.rss!;
  t.ok(rss.max - rss.start < 300 * MB, `RSS ${(rss.start / MB).toFixed(0)} -> max ${(rss.max / MB).toFixed(0)} MiB`);
});
