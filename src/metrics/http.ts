// Metrics on the HTTP listener, as a fastify surface: for `tessera serve`, whose one port serves
// everything (MLflow's scoring server has one port), and for `tessera start` when metrics_port
// equals http_port. The separate metrics listener (server.ts) stays the default elsewhere: there
// scrapes never queue behind inference traffic.
import type { FastifyPluginAsync } from 'fastify';
import type { HttpSurface } from '../http/app.js';
import type { Metrics } from './metrics.js';

export function metricsSurface(metrics: Metrics, endpoint: string): HttpSurface {
  const url = endpoint.startsWith('/') ? endpoint : `/${endpoint}`;
  const plugin: FastifyPluginAsync = async (app) => {
    app.get(url, { config: { openapi: false } }, async (_request, reply) => {
      const text = await metrics.scrape();
      return reply.header('content-type', metrics.registry.contentType).send(text);
    });
  };
  return { name: 'metrics', plugin };
}
