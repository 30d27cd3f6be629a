// `tessera serve -m <uri>`: MLflow's flags and variables with their precedence, the ignored MLflow
// flags, usage and lookup errors (exit codes and messages), and the real CLI serving an MLflow model
// on one port: V2 routes for the same model and /metrics there, no gRPC unless asked.
// The real CLI runs as a child for an exit code of each kind and for the server on one port; the
// --help text and a missing file store's message are the command's logic, run in this process
// (serveMain): each child costs a Node start-up and the server's modules.
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { parseServeArgs, serveMain } from '../../src/cli/serve.js';
import { UsageError } from '../../src/cli/serve-model.js';
import { MlrunsWriter } from '../helpers/mlruns.js';
import { runToExit, spawnLogged, waitReady } from '../helpers/process.js';
import { tempDir } from '../helpers/server.js';
import { BIN, wineCsv, writeIrisModel, writeWineModel } from './mlflow-fixtures.js';

const ENV: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
for (const k of Object.keys(ENV)) if (/^(MLFLOW|TESSERA|MLSERVER)_/.test(k)) delete ENV[k];

t.test('flags and environment: MLflow defaults, precedence flags > MLFLOW_* > TESSERA_*/MLSERVER_* > defaults', async (t) => {
  const defaults = parseServeArgs(['-m', 'models:/m@a'], {});
  t.match(defaults, { modelUri: 'models:/m@a', host: '127.0.0.1', port: 5000, workers: undefined, timeout: undefined, name: undefined, watch: undefined, grpcPort: undefined, logLevel: 'info' });
  t.match(parseServeArgs(['--model-uri', 'x', '-h', '0.0.0.0', '-p', '6000', '-w', '3', '-t', '5', '--name', 'wine', '--watch', '0.5', '--grpc-port', '0'], {}), {
    modelUri: 'x', host: '0.0.0.0', port: 6000, workers: 3, timeout: 5, name: 'wine', watch: 0.5, grpcPort: 0,
  });
  const env = { MLFLOW_HOST: '10.0.0.1', MLFLOW_PORT: '7000', MLFLOW_MODELS_WORKERS: '2', MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT: '9', TESSERA_HTTP_PORT: '8000', TESSERA_HOST: '10.0.0.2' };
  t.match(parseServeArgs(['-m', 'x'], env), { host: '10.0.0.1', port: 7000, workers: 2, timeout: 9 }, 'MLFLOW_* over TESSERA_*');
  t.match(parseServeArgs(['-m', 'x', '-p', '7100', '-h', 'localhost', '-w', '1', '-t', '0'], env), { host: 'localhost', port: 7100, workers: 1, timeout: 0 }, 'flags over MLFLOW_*');
  t.match(parseServeArgs(['-m', 'x'], { TESSERA_HTTP_PORT: '8000', MLSERVER_HOST: '10.0.0.3', MLSERVER_PARALLEL_WORKERS: '4' }), { host: '10.0.0.3', port: 8000, workers: 4 }, 'TESSERA_*/MLSERVER_* over the defaults');
  t.same(parseServeArgs(['--help'], {}), 'help');
  const ignored = parseServeArgs(['-m', 'x', '--env-manager', 'local', '--no-conda', '--install-mlflow', '--enable-mlserver'], {});
  t.ok(ignored !== 'help' && ignored.warnings.length === 4, 'the four MLflow-only flags are accepted');
  if (ignored !== 'help') t.match(ignored.warnings.join('\n'), /--env-manager is ignored[^\n]*\n--no-conda is ignored[^\n]*\n--install-mlflow is ignored[^\n]*\n--enable-mlserver is ignored/);

  const bad: [string[], Record<string, string>, RegExp][] = [
    [[], {}, /Missing option '-m' \/ '--model-uri'/],
    [['-m', 'x', '-p', 'http'], {}, /--port has value "http"; expected a port number/],
    [['-m', 'x'], { MLFLOW_PORT: '99999' }, /MLFLOW_PORT has value "99999"/],
    [['-m', 'x', '-w', '0'], {}, /--workers has value "0"; expected a whole number of workers >= 1/],
    [['-m', 'x'], { MLFLOW_MODELS_WORKERS: 'many' }, /MLFLOW_MODELS_WORKERS has value "many"/],
    [['-m', 'x', '--timeout=-1'], {}, /--timeout has value "-1"; expected seconds >= 0/],
    [['-m', 'x'], { MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT: 'soon' }, /MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT has value "soon"/],
    [['-m', 'x', '--watch', '0'], {}, /--watch has value "0"/],
    [['-m', 'x', '--bogus'], {}, /Unknown option '--bogus'/],
    [['-m', 'x', 'extra'], {}, /Unexpected argument 'extra'/],
  ];
  for (const [argv, env, message] of bad) t.throws(() => parseServeArgs(argv, env), { constructor: UsageError, message }, argv.join(' ') || '(no arguments)');
});

