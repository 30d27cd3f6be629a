// Connections that used to stall or exhaust the server (issue #14):
//
// Finding 2, stalled uploads: they were never timed out (a body trickled at 1 byte / 10 s was
// still open at 200 s; 60 stalled 60 MiB uploads held 2.6 GB until the kernel killed the server).
// Now the header and request timeouts close them with 408 {"error"}, an idle keep-alive
// connection is closed, the open connections are capped, and request bodies in flight are
// budgeted: while the server holds more than http_max_inflight_bytes, new uploads get 503 with
// Retry-After at once.
//
// Finding 3, idle gRPC connections: never closed (~20k idle sockets reached the open-file limit,
// and new HTTP connections were then reset). Now an idle connection gets GOAWAY after
// grpc_max_connection_idle, and connections past grpc_max_connections are closed at once, while
// the HTTP port, and the connections under the cap, keep serving.
import { connect, type ClientHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import t from 'tap';
import { grpcClients } from '../helpers/grpc.js';
import { exampleRepository, infer, rawRequest, startTestServer } from '../helpers/server.js';
import { MB, rawSocket, readUntilClosed, responseJson, rssSampler, sleep } from './helpers.js';

const IRIS = { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] };

const server = await startTestServer(t, {
  folder: exampleRepository(t, ['iris']),
  settings: {
    http_request_timeout: '1',
    http_headers_timeout: '0.5',
    http_keep_alive_timeout: '0.5',
    http_max_inflight_bytes: String(128 * MB),
    http_max_connections: '40',
    grpc_max_connection_idle: '500',
    grpc_max_connections: '8',
  },
});
const port = Number(new URL(server.url).port);

/** An HTTP/2 connection to the gRPC port, with when (if) the server closed it. */
function session(): { session: ClientHttp2Session; closed: Promise<number>; opened: Promise<boolean> } {
  const started = performance.now();
  const s = connect(`http://${server.grpcAddress}`);
  s.on('error', () => undefined);
  const opened = new Promise<boolean>((resolve) => {
    s.once('connect', () => resolve(true));
    s.once('close', () => resolve(false));
  });
  const closed = new Promise<number>((resolve) => s.once('close', () => resolve(performance.now() - started)));
  return { session: s, closed, opened };
}

// Started now, checked in its own test below: it waits on the idle timer while the HTTP tests run.
const idleGrpc = (async () => {
  const idle = session();
  const opened = await idle.opened;
  let goaway = false;
  idle.session.once('goaway', () => (goaway = true));
  const after = await Promise.race([idle.closed, sleep(5000).then(() => -1)]);
  // A client that made a call and then went idle reconnects for its next call.
  const clients = grpcClients(server.grpcAddress);
  try {
    const first = await clients.call('ServerLive', {});
    await sleep(800);
    const second = await clients.call('ServerLive', {});
    return { opened, after, goaway, first, second };
  } finally {
    clients.close();
  }
})();

/**
 * A new connection's answer once the server has seen the closed ones go (their close reaches it a
 * moment after the client's, later on a loaded machine): tries again for up to 10 s.
 */
async function servedOnceClosed<T>(attempt: () => Promise<T>): Promise<T | string> {
  let last = '';
  for (const until = performance.now() + 10_000; performance.now() < until; await sleep(50)) {
    try {
      return await attempt();
    } catch (error) {
      last = String(error);
    }
  }
  return `never served: ${last}`;
}

