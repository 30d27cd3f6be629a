// API docs in a browser: Swagger UI (the swagger-ui-dist package, served from node_modules) at
// /v2/docs, rendering the OpenAPI document at /v2/docs/dataplane.json (as MLServer's /v2/docs).
// The document is built from the routes fastify registered, on first request (every surface has
// registered its routes by then). Behind a proxy that strips a path prefix (root_path), the page
// and the document's `servers` use that prefix, so the browser's requests go through the proxy.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { v2ErrorHandler } from '../errors.js';
import { openApiDocument, operations, type DocumentedRoute } from '../openapi.js';
import { sendJson } from '../send.js';

/** The Swagger UI files the page loads, with their content types. */
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const page = (root: string): string => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Tessera API</title>
  <link rel="stylesheet" href="${root}/v2/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="${root}/v2/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${root}/v2/docs/assets/swagger-ui-bundle.js"></script>
  <script src="${root}/v2/docs/assets/swagger-ui-standalone-preset.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: '${root}/v2/docs/dataplane.json',
      dom_id: '#swagger-ui',
      deepLinking: true,
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
      layout: 'StandaloneLayout',
    });
  </script>
</body>
</html>
`;

export interface DocsOptions {
  version: string;
  /** The path prefix a proxy in front of Tessera strips (root_path); '' for none. */
  rootPath: string;
  bodyLimit: number;
  /** The documented routes fastify registered. */
  routes: () => readonly DocumentedRoute[];
}

export const docsPlugin: FastifyPluginAsync<DocsOptions> = async (app: FastifyInstance, options) => {
  app.setErrorHandler(v2ErrorHandler(options.bodyLimit));
  const dist = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  // Read on first use and kept: the bundle is ~1.5 MB and most servers never serve it.
  const cache = new Map<string, Buffer>();
  const root = options.rootPath.replace(/\/+$/, '');
  const html = page(root);
  let document: string | undefined;

  app.get('/v2/docs', { config: { openapi: operations.docsPage } }, (_req, reply) => reply.type('text/html; charset=utf-8').send(html));
  app.get('/v2/docs/dataplane.json', { config: { openapi: operations.docsDocument } }, (_req, reply) => {
    document ??= JSON.stringify(openApiDocument({ version: options.version, routes: options.routes(), rootPath: root }));
    return reply.type('application/json').send(document);
  });
  app.get('/v2/docs/assets/:file', (req, reply) => {
    const file = (req.params as { file: string }).file;
    const type = ASSETS[file];
    if (type === undefined) return sendJson(reply, 404, { error: `Not Found: /v2/docs/assets/${file}` });
    let body = cache.get(file);
    if (body === undefined) {
      body = readFileSync(path.join(dist, file));
      cache.set(file, body);
    }
    return reply.type(type).header('cache-control', 'public, max-age=86400').send(body);
  });
};
