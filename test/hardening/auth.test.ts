// Bearer-token auth on every surface (#14, finding 8): every HTTP route fastify registered (V2,
// statistics, repository, docs, MLflow's scoring routes, a surface added by the test itself) and
// every RPC of every gRPC service (inference, health, both reflection versions) is called with no
// token, a token that is not valid, a valid token without the scope it needs, and the right one:
// 401 + WWW-Authenticate: Bearer / UNAUTHENTICATED, 403 / PERMISSION_DENIED in each surface's
// error shape, and through. Routes and RPCs are enumerated from what the server registered, so a
// new one is covered without touching this file. Also: the caller's identity reaches the request
// context, the metrics listener, the tokens file re-read on change and on SIGHUP (a bad file keeps
// the tokens in force), start-up refusals that never show the token, no token in any log line,
// and the OpenAPI document's security scheme.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { FastifyPluginAsync } from 'fastify';
import t from 'tap';
import { SettingsError } from '../../src/core/errors.js';
import { createContext } from '../../src/core/context.js';
import { httpContext } from '../../src/http/context.js';
import type { SurfaceOptions } from '../../src/http/plugins/surface.js';
import { grpcAuthorizer } from '../../src/security/grpc.js';
import { AccessPolicy } from '../../src/security/policy.js';
import { grpcMethodClass, type RouteClass } from '../../src/security/scopes.js';
import { TokenStore } from '../../src/security/tokens.js';
import { startServer } from '../../src/server.js';
import { capturingLogger, exampleRepository, tempDir } from '../helpers/server.js';
import { allRpcs, bearer, callRpc, send, type Reply, type Rpc } from './security-clients.js';

const token = (): string => randomBytes(24).toString('hex');
const T = { infer: token(), admin: token(), read: token(), metrics: token(), both: token(), added: token() };
const WRONG = token();
const MODEL = 'identity_fp32';
const MLFLOW_ROUTES = new Set(['/invocations', '/endpoints/:model/invocations', '/ping', '/health', '/version']);

/** A surface the test adds: it is classified and protected without any security code of its own. */
const testSurface: FastifyPluginAsync<SurfaceOptions> = async (app, options) => {
  app.get('/test/whoami', (req, reply) => reply.send({ identity: httpContext(req, reply, options.logger).identity ?? null }));
  app.post('/test/poke', (_req, reply) => reply.send({ poked: true }));
};

/** Routes whose class is a decision of #14 (the rest are checked by the class the server gives them). */
const PINNED: Record<string, RouteClass> = {
  'GET /v2/health/live': 'health',
  'GET /v2/health/ready': 'health',
  'GET /v2/models/:model/ready': 'health',
  'GET /v2': 'read',
  'GET /v2/models': 'read',
  'GET /v2/models/:model': 'read',
  'GET /v2/models/stats': 'read',
  'GET /v2/models/:model/config': 'read',
  'POST /v2/models/:model/infer': 'infer',
  'POST /v2/models/:model/versions/:version/infer': 'infer',
  'POST /v2/repository/index': 'admin',
  'POST /v2/repository/models/:model/load': 'admin',
  'POST /v2/repository/models/:model/unload': 'admin',
  'POST /v2/repository/:repository/models/:model/unload': 'admin',
  'GET /v2/docs': 'docs',
  'GET /v2/docs/dataplane.json': 'docs',
  'POST /invocations': 'infer',
  'POST /endpoints/:model/invocations': 'infer',
  'GET /ping': 'health',
  'GET /version': 'read',
  'GET /test/whoami': 'read',
  'POST /test/poke': 'admin',
};

const PINNED_RPCS: Record<string, RouteClass> = {
  ServerLive: 'health',
  ServerReady: 'health',
  ModelReady: 'health',
  Check: 'health',
  Watch: 'health',
  ServerMetadata: 'read',
  ModelMetadata: 'read',
  ModelStatistics: 'read',
  ModelInfer: 'infer',
  ModelStreamInfer: 'infer',
  RepositoryIndex: 'admin',
  RepositoryModelLoad: 'admin',
  RepositoryModelUnload: 'admin',
  ServerReflectionInfo: 'docs',
};

