// The body of scripts/smoke-node.sh, run by the Node binary under test (process.execPath): the
// compiled server (dist/, never tsx) on free loopback ports, readiness, one V2 infer of the
// bundled iris model, SIGTERM, exit code 0. Every wait is bounded.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HOST = '127.0.0.1';
const READY_MS = 90_000;
const STOP_MS = 15_000;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer().on('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function fail(message, log) {
  process.stderr.write(`smoke-node (${process.version}): FAILED: ${message}\n${log ? `--- server output ---\n${log}\n` : ''}`);
  process.exit(1);
}

const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
const server = spawn(
  process.execPath,
  ['bin/tessera.mjs', 'start', 'settings', '--host', HOST, '--http-port', String(http), '--grpc-port', String(grpc), '--metrics-port', String(metrics)],
  { cwd: ROOT, env: { ...process.env, TESSERA_FROM_SOURCE: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
);
let log = '';
server.stdout.on('data', (d) => (log = (log + d).slice(-6000)));
server.stderr.on('data', (d) => (log = (log + d).slice(-6000)));
const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
const kill = () => server.exitCode === null && server.kill('SIGKILL');
process.on('exit', kill);

const base = `http://${HOST}:${http}`;
const t0 = Date.now();
for (;;) {
  if (server.exitCode !== null) fail(`the server exited with ${server.exitCode} before it was ready`, log);
  const ok = await fetch(`${base}/v2/health/ready`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status === 200, () => false);
  if (ok) break;
  if (Date.now() - t0 > READY_MS) fail(`not ready after ${READY_MS / 1000} s`, log);
  await new Promise((r) => setTimeout(r, 100));
}
const readyMs = Date.now() - t0;
const res = await fetch(`${base}/v2/models/iris/infer`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ id: 'smoke', inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }] }),
  signal: AbortSignal.timeout(10_000),
});
const body = await res.text();
if (res.status !== 200) fail(`infer answered ${res.status}: ${body}`, log);
const label = JSON.parse(body).outputs?.find((o) => o.name === 'label')?.data;
if (JSON.stringify(label) !== '[0,2]') fail(`infer answered labels ${JSON.stringify(label)}, expected [0,2]: ${body}`, log);
if (log.includes('tsx')) fail('the server loaded tsx: the compiled build was not used', log);

server.kill('SIGTERM');
const stopped = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), STOP_MS).unref())]);
if (stopped === null) fail(`still running ${STOP_MS / 1000} s after SIGTERM`, log);
if (stopped.code !== 0) fail(`exit code ${stopped.code} (signal ${stopped.signal}) after SIGTERM, expected 0`, log);
process.stdout.write(`smoke-node: OK under Node ${process.version}: ready in ${readyMs} ms, iris infer 200 [0,2], SIGTERM -> exit 0\n`);
