// The README's first command works on a fresh clone: `npm install && npm start` serves the bundled
// models. (The second, `npm install && npm test`, is what .ci/run executes on a fresh clone.)
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { tempDir } from '../helpers/server.js';
import { spawnLogged, waitReady } from '../helpers/process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

t.test('git clone, npm install, npm start', async (t) => {
  const hasCommit = spawnSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  if (hasCommit.status !== 0) {
    t.fail('the project is not a git repository with a commit; cannot test a fresh clone');
    return;
  }
  const dir = join(tempDir(t, 'tessera-clone-'), 'tessera');
  execFileSync('git', ['clone', '--quiet', ROOT, dir]);
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_loglevel: 'error' };
  for (const key of Object.keys(env)) if (key.startsWith('npm_') && key !== 'npm_config_loglevel') delete env[key];
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, env, encoding: 'utf8', timeout: 600_000 });
  t.equal(install.status, 0, `npm install\n${install.stderr.slice(-2000)}`);
  if (install.status !== 0) return;

  const child = spawnLogged('npm', ['start'], { cwd: dir, env: { ...env, TESSERA_HTTP_PORT: '0', TESSERA_GRPC_PORT: '0', TESSERA_METRICS_PORT: '0', TESSERA_HOST: '127.0.0.1' }, detached: true });
  t.teardown(() => {
    try {
      process.kill(-child.proc.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const url = await child.url;
  await waitReady(url, 120_000);
  const models = (await (await fetch(`${url}/v2/models`)).json()) as { models: { name: string; state: string }[] };
  t.same(
    models.models.map((m) => [m.name, m.state]),
    ['add_sub', 'identity_bool', 'identity_bytes', 'identity_fp32', 'identity_int64', 'iris', 'mlp', 'wine'].map((n) => [n, 'READY']),
    'every bundled model is READY (mlp generated on install)',
  );
  const res = await fetch(`${url}/v2/models/iris/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [6.6, 3.0, 5.6, 2.1] }] }),
  });
  t.equal(res.status, 200);
  t.same(((await res.json()) as { outputs: { data: number[] }[] }).outputs[0].data, [2]);
  // SIGTERM to the server (as Kubernetes does to the container's process); npm then exits with it.
  const serverPid = child.lines().find((l) => typeof l.pid === 'number')?.pid as number;
  process.kill(serverPid, 'SIGTERM');
  t.equal(await child.exited, 0, 'npm start exits 0 after the server stops on SIGTERM');
});
