// Tessera behind Seldon Core v2's agent: the server started with the `tessera` container's args and
// environment from deploy/seldon/serverconfig.yaml, driven over real gRPC by exactly the calls the
// agent makes (SeldonIO/seldon-core v2.10.2, scheduler/pkg/agent/):
//
//   start-up     ServerLive until live (agent_svc_manager.go: waitInferenceServer, oip/v2.go liveGrpc);
//                then RepositoryIndex{} and RepositoryModelUnload{model_name} for every model READY or
//                LOADING, NOT_FOUND tolerated, and the model's folder removed (UnloadAllModels).
//   load         the artifact copied to <repo>/<model>_<version>/1/, its model-settings.json rewritten
//                with name "<model>_<version>" and parameters.version "1" (repository/model_repository.go
//                DownloadModelVersion, repository/mlserver/mlserver.go updateNameAndVersion,
//                util.GetVersionedModelName / GetPinnedModelVersion), then
//                RepositoryModelLoad{model_name: "<model>_<version>"} (state_manager.go LoadModelVersion).
//   data plane   ModelInfer / ModelReady / ModelMetadata with the internal name and version ""
//                (rproxy_grpc.go); REST paths rewritten to /v2/models/<model>_<version>/... (rproxy.go
//                rewritePath); on NOT_FOUND or UNAVAILABLE the agent loads the model again and retries
//                (retryForLazyReload): the reload after a memory eviction.
//   unload       RepositoryModelUnload{model_name}, NOT_FOUND tolerated (ControlPlaneErr.IsNotFound),
//                then the folder removed (agent_svc_manager.go UnloadModel, RemoveModelVersion).
// The requests are encoded with agent-dataplane.proto (Seldon's field numbers), not Tessera's proto.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import t from 'tap';
import { HOST, ROOT, answers, startCliOnFreePorts } from './helpers.js';
import { parseManifests, type Manifest } from './k8s-validate.js';

const PROTO = join(ROOT, 'test', 'deploy', 'agent-dataplane.proto');
const SERVER_CONFIG = join(ROOT, 'deploy', 'seldon', 'serverconfig.yaml');
const AGENT_FOLDER = '/mnt/agent';
const PINNED_VERSION = '1'; // util.GetPinnedModelVersion()
const MLFLOW_MODELS = process.env.TESSERA_MLFLOW_MODELS ?? '/work/shared/data/mlflow-models';

type Call = <T = Record<string, unknown>>(method: string, request: object) => Promise<T>;
interface IndexEntry { name: string; version: string; state: string; reason: string }
interface InferResponse { model_name: string; outputs: { name: string; datatype: string; shape: string[]; contents?: { int64_contents?: string[]; fp32_contents?: number[] } }[] }

/** The tessera container of the ServerConfig: its args and env, with the agent's paths and the ports remapped. */
function containerFromServerConfig(agentFolder: string, ports: { http: number; grpc: number; metrics: number }): { args: string[]; env: Record<string, string> } {
  const [config] = parseManifests(readFileSync(SERVER_CONFIG, 'utf8'), SERVER_CONFIG);
  const containers = ((config.spec as Manifest).podSpec as Manifest).containers as Manifest[];
  const tessera = containers.find((c) => c.name === 'tessera');
  if (tessera === undefined) throw new Error('no tessera container in deploy/seldon/serverconfig.yaml');
  const remap = (value: string): string => value.replaceAll(AGENT_FOLDER, agentFolder);
  const env: Record<string, string> = {};
  for (const e of tessera.env as { name: string; value: string }[]) env[e.name] = remap(e.value);
  if (env.MLSERVER_HTTP_PORT !== '9000' || env.MLSERVER_GRPC_PORT !== '9500') throw new Error('the ServerConfig no longer sets ports 9000/9500');
  env.MLSERVER_HTTP_PORT = String(ports.http);
  env.MLSERVER_GRPC_PORT = String(ports.grpc);
  env.TESSERA_METRICS_PORT = String(ports.metrics);
  env.TESSERA_HOST = HOST;
  return { args: (tessera.args as string[]).map(remap), env };
}

/** What the agent's Go struct (mlserver.ModelSettings) keeps of a model-settings.json, in its field order. */
function agentRewrite(settings: Record<string, unknown>, name: string): string {
  const params = (settings.parameters ?? {}) as Record<string, unknown>;
  const tensors = (list: unknown): unknown =>
    Array.isArray(list) && list.length > 0 ? list.map((x: Record<string, unknown>) => omitEmpty({ name: x.name, shape: x.shape, datatype: x.datatype })) : undefined;
  const parameters = omitEmpty({
    uri: params.uri, version: PINNED_VERSION, format: params.format, content_type: params.content_type,
    extra: params.extra !== undefined && Object.keys(params.extra as object).length > 0 ? params.extra : undefined,
    environment_tarball: params.environment_tarball,
  });
  return JSON.stringify(omitEmpty({
    name, inputs: tensors(settings.inputs), outputs: tensors(settings.outputs), platform: settings.platform,
    versions: Array.isArray(settings.versions) && settings.versions.length > 0 ? settings.versions : undefined,
    parallel_workers: settings.parallel_workers, implementation: settings.implementation, parameters,
  }));
}
function omitEmpty(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '' && !(Array.isArray(v) && v.length === 0)));
}

