// The image's HEALTHCHECK (bin/healthcheck.mjs) asks the port the server really listens on:
// `tessera start`'s (TESSERA_HTTP_PORT / MLSERVER_HTTP_PORT) and `tessera serve`'s, where
// MLFLOW_PORT comes first (the image's `serve`, an MLflow model image). Real servers on loopback
// ports, the real script run as Docker runs it (its own process, the container's environment).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { parseServeArgs, startServe } from '../../src/cli/serve.js';
import { writeIrisModel } from '../cli/mlflow-fixtures.js';
import { exampleRepository, startTestServer, tempDir } from '../helpers/server.js';
import { ROOT, freePort } from './helpers.js';

const SCRIPT = path.join(ROOT, 'bin', 'healthcheck.mjs');

/** The exit code of `node bin/healthcheck.mjs [live]` with exactly `env` (and PATH). */
function healthcheck(env: Record<string, string>, ...args: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [SCRIPT, ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 10_000 });
    child.on('close', (code) => resolve(code));
  });
}

t.test('tessera serve on MLFLOW_PORT (the image\'s serve): healthy, although TESSERA_HTTP_PORT names another port', async (t) => {
  const [port, otherPort] = [await freePort(), await freePort()];
  const env = { MLFLOW_PORT: String(port), TESSERA_HTTP_PORT: String(otherPort), TESSERA_HOST: '127.0.0.1' };
  const dir = writeIrisModel(path.join(tempDir(t, 'healthcheck-serve-'), 'iris'));
  const options = parseServeArgs(['-m', dir, '-w', '1'], env);
  if (options === 'help') throw new Error('unexpected help');
  const serving = await startServe(options, pino({ level: 'silent' }), env);
  t.teardown(() => serving.close());
  await serving.server.loaded;
  t.equal(new URL(serving.server.url).port, String(port), 'serve listens on MLFLOW_PORT');
  t.equal(await healthcheck(env), 0, 'ready: exit 0');
  t.equal(await healthcheck(env, 'live'), 0, 'live: exit 0');
  const { MLFLOW_PORT: _, ...withoutMlflowPort } = env;
  t.equal(await healthcheck(withoutMlflowPort), 1, 'without MLFLOW_PORT the check asks TESSERA_HTTP_PORT, where nothing listens: exit 1');
});

t.test('tessera start on TESSERA_HTTP_PORT: healthy whatever MLFLOW_PORT says; nothing listening: unhealthy', async (t) => {
  const server = await startTestServer(t, { folder: exampleRepository(t, ['iris']), settings: { parallel_workers: '1' } });
  const port = new URL(server.url).port;
  const closed = String(await freePort());
  t.equal(await healthcheck({ TESSERA_HTTP_PORT: port }), 0, 'TESSERA_HTTP_PORT: exit 0');
  t.equal(await healthcheck({ MLSERVER_HTTP_PORT: port, TESSERA_HOST: '0.0.0.0' }), 0, 'MLSERVER_HTTP_PORT, a wildcard host through loopback: exit 0');
  t.equal(await healthcheck({ TESSERA_HTTP_PORT: port, MLFLOW_PORT: closed }), 0, "MLFLOW_PORT set but unused by start: start's port is asked next, exit 0");
  t.equal(await healthcheck({ TESSERA_HTTP_PORT: closed }), 1, 'nothing listening: exit 1');
});
