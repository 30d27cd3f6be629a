// API docs: the OpenAPI document describes every route, and Swagger UI renders it in a real
// browser (headless Chromium driven by playwright-core) with the infer route listed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import t from 'tap';
import { exampleRepository, rawRequest, startTestServer } from '../helpers/server.js';

const ROUTES: [string, string][] = [
  ['get', '/v2/health/live'],
  ['get', '/v2/health/ready'],
  ['get', '/v2'],
  ['get', '/v2/models'],
  ['get', '/v2/models/stats'],
  ['get', '/v2/models/{model}'],
  ['get', '/v2/models/{model}/ready'],
  ['post', '/v2/models/{model}/infer'],
  ['get', '/v2/models/{model}/stats'],
  ['get', '/v2/models/{model}/config'],
  ['get', '/v2/models/{model}/versions/{version}'],
  ['get', '/v2/models/{model}/versions/{version}/ready'],
  ['post', '/v2/models/{model}/versions/{version}/infer'],
  ['get', '/v2/models/{model}/versions/{version}/stats'],
  ['get', '/v2/models/{model}/versions/{version}/config'],
  ['post', '/v2/repository/index'],
  ['post', '/v2/repository/models/{model}/load'],
  ['post', '/v2/repository/models/{model}/unload'],
];

t.test('GET /v2/docs/dataplane.json describes every route; /v2/docs is the Swagger UI page', async (t) => {
  const server = await startTestServer(t, { folder: exampleRepository(t, ['iris']) });
  const res = await rawRequest(`${server.url}/v2/docs/dataplane.json`);
  t.equal(res.status, 200);
  const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
  t.match(doc.openapi, /^3\./, 'OpenAPI 3');
  for (const [method, path] of ROUTES) {
    t.ok(doc.paths[path]?.[method]?.responses, `${method.toUpperCase()} ${path} documented with responses`);
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

/** Debian's Chromium; installed with apt when missing and allowed (CI, or root with apt-get). */
function chromiumPath(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  const found = () => candidates.find((p) => existsSync(p));
  if (found() !== undefined) return found();
  if (process.env.CI !== undefined && process.getuid?.() === 0) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env, timeout: 600_000 });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'inherit', env, timeout: 300_000 });
      r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env, timeout: 600_000 });
    }
  }
  return found();
}

const executablePath = chromiumPath();
// Locally, a machine without Chromium skips the browser test with a reason; in CI it must run.
const skip =
  executablePath === undefined && process.env.CI === undefined
    ? 'no Chromium here (apt-get install chromium, or set CHROMIUM_PATH); CI installs it and runs this test'
    : false;

t.test('the Swagger page renders in headless Chromium with the infer route visible', { skip }, async (t) => {
  if (executablePath === undefined) {
    t.fail('Chromium is missing and could not be installed (apt-get install chromium); .ci/run installs it');
    return;
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  t.teardown(() => browser.close());
  const server = await startTestServer(t, { folder: exampleRepository(t, ['iris']) });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/v2/docs`);
  const infer = page.locator('.opblock-summary-path', { hasText: '/v2/models/{model}/infer' }).first();
  await infer.waitFor({ state: 'visible', timeout: 30_000 });
  t.ok(await infer.isVisible(), 'the infer route is listed and visible');
  t.match(await page.locator('.info .title').first().innerText(), /Tessera/, 'the API title is shown');
  t.ok((await page.locator('.opblock').count()) >= ROUTES.length, 'every route has an operation block');
  t.same(errors, [], 'no script errors in the page');
});