/** `tessera serve` as a child: its exit code and standard error (the children of a test run side by side). */
async function run(args: string[], env: NodeJS.ProcessEnv = ENV): Promise<{ status: number | null; stderr: string }> {
  const { code, stderr } = await runToExit(process.execPath, [BIN, 'serve', ...args], { env });
  return { status: code, stderr };
}

/** serveMain in this process, for the paths that end before a server starts: exit code, stdout and stderr. */
async function serveHere(args: string[], env: NodeJS.ProcessEnv = ENV): Promise<{ status: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const status = await serveMain(args, env, { stdout, stderr });
  return { status, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

t.test('the CLI: --help, usage errors exit 2, lookup errors exit 1 naming what was looked up', async (t) => {
  const help = await serveHere(['--help']);
  t.equal(help.status, 0);
  for (const flag of ['-m, --model-uri', '-h, --host', '-p, --port', '-w, --workers', '-t, --timeout', '--name', '--watch', '--grpc-port', 'MLFLOW_HOST', 'MLFLOW_PORT', 'MLFLOW_MODELS_WORKERS', 'MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT', 'MLFLOW_TRACKING_URI']) {
    t.match(help.stdout, flag, `--help documents ${flag}`);
  }

  const store = tempDir(t, 'serve-cli-');
  const w = new MlrunsWriter(path.join(store, 'mlruns'));
  await w.experiment();
  await w.registeredModel('iris');
  const runId = await w.run({ artifacts: { model: writeIrisModel(path.join(store, 'src')) } });
  await w.modelVersion('iris', { source: `runs:/${runId}/model`, storageLocation: null, runId });
  const env = { ...ENV, MLFLOW_TRACKING_URI: w.trackingUri };
  // Children: exit codes 1 and 2 from the process itself.
  const [missing, fixed] = await Promise.all([run(['-m', 'models:/iris@champion', '-p', '0'], env), run(['-m', 'models:/iris/1', '--watch', '1', '-p', '0'], env)]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /Registered model alias champion not found \(model 'iris', looked for '.*aliases\/champion'\)/);
  t.equal(fixed.status, 2, '--watch on a fixed version is a usage error');
  t.match(fixed.stderr, /--watch follows a registry alias, stage or latest version/);
  const noStore = await serveHere(['-m', 'runs:/0123456789abcdef/model', '-p', '0'], { ...ENV, MLFLOW_TRACKING_URI: `file://${store}/nowhere` });
  t.equal(noStore.status, 1);
  t.match(noStore.stderr, /The MLflow file store '.*nowhere' does not exist/);
});

t.test('one port: V2 routes for the same model and /metrics; no gRPC by default; ignored flags warned', async (t) => {
  const dir = writeIrisModel(path.join(tempDir(t, 'serve-one-port-'), 'iris'));
  const child = spawnLogged(process.execPath, [BIN, 'serve', '-m', dir, '-p', '0', '--name', 'iris', '-w', '1', '--no-conda'], { env: ENV });
  t.teardown(() => {
    if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
  });
  const url = await child.url;
  await waitReady(url);
  const infer = await fetch(`${url}/v2/models/iris/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3] }] }),
  });
  t.equal(infer.status, 200);
  t.same(((await infer.json()) as { outputs: { name: string; data: unknown }[] }).outputs.find((o) => o.name === 'label')?.data, [0, 2]);
  // MLflow's scoring routes on the same port.
  const ping = await fetch(`${url}/ping`);
  t.equal(ping.status, 200, '/ping');
  t.equal(await ping.text(), '\n');
  t.equal((await fetch(`${url}/health`)).status, 200, '/health');
  t.equal(await (await fetch(`${url}/version`)).text(), '3.6.1.dev0', '/version: the MLflow version in MLmodel');
  const scored = await fetch(`${url}/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]] }),
  });
  t.equal(scored.status, 200, '/invocations');
  t.match(await scored.text(), /^\{"predictions": \{"label": \[0, 2\], "probabilities": \[\[/);
  const metrics = await fetch(`${url}/metrics`);
  t.equal(metrics.status, 200, '/metrics on the same port');
  t.match(await metrics.text(), /model_infer_request_success_total\{model="iris",version=""\} 2/, 'V2 and /invocations requests counted');
  const index = await fetch(`${url}/v2/repository/index`, { method: 'POST' });
  t.same(await index.json(), [{ name: 'iris', version: '', state: 'READY', reason: '' }], 'the repository holds the one model');
  const lines = child.lines();
  t.notOk(lines.some((l) => /gRPC listening/.test(String(l.msg))), 'no gRPC listener');
  t.notOk(lines.some((l) => /metrics listening/.test(String(l.msg))), 'no separate metrics listener');
  t.ok(lines.some((l) => l.level === 40 && /--no-conda is ignored/.test(String(l.msg))), 'MLflow-only flag warned about');
  t.ok(lines.some((l) => l.msg === 'serving MLflow model' && l.dir === dir && l.name === 'iris'));
  child.proc.kill('SIGTERM');
  t.equal(await child.exited, 0, 'SIGTERM: exit 0');
});

t.test('-t/--timeout bounds a request: 504 DEADLINE_EXCEEDED in MLflow\'s error shape', async (t) => {
  const dir = writeWineModel(path.join(tempDir(t, 'serve-timeout-'), 'wine'));
  // 1 ms: far less than 100k rows take through the worker pool.
  const child = spawnLogged(process.execPath, [BIN, 'serve', '-m', dir, '-p', '0', '-w', '1'], { env: { ...ENV, MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT: '0.001' } });
  t.teardown(() => {
    if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
  });
  const url = await child.url;
  await waitReady(url);
  const res = await fetch(`${url}/invocations`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: wineCsv(100_000) });
  t.equal(res.status, 504);
  t.equal(res.headers.get('content-type'), 'application/json');
  const body = (await res.json()) as { error_code: string; message: string };
  t.equal(body.error_code, 'DEADLINE_EXCEEDED');
  t.match(body.message, /did not answer within its request_timeout of 0\.001 s/);
  child.proc.kill('SIGTERM');
  t.equal(await child.exited, 0);
});

t.test('tessera start: metrics_port equal to http_port serves /metrics on the HTTP listener', async (t) => {
  const { createServer } = await import('node:net');
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const { startServer } = await import('../../src/server.js');
  const { pino } = await import('pino');
  const folder = writeIrisModel(path.join(tempDir(t, 'metrics-same-port-'), 'iris'));
  const server = await startServer({ folder, env: {}, flags: { host: '127.0.0.1', http_port: String(port), metrics_port: String(port), grpc_port: '0', parallel_workers: '1' }, logger: pino({ level: 'silent' }) });
  t.teardown(() => server.close());
  await server.loaded;
  t.equal(server.metricsUrl, `http://127.0.0.1:${port}`);
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.equal(res.status, 200);
  t.match(await res.text(), /# TYPE tessera_request_duration_seconds histogram/);
});
