// Browsers (#14, finding 8): a web page of another origin must not change the server's state. The
// attack, exactly: a cross-origin text/plain POST (no preflight) to unload a model is refused and
// the model still serves, with the default settings and with CORS configured for other origins;
// so are its variants (form, multipart, no Content-Type, Origin null, Sec-Fetch-Site without an
// Origin). Clients that are not browsers and the server's own pages are not affected. MLServer's
// cors_settings are honoured: preflights answered (or refused) per origin, method and headers,
// without a token even when auth is on; allowed origins get their headers, on errors too.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadServerSettings } from '../../src/config/load.js';
import { SettingsError } from '../../src/core/errors.js';
import { CorsPolicy, corsSettingsSchema } from '../../src/security/cors.js';
import { exampleRepository, startTestServer } from '../helpers/server.js';
import { send } from './security-clients.js';

const MODEL = 'identity_fp32';
const EVIL = 'http://evil.example';
const INFER_JSON = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });

t.test('default settings: a cross-origin simple POST cannot unload a model', async (t) => {
  const folder = exampleRepository(t, [MODEL]);
  const server = await startTestServer(t, { folder, settings: { parallel_workers: '1', mlflow_scoring: 'on' } });
  const base = server.url;
  const post = (path: string, headers: Record<string, string>, body?: string) => send(base + path, { method: 'POST', headers, ...(body !== undefined ? { body } : {}) });
  const serves = async (): Promise<boolean> => {
    const r = await post(`/v2/models/${MODEL}/infer`, { 'content-type': 'application/json' }, INFER_JSON);
    return r.status === 200;
  };
  t.ok(await serves(), 'serving before');

  // What a page can send with fetch(url, {method: 'POST', mode: 'no-cors', body: '{}'}): text/plain, no preflight.
  const attack = await post(`/v2/repository/models/${MODEL}/unload`, { origin: EVIL, 'content-type': 'text/plain' }, '{}');
  t.equal(attack.status, 403, 'the text/plain cross-origin unload is refused');
  t.match(attack.json().error, /^cross-origin POST refused: a web page of another origin sent it without a preflight \(Content-Type 'text\/plain'\)/);
  t.ok(await serves(), 'the model still serves');
  t.match((await send(`${base}/v2/models`)).json(), { models: [{ name: MODEL, state: 'READY' }] });

  const variants: [string, string, Record<string, string>][] = [
    ['unload, form', `/v2/repository/models/${MODEL}/unload`, { origin: EVIL, 'content-type': 'application/x-www-form-urlencoded' }],
    ['unload, multipart', `/v2/repository/models/${MODEL}/unload`, { origin: EVIL, 'content-type': 'multipart/form-data; boundary=x' }],
    ['unload, text/plain with a charset', `/v2/repository/models/${MODEL}/unload`, { origin: EVIL, 'content-type': 'text/plain;charset=UTF-8' }],
    ['unload, no Content-Type (a Blob without type)', `/v2/repository/models/${MODEL}/unload`, { origin: EVIL }],
    ['unload, Origin null (sandboxed frame)', `/v2/repository/models/${MODEL}/unload`, { origin: 'null', 'content-type': 'text/plain' }],
    ['unload, no Origin but Sec-Fetch-Site cross-site', `/v2/repository/models/${MODEL}/unload`, { 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' }],
    ["unload, Triton's repository path", `/v2/repository/main/models/${MODEL}/unload`, { origin: EVIL, 'content-type': 'text/plain' }],
    ['load', `/v2/repository/models/${MODEL}/load`, { origin: EVIL, 'content-type': 'text/plain' }],
    ['index', '/v2/repository/index', { origin: EVIL }],
    ['infer', `/v2/models/${MODEL}/infer`, { origin: EVIL, 'content-type': 'text/plain' }],
  ];
  for (const [name, path, headers] of variants) {
    const r = await post(path, headers, name === 'infer' ? INFER_JSON : '{}');
    t.equal(r.status, 403, `${name}: refused`);
    t.match(r.json().error, /cross-origin POST refused/, `${name}: says why`);
  }
  const mlflow = await post('/invocations', { origin: EVIL, 'content-type': 'text/plain' }, '{"inputs": [[1, 2]]}');
  t.equal(mlflow.status, 403, 'MLflow /invocations: refused');
  t.match(mlflow.json(), { error_code: 'PERMISSION_DENIED', message: /cross-origin POST refused/ }, "in MLflow's error shape");
  t.ok(await serves(), 'the model still serves after every variant');

  // Not browsers of another origin: unaffected.
  t.equal((await post('/v2/repository/index', {})).status, 200, 'no Origin (curl, SDKs): a POST without Content-Type passes');
  t.equal((await post('/v2/repository/index', { origin: base })).status, 200, "the server's own origin (Swagger UI) passes");
  t.equal((await post('/v2/repository/index', { 'sec-fetch-site': 'same-origin' })).status, 200, 'Sec-Fetch-Site same-origin passes');
  const json = await post('/v2/repository/index', { origin: EVIL, 'content-type': 'application/json' }, '{}');
  t.equal(json.status, 200, 'application/json is not simple: a browser preflights it (and that is refused below)');
  t.equal(json.headers['access-control-allow-origin'], undefined, 'no CORS header: the page cannot read it');

  const preflight = await send(`${base}/v2/repository/models/${MODEL}/unload`, {
    method: 'OPTIONS',
    headers: { origin: EVIL, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  t.equal(preflight.status, 403, 'the preflight is refused without cors_settings');
  t.match(preflight.json().error, /CORS preflight refused: cross-origin requests are not allowed \(no cors_settings\)/);
  t.equal(preflight.headers['access-control-allow-origin'], undefined);
  const read = await send(`${base}/v2/models`, { headers: { origin: EVIL } });
  t.equal(read.headers['access-control-allow-origin'], undefined, 'GET from another origin: no CORS header');

  // The attack's very request without its Origin (a client, not a page) does unload: what refused
  // it above is the cross-origin rule, nothing else.
  t.equal((await post(`/v2/repository/models/${MODEL}/unload`, { 'content-type': 'text/plain' }, '{}')).status, 200, 'without Origin it unloads');
  t.notOk(await serves(), 'unloaded');
  t.equal((await post(`/v2/repository/models/${MODEL}/load`, { 'content-type': 'application/json' }, '{}')).status, 200);
  t.ok(await serves(), 'loaded again');
});

t.test("cors_settings (MLServer's): preflights, headers, and the rule still applies to allowed origins", async (t) => {
  const folder = exampleRepository(t, [MODEL]);
  const cors = {
    allow_origins: ['https://app.example'],
    allow_origin_regex: 'https://[a-z]+\\.trusted\\.example',
    allow_credentials: true,
    allow_methods: ['GET', 'POST'],
    allow_headers: ['Authorization', 'X-Request-Id'],
    expose_headers: ['inference-header-content-length'],
    max_age: 120,
  };
  writeFileSync(join(folder, 'settings.json'), JSON.stringify({ cors_settings: cors }));
  t.notMatch(loadServerSettings({ folder, env: {} }).warnings.join('\n'), /cors_settings/, 'cors_settings is read, not ignored');
  const tokenValue = 'cors-test-token-0123456789abcdef';
  const server = await startTestServer(t, { folder, settings: { parallel_workers: '1', auth_tokens: JSON.stringify([`${tokenValue} infer,admin`]) } });
  const base = server.url;
  const APP = 'https://app.example';
  const auth = { authorization: `Bearer ${tokenValue}` };
  const preflight = (origin: string, method = 'POST', headers = 'content-type, authorization') =>
    send(`${base}/v2/models/${MODEL}/infer`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers } });

  const ok = await preflight(APP);
  t.equal(ok.status, 204, 'an allowed origin is answered, without a token (browsers send none on preflights)');
  t.match(ok.headers, {
    'access-control-allow-origin': APP,
    'access-control-allow-credentials': 'true',
    'access-control-allow-methods': 'GET, POST',
    'access-control-max-age': '120',
    vary: /Origin/,
  });
  t.match(ok.headers['access-control-allow-headers'], /authorization/);
  t.match(ok.headers['access-control-allow-headers'], /content-type/);
  t.equal((await preflight('https://api.trusted.example')).status, 204, 'allow_origin_regex');
  t.equal((await preflight('https://api.trusted.example.evil.com')).status, 403, 'the regex matches the whole origin');
  t.equal((await preflight('http://api.trusted.example')).status, 403, 'scheme included');
  const other = await preflight(EVIL);
  t.equal(other.status, 403);
  t.match(other.json().error, /origin 'http:\/\/evil\.example' is not allowed/);
  t.match((await preflight(APP, 'DELETE')).json().error, /method DELETE is not allowed cross-origin \(cors_settings\.allow_methods: GET, POST\)/);
  t.match((await preflight(APP, 'POST', 'x-secret')).json().error, /request headers not allowed cross-origin: x-secret/);

  const inferred = await send(`${base}/v2/models/${MODEL}/infer`, { method: 'POST', headers: { origin: APP, 'content-type': 'application/json', ...auth }, body: INFER_JSON });
  t.equal(inferred.status, 200, 'the preflighted JSON request from the allowed origin');
  t.match(inferred.headers, { 'access-control-allow-origin': APP, 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'inference-header-content-length' });
  const unauthorized = await send(`${base}/v2/models`, { headers: { origin: APP } });
  t.equal(unauthorized.status, 401);
  t.equal(unauthorized.headers['access-control-allow-origin'], APP, 'a 401 carries the CORS headers, so the page can read it');
  t.equal((await send(`${base}/v2/models`, { headers: { origin: EVIL, ...auth } })).headers['access-control-allow-origin'], undefined, 'other origins get none');

  // auth_open's default: probes and scrapers need no token.
  t.equal((await send(`${base}/v2/health/ready`)).status, 200, 'health is open by default');
  t.equal((await send(`${server.metricsUrl}/metrics`)).status, 200, 'metrics are open by default');
  t.equal((await send(`${base}/v2/health/ready`, { headers: { authorization: 'Bearer not-a-token-at-all-000' } })).status, 200, 'an unknown token is ignored on an open route');
  const doc = (await send(`${base}/v2/docs/dataplane.json`, { headers: auth })).json() as { paths: Record<string, Record<string, { security?: unknown }>> };
  t.equal(doc.paths['/v2/health/live'].get.security, undefined, 'open operations name no scheme in the API document');
  t.ok(doc.paths['/v2/models/{model}/infer'].post.security, 'protected ones do');

  const attack = await send(`${base}/v2/repository/models/${MODEL}/unload`, { method: 'POST', headers: { origin: APP, 'content-type': 'text/plain' }, body: '{}' });
  t.equal(attack.status, 403, 'a simple POST is refused even from an allowed origin');
  const still = await send(`${base}/v2/models/${MODEL}/infer`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: INFER_JSON });
  t.equal(still.status, 200, 'the model still serves');
});

t.test('cors_settings: validated strictly; * without credentials', async (t) => {
  t.throws(() => loadServerSettings({ folder: '.', env: { TESSERA_CORS_SETTINGS: '{"allowed_origins": ["x"]}' } }), SettingsError, 'a misspelt field stops start-up');
  t.throws(() => loadServerSettings({ folder: '.', env: { TESSERA_CORS_SETTINGS: '{"allow_origin_regex": "("}' } }), /valid regular expression/);
  const defaults = corsSettingsSchema.parse({});
  t.same(defaults, { allow_origins: [], allow_origin_regex: null, allow_credentials: false, allow_methods: ['GET'], allow_headers: [], expose_headers: [], max_age: 600 }, "MLServer's defaults");
  const any = new CorsPolicy(corsSettingsSchema.parse({ allow_origins: ['*'] }));
  t.same(any.responseHeaders('https://x.example'), { 'access-control-allow-origin': '*' }, 'any origin without credentials: *');
  const withCredentials = new CorsPolicy(corsSettingsSchema.parse({ allow_origins: ['*'], allow_credentials: true }));
  t.match(withCredentials.responseHeaders('https://x.example'), { 'access-control-allow-origin': 'https://x.example', vary: 'Origin' }, 'with credentials the origin is echoed');
});
