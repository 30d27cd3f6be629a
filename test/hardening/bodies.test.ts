// Request bodies and shapes that used to stall, flood or fool the server (issue #14):
//
// Finding 1, deeply nested JSON: a 32 MB body of '[' (a small gzip body) kept JSON.parse, and so
// the event loop, busy for 23 s (health blocked, 2.2 GB kept) before a 400. The nesting is now
// checked before JSON.parse: the answer is a fast 400, and health answers meanwhile.
//
// Finding 9 (the server side): huge shapes answered 500 "Invalid typed array length", logged at
// error level with a stack (a log-flooding vector); fastify's own errors (414, 431, bad URL,
// unknown method) came back as {code, statusCode}; ragged nested data was silently flattened;
// 1e400 in FP32 became Infinity; invalid UTF-8 in BYTES JSON became U+FFFD. Now each is a 4xx in
// the V2 shape {"error"} (RESOURCE_EXHAUSTED over gRPC for the element limits), logged at debug.
import { Agent, request } from 'node:http';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import t, { type Test } from 'tap';
import { grpcClients } from '../helpers/grpc.js';
import { capturingLogger, exampleRepository, infer, rawRequest, startTestServer } from '../helpers/server.js';
import { MB, rawSocket, readUntilClosed, responseJson, rssSampler } from './helpers.js';

const IRIS = { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] };
const { logger, lines } = capturingLogger('info');
const server = await startTestServer(t, {
  folder: exampleRepository(t, ['iris', 'identity_bytes', 'identity_fp32', 'add_sub']),
  logger,
  settings: { max_request_elements: '100' },
});
const clients = grpcClients(server.grpcAddress);
t.teardown(() => clients.close());
const port = Number(new URL(server.url).port);
const errorLines = (): Record<string, unknown>[] => lines().filter((l) => Number(l.level) >= 50);

