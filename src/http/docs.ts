// API docs in a browser: Swagger UI (the swagger-ui-dist package, served from node_modules) at
// /v2/docs, rendering the OpenAPI document at /v2/docs/dataplane.json (as MLServer's /v2/docs).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { openApiDocument } from './openapi.js';

/** The Swagger UI files the page loads, with their content types. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tessera API</title>
  <link rel="stylesheet" href="/v2/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/v2/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/v2/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/v2/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: '/v2/docs/dataplane.json',
      dom_id: '#swagger-ui',
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: 'StandaloneLayout',
    });
  </script>
</body>
</html>
`;

export function registerDocs(app: FastifyInstance, version: string): void {
  const dist = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  // Read on first use and kept: the bundle is ~1.5 MB and most servers never serve it.
  const cache = new Map<string, Buffer>();
  const document = JSON.stringify(openApiDocument(version));

  app.get('/v2/docs', (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
  app.get('/v2/docs/dataplane.json', (_req, reply) => reply.type('application/json').send(document));
  app.get('/v2/docs/assets/:file', (req, reply) => {
    const file = (req.params as { file: string }).file;
    const type = ASSETS[file];
    if (type === undefined) return reply.code(404).type('application/json').send(JSON.stringify({ error: `Not Found: /v2/docs/assets/${file}` }));
    let body = cache.get(file);
    if (body === undefined) {
      body = readFileSync(path.join(dist, file));
      cache.set(file, body);
    }
    return reply.type(type).header('cache-control', 'public, max-age=86400').send(body);
  });
}
