#!/usr/bin/env node
// A prototype of several front-end processes sharing Tessera's ports (issue #13, direction 4), for
// the benchmarks only: Node's cluster module forks --frontends processes, each a whole Tessera
// (HTTP, gRPC, its own worker pool) started from the compiled dist/ on the same ports; the cluster
// primary accepts the connections and hands them round-robin to the processes (Node 20 has no
// reusePort). The worker budget is shared: --workers inference workers in all, split evenly (at
// least one per process).
//
// Not a product feature: metrics, statistics and the repository API are per process here (a scrape
// or a model load reaches one process). benchmarks/http.mjs measures whether it pays on this machine.
//
//   node benchmarks/frontends-server.mjs --frontends 2 --workers 1 --http-port P --grpc-port G --metrics-port M [folder]
import cluster from 'node:cluster';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ROOT } from './lib.mjs';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    frontends: { type: 'string', default: '2' },
    workers: { type: 'string', default: '1' },
    'http-port': { type: 'string' },
    'grpc-port': { type: 'string' },
    'metrics-port': { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const frontends = Number(args.frontends);
const workers = Math.max(1, Math.floor(Number(args.workers) / frontends));

if (cluster.isPrimary) {
  const children = Array.from({ length: frontends }, () => cluster.fork());
  const stop = () => {
    for (const c of children) c.process.kill('SIGTERM');
  };
  process.once('SIGTERM', stop).once('SIGINT', stop);
  let exited = 0;
  cluster.on('exit', () => {
    if (++exited === children.length) process.exit(0);
  });
} else {
  const { startServer } = await import(pathToFileURL(path.join(ROOT, 'dist', 'server.js')).href);
  const { pino } = await import('pino');
  const server = await startServer({
    folder: positionals[0] ?? path.join(ROOT, 'settings'),
    env: {},
    flags: {
      host: args.host,
      http_port: args['http-port'],
      grpc_port: args['grpc-port'],
      metrics_port: args['metrics-port'],
      parallel_workers: String(workers),
      log_level: 'warn',
    },
    logger: pino({ level: 'warn' }),
  });
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
}
