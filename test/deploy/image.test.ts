// The container image, built for real from the top-level Dockerfile and run the way a hardened
// cluster runs it: read-only root file system, every capability dropped, no privilege escalation,
// non-root, no writable /tmp. Checks readiness, one V2 inference, Docker's HEALTHCHECK, the
// SageMaker `serve` argument, and that `docker stop` ends it in under 2 s with exit code 0; then
// an MLflow model's image made by `tessera build-docker` (/ping, /invocations, V2 on one port).
// Everything it makes (containers, image) is removed at the end.
//
// Needs a Docker daemon and a base image with node and npm (no registry is reachable here):
//   TESSERA_TEST_DOCKER_HOST   the daemon, e.g. unix:///tmp/ci-docker/docker.sock
//   TESSERA_TEST_DOCKER_BASE   the base image, passed as --build-arg BASE_IMAGE
//   TESSERA_TEST_DOCKER_CLI    the client (default /usr/bin/docker, Debian's, which builds with BuildKit)
// .ci/run starts a private daemon, makes the base (scripts/ci-docker.sh) and runs this file as its
// own step. Without them the test skips and says why.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { HOST, ROOT, answers, freePort, waitFor } from './helpers.js';
import { writeIrisModel } from '../cli/mlflow-fixtures.js';

const DOCKER_HOST = process.env.TESSERA_TEST_DOCKER_HOST;
const BASE = process.env.TESSERA_TEST_DOCKER_BASE;
const CLI = process.env.TESSERA_TEST_DOCKER_CLI ?? '/usr/bin/docker';
const STOP_LIMIT_MS = 2000; // issue #12: `docker stop` in under 2 s, exit code 0

function docker(args: string[], timeoutMs = 60_000, input?: string): SpawnSyncReturns<string> {
  return spawnSync(CLI, args, {
    encoding: 'utf8',
    timeout: timeoutMs,
    input,
    env: { ...process.env, DOCKER_HOST, DOCKER_BUILDKIT: '1' },
    maxBuffer: 64 * 1024 * 1024,
  });
}

function skipReason(): string | undefined {
  if (DOCKER_HOST === undefined || BASE === undefined) {
    return 'TESSERA_TEST_DOCKER_HOST and TESSERA_TEST_DOCKER_BASE are not set (.ci/run sets them and runs this test as its own step)';
  }
  if (!existsSync(CLI)) return `no Docker client at ${CLI}`;
  const version = docker(['version', '--format', '{{.Server.Version}}'], 20_000);
  if (version.status !== 0) return `the Docker daemon at ${DOCKER_HOST} does not answer: ${(version.stderr || String(version.error)).trim()}`;
  return undefined;
}

/** The CA bundle npm uses on this machine (a TLS-intercepting proxy needs it inside the build). */
function npmCaFile(): string | undefined {
  const fromEnv = process.env.NODE_EXTRA_CA_CERTS;
  if (fromEnv !== undefined && existsSync(fromEnv)) return fromEnv;
  const npm = spawnSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8', timeout: 20_000 });
  const file = npm.stdout?.trim();
  return file && file !== 'null' && file !== 'undefined' && existsSync(file) ? file : undefined;
}

