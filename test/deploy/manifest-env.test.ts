// The manifests start a Tessera that works: the real CLI run with a manifest container's own args
// and environment (plus, for KServe, the environment its controller adds), with the container
// paths mapped to temp folders and the ports to free loopback ports. The probe paths of the
// manifest must answer 200, and a V2 inference must succeed over HTTP and, where the manifest
// moves the gRPC port, over gRPC on that port.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import t from 'tap';
import { HOST, ROOT, answers, startCliOnFreePorts, type Ports } from './helpers.js';
import { parseManifests, type Manifest } from './k8s-validate.js';

type Container = { args?: string[]; env?: { name: string; value?: string }[]; ports?: { name?: string; containerPort: number }[] } & Record<string, unknown>;

const read = (file: string): Manifest[] => parseManifests(readFileSync(join(ROOT, file), 'utf8'), file);
const get = (doc: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((cur, key) => (cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[key] : undefined), doc);

// Each case waits most of its time on the server's drain delay after SIGTERM (the manifests' 5 s
// TESSERA_DRAIN_DELAY, kept as they set it): the cases run side by side.
t.jobs = 3;

const IRIS = { inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2, 6.6, 3.0, 5.6, 2.1] }] };

async function inferLabels(url: string): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(IRIS), signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { outputs?: { name: string; data: unknown }[] };
  return { status: res.status, labels: body.outputs?.find((o) => o.name === 'label')?.data };
}

/** Probe paths of a container, by probe. */
function probes(container: Container): Record<string, string> {
  const out: Record<string, string> = {};
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
    const path = get(container, probe, 'httpGet', 'path');
    if (typeof path === 'string') out[probe] = path;
  }
  return out;
}

function grpcClient(port: number): { call: <R>(method: string, req: object) => Promise<R>; close: () => void } {
  const definition = protoLoader.loadSync(join(ROOT, 'test', 'deploy', 'agent-dataplane.proto'), { keepCase: true, longs: String, defaults: true });
  const proto = grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const client = new proto.inference.GRPCInferenceService(`${HOST}:${port}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
  return {
    call: <R>(method: string, req: object) =>
      new Promise<R>((resolve, reject) =>
        (client[method] as (r: object, o: object, cb: (e: Error | null, v: R) => void) => void).call(client, req, { deadline: new Date(Date.now() + 20_000) }, (e, v) => (e ? reject(e) : resolve(v))),
      ),
    close: () => client.close(),
  };
}

t.test('KServe: the ClusterServingRuntime container with the environment the controller adds', async (t) => {
  const [runtime] = read('deploy/kserve/clusterservingruntime.yaml');
  const [isvc] = read('deploy/kserve/inferenceservice-onnx.yaml');
  const container = (get(runtime, 'spec', 'containers') as Container[])[0];
  t.equal(get(runtime, 'metadata', 'annotations', 'serving.kserve.io/server-type'), 'mlserver', 'KServe treats it as MLServer (sets MLSERVER_MODEL_NAME / _URI)');
  t.equal(get(isvc, 'spec', 'predictor', 'model', 'runtime'), get(runtime, 'metadata', 'name'), 'the example names this runtime');

  const work = mkdtempSync(join(tmpdir(), 'tessera-kserve-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const mnt = join(work, 'mnt-models'); // the storage initializer's /mnt/models: the model's files
  mkdirSync(mnt);
  copyFileSync(join(ROOT, 'settings', 'models', 'iris', 'model.onnx'), join(mnt, 'model.onnx'));
  const remap = (v: string): string => v.replaceAll('/mnt/models', mnt);

  const env: Record<string, string> = {};
  for (const e of container.env ?? []) env[e.name] = remap(e.value ?? '');
  t.equal(env.MLSERVER_HTTP_PORT, '8080', 'HTTP on 8080');
  t.equal(env.MLSERVER_GRPC_PORT, '9000', 'gRPC on 9000, where KServe expects it');
  env.TESSERA_HOST = HOST;
  // inference_service_defaults.go SetMlServerDefaults, for an InferenceService with a storageUri:
  const name = String(get(isvc, 'metadata', 'name'));
  env.MLSERVER_MODEL_NAME = name;
  env.MLSERVER_MODEL_URI = mnt;

  const { server, ports, base } = await startCliOnFreePorts((container.args ?? []).map(remap), (p) => ({
    ...env,
    MLSERVER_HTTP_PORT: String(p.http),
    MLSERVER_GRPC_PORT: String(p.grpc),
    TESSERA_METRICS_PORT: String(p.metrics),
  }));
  t.teardown(() => server.stop());
  const { grpc: grpcPort, metrics } = ports;
  for (const [probe, path] of Object.entries(probes(container))) t.ok(await answers(base + path), `${probe} ${path} answers 200`);
  t.same(await inferLabels(`${base}/v2/models/${name}/infer`), { status: 200, labels: [0, 2] }, `V2 HTTP inference on the InferenceService's name (${name})`);

  const client = grpcClient(grpcPort);
  t.teardown(() => client.close());
  t.same(await client.call('ServerLive', {}), { live: true }, 'gRPC answers on the port MLSERVER_GRPC_PORT names');
  const res = await client.call<{ outputs: { name: string; contents: { int64_contents: string[] } }[] }>('ModelInfer', {
    model_name: name, inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], contents: { fp32_contents: IRIS.inputs[0].data } }],
  });
  t.same(res.outputs.find((o) => o.name === 'label')?.contents.int64_contents, ['0', '2'], 'V2 gRPC inference');

  t.equal(get(runtime, 'spec', 'annotations', 'prometheus.kserve.io/port'), '8082', 'the scrape annotation names the metrics port');
  const scrape = await fetch(`http://${HOST}:${metrics}${String(get(runtime, 'spec', 'annotations', 'prometheus.kserve.io/path'))}`);
  t.match(await scrape.text(), /tessera_pending_requests/, 'metrics served on the annotated path');
  t.equal(await server.stop(), 0, 'SIGTERM: exit 0');
});