const IRIS_ROWS = [5.1, 3.5, 1.4, 0.2, 6.6, 3.0, 5.6, 2.1];

t.test('Seldon Core v2 agent calls against Tessera run as the ServerConfig runs it', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'tessera-seldon-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const agentFolder = join(work, 'agent');
  const repo = join(agentFolder, 'models'); // the agent's makeDirs(): <agent folder>/models
  mkdirSync(repo, { recursive: true });
  const storage = join(work, 'storage'); // what rclone downloads: one folder per storageUri
  const args = containerFromServerConfig(agentFolder, { http: 0, grpc: 0, metrics: 0 }).args;
  t.same(args, ['start', repo], 'the container serves the agent repository');

  const { server, ports, base: http } = await startCliOnFreePorts(args, (p) => containerFromServerConfig(agentFolder, p).env, { readyPath: '/v2/health/live' });
  t.teardown(() => server.stop());

  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const proto = grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const client = new proto.inference.GRPCInferenceService(`${HOST}:${ports.grpc}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
  t.teardown(() => client.close());
  const call: Call = (method, request) =>
    new Promise((resolve, reject) => {
      const deadline = new Date(Date.now() + 60_000);
      (client[method] as (r: object, o: object, cb: (e: grpc.ServiceError | null, v: never) => void) => void).call(client, request, { deadline }, (e, v) => (e ? reject(e) : resolve(v)));
    });
  const code = async (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'OK',
      (e: grpc.ServiceError) => grpc.status[e.code],
    );
  const index = async (): Promise<IndexEntry[]> => (await call<{ models: IndexEntry[] }>('RepositoryIndex', {})).models;
  const inferIris = (name: string): Promise<InferResponse> =>
    call<InferResponse>('ModelInfer', {
      model_name: name, model_version: '', id: 'seldon',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], contents: { fp32_contents: IRIS_ROWS } }],
    });

  /** An artifact folder as rclone leaves it: the bundled iris model and its model-settings.json. */
  const artifact = (name: string): string => {
    const dir = join(storage, name);
    cpSync(join(ROOT, 'settings', 'models', 'iris'), dir, { recursive: true });
    return dir;
  };
  /** The agent's load: copy to <repo>/<model>_<version>/1/, rewrite the settings, RepositoryModelLoad. */
  const load = async (model: string, version: number, source: string): Promise<string> => {
    const internal = `${model}_${version}`;
    const target = join(repo, internal, PINNED_VERSION);
    cpSync(source, target, { recursive: true });
    const file = join(target, 'model-settings.json');
    writeFileSync(file, agentRewrite(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>, internal));
    return code(call('RepositoryModelLoad', { model_name: internal }));
  };
  /** The agent's unload: RepositoryModelUnload (NOT_FOUND tolerated), then the folder removed. */
  const unload = async (internal: string): Promise<string> => {
    const result = await code(call('RepositoryModelUnload', { model_name: internal }));
    rmSync(join(repo, internal), { recursive: true, force: true });
    return result;
  };

  await t.test('start-up: ServerLive, then RepositoryIndex on an empty repository', async (t) => {
    t.same(await call('ServerLive', {}), { live: true }, 'ServerLive answers live');
    t.ok(await answers(`${http}/v2/health/live`), 'the container probes (liveness, readiness, startup) answer 200 on /v2/health/live');
    t.ok(await answers(`${http}/v2/health/ready`, 503), 'readiness would be 503 with no model: why the probes use live');
    t.same(await index(), [], 'no model before the agent loads one');
  });

  await t.test('load as the agent does: versioned name, pinned version folder, RepositoryModelLoad', async (t) => {
    t.equal(await load('iris', 1, artifact('iris-v1')), 'OK', 'RepositoryModelLoad{model_name: "iris_1"}');
    const settings = JSON.parse(readFileSync(join(repo, 'iris_1', '1', 'model-settings.json'), 'utf8')) as Record<string, unknown>;
    t.same(settings, { name: 'iris_1', platform: 'onnxruntime_onnx', implementation: 'tessera.OnnxRuntime', parameters: { version: '1' } }, 'the settings file as the agent rewrote it');
    t.same((await index()).map((m) => [m.name, m.version, m.state]), [['iris_1', '1', 'READY']], 'RepositoryIndex lists it READY');
    t.same(await call('ModelReady', { name: 'iris_1', version: '' }), { ready: true }, 'ModelReady with the internal name, version ""');
    const metadata = await call<{ name: string; inputs: { name: string; datatype: string; shape: string[] }[] }>('ModelMetadata', { name: 'iris_1', version: '' });
    t.equal(metadata.name, 'iris_1');
    t.same(metadata.inputs.map((i) => [i.name, i.datatype, i.shape]), [['input', 'FP32', ['-1', '4']]]);
    const res = await inferIris('iris_1');
    t.equal(res.model_name, 'iris_1');
    t.same(res.outputs.find((o) => o.name === 'label')?.contents?.int64_contents, ['0', '2'], 'ModelInfer through the internal name');
    const rest = await fetch(`${http}/v2/models/iris_1/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: IRIS_ROWS }] }),
    });
    t.equal(rest.status, 200, 'REST on the path the agent rewrites to');
  });

  await t.test('a new Model version: load iris_2, then unload iris_1', async (t) => {
    t.equal(await load('iris', 2, artifact('iris-v2')), 'OK', 'RepositoryModelLoad{model_name: "iris_2"}');
    t.equal(await unload('iris_1'), 'OK', 'RepositoryModelUnload{model_name: "iris_1"}');
    t.same((await inferIris('iris_2')).outputs.find((o) => o.name === 'label')?.contents?.int64_contents, ['0', '2'], 'iris_2 serves');
    t.equal(await code(inferIris('iris_1')), 'NOT_FOUND', 'iris_1 answers NOT_FOUND (the code the agent reloads on)');
    t.notOk((await index()).some((m) => m.name === 'iris_1' && m.state === 'READY'), 'iris_1 is no longer READY');
  });

  await t.test('memory eviction and lazy reload: unload keeps the files, the next request reloads', async (t) => {
    t.equal(await code(call('RepositoryModelUnload', { model_name: 'iris_2' })), 'OK', 'evicted (files kept)');
    t.equal(await code(inferIris('iris_2')), 'NOT_FOUND', 'an evicted model answers NOT_FOUND');
    t.equal(await code(call('RepositoryModelLoad', { model_name: 'iris_2' })), 'OK', 'the agent loads it again');
    t.same((await inferIris('iris_2')).outputs.find((o) => o.name === 'label')?.contents?.int64_contents, ['0', '2'], 'and the retried request succeeds');
  });

  await t.test('agent restart: every READY model unloaded, folders removed', async (t) => {
    const ready = (await index()).filter((m) => m.state === 'READY' || m.state === 'LOADING');
    t.same(ready.map((m) => m.name), ['iris_2']);
    for (const m of ready) t.equal(await unload(m.name), 'OK', `RepositoryModelUnload{model_name: "${m.name}"}`);
    t.notOk((await index()).some((m) => m.state === 'READY'), 'nothing READY');
    t.notOk(existsSync(join(repo, 'iris_2')), 'folder removed');
  });

  await t.test('the error codes the agent acts on', async (t) => {
    t.equal(await code(call('RepositoryModelUnload', { model_name: 'nope_1' })), 'NOT_FOUND', 'unloading an unknown model: NOT_FOUND, which the agent tolerates');
    t.equal(await code(call('RepositoryModelLoad', { model_name: 'ghost_1' })), 'NOT_FOUND', 'loading a model with no files: NOT_FOUND');
    const broken = join(storage, 'broken');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'model.onnx'), 'not an onnx model');
    writeFileSync(join(broken, 'model-settings.json'), '{}');
    const failure = await load('broken', 1, broken);
    t.not(failure, 'OK', `a model that cannot load fails the RepositoryModelLoad (${failure}): the agent reports LOAD_FAILED`);
    const entry = (await index()).find((m) => m.name === 'broken_1');
    t.equal(entry?.state, 'UNAVAILABLE', 'and the index says why');
    t.ok((entry?.reason ?? '').length > 0, `reason: ${entry?.reason ?? ''}`);
  });

  // Models the agent writes the settings for itself (repository/mlserver/settings.go
  // getModelSettings): the MLServer implementation names and the artifact found by extension.
  for (const [requirement, folder, implementation, uri] of [
    ['mlflow', 'wine-elasticnet', 'mlserver_mlflow.MLflowRuntime', './'],
    ['sklearn', 'iris-logreg', 'mlserver_sklearn.SKLearnModel', './model.pkl'],
    ['xgboost', 'diabetes-xgb', 'mlserver_xgboost.XGBoostModel', './model.json'],
  ] as const) {
    const source = join(MLFLOW_MODELS, folder);
    await t.test(
      `requirement ${requirement}: the settings the agent writes (${implementation}, uri ${uri})`,
      { skip: existsSync(source) ? false : `fixture ${source} is not on this machine` },
      async (t) => {
        const internal = `${folder}_1`;
        const target = join(repo, internal, PINNED_VERSION);
        cpSync(source, target, { recursive: true });
        writeFileSync(join(target, 'model-settings.json'), agentRewrite({ implementation, parameters: { uri } }, internal));
        const loaded = await code(call('RepositoryModelLoad', { model_name: internal }));
        t.equal(loaded, 'OK', `RepositoryModelLoad{model_name: "${internal}"}`);
        const ready = await call<{ ready: boolean }>('ModelReady', { name: internal, version: '' }).catch(() => ({ ready: false }));
        t.equal(ready.ready, true, 'ModelReady');
        const metadata = await call<{ inputs: unknown[] }>('ModelMetadata', { name: internal, version: '' }).catch(() => ({ inputs: [] }));
        t.ok(metadata.inputs.length > 0, 'metadata lists the inputs');
      },
    );
  }

  t.equal(await server.stop(), 0, 'SIGTERM: exit 0');
});
