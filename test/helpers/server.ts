// Test helpers: a real Tessera on an ephemeral loopback port over a model repository that the
// project's own generator writes into a temp folder, and a raw HTTP client with full header control.
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { startServer, type RunningServer } from '../../src/server.js';
import type { Teardown } from './files.js';

// The file helpers live in ./files.ts (no server modules): a test that starts no server imports them from there.
export { exampleRepository, tempDir, writeModel, type Teardown } from './files.js';

/** A pino logger whose lines the test can read. */
export function capturingLogger(level = 'info'): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const logger = pino({ level }, sink);
  const lines = (): Record<string, unknown>[] =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines };
}

export interface TestServerOptions {
  folder: string;
  settings?: Record<string, string | boolean>;
  env?: Record<string, string | undefined>;
  logger?: Logger;
  /** Wait for the start-up loads (default true). */
  waitLoaded?: boolean;
}

export async function startTestServer(t: Teardown, options: TestServerOptions): Promise<RunningServer> {
  const server = await startServer({
    folder: options.folder,
    // The test-wide cache folder (test/helpers/test-env.mjs), unless the test sets its own: the
    // conversion cache's default is never ~/.cache.
    env: { XDG_CACHE_HOME: process.env.XDG_CACHE_HOME, ...options.env },
    // One worker unless the test asks for more (a test about several workers sets parallel_workers):
    // each worker costs its start-up (TypeScript and ONNX Runtime loaded, every model loaded again).
    flags: { host: '127.0.0.1', http_port: '0', grpc_port: '0', metrics_port: '0', parallel_workers: '1', ...options.settings },
    logger: options.logger ?? pino({ level: 'silent' }),
  });
  t.teardown(() => server.close());
  if (options.waitLoaded !== false) await server.loaded;
  return server;
}

export interface RawResponse {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

/** One HTTP request with exactly the given headers (no Content-Type unless set). */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) req.end(options.body);
    else req.end();
  });
}

/** POST a V2 JSON inference request with application/json. */
export function infer(server: RunningServer, model: string, body: unknown, path = `/v2/models/${model}/infer`): Promise<RawResponse> {
  return rawRequest(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