const uploadHead = (length: number): string =>
  `POST /v2/models/iris/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

t.test('timeouts: a trickled body, headers that never end, an idle keep-alive connection', async (t) => {
  // The three run side by side (each waits for a timeout).
  const trickled = (async () => {
    const socket = await rawSocket(port);
    socket.write(uploadHead(1000));
    const trickle = setInterval(() => socket.writable && socket.write(' '), 200);
    const res = await readUntilClosed(socket, 6000);
    clearInterval(trickle);
    return res;
  })();
  const slowHeaders = (async () => {
    const socket = await rawSocket(port);
    socket.write('GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    return readUntilClosed(socket, 6000);
  })();
  const idle = (async () => {
    const socket = await rawSocket(port);
    socket.write('GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    return readUntilClosed(socket, 6000);
  })();

  const body = await trickled;
  t.ok(body.closed, `a body trickled 1 byte / 200 ms: closed after ${body.afterMs.toFixed(0)} ms (it stayed open for 200 s before)`);
  const answer = responseJson(body.text);
  t.equal(answer.status, 408, body.text);
  t.match(answer.json, { error: /did not arrive in time.*http_request_timeout/ });
  t.same(Object.keys(answer.json as object), ['error'], 'in the V2 error shape');

  const headers = await slowHeaders;
  t.ok(headers.closed, `headers that never end: closed after ${headers.afterMs.toFixed(0)} ms`);
  t.equal(responseJson(headers.text).status, 408, headers.text);

  const kept = await idle;
  t.ok(kept.closed, `an idle keep-alive connection: closed ${kept.afterMs.toFixed(0)} ms after its one request`);
  t.equal(responseJson(kept.text).status, 200);
});

t.test('stalled 60 MiB uploads: past the in-flight budget new uploads get 503 at once; memory stays bounded; the timeout frees the budget', async (t) => {
  const rss = rssSampler();
  const sockets: Socket[] = [];
  const results: Promise<{ text: string; closed: boolean; afterMs: number }>[] = [];
  const chunk = Buffer.alloc(MB, 0x20);
  for (let i = 0; i < 20; i++) {
    const socket = await rawSocket(port);
    socket.on('error', () => undefined); // a refused upload's connection is closed under our writes
    sockets.push(socket);
    results.push(readUntilClosed(socket, 8000));
    socket.write(uploadHead(60 * MB));
    socket.write(chunk); // 1 MiB, then nothing more: stalled
  }
  // Meanwhile health answers.
  const health = await rawRequest(`${server.url}/v2/health/live`);
  t.equal(health.status, 200, 'health answers while uploads stall');
  const answers = (await Promise.all(results)).map((r) => ({ ...responseJson(r.text), closed: r.closed, afterMs: r.afterMs }));
  const grown = (rss.stop() - rss.baseline) / MB;
  const refused = answers.filter((a) => a.status === 503);
  const timedOut = answers.filter((a) => a.status === 408);
  t.equal(timedOut.length, 2, 'two uploads fit the 128 MiB budget (60 MiB each) and were closed by the request timeout');
  t.equal(refused.length, 18, 'the other 18 got 503');
  t.ok(answers.every((a) => a.closed), 'every stalled connection was closed by the server');
  for (const a of refused.slice(0, 1)) {
    t.match(a.json, { error: /receiving .* bytes of request bodies, over its limit of 134217728 \(setting http_max_inflight_bytes\)/ });
    t.match(a.headers, /retry-after: 1/);
    t.ok(a.afterMs < 1000, `refused at once (${a.afterMs.toFixed(0)} ms)`);
  }
  t.ok(grown < 150, `RSS grew ${grown.toFixed(0)} MiB (2.6 GB before)`);
  for (const s of sockets) s.destroy();
  // The budget is free again once the stalled ones are gone.
  const ok = await infer(server, 'iris', IRIS);
  t.equal(ok.status, 200, ok.text);
});

t.test('connections past http_max_connections are closed at once; the others are served', async (t) => {
  const sockets: Socket[] = [];
  for (let i = 0; i < 50; i++) {
    const s = await rawSocket(port).catch(() => undefined);
    if (s !== undefined) {
      s.on('error', () => undefined);
      sockets.push(s);
    }
  }
  const stillOpen = (): Socket[] => sockets.filter((s) => !s.destroyed && !s.readableEnded);
  // The server closes those past the cap as it accepts them (on a loaded machine, a little later).
  for (const until = performance.now() + 10_000; stillOpen().length > 40 && performance.now() < until; ) await sleep(20);
  const open = stillOpen();
  t.ok(open.length <= 40, `${open.length} of 50 connections stayed open (cap 40)`);
  t.ok(open.length >= 30, 'the connections under the cap stay open');
  // A connection that was kept is served.
  const kept = open[0];
  kept.write('GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  const res = await readUntilClosed(kept, 3000);
  t.equal(responseJson(res.text).status, 200);
  for (const s of sockets) s.destroy();
  t.equal(await servedOnceClosed(() => rawRequest(`${server.url}/v2/health/live`).then((r) => r.status)), 200, 'new connections are served once others have closed');
});

t.test('an idle gRPC connection gets GOAWAY after grpc_max_connection_idle', async (t) => {
  const r = await idleGrpc;
  t.ok(r.opened, 'connected');
  t.ok(r.after > 0, `closed by the server after ${r.after.toFixed(0)} ms idle (never before)`);
  t.ok(r.goaway, 'with GOAWAY');
  t.same(r.first, { live: true });
  t.same(r.second, { live: true }, 'a client whose connection was closed while idle reconnects for its next call');
});

t.test('connections past grpc_max_connections are closed at once; HTTP and the others are served', async (t) => {
  const sessions = Array.from({ length: 20 }, () => session());
  const opened = await Promise.all(sessions.map((s) => s.opened));
  const stillOpen = (): typeof sessions => sessions.filter((s) => !s.session.closed && !s.session.destroyed);
  for (const until = performance.now() + 10_000; stillOpen().length > 8 && performance.now() < until; ) await sleep(20);
  const open = stillOpen();
  t.ok(open.length <= 8, `${open.length} of 20 connections stay open (cap 8)`);
  t.ok(opened.filter(Boolean).length >= 8, 'the connections under the cap were accepted');
  t.equal((await rawRequest(`${server.url}/v2/health/live`)).status, 200, 'HTTP is served meanwhile');
  for (const s of sessions) s.session.destroy();
  const live = await servedOnceClosed(async () => {
    const clients = grpcClients(server.grpcAddress);
    try {
      return await clients.call('ServerLive', {});
    } finally {
      clients.close();
    }
  });
  t.same(live, { live: true }, 'a new gRPC connection is served once others have closed');
});
