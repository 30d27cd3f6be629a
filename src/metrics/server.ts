// The metrics listener: its own port (metrics_port), so scrapes never queue behind inference
// traffic on the HTTP port and the port can stay inside the cluster. Serves the Prometheus text
// format on metrics_endpoint (GET and HEAD); everything else is 404 {"error"}.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from './metrics.js';

export interface MetricsServer {
  /** The port bound (metrics_port, or the one picked for port 0). */
  port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(
  metrics: Metrics,
  options: {
    host: string;
    port: number;
    endpoint: string;
    logger: Logger;
    /** HTTPS when TLS is on (src/security/tls.ts). */
    https?: HttpsServerOptions | null;
    /** Checks the scrape's bearer token when auth is on; false when it has answered the refusal. */
    guard?: (request: IncomingMessage, response: ServerResponse) => boolean;
  },
): Promise<MetricsServer> {
  const endpoint = options.endpoint.startsWith('/') ? options.endpoint : `/${options.endpoint}`;
  const handle: RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (options.guard !== undefined && !options.guard(req, res)) return;
    if (path !== endpoint) return json(404, { error: `Not Found: ${req.method} ${path} (metrics are at ${endpoint})` });
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: `${req.method} is not allowed on ${endpoint}: use GET` });
    metrics.scrape().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        options.logger.error({ err: error }, 'metrics scrape failed');
        json(500, { error: 'metrics collection failed' });
      },
    );
  };
  const server: Server = options.https ? createHttpsServer(options.https, handle) : createServer(handle);
  server.keepAliveTimeout = 75_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  options.logger.info(`metrics listening on ${options.host}:${port}${endpoint}`);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