t.test('Kubernetes: the base Deployment serving a model repository mounted at /mnt/models', async (t) => {
  const [deployment] = read('deploy/k8s/base/deployment.yaml');
  const container = (get(deployment, 'spec', 'template', 'spec', 'containers') as Container[])[0];
  const mount = (container.volumeMounts as { mountPath: string }[])[0].mountPath;
  t.equal(mount, '/mnt/models');

  const work = mkdtempSync(join(tmpdir(), 'tessera-k8s-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const repo = join(work, 'models');
  for (const model of ['iris', 'wine']) cpSync(join(ROOT, 'settings', 'models', model), join(repo, model), { recursive: true });
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) env[e.name] = e.value ?? '';
  const portOf = (name: string): number => (container.ports ?? []).find((p) => p.name === name)?.containerPort ?? -1;
  t.same([portOf('http'), portOf('grpc'), portOf('metrics')], [8080, 8081, 8082], 'container ports are the server defaults');
  const { server, base, ports } = await startCliOnFreePorts((container.args ?? []).map((a) => a.replaceAll(mount, repo)), (p) => ({
    ...env,
    TESSERA_HTTP_PORT: String(p.http),
    TESSERA_GRPC_PORT: String(p.grpc),
    TESSERA_METRICS_PORT: String(p.metrics),
    TESSERA_HOST: HOST,
  }));
  t.teardown(() => server.stop());
  const paths = probes(container);
  t.same(Object.keys(paths).sort(), ['livenessProbe', 'readinessProbe', 'startupProbe']);
  for (const [probe, path] of Object.entries(paths)) t.ok(await answers(base + path), `${probe} ${path} answers 200`);
  const models = (await (await fetch(`${base}/v2/models`)).json()) as { models: { name: string; state: string }[] };
  t.same(models.models.map((m) => [m.name, m.state]).sort(), [['iris', 'READY'], ['wine', 'READY']], 'every model of the repository');
  t.same(await inferLabels(`${base}/v2/models/iris/infer`), { status: 200, labels: [0, 2] });
  t.ok(await answers(`http://${HOST}:${ports.metrics}/metrics`), 'the metrics port the pod annotations name');
  t.equal(await server.stop(), 0, 'SIGTERM: exit 0');
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 });
t.test(
  'Kubernetes: the example overlay serves the models bundled in the image',
  { skip: kubectl.error !== undefined || kubectl.status !== 0 ? 'kubectl is not installed (kubectl kustomize renders the overlay)' : false },
  async (t) => {
    const rendered = spawnSync('kubectl', ['kustomize', join(ROOT, 'deploy', 'k8s', 'overlays', 'example')], { encoding: 'utf8', timeout: 60_000 });
    t.equal(rendered.status, 0, rendered.stderr);
    const deployment = parseManifests(rendered.stdout, 'example overlay').find((d) => d.kind === 'Deployment');
    const container = (get(deployment, 'spec', 'template', 'spec', 'containers') as Container[])[0];
    t.same(container.args, ['start'], 'no folder: the bundled settings/');
    const manifestEnv: Record<string, string> = {};
    for (const e of container.env ?? []) manifestEnv[e.name] = e.value ?? '';
    const ports = (p: Ports): Record<string, string> => ({ TESSERA_HTTP_PORT: String(p.http), TESSERA_GRPC_PORT: String(p.grpc), TESSERA_METRICS_PORT: String(p.metrics), TESSERA_HOST: HOST });
    const { server, base } = await startCliOnFreePorts(container.args ?? [], (p) => ({ ...ports(p), ...manifestEnv }), { readyMs: 90_000 });
    t.teardown(() => server.stop());
    t.same(await inferLabels(`${base}/v2/models/iris/infer`), { status: 200, labels: [0, 2] });
    t.equal(await server.stop(), 0, 'SIGTERM: exit 0');
  },
);