/** A valid token that lacks what the class needs, and one that has it. */
const WRONG_SCOPE: Partial<Record<RouteClass, string>> = { admin: T.infer, infer: T.read, read: T.metrics, docs: T.metrics, metrics: T.infer };
// Health needs any valid token once it is not open: a metrics-only token will do.
const RIGHT: Record<RouteClass, string> = { admin: T.admin, infer: T.infer, read: T.read, docs: T.read, metrics: T.metrics, health: T.metrics };

const INFER_BODY = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [1, 2] }] });

t.test('bearer-token auth over HTTP and gRPC', async (t) => {
  const folder = exampleRepository(t, [MODEL]);
  const secrets = tempDir(t);
  const tokensFile = join(secrets, 'tokens');
  const fileLines = [
    '# scopes: infer, read, admin, metrics',
    `${T.infer} infer svc-infer`,
    `${T.admin} admin ops`,
    '',
    `${T.read} read dashboard   # a comment after the entry`,
    `${T.metrics} metrics prometheus`,
  ];
  writeFileSync(tokensFile, `${fileLines.join('\n')}\n`);
  const { logger, lines } = capturingLogger('debug');
  const server = await startServer({
    folder,
    env: {},
    flags: {
      host: '127.0.0.1',
      http_port: '0',
      grpc_port: '0',
      metrics_port: '0',
      parallel_workers: '1',
      debug: true,
      auth_tokens_file: tokensFile,
      auth_tokens: JSON.stringify([`${T.both} infer,admin deployer`]),
      auth_open: '', // nothing open: health and metrics need a token too (their default openness is checked in cors.test.ts)
      mlflow_scoring: 'on',
    },
    // A surface of the test's own, added like MLflow's: no security code of its own.
    httpSurfaces: [{ name: 'test', plugin: testSurface }],
    logger,
  });
  t.teardown(() => server.close());
  await server.loaded;
  const base = server.url;
  const grpcClient = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
  t.teardown(() => grpcClient.close());

  t.test('every HTTP route: no token, a wrong token, a token without the scope, the right token', async (t) => {
    const seen = new Map(server.http.routeClasses.map((r) => [`${r.method} ${r.url}`, r.scope]));
    for (const [route, cls] of Object.entries(PINNED)) t.equal(seen.get(route), cls, `${route} is ${cls}`);
    const routes = server.http.routeClasses;
    t.ok(routes.some((r) => r.url === '/invocations'), "MLflow's scoring routes are registered (mlflow_scoring on)");
    let checked = 0;
    for (const { method, url, scope } of routes) {
      const path = (model: string) =>
        url
          .replace(':model', model)
          .replace(':version', '1')
          .replace(':repository', 'models')
          .replace(':file', 'swagger-ui.css')
          .replace(/:[A-Za-z_]+/g, 'x')
          .replace('*', 'x');
      const call = (auth: string | undefined, model = MODEL): Promise<Reply> =>
        send(base + path(model), {
          method,
          headers: { ...(auth !== undefined ? { authorization: auth } : {}), ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
          ...(method === 'POST' ? { body: url.endsWith('/infer') ? INFER_BODY : '{}' } : {}),
        });
      const shape = (reply: Reply, code: string, what: string): void => {
        if (method === 'HEAD') return;
        const body = reply.json();
        if (MLFLOW_ROUTES.has(url)) t.equal(body.error_code, code, `${what}: MLflow's shape {"error_code": "${code}"}`);
        else t.type(body.error, 'string', `${what}: V2 shape {"error"}`);
      };
      const name = `${method} ${url} (${scope})`;
      // Admin routes are called for a model that does not exist, so nothing is unloaded here.
      const target = scope === 'admin' ? 'ghost' : MODEL;
      const none = await call(undefined, target);
      t.equal(none.status, 401, `${name}: no token → 401`);
      t.match(none.headers['www-authenticate'], /^Bearer realm="tessera"$/, `${name}: WWW-Authenticate: Bearer`);
      shape(none, 'UNAUTHENTICATED', `${name} no token`);
      const wrong = await call(`Bearer ${WRONG}`, target);
      t.equal(wrong.status, 401, `${name}: a wrong token → 401`);
      t.match(wrong.headers['www-authenticate'], /error="invalid_token"/);
      const basic = await call(`Basic ${Buffer.from('a:b').toString('base64')}`, target);
      t.equal(basic.status, 401, `${name}: another scheme → 401`);
      const lacking = WRONG_SCOPE[scope];
      if (lacking !== undefined) {
        const denied = await call(`Bearer ${lacking}`, target);
        t.equal(denied.status, 403, `${name}: a token without the scope → 403`);
        t.match(denied.headers['www-authenticate'], new RegExp(`error="insufficient_scope"`));
        shape(denied, 'PERMISSION_DENIED', `${name} wrong scope`);
      }
      const allowed = await call(`bearer ${RIGHT[scope]}`, target); // the scheme is case-insensitive
      t.notOk([401, 403].includes(allowed.status), `${name}: the right token passes (${allowed.status})`);
      checked++;
    }
    t.ok(checked >= 30, `${checked} routes checked`);
  });

  t.test('tokens at work: infer, an infer token refused on unload, admin unloads and loads', async (t) => {
    const infer = (tok: string) =>
      send(`${base}/v2/models/${MODEL}/infer`, { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: INFER_BODY });
    const repo = (tok: string, action: string) =>
      send(`${base}/v2/repository/models/${MODEL}/${action}`, { method: 'POST', headers: { authorization: `Bearer ${tok}` } });
    t.equal((await infer(T.infer)).status, 200, 'infer token infers');
    const denied = await repo(T.infer, 'unload');
    t.equal(denied.status, 403, 'infer token on unload: 403');
    t.match(denied.json().error, /needs a token with the scope 'admin' \(this token has: infer\)/);
    t.equal((await infer(T.infer)).status, 200, 'the model still serves');
    t.equal((await infer(T.admin)).status, 403, 'an admin token does not infer');
    t.equal((await repo(T.admin, 'unload')).status, 200, 'admin unloads');
    t.equal((await infer(T.both)).status, 404, 'unloaded');
    t.equal((await repo(T.both, 'load')).status, 200, 'the token from auth_tokens (infer,admin) loads');
    t.equal((await infer(T.both)).status, 200, 'and infers');
  });

  t.test('every RPC: no token, a wrong token, a token without the scope, the right token', async (t) => {
    const rpcs = allRpcs();
    const requestOf = (rpc: Rpc): object => {
      if (rpc.name === 'ModelInfer' || rpc.name === 'ModelStreamInfer') {
        return { model_name: MODEL, inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [1, 2] } }] };
      }
      if (rpc.name === 'ServerReflectionInfo') return { list_services: '' };
      if (rpc.name.startsWith('Repository')) return { model_name: 'ghost' }; // nothing real is unloaded
      if (rpc.name === 'ModelReady' || rpc.name === 'ModelMetadata') return { name: MODEL };
      return {};
    };
    t.same(
      [...new Set(rpcs.map((r) => r.service))].sort(),
      ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection', 'inference.GRPCInferenceService'],
      'every service the server offers',
    );
    for (const rpc of rpcs) {
      const cls = grpcMethodClass(rpc.name);
      if (PINNED_RPCS[rpc.name] !== undefined) t.equal(cls, PINNED_RPCS[rpc.name], `${rpc.name} is ${PINNED_RPCS[rpc.name]}`);
      const name = `${rpc.service}/${rpc.name} (${cls})`;
      const call = (metadata?: grpc.Metadata) => callRpc(grpcClient, rpc, requestOf(rpc), metadata);
      const none = await call();
      t.match(none, { ok: false, code: grpc.status.UNAUTHENTICATED }, `${name}: no token → UNAUTHENTICATED`);
      if (!none.ok) t.match(none.details, /authentication required: .* needs a bearer token \(metadata 'authorization: Bearer <token>'\)/);
      t.match(await call(bearer(WRONG)), { ok: false, code: grpc.status.UNAUTHENTICATED, details: 'the bearer token is not valid' }, `${name}: a wrong token`);
      const lacking = WRONG_SCOPE[cls];
      if (lacking !== undefined) t.match(await call(bearer(lacking)), { ok: false, code: grpc.status.PERMISSION_DENIED }, `${name}: a token without the scope`);
      const allowed = await call(bearer(RIGHT[cls]));
      t.notOk(!allowed.ok && [grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED].includes(allowed.code), `${name}: the right token passes`);
    }
    const infer = rpcs.find((r) => r.name === 'ModelInfer') as Rpc;
    const ok = await callRpc(grpcClient, infer, requestOf(infer), bearer(T.infer));
    t.ok(ok.ok, 'ModelInfer with an infer token answers');
    const stream = rpcs.find((r) => r.name === 'ModelStreamInfer') as Rpc;
    const streamed = await callRpc(grpcClient, stream, requestOf(stream), bearer(T.infer));
    t.match(streamed, { ok: true, value: { error_message: '' } }, 'ModelStreamInfer with an infer token answers');
    const unload = rpcs.find((r) => r.name === 'RepositoryModelUnload') as Rpc;
    t.match(await callRpc(grpcClient, unload, { model_name: MODEL }, bearer(T.infer)), { ok: false, code: grpc.status.PERMISSION_DENIED }, 'infer token on RepositoryModelUnload');
    t.ok((await callRpc(grpcClient, infer, requestOf(infer), bearer(T.infer))).ok, 'the model still serves');
  });

  t.test('the metrics listener: not open here (auth_open empty)', async (t) => {
    const scrape = (tok?: string) => send(`${server.metricsUrl}/metrics`, { headers: tok ? { authorization: `Bearer ${tok}` } : {} });
    const none = await scrape();
    t.equal(none.status, 401);
    t.equal(none.headers['www-authenticate'], 'Bearer realm="tessera"');
    t.equal((await scrape(WRONG)).status, 401);
    t.equal((await scrape(T.infer)).status, 403, 'an infer token cannot scrape');
    const ok = await scrape(T.metrics);
    t.equal(ok.status, 200, 'a metrics token scrapes');
    t.match(ok.text, /tessera_http_request_duration_seconds/);
    t.equal((await scrape(T.admin)).status, 200, 'admin implies metrics');
  });

  t.test('the OpenAPI document names the bearer scheme on protected operations', async (t) => {
    const doc = (await send(`${base}/v2/docs/dataplane.json`, { headers: { authorization: `Bearer ${T.read}` } })).json() as {
      components: { securitySchemes?: Record<string, unknown> };
      paths: Record<string, Record<string, { security?: unknown; 'x-tessera-scope'?: string; responses: Record<string, unknown> }>>;
    };
    t.same(doc.components.securitySchemes, { bearerAuth: { type: 'http', scheme: 'bearer' } });
    const unload = doc.paths['/v2/repository/models/{model}/unload'].post;
    t.same(unload.security, [{ bearerAuth: [] }]);
    t.equal(unload['x-tessera-scope'], 'admin');
    t.ok(unload.responses['401'] && unload.responses['403'], '401 and 403 documented');
    t.equal(doc.paths['/v2/health/live'].get['x-tessera-scope'], 'health', 'health is protected too here (auth_open empty)');
  });

  t.test('a surface added later is covered, and the identity reaches the request context', async (t) => {
    t.equal((await send(`${base}/test/whoami`)).status, 401, 'protected without any code of its own');
    t.same((await send(`${base}/test/whoami`, { headers: { authorization: `Bearer ${T.both}` } })).json(), { identity: { subject: 'deployer', scopes: ['infer', 'admin'] } });
    const poke = (tok: string) => send(`${base}/test/poke`, { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: '{}' });
    t.equal((await poke(T.infer)).status, 403, 'an unclassified POST needs admin');
    t.equal((await poke(T.admin)).status, 200);
    t.equal((await send(`${base}/nowhere`)).status, 401, 'unknown paths cannot be probed without a token');
    t.equal((await send(`${base}/nowhere`, { headers: { authorization: `Bearer ${T.read}` } })).status, 404);
  });

  t.test('the tokens file is re-read when it changes and on SIGHUP; a bad file keeps the tokens in force', async (t) => {
    const probe = (tok: string) => send(`${base}/v2/models`, { headers: { authorization: `Bearer ${tok}` } }).then((r) => r.status);
    t.equal(await probe(T.added), 401, 'not yet a token');
    // Drop svc-infer, add a new one: seen by the poll (every second), no signal.
    writeFileSync(tokensFile, `${fileLines.filter((l) => !l.includes(T.infer)).join('\n')}\n${T.added} read added-later\n`);
    const until = Date.now() + 10_000;
    while ((await probe(T.added)) !== 200 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    t.equal(await probe(T.added), 200, 'the added token works');
    t.equal(await probe(T.infer), 401, 'the removed token no longer does');
    t.equal(await probe(T.both), 200, 'auth_tokens entries stay');

    // A half-written file (a line without scopes) is refused: the tokens in force stay.
    writeFileSync(tokensFile, `${T.infer}\n`);
    process.emit('SIGHUP', 'SIGHUP');
    const refused = lines().find((l) => l.msg === 'auth_tokens_file could not be re-read: the tokens read before stay in force');
    t.ok(refused, 'the failed re-read is logged');
    t.match(refused?.reason, /line 1: no scopes after the token/);
    t.equal(await probe(T.added), 200, 'tokens in force stay');
    t.equal(await probe(T.infer), 401, 'the bad line gave nothing');

    writeFileSync(tokensFile, `${fileLines.join('\n')}\n`);
    process.emit('SIGHUP', 'SIGHUP');
    t.equal(await probe(T.infer), 200, 'SIGHUP re-reads at once');
  });

  t.test('no token ever reaches a log line', async (t) => {
    const text = lines()
      .map((l) => JSON.stringify(l))
      .join('\n');
    t.ok(text.includes('request completed'), 'the access log was on');
    for (const [name, value] of Object.entries({ ...T, wrong: WRONG })) t.notOk(text.includes(value), `the ${name} token is in no log line`);
    t.ok(
      lines().some((l) => l.msg === 'request completed' && l.subject === 'ops'),
      "the HTTP access log names the caller's subject",
    );
    t.ok(
      lines().some((l) => l.msg === 'call completed' && l.method === 'ModelInfer' && l.subject === 'svc-infer'),
      "the gRPC access log names the caller's subject",
    );
  });
});

