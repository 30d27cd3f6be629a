// Model URIs against an MLflow file store laid out as MLflow 3.6 writes it (test/helpers/mlruns.ts):
// paths, file://, runs:/ (run artifacts and MLflow 3 logged models), models:/ by version, alias,
// stage (any case), latest and model id; every lookup failure names what and where.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { readMLmodel } from '../../src/mlflow/mlmodel.js';
import { localStoreRoot, parseModelUri, resolveModelUri, trackingRoot } from '../../src/mlflow/uri.js';
import { MlrunsWriter } from '../helpers/mlruns.js';

const WINE = '/work/shared/data/mlflow-models/wine-elasticnet';

function modelDir(root: string, name: string, tag: string): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  // The real wine MLmodel, tagged so that each resolution shows which copy it reached.
  writeFileSync(path.join(dir, 'MLmodel'), readFileSync(path.join(WINE, 'MLmodel'), 'utf8') + `tessera_fixture: ${tag}\n`);
  writeFileSync(path.join(dir, 'model.pkl'), '');
  return dir;
}

async function tagOf(dir: string): Promise<string> {
  return /tessera_fixture: (\S+)/.exec(readFileSync(path.join(dir, 'MLmodel'), 'utf8'))![1];
}

async function store(t: { teardown(fn: () => void): void }) {
  const work = mkdtempSync(path.join(tmpdir(), 'mlruns-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const src = path.join(work, 'src');
  const root = path.join(work, 'mlruns');
  const w = new MlrunsWriter(root);
  await w.experiment('0');
  await w.experiment('123456789', 'wine');
  // MLflow 2 style: the model is a run artifact.
  const run2 = await w.run({ experimentId: '123456789', artifacts: { model: modelDir(src, 'v1', 'run-artifact'), 'nested/deeper': modelDir(src, 'n', 'nested') } });
  // MLflow 3 style: the run has no artifacts; log_model wrote a logged model named "model".
  const run3 = await w.run({ experimentId: '123456789' });
  const older = await w.loggedModel({ experimentId: '123456789', name: 'model', sourceRunId: run3, from: modelDir(src, 'old', 'logged-old'), creationTimestamp: 1 });
  const m3 = await w.loggedModel({ experimentId: '123456789', name: 'model', sourceRunId: run3, from: modelDir(src, 'v3', 'logged') });
  const other = await w.loggedModel({ experimentId: '123456789', name: 'other', sourceRunId: run3, from: modelDir(src, 'o', 'logged-other') });
  const gone = await w.loggedModel({ experimentId: '123456789', name: 'gone', sourceRunId: run3, from: modelDir(src, 'g', 'deleted'), deleted: true });
  // Registry: version 1 from the run artifact (MLflow 2), 2 and 3 from logged models (MLflow 3).
  await w.registeredModel('wine');
  await w.modelVersion('wine', { source: pathToFileURL(path.join(root, '123456789', run2, 'artifacts', 'model')).href, runId: run2, stage: 'Production' });
  await w.registerLoggedModel('wine', m3, '123456789', 'Staging');
  await w.registerLoggedModel('wine', other, '123456789');
  await w.setAlias('wine', 'champion', 2);
  await w.registeredModel('empty');
  return { work, root, w, run2, run3, m3, older, other, gone };
}

t.test('every URI form resolves to its folder, with what was resolved', async (t) => {
  const s = await store(t);
  const opts = { trackingUri: pathToFileURL(s.root).href, cwd: s.work };

  const plain = await resolveModelUri(WINE, opts);
  t.same(plain, { uri: WINE, dir: WINE, via: 'path' });
  t.equal((await resolveModelUri(pathToFileURL(WINE).href, opts)).dir, WINE);
  t.equal((await resolveModelUri('src/v1', opts)).dir, path.join(s.work, 'src', 'v1'), 'relative path from cwd');

  const r2 = await resolveModelUri(`runs:/${s.run2}/model`, opts);
  t.equal(await tagOf(r2.dir), 'run-artifact');
  t.match(r2, { via: 'run', runId: s.run2, experimentId: '123456789', storeRoot: s.root });
  t.equal(await tagOf((await resolveModelUri(`runs:/${s.run2}/nested/deeper/`, opts)).dir), 'nested');

  const r3 = await resolveModelUri(`runs:/${s.run3}/model`, opts);
  t.equal(await tagOf(r3.dir), 'logged', 'MLflow 3: the newest logged model of that name and run');
  t.match(r3, { via: 'run', runId: s.run3, modelId: s.m3 });
  t.equal(r3.dir, path.join(s.root, '123456789', 'models', s.m3, 'artifacts'));
  const loggedMLmodel = await readMLmodel(r3.dir);
  t.equal(loggedMLmodel.modelId, s.m3);
  t.equal(loggedMLmodel.runId, s.run3);

  const byId = await resolveModelUri(`models:/${s.m3}`, opts);
  t.match(byId, { via: 'logged-model', modelId: s.m3, runId: s.run3, experimentId: '123456789' });

  const v1 = await resolveModelUri('models:/wine/1', opts);
  t.equal(await tagOf(v1.dir), 'run-artifact');
  t.match(v1, { via: 'registry', name: 'wine', version: '1', runId: s.run2 });
  const v2 = await resolveModelUri('models:/wine/2', opts);
  t.equal(await tagOf(v2.dir), 'logged');
  t.match(v2, { name: 'wine', version: '2', modelId: s.m3 });

  const alias = await resolveModelUri('models:/wine@champion', opts);
  t.match(alias, { name: 'wine', version: '2', alias: 'champion' });
  t.equal(await tagOf(alias.dir), 'logged');
  const latestAlias = await resolveModelUri('models:/wine@latest', opts);
  t.match(latestAlias, { version: '3', latest: true });

  for (const stage of ['Production', 'production', 'PRODUCTION']) {
    const p = await resolveModelUri(`models:/wine/${stage}`, opts);
    t.match(p, { version: '1', stage: 'Production' }, `stage ${stage}`);
  }
  t.match(await resolveModelUri('models:/wine/staging', opts), { version: '2', stage: 'Staging' });
  t.match(await resolveModelUri('models:/wine/None', opts), { version: '3', stage: 'None' });
  t.match(await resolveModelUri('models:/wine/latest', opts), { version: '3', latest: true });
  t.match(await resolveModelUri('models:/wine/LATEST', opts), { version: '3', latest: true });

  // A watcher polling the alias sees it move.
  await s.w.setAlias('wine', 'champion', 3);
  t.match(await resolveModelUri('models:/wine@champion', opts), { version: '3' });
  await s.w.setStage('wine', 1, 'Archived');
  await s.w.setStage('wine', 3, 'Production');
  t.match(await resolveModelUri('models:/wine/Production', opts), { version: '3' });
});

t.test('MLFLOW_TRACKING_URI forms: file: URIs, plain paths, the ./mlruns default', async (t) => {
  const s = await store(t);
  const uri = `runs:/${s.run2}/model`;
  for (const trackingUri of [pathToFileURL(s.root).href, `file:${s.root}`, s.root, 'mlruns', 'file:mlruns', './mlruns']) {
    const r = await resolveModelUri(uri, { env: { MLFLOW_TRACKING_URI: trackingUri }, cwd: s.work });
    t.equal(await tagOf(r.dir), 'run-artifact', `MLFLOW_TRACKING_URI=${trackingUri}`);
  }
  t.equal((await resolveModelUri(uri, { env: {}, cwd: s.work })).storeRoot, s.root, 'default ./mlruns');
  t.equal(trackingRoot({ env: {}, cwd: '/x' }), '/x/mlruns');
  // MLFLOW_REGISTRY_URI overrides the registry's store only.
  const r = await resolveModelUri('models:/wine/1', { env: { MLFLOW_TRACKING_URI: '/nowhere', MLFLOW_REGISTRY_URI: s.root }, cwd: s.work });
  t.equal(r.version, '1');
});

t.test('a store copied elsewhere still resolves (recorded absolute URIs are stale)', async (t) => {
  const s = await store(t);
  const moved = path.join(s.work, 'moved');
  const { cpSync } = await import('node:fs');
  cpSync(s.root, moved, { recursive: true });
  rmSync(s.root, { recursive: true });
  const opts = { trackingUri: moved, cwd: s.work };
  t.equal((await resolveModelUri(`runs:/${s.run2}/model`, opts)).dir, path.join(moved, '123456789', s.run2, 'artifacts', 'model'));
  t.equal((await resolveModelUri(`runs:/${s.run3}/model`, opts)).dir, path.join(moved, '123456789', 'models', s.m3, 'artifacts'));
  t.equal((await resolveModelUri('models:/wine@champion', opts)).dir, path.join(moved, '123456789', 'models', s.m3, 'artifacts'));
});

t.test('each lookup failure names what was looked up and where', async (t) => {
  const s = await store(t);
  const opts = { trackingUri: s.root, cwd: s.work };
  const fails = async (uri: string, message: string | RegExp, o: object = opts) => t.rejects(resolveModelUri(uri, o), { message }, uri);
  await fails('runs:/0123456789abcdef0123456789abcdef/model', `Run '0123456789abcdef0123456789abcdef' not found in the MLflow file store '${s.root}'`);
  await fails(
    `runs:/${s.run3}/nope`,
    `Failed to download artifacts from path 'nope' of run '${s.run3}': not found in '${path.join(s.root, '123456789', s.run3, 'artifacts', 'nope')}' nor as a logged model named 'nope' of that run (in '${path.join(s.root, '123456789', 'models')}')`,
  );
  await fails(`runs:/${s.run3}/gone`, /nor as a logged model named 'gone'/);
  await fails('models:/m-00000000000000000000000000000000', `Logged model 'm-00000000000000000000000000000000' not found in the MLflow file store '${s.root}' (looked in <experiment>/models/m-00000000000000000000000000000000)`);
  await fails(`models:/${s.gone}`, /Logged model 'm-[0-9a-f]+' not found/);
  await fails('models:/nope/1', `Registered Model with name=nope not found (looked in '${path.join(s.root, 'models', 'nope')}')`);
  await fails('models:/wine/9', `Model Version (name=wine, version=9) not found (looked in '${path.join(s.root, 'models', 'wine', 'version-9')}')`);
  await fails('models:/wine@challenger', `Registered model alias challenger not found (model 'wine', looked for '${path.join(s.root, 'models', 'wine', 'aliases', 'challenger')}')`);
  await fails('models:/wine/Archived', `No versions of model with name 'wine' and stage 'Archived' found (looked in '${path.join(s.root, 'models', 'wine')}')`);
  await fails('models:/empty/latest', `No versions of model with name 'empty' found (looked in '${path.join(s.root, 'models', 'empty')}')`);
  await fails('models:/wine/Prod', 'Invalid Model Version stage: Prod. Value must be one of None, Staging, Production, Archived.');
  await fails('/does/not/exist', "Model path '/does/not/exist' does not exist or is not a directory");
  await fails(s.work, `No MLmodel file in '${s.work}' (resolved from '${s.work}'): not an MLflow model directory`);
  await fails('runs:/abc/model', `The MLflow file store '${path.join(s.work, 'absent')}' does not exist (set MLFLOW_TRACKING_URI=file:/path/to/mlruns; the default is ./mlruns)`, { trackingUri: 'absent', cwd: s.work });
  // A deleted version (Deleted_Internal) is gone.
  await s.w.setStage('wine', 3, 'Deleted_Internal');
  await fails('models:/wine/3', /Model Version \(name=wine, version=3\) not found/);
  t.match(await resolveModelUri('models:/wine/latest', opts), { version: '2' });
  // A version whose source is a remote store.
  await s.w.modelVersion('wine', { source: 's3://bucket/model', storageLocation: null });
  await fails('models:/wine/4', /points at 's3:\/\/bucket\/model': Model URI 's3:\/\/bucket\/model': the 's3' scheme is not supported/);
});

t.test('malformed URIs and non-file stores are refused clearly', async (t) => {
  t.throws(() => parseModelUri('runs:/'), /Not a proper runs:\/ URI: runs:\/. Runs URIs must be of the form/);
  t.throws(() => parseModelUri('runs:/../etc/model'), /invalid run id '..'/);
  t.throws(() => parseModelUri('runs:/abc/../../x'), /may not contain '..'/);
  t.throws(() => parseModelUri('models:/'), /Not a proper models:\/ URI: models:\/. Models URIs must be of the form 'models:\/name\/suffix'/);
  t.throws(() => parseModelUri('models:/wine@'), /Not a proper models:\/ URI/);
  t.throws(() => parseModelUri('models:/wine/ '), /Not a proper models:\/ URI/);
  t.throws(() => parseModelUri('models://host/wine/1'), /registry host .* not supported/);
  t.throws(() => parseModelUri('s3://bucket/model'), /the 's3' scheme is not supported. Tessera reads MLflow models from a local file store only/);
  t.throws(() => parseModelUri('wat:thing'), /unknown scheme 'wat'/);
  t.same(parseModelUri('models:/wine/0007'), { kind: 'registry', name: 'wine', version: '7', subPath: '' });
  t.same(parseModelUri('models:/wine@prod/sub/dir'), { kind: 'registry', name: 'wine', alias: 'prod', subPath: 'sub/dir' });
  t.same(parseModelUri('runs:/abc/model'), { kind: 'runs', runId: 'abc', artifactPath: 'model' });
  t.same(parseModelUri('file:///tmp/a%20b'), { kind: 'path', path: '/tmp/a b' });
  for (const [uri, re] of [
    ['http://localhost:5000', /is a tracking server, which is not supported/],
    ['https://mlflow.example', /is a tracking server/],
    ['databricks', /Databricks\) is not supported/],
    ['databricks://profile', /Databricks\) is not supported/],
    ['sqlite:///mlflow.db', /is a database store, which is not supported/],
    ['postgresql://u@h/db', /is a database store/],
    ['mysql+pymysql://h/db', /is a database store/],
  ] as const) {
    t.throws(() => localStoreRoot(uri, '/'), { message: re, errorCode: 'NOT_IMPLEMENTED' }, uri);
  }
  await t.rejects(resolveModelUri('runs:/abc/model', { env: { MLFLOW_TRACKING_URI: 'http://localhost:5000' } }), /MLFLOW_TRACKING_URI=http:\/\/localhost:5000 is a tracking server/);
});