const reason = skipReason();
if (reason !== undefined) {
  t.test('container image (build, run hardened, stop)', { skip: reason }, () => undefined);
} else {
  const id = `${process.pid}-${Date.now().toString(36)}`;
  const image = `tessera-image-test:${id}`;
  const mlflowImage = `tessera-image-test-mlflow:${id}`;
  const containers: string[] = [];
  // A model repository the container reads through a read-only mount; world-readable because the
  // container's user (10001) is not the test's.
  const work = mkdtempSync(join(tmpdir(), 'tessera-image-test-'));
  chmodSync(work, 0o755);
  const single = join(work, 'single');
  mkdirSync(single);
  copyFileSync(join(ROOT, 'settings', 'models', 'iris', 'model.onnx'), join(single, 'model.onnx'));
  chmodSync(single, 0o755);
  chmodSync(join(single, 'model.onnx'), 0o644);

  t.teardown(() => {
    for (const c of containers) docker(['rm', '--force', '--volumes', c]);
    docker(['image', 'rm', '--force', image, mlflowImage]);
    rmSync(work, { recursive: true, force: true });
  });

  const irisRequest = JSON.stringify({ id: 'image', inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.6, 3.0, 5.6, 2.1] }] });
  const inferLabels = async (url: string): Promise<unknown> => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: irisRequest, signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { outputs?: { name: string; data: unknown }[] };
    return { status: res.status, labels: body.outputs?.find((o) => o.name === 'label')?.data };
  };

  /** Starts a hardened container on the host network bound to loopback; returns its ports. */
  const run = async (name: string, mount: string, extra: string[], args: string[]): Promise<{ http: number; grpc: number; metrics: number; container: string }> => {
    const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
    const container = `tessera-image-test-${name}-${id}`;
    containers.push(container);
    const res = docker([
      'run', '--detach', '--name', container,
      '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '--network', 'host',
      '--health-interval', '1s', '--health-start-period', '30s',
      '--env', `TESSERA_HOST=${HOST}`, '--env', `TESSERA_HTTP_PORT=${http}`,
      '--env', `TESSERA_GRPC_PORT=${grpc}`, '--env', `TESSERA_METRICS_PORT=${metrics}`,
      '--volume', `${single}:${mount}:ro`,
      ...extra, image, ...args,
    ]);
    if (res.status !== 0) throw new Error(`docker run failed: ${res.stderr}`);
    return { http, grpc, metrics, container };
  };
  const logs = (container: string): string => {
    const r = docker(['logs', container]);
    return `${r.stdout}${r.stderr}`;
  };
  const inspect = (container: string, format: string): string => docker(['inspect', '--format', format, container]).stdout.trim();

  t.test('builds from the Dockerfile on the local base image', async (t) => {
    const ca = npmCaFile();
    const t0 = Date.now();
    const build = docker(
      [
        'build', '--network', 'host', '--progress', 'plain', '--build-arg', `BASE_IMAGE=${BASE}`,
        ...(ca === undefined ? [] : ['--secret', `id=npm_ca,src=${ca}`]),
        '--tag', image, ROOT,
      ],
      15 * 60_000,
    );
    const buildMs = Date.now() - t0;
    t.equal(build.status, 0, 'docker build');
    if (build.status !== 0) {
      t.comment((build.stderr + build.stdout).slice(-4000));
      return;
    }
    const size = Number(docker(['image', 'inspect', '--format', '{{.Size}}', image]).stdout.trim());
    const baseSize = Number(docker(['image', 'inspect', '--format', '{{.Size}}', BASE!]).stdout.trim());
    t.comment(`image build ${(buildMs / 1000).toFixed(1)} s; size ${(size / 1e6).toFixed(0)} MB (base ${(baseSize / 1e6).toFixed(0)} MB, Tessera ${((size - baseSize) / 1e6).toFixed(0)} MB)`);

    const config = JSON.parse(docker(['image', 'inspect', '--format', '{{json .Config}}', image]).stdout) as {
      User: string; ExposedPorts: Record<string, object>; Entrypoint: string[]; Cmd: string[]; Healthcheck?: { Test: string[] };
    };
    t.match(config.User, /^[1-9]\d*:[1-9]\d*$/, 'runs as a numeric non-root user (runAsNonRoot can verify it)');
    t.same(Object.keys(config.ExposedPorts).sort(), ['8080/tcp', '8081/tcp', '8082/tcp'], 'EXPOSE 8080 8081 8082');
    t.same(config.Cmd, ['start', '/mnt/models'], 'serves /mnt/models by default');
    t.match(config.Healthcheck?.Test.join(' ') ?? '', /healthcheck\.mjs/, 'HEALTHCHECK runs the node health probe');

    // Production dependencies only: no TypeScript, no test runner; dist/ without tsx imports.
    const probe = docker(['run', '--rm', '--network', 'none', '--entrypoint', 'node', image, '-e', `
      const r = (m) => { try { require.resolve(m, { paths: ['/opt/tessera'] }); return true; } catch { return false; } };
      console.log(JSON.stringify({ typescript: r('typescript'), tap: r('tap'), ort: require('fs').readdirSync('/opt/tessera/node_modules/onnxruntime-node/bin/napi-v6/linux') }));`]);
    t.equal(probe.status, 0, `node runs in the image ${probe.stderr}`);
    const found = JSON.parse(probe.stdout.trim() || '{}') as { typescript?: boolean; tap?: boolean; ort?: string[] };
    t.same(found, { typescript: false, tap: false, ort: ['x64'] }, 'no dev dependencies; ONNX Runtime for this platform only');
  });

  t.test('runs read-only, without capabilities, as a non-root PID 1; serves, stops in < 2 s with exit 0', async (t) => {
    if (docker(['image', 'inspect', image]).status !== 0) return t.fail('no image (the build failed)');
    // KServe's layout: the model files directly in /mnt/models, the name from MLSERVER_MODEL_NAME.
    const t0 = Date.now();
    const c = await run('v2', '/mnt/models', ['--env', 'MLSERVER_MODEL_NAME=iris'], []);
    const base = `http://${HOST}:${c.http}`;
    try {
      await waitFor('readiness', () => answers(`${base}/v2/health/ready`), 60_000, 50);
    } catch (error) {
      t.fail(`${String(error)}\n${logs(c.container)}`);
      return;
    }
    t.comment(`container ready ${Date.now() - t0} ms after docker run`);
    t.same(await inferLabels(`${base}/v2/models/iris/infer`), { status: 200, labels: [0, 2] }, 'V2 inference');
    t.ok(await answers(`http://${HOST}:${c.metrics}/metrics`), 'metrics listener');

    const whoami = docker(['exec', c.container, 'node', '-e', 'process.stdout.write(JSON.stringify({ uid: process.getuid(), pid1: require("fs").readFileSync("/proc/1/cmdline", "utf8").split("\\0")[0] }))']);
    t.same(JSON.parse(whoami.stdout || '{}'), { uid: 10001, pid1: 'node' }, 'user 10001, node is PID 1');
    const write = docker(['exec', c.container, 'node', '-e', 'require("fs").writeFileSync("/tmp/probe", "x")']);
    t.not(write.status, 0, 'the root file system (/tmp included) is read-only');
    t.match(write.stderr, /EROFS|read-only/i);

    await waitFor('Docker health status healthy', async () => inspect(c.container, '{{.State.Health.Status}}') === 'healthy', 30_000, 250).then(
      () => t.pass('HEALTHCHECK reports healthy'),
      (error: unknown) => t.fail(String(error)),
    );

    const s0 = Date.now();
    const stop = docker(['stop', '--time', '10', c.container], 30_000);
    const stopMs = Date.now() - s0;
    t.equal(stop.status, 0, stop.stderr);
    t.comment(`docker stop ${stopMs} ms`);
    t.ok(stopMs < STOP_LIMIT_MS, `docker stop took ${stopMs} ms (limit ${STOP_LIMIT_MS} ms)`);
    t.equal(inspect(c.container, '{{.State.ExitCode}}'), '0', 'exit code 0 after SIGTERM');
    t.match(logs(c.container), /"msg":"stopped"/, 'the server shut down through its own SIGTERM handler');
  });

  t.test('SageMaker contract: `serve` serves /opt/ml/model; `train` is refused', async (t) => {
    if (docker(['image', 'inspect', image]).status !== 0) return t.fail('no image (the build failed)');
    const c = await run('serve', '/opt/ml/model', [], ['serve']);
    const base = `http://${HOST}:${c.http}`;
    try {
      await waitFor('readiness', () => answers(`${base}/v2/health/ready`), 60_000, 50);
    } catch (error) {
      t.fail(`${String(error)}\n${logs(c.container)}`);
      return;
    }
    // A model folder at the repository root is named after the folder (SageMaker: "model").
    t.same(await inferLabels(`${base}/v2/models/model/infer`), { status: 200, labels: [0, 2] }, 'V2 inference on /opt/ml/model');
    const stop = docker(['stop', '--time', '10', c.container], 30_000);
    t.equal(stop.status, 0);
    t.equal(inspect(c.container, '{{.State.ExitCode}}'), '0');

    const train = docker(['run', '--rm', '--network', 'none', '--read-only', image, 'train']);
    t.not(train.status, 0, '`train` fails');
    t.match(train.stderr, /Train is not implemented/);
  });

  t.test('tessera build-docker: an MLflow model image (SageMaker contract), read-only, stops in < 2 s', async (t) => {
    if (docker(['image', 'inspect', image]).status !== 0) return t.fail('no image (the build failed)');
    // An ONNX-flavor MLflow model; the build shares every Tessera layer with the image above
    // (same files, same Dockerfile), so only the model's layer is new.
    const model = writeIrisModel(join(work, 'mlflow-iris'));
    const ca = npmCaFile();
    const t0 = Date.now();
    const build = spawnSync(process.execPath, [
      join(ROOT, 'bin', 'tessera.mjs'), 'build-docker', '-m', model, '-n', mlflowImage,
      '--', '--network', 'host', '--progress', 'plain', '--build-arg', `BASE_IMAGE=${BASE}`,
      ...(ca === undefined ? [] : ['--secret', `id=npm_ca,src=${ca}`]),
    ], { encoding: 'utf8', timeout: 15 * 60_000, env: { ...process.env, DOCKER_HOST, TESSERA_DOCKER_CLI: CLI, NODE_OPTIONS: '' }, maxBuffer: 64 * 1024 * 1024 });
    t.equal(build.status, 0, 'tessera build-docker');
    if (build.status !== 0) {
      t.comment((build.stderr + build.stdout).slice(-4000));
      return;
    }
    t.comment(`tessera build-docker ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const config = JSON.parse(docker(['image', 'inspect', '--format', '{{json .Config}}', mlflowImage]).stdout) as { Cmd: string[] };
    t.same(config.Cmd, ['serve'], 'the image serves by default (SageMaker: `docker run IMAGE serve`)');

    const port = await freePort();
    const container = `tessera-image-test-mlflow-${id}`;
    containers.push(container);
    const started = docker([
      'run', '--detach', '--name', container, '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '--network', 'host', '--env', `MLFLOW_HOST=${HOST}`, '--env', `MLFLOW_PORT=${port}`, mlflowImage,
    ]);
    t.equal(started.status, 0, started.stderr);
    const base = `http://${HOST}:${port}`;
    try {
      await waitFor('/ping', () => answers(`${base}/ping`), 60_000, 50);
    } catch (error) {
      t.fail(`${String(error)}\n${logs(container)}`);
      return;
    }
    const invocations = await fetch(`${base}/invocations`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [[5.1, 3.5, 1.4, 0.2], [6.6, 3.0, 5.6, 2.1]] }), signal: AbortSignal.timeout(10_000),
    });
    t.equal(invocations.status, 200);
    t.match(await invocations.text(), /^\{"predictions": \{"label": \[0, 2\], "probabilities": /, '/invocations');
    t.same(await inferLabels(`${base}/v2/models/mlflow-model/infer`), { status: 200, labels: [0, 2] }, 'V2 inference on the same port');
    const s0 = Date.now();
    const stop = docker(['stop', '--time', '10', container], 30_000);
    const stopMs = Date.now() - s0;
    t.equal(stop.status, 0, stop.stderr);
    t.comment(`docker stop ${stopMs} ms`);
    t.ok(stopMs < STOP_LIMIT_MS, `docker stop took ${stopMs} ms (limit ${STOP_LIMIT_MS} ms)`);
    t.equal(inspect(container, '{{.State.ExitCode}}'), '0', 'exit code 0 after SIGTERM');
  });

  t.test('no model mounted: exits with a message naming the missing folder', async (t) => {
    if (docker(['image', 'inspect', image]).status !== 0) return t.fail('no image (the build failed)');
    const res = docker(['run', '--rm', '--network', 'none', '--read-only', '--cap-drop', 'ALL', image], 60_000);
    t.equal(res.status, 2, 'exit code 2 (settings error)');
    t.match(res.stderr, /model repository root \/mnt\/models does not exist/);
  });
}