t.test('the gRPC authorization step puts the identity on the call context', async (t) => {
  const user = token();
  const silent = capturingLogger('silent').logger;
  const policy = new AccessPolicy(new TokenStore({ tokens: [`${user} infer bob`], file: null, logger: silent }), new Set());
  const ctx = createContext({ protocol: 'grpc', logger: silent });
  await grpcAuthorizer(policy)(ctx, 'ModelInfer', bearer(user));
  t.same(ctx.identity, { subject: 'bob', scopes: ['infer'] });
  t.throws(() => grpcAuthorizer(policy)(createContext({ protocol: 'grpc', logger: silent }), 'ModelInfer', bearer(user.slice(0, -1))), { code: 'UNAUTHENTICATED' }, 'a prefix of a token is not the token');
});

t.test('start-up refuses bad tokens without showing them', async (t) => {
  const folder = tempDir(t);
  const secret = 'abcdefghijklmnopqrstuvwxyz012345';
  const start = (flags: Record<string, string>) =>
    startServer({ folder, env: {}, flags: { host: '127.0.0.1', http_port: '0', grpc_port: '0', metrics_port: '0', load_models_at_startup: 'false', ...flags }, logger: capturingLogger('silent').logger });
  const cases: [string, Record<string, string>, RegExp][] = [
    ['short', { auth_tokens: JSON.stringify(['short12345 infer']) }, /auth_tokens\[0\]: the token has 10 characters; use at least 16/],
    ['no scopes', { auth_tokens: JSON.stringify([secret]) }, /auth_tokens\[0\]: no scopes after the token/],
    ['unknown scope', { auth_tokens: JSON.stringify([`${secret} infer,root`]) }, /auth_tokens\[0\]: unknown scope 'root' \(scopes: infer, read, admin, metrics\)/],
    ['bad characters', { auth_tokens: JSON.stringify([`${secret}"; infer`]) }, /characters a bearer token cannot have/],
    ['twice', { auth_tokens: JSON.stringify([`${secret} infer a`, `${secret} admin b`]) }, /the same token is given twice \(a and b\)/],
    ['comma-split env', { auth_tokens: `${secret} infer,admin` }, /auth_tokens\[1\]: the token has 5 characters/],
    ['missing file', { auth_tokens_file: join(folder, 'nope') }, /auth_tokens_file: cannot read .*nope: ENOENT/],
  ];
  for (const [name, flags, message] of cases) {
    const error = await start(flags).then(
      (s) => s.close().then(() => null),
      (e: unknown) => e,
    );
    t.ok(error instanceof SettingsError, `${name}: a settings error (exit 2)`);
    t.match((error as Error).message, message, name);
    t.notOk((error as Error).message.includes(secret), `${name}: the token is not in the message`);
  }
});
