// `tessera build-docker` without Docker: the build context `--output-directory` writes (Tessera's
// own Dockerfile plus the model at /opt/ml/model and the `serve` default; the same files
// `docker build .` sends; the model world-readable with registered_model_meta for models:/ URIs),
// the --tessera-image variant, and the errors (usage, no daemon). The image itself is built and run
// by test/deploy/image.test.ts when a Docker daemon is available.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parseBuildDockerArgs } from '../../src/cli/build-docker.js';
import { UsageError } from '../../src/cli/serve-model.js';
import { MlrunsWriter } from '../helpers/mlruns.js';
import { tempDir } from '../helpers/files.js';
import { BIN, ROOT, writeIrisModel } from './mlflow-fixtures.js';

const ENV: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
for (const k of Object.keys(ENV)) if (/^(MLFLOW|TESSERA|MLSERVER|DOCKER)_/.test(k)) delete ENV[k];

const run = (args: string[], env: NodeJS.ProcessEnv = ENV) => spawnSync(process.execPath, [BIN, 'build-docker', ...args], { encoding: 'utf8', env, timeout: 60_000 });

t.test('flags', async (t) => {
  t.match(parseBuildDockerArgs(['-m', 'models:/m@a']), { modelUri: 'models:/m@a', name: 'mlflow-pyfunc-servable', outputDirectory: undefined, dockerArgs: [] });
  t.match(parseBuildDockerArgs(['-m', 'x', '-n', 'reg.example/wine:2', '--output-directory', 'out', '--', '--network', 'host']), {
    name: 'reg.example/wine:2', outputDirectory: 'out', dockerArgs: ['--network', 'host'],
  });
  const ignored = parseBuildDockerArgs(['-m', 'x', '--env-manager', 'conda', '--install-java', '--enable-mlserver']);
  t.ok(ignored !== 'help' && ignored.warnings.length === 3);
  t.throws(() => parseBuildDockerArgs(['-n', 'x']), { constructor: UsageError, message: /Missing option '-m'/ });
  t.throws(() => parseBuildDockerArgs(['-m', 'x', '-n', 'Bad Name']), { constructor: UsageError, message: /invalid image name 'Bad Name'/ });
});

t.test('--output-directory writes the context: Tessera\'s Dockerfile + the model at /opt/ml/model', async (t) => {
  const dir = tempDir(t, 'build-docker-');
  const w = new MlrunsWriter(path.join(dir, 'mlruns'));
  await w.experiment();
  await w.registeredModel('iris');
  const runId = await w.run({ artifacts: { model: writeIrisModel(path.join(dir, 'src-model')) } });
  await w.modelVersion('iris', { source: `runs:/${runId}/model`, storageLocation: null, runId });
  await w.setAlias('iris', 'champion', 1);
  const out = path.join(dir, 'context');
  const res = run(['-m', 'models:/iris@champion', '-n', 'iris-image', '--output-directory', out], { ...ENV, MLFLOW_TRACKING_URI: w.trackingUri });
  t.equal(res.status, 0, res.stderr);
  t.match(res.stderr, `build it with: docker build -t iris-image ${out}`);

  const dockerfile = readFileSync(path.join(out, 'Dockerfile'), 'utf8');
  const base = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').trimEnd();
  t.ok(dockerfile.startsWith(base), "Tessera's own Dockerfile, unchanged");
  t.match(dockerfile.slice(base.length), /\nCOPY model\/ \/opt\/ml\/model\/\nCMD \["serve"\]\n$/, 'plus the model and the serve default');
  t.match(readFileSync(path.join(out, '.dockerignore'), 'utf8'), /\n!model\/\n$/, "the model passes Tessera's allow-list");
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.build.json', 'scripts/build.mjs', 'src/server.ts', 'src/cli/serve.ts', 'proto/grpc_service.proto', 'bin/container-entrypoint.mjs', 'settings/models/iris/model.onnx']) {
    t.ok(existsSync(path.join(out, f)), `context holds ${f}`);
  }
  for (const f of ['node_modules', 'dist', 'test', '.git', 'settings/models/mlp']) t.notOk(existsSync(path.join(out, f)), `context leaves out ${f}`);
  t.same(readFileSync(path.join(out, 'model', 'model.onnx')), readFileSync(path.join(ROOT, 'settings/models/iris/model.onnx')), 'the model');
  t.ok(existsSync(path.join(out, 'model', 'MLmodel')));
  t.equal(readFileSync(path.join(out, 'model', 'registered_model_meta'), 'utf8'), 'model_name: iris\nmodel_version: "1"\n', 'registered_model_meta as MLflow downloads write it');
  t.equal(statSync(path.join(out, 'model', 'MLmodel')).mode & 0o777, 0o644, 'files world-readable (the image user is not their owner)');
  t.equal(statSync(path.join(out, 'model')).mode & 0o777, 0o755);

  const again = run(['-m', 'models:/iris@champion', '--output-directory', out], { ...ENV, MLFLOW_TRACKING_URI: w.trackingUri });
  t.equal(again.status, 2);
  t.match(again.stderr, /--output-directory .* is not empty/);
});

t.test('--tessera-image: FROM an existing Tessera image; errors', async (t) => {
  const dir = tempDir(t, 'build-docker-from-');
  const model = writeIrisModel(path.join(dir, 'iris'));
  const out = path.join(dir, 'context');
  const res = run(['-m', model, '--tessera-image', 'tessera:0.1.0', '--output-directory', out]);
  t.equal(res.status, 0, res.stderr);
  t.equal(readFileSync(path.join(out, 'Dockerfile'), 'utf8').split('\n').find((l) => l.startsWith('FROM')), 'FROM tessera:0.1.0');
  t.notOk(existsSync(path.join(out, 'src')), 'no sources needed');
  t.notOk(existsSync(path.join(out, 'model', 'registered_model_meta')), 'no registry: no registered_model_meta');

  const noDaemon = run(['-m', model, '-n', 'x'], { ...ENV, DOCKER_HOST: `unix://${dir}/no-such.sock` });
  t.equal(noDaemon.status, 1);
  t.match(noDaemon.stderr, /no Docker (daemon answers at DOCKER_HOST=unix:\/\/.*no-such\.sock|client)/);
  t.match(noDaemon.stderr, /--output-directory DIR writes the build context without Docker/);

  const notMlflow = path.join(dir, 'plain');
  mkdirSync(notMlflow);
  writeFileSync(path.join(notMlflow, 'model.onnx'), '');
  const refused = run(['-m', notMlflow, '--output-directory', path.join(dir, 'c2')]);
  t.equal(refused.status, 1);
  t.match(refused.stderr, /No MLmodel file in '.*plain'/);
  const help = run(['--help']);
  t.equal(help.status, 0);
  for (const flag of ['-m, --model-uri', '-n, --name', '--output-directory', '--tessera-image', 'DOCKER_HOST']) t.match(help.stdout, flag);
});
