// API docs: the OpenAPI document describes exactly the routes fastify registered (collected as
// they are registered, each with its own operation), and Swagger UI renders it in a real browser
// (headless Chromium driven by playwright-core) with the infer route listed.
import { existsSync } from 'node:fs';
import t from 'tap';
import { openApiPath } from '../../src/http/openapi.js';
import { exampleRepository, rawRequest, startTestServer } from '../helpers/server.js';

/** Routes every V2 server has: the registered list must include them (a sanity check on the collector). */
const CORE_ROUTES: [string, string][] = [
  ['GET', '/v2/health/ready'],
  ['GET', '/v2/models/:model'],
  ['POST', '/v2/models/:model/infer'],
  ['POST', '/v2/models/:model/versions/:version/infer'],
  ['GET', '/v2/models/:model/config'],
  ['POST', '/v2/repository/models/:model/load'],
];

const server = await startTestServer(t, { folder: exampleRepository(t, ['iris']) });

t.test('GET /v2/docs/dataplane.json describes every registered route; /v2/docs is the Swagger UI page', async (t) => {
  const routes = server.http.documentedRoutes;
  for (const [method, url] of CORE_ROUTES) t.ok(routes.some((r) => r.method === method && r.url === url), `${method} ${url} registered with docs`);
  const res = await rawRequest(`${server.url}/v2/docs/dataplane.json`);
  t.equal(res.status, 200);
  const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
  t.match(doc.openapi, /^3\./, 'OpenAPI 3');
  for (const { method, url } of routes) {
    t.ok(doc.paths[openApiPath(url)]?.[method.toLowerCase()]?.responses, `${method} ${url} documented with responses`);
  }
  const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => [m.toUpperCase(), path] as const));
  t.equal(operations.length, routes.length, 'one operation per documented route, no more');
  for (const [method, path] of operations) {
    const url = path.replace(/\{([^}]+)\}/g, ':$1');
    t.ok(server.http.hasRoute({ method: method as 'GET', url }), `${method} ${path} is a real route`);
  }
  // Every $ref points at a schema that exists.
  const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
  t.ok(refs.length > 10 && refs.every((r) => r in doc.components.schemas), 'every schema reference resolves');
  const page = await rawRequest(`${server.url}/v2/docs`);
  t.equal(page.status, 200);
  t.match(String(page.headers['content-type']), /text\/html/);
  t.match(page.text, /swagger-ui-bundle\.js/);
  const asset = await rawRequest(`${server.url}/v2/docs/assets/swagger-ui-bundle.js`);
  t.equal(asset.status, 200, 'the Swagger UI bundle is served');
  t.match(String(asset.headers['content-type']), /javascript/);
  const missing = await rawRequest(`${server.url}/v2/docs/assets/..%2Fpackage.json`);
  t.equal(missing.status, 404, 'only the listed assets are served');
  t.match(missing.json(), { error: /Not Found/ });
});

/** Debian's Chromium (.ci/run installs it; tests never install system packages). */
function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  return candidates.find((p) => existsSync(p));
}

const executablePath = chromiumPath();
// A machine without Chromium skips the browser test and says why (.ci/run installs it).
const skip = executablePath === undefined ? 'no Chromium here (apt-get install chromium, or set CHROMIUM_PATH); .ci/run installs it' : false;

t.test('the Swagger page renders in headless Chromium with the infer route visible', { skip }, async (t) => {
  if (executablePath === undefined) return;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/v2/docs`);
  const infer = page.locator('.opblock-summary-path', { hasText: '/v2/models/{model}/infer' }).first();
  await infer.waitFor({ state: 'visible', timeout: 30_000 });
  t.ok(await infer.isVisible(), 'the infer route is listed and visible');
  t.match(await page.locator('.info .title').first().innerText(), /Tessera/, 'the API title is shown');
  t.ok((await page.locator('.opblock').count()) >= server.http.documentedRoutes.length, 'every route has an operation block');
  t.same(errors, [], 'no script errors in the page');
});
