// The command line: --version, --help, a settings error stops start-up with exit 2 and a clear
// message, one log line per model with its load time, and SIGTERM finishes in-flight requests
// before exiting 0.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { exampleRepository, tempDir } from '../helpers/files.js';
import { spawnLogged, waitReady } from '../helpers/process.js';

const BIN = fileURLToPath(new URL('../../bin/tessera.mjs', import.meta.url));
const ENV = { ...process.env, NODE_OPTIONS: '' };
/** The package's version, read here rather than imported from src/server.ts (which would load the whole server in this process). */
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

t.test('--version and --help', async (t) => {
  const version = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', env: ENV });
  t.equal(version.status, 0);
  t.equal(version.stdout.trim(), PACKAGE_VERSION);
  const help = spawnSync(process.execPath, [BIN, 'start', '--help'], { encoding: 'utf8', env: ENV });
  t.equal(help.status, 0);
  for (const flag of ['--http-port', '--grpc-port', '--metrics-port', '--host', '--parallel-workers, --workers', '--log-level', '--http-max-input-size']) {
    t.match(help.stdout, flag, `documents ${flag}`);
  }
  t.match(help.stdout, /TESSERA_HTTP_PORT/);
  const bad = spawnSync(process.execPath, [BIN, 'start', '--no-such-flag'], { encoding: 'utf8', env: ENV });
  t.equal(bad.status, 2);
  t.match(bad.stderr, /no-such-flag/);
});

t.test('invalid settings stop start-up with exit 2 naming file, field, value and expectation', async (t) => {
  const folder = tempDir(t);
  writeFileSync(join(folder, 'settings.json'), JSON.stringify({ parallel_workers: 'two' }));
  const res = spawnSync(process.execPath, [BIN, 'start', folder, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0'], { encoding: 'utf8', env: ENV });
  t.equal(res.status, 2);
  t.match(res.stderr, `${join(folder, 'settings.json')}: field 'parallel_workers' has value "two"; expected number`);
});

t.test('logs each model load and drains in-flight requests on SIGTERM', async (t) => {
  const folder = exampleRepository(t, ['iris', 'mlp']);
  const child = spawnLogged(process.execPath, [BIN, 'start', folder, '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--host', '127.0.0.1'], { env: ENV });
  t.teardown(() => {
    if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
  });
  const url = await child.url;
  await waitReady(url);
  const loads = child.lines().filter((l) => l.msg === 'model loaded');
  t.same(loads.map((l) => l.model).sort(), ['iris', 'mlp'], 'one line per model');
  loads.forEach((l) => t.type(l.loadMs, 'number', `${String(l.model)} load time logged`));
  t.ok(child.lines().some((l) => /HTTP listening on/.test(String(l.msg))), 'listening address logged');

  // A slow request in flight when SIGTERM arrives must still complete.
  const row = '[' + new Array(256).fill('0.25').join(',') + ']';
  const body = `{"inputs":[{"name":"input","shape":[2048,256],"datatype":"FP32","data":[${new Array(2048).fill(row).join(',')}]}]}`;
  const inflight = fetch(`${url}/v2/models/mlp/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  // SIGTERM once the request runs in a worker (the metrics say so), however long it took to get there.
  const metrics = /metrics listening on (\S+)/.exec(child.lines().map((l) => String(l.msg)).join('\n'))?.[1];
  t.ok(metrics !== undefined, 'metrics address logged');
  const deadline = Date.now() + 30_000;
  for (;;) {
    const text = await (await fetch(`http://${metrics}`)).text();
    if (/^tessera_worker_inflight\{[^}]*\} [1-9]/m.test(text)) break;
    if (Date.now() > deadline) throw new Error(`the mlp request never ran:\n${text}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  child.proc.kill('SIGTERM');
  const res = await inflight;
  t.equal(res.status, 200, 'the in-flight request completed');
  const json = (await res.json()) as { outputs: { shape: number[] }[] };
  t.same(json.outputs[0].shape, [2048, 10]);
  t.equal(await child.exited, 0, 'exit code 0');
  t.ok(child.lines().some((l) => l.msg === 'stopped'));
  await t.rejects(fetch(`${url}/v2/health/live`), 'no longer accepting');
});