t.test('a gzip body of 32M "[" gets a fast 400 while health keeps answering', async (t) => {
  const body = gzipSync(Buffer.alloc(32 * MB, '['));
  t.ok(body.length < 100 * 1024, `the body is small on the wire (${body.length} bytes)`);
  const rss = rssSampler();
  const started = performance.now();
  let inFlight = true;
  const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(`${server.url}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.length },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  }).finally(() => (inFlight = false));

  // Health is asked over its own connection for as long as the bad request is in flight.
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const probes: { status: number; ms: number }[] = [];
  while (inFlight) {
    const asked = performance.now();
    const status = await new Promise<number>((resolve) => {
      request(`${server.url}/v2/health/live`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
        .on('error', () => resolve(0))
        .end();
    });
    probes.push({ status, ms: performance.now() - asked });
    await new Promise((r) => setTimeout(r, 5));
  }
  agent.destroy();
  const res = await answer;
  const elapsed = performance.now() - started;
  const grown = (rss.stop() - rss.baseline) / MB;
  t.equal(res.status, 400, res.text);
  t.same(Object.keys(JSON.parse(res.text) as object), ['error']);
  t.match(JSON.parse(res.text), { error: /malformed JSON in request body: nesting deeper than 100/ });
  // Generous functional bound (it took 23 s before); health: every probe answered, none stalled.
  t.ok(elapsed < 5000, `the 400 came after ${elapsed.toFixed(0)} ms`);
  t.ok(probes.every((p) => p.status === 200), `every health probe answered 200 (${probes.length} while in flight)`);
  const slowest = Math.max(0, ...probes.map((p) => p.ms));
  t.ok(slowest < 1000, `health answered while the bad request was in flight (slowest probe ${slowest.toFixed(1)} ms)`);
  t.ok(grown < 400, `RSS grew ${grown.toFixed(0)} MiB (2.2 GB before)`);
  const ok = await infer(server, 'iris', IRIS);
  t.equal(ok.status, 200, 'the server still serves');
});

t.test('nesting is limited in every JSON body: inference data, the repository routes', async (t) => {
  const deep = (n: number): string => '['.repeat(n) + '1' + ']'.repeat(n);
  const over = await infer(server, 'iris', `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":${deep(101)}}]}`);
  t.equal(over.status, 400);
  t.match(over.json(), { error: /nesting deeper than 100/ });
  // Brackets inside strings are text, not nesting.
  const inString = await infer(server, 'iris', { id: '['.repeat(500), inputs: IRIS.inputs });
  t.equal(inString.status, 200, 'brackets inside a string are not nesting');
  const index = await rawRequest(`${server.url}/v2/repository/index`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"ready":${deep(200)}}` });
  t.equal(index.status, 400);
  t.match(index.json(), { error: /nesting deeper than 100/ });
});

const onlyError = (t: Test, body: Record<string, unknown>, pattern: RegExp, what: string): void => {
  t.same(Object.keys(body), ['error'], `${what}: {"error"} only`);
  t.match(body.error, pattern, `${what}: says why`);
};

type GrpcError = { code: number; details: string };
const grpcFailure = (promise: Promise<unknown>): Promise<GrpcError> =>
  promise.then(
    () => ({ code: 0, details: 'succeeded' }),
    (e: grpc.ServiceError) => ({ code: e.code, details: e.details }),
  );

t.test('huge shapes: 400 / RESOURCE_EXHAUSTED before anything is allocated, nothing logged at error level', async (t) => {
  const before = errorLines().length;
  const json = await infer(server, 'iris', { inputs: [{ name: 'input', shape: [1e9, 1e9], datatype: 'FP32', data: [1] }] });
  t.equal(json.status, 400);
  onlyError(t, json.json(), /shape \[1000000000,1000000000\] has 1000000000000000000 elements, more than max_tensor_elements \(67108864\)/, 'JSON');
  const bytes = await infer(server, 'identity_bytes', { inputs: [{ name: 'INPUT0', shape: [1, 2 ** 32], datatype: 'BYTES', data: ['a'] }] });
  t.equal(bytes.status, 400);
  onlyError(t, bytes.json(), /more than max_tensor_elements/, 'BYTES [1,2^32]');
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1e9, 1e9], datatype: 'FP32', parameters: { binary_data_size: 16 } }] }));
  const binary = await rawRequest(`${server.url}/v2/models/iris/infer`, {
    method: 'POST',
    headers: { 'inference-header-content-length': String(header.length) },
    body: Buffer.concat([header, Buffer.alloc(16)]),
  });
  t.equal(binary.status, 400);
  onlyError(t, binary.json(), /more than max_tensor_elements/, 'binary extension');
  // Per request: add_sub's two [4,16] inputs are 128 elements together, over max_request_elements 100.
  const pair = (rows: number): object => ({
    inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, shape: [rows, 16], datatype: 'FP32', data: new Array(rows * 16).fill(1) })),
  });
  t.equal((await infer(server, 'add_sub', pair(2))).status, 200, '64 elements pass');
  const over = await infer(server, 'add_sub', pair(4));
  t.equal(over.status, 400);
  onlyError(t, over.json(), /the request's inputs have 128 elements together, more than max_request_elements \(100\)/, 'per request');

  const typed = await grpcFailure(clients.call('ModelInfer', { model_name: 'iris', inputs: [{ name: 'input', datatype: 'FP32', shape: [1e9, 1e9], contents: { fp32_contents: [1] } }] }));
  t.equal(typed.code, grpc.status.RESOURCE_EXHAUSTED, `gRPC typed: ${typed.details}`);
  t.match(typed.details, /more than max_tensor_elements/);
  const raw = await grpcFailure(
    clients.call('ModelInfer', { model_name: 'identity_bytes', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 2 ** 32] }], raw_input_contents: [Buffer.alloc(8)] }),
  );
  t.equal(raw.code, grpc.status.RESOURCE_EXHAUSTED, `gRPC raw BYTES: ${raw.details}`);
  // No elements at all, but a dimension no runtime can take (the fuzz run found it: 500 before).
  const empty = await grpcFailure(clients.call('ModelInfer', { model_name: 'identity_bytes', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2 ** 32, 0], contents: { bytes_contents: [] } }] }));
  t.equal(empty.code, grpc.status.RESOURCE_EXHAUSTED, `a [2^32, 0] shape: ${empty.details}`);
  t.match(empty.details, /dimension 0 of shape \[4294967296,0\] is larger than max_tensor_elements/);
  t.equal(errorLines().length, before, 'no line at error level');
});

t.test("fastify's and Node's own refusals answer {\"error\"}", async (t) => {
  const send = async (text: string): Promise<{ status: number; json: unknown }> => {
    const socket = await rawSocket(port);
    socket.on('error', () => undefined);
    socket.write(text);
    const res = await readUntilClosed(socket, 3000);
    socket.destroy();
    return responseJson(res.text);
  };
  const cases: [string, string, number, RegExp][] = [
    ['431: huge headers', `GET /v2 HTTP/1.1\r\nHost: a\r\nX-Big: ${'y'.repeat(20_000)}\r\nConnection: close\r\n\r\n`, 431, /headers are larger than 16384 bytes/],
    ['414: a long path segment', `GET /v2/models/${'x'.repeat(200)}/ready HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`, 414, /longer than 100 characters/],
    ['400: a malformed URL', 'GET /v2/models/%E0%A4%A HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 400, /is not valid \(malformed percent-encoding\)/],
    ['400: an unknown method', 'FOO /v2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 400, /malformed HTTP request: Invalid method/],
    ['404: a method with no route', 'PROPFIND /v2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 404, /Not Found: PROPFIND \/v2/],
    ['400: a bad Content-Length', 'POST /v2/models/iris/infer HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n', 400, /malformed HTTP request/],
  ];
  for (const [what, text, status, pattern] of cases) {
    const res = await send(text);
    t.equal(res.status, status, what);
    onlyError(t, (res.json ?? {}) as Record<string, unknown>, pattern, what);
  }
});

t.test('data refused rather than altered: ragged nesting, out-of-range floats, invalid UTF-8, lone surrogates', async (t) => {
  const iris = (data: string): Promise<{ status: number; json: () => Record<string, unknown> }> =>
    infer(server, 'iris', `{"inputs":[{"name":"input","shape":[2,4],"datatype":"FP32","data":${data}}]}`);
  const ragged = await iris('[[1,2,3,4,5],[6,7,8]]');
  t.equal(ragged.status, 400);
  onlyError(t, ragged.json(), /'data' is ragged: data\[1\] has 3 elements where data\[0\] has 5/, 'ragged');
  const mixed = await iris('[1,2,3,4,[5,6,7,8]]');
  t.equal(mixed.status, 400);
  onlyError(t, mixed.json(), /'data' is ragged: data\[4\] is an array where a value is expected/, 'mixed levels');
  t.equal((await iris('[[1,2,3,4],[5,6,7,8]]')).status, 200, 'regular nesting is accepted');
  t.equal((await iris('[1,2,3,4,5,6,7,8]')).status, 200, 'flat data is accepted');

  const huge = await iris('[1e400,1,1,1,1,1,1,1]');
  t.equal(huge.status, 400);
  onlyError(t, huge.json(), /element 0 is a number beyond the range of a double, expected a number within ±3\.4028235e38 for FP32/, '1e400');
  const overFp32 = await iris('[1,1e39,1,1,1,1,1,1]');
  t.equal(overFp32.status, 400);
  onlyError(t, overFp32.json(), /element 1 is 1e\+39, expected a number within ±3\.4028235e38 for FP32/, '1e39 in FP32');
  t.equal((await iris('[1,"Infinity","-Infinity",1,1,1,1,1]')).status, 200, 'infinities are sent as strings');

  const badUtf8 = Buffer.concat([
    Buffer.from('{"inputs":[{"name":"INPUT0","shape":[1,1],"datatype":"BYTES","data":["'),
    Buffer.from([0xff, 0xfe]),
    Buffer.from('"]}]}'),
  ]);
  const utf8 = await rawRequest(`${server.url}/v2/models/identity_bytes/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: badUtf8 });
  t.equal(utf8.status, 400);
  onlyError(t, utf8.json(), /not valid UTF-8/, 'invalid UTF-8');
  const surrogate = await infer(server, 'identity_bytes', '{"inputs":[{"name":"INPUT0","shape":[1,1],"datatype":"BYTES","data":["\\ud800"]}]}');
  t.equal(surrogate.status, 400);
  onlyError(t, surrogate.json(), /element 0 is not valid Unicode text/, 'lone surrogate');
  const ok = await infer(server, 'identity_bytes', { inputs: [{ name: 'INPUT0', shape: [1, 1], datatype: 'BYTES', data: ['héllo 👋'] }] });
  t.equal(ok.status, 200);
  t.match(ok.text, '"héllo 👋"', 'valid text round-trips');
});
