// Every manifest under deploy/ and every kustomize output validated strictly against the official
// Kubernetes, KServe and Seldon Core v2 schemas (test/fixtures/k8s/schemas.json, extracted by
// scripts/k8s-schemas.mjs), known-bad manifests refused for the right reason, and the links
// between objects that no schema checks (selectors, scale targets, probe ports).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import t, { type Test } from 'tap';
import { ROOT } from './helpers.js';
import { ManifestValidator, SCHEMAS_FILE, parseManifests, type Manifest } from './k8s-validate.js';

const DEPLOY = join(ROOT, 'deploy');
const BAD = join(ROOT, 'test', 'fixtures', 'k8s', 'bad');
const KUSTOMIZE_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(e.name) ? [path] : [];
  });
}

const isKustomizeFile = (file: string): boolean => KUSTOMIZE_FILES.some((f) => file.endsWith(`/${f}`));

/** Folders kubectl kustomize can build: those with a Kustomization (not a Component). */
function kustomizeRoots(): string[] {
  return yamlFiles(DEPLOY)
    .filter(isKustomizeFile)
    .filter((f) => parseManifests(readFileSync(f, 'utf8'), f).some((d) => d.kind === 'Kustomization'))
    .map((f) => dirname(f));
}

const validator = new ManifestValidator();

t.test('every manifest under deploy/ is valid in strict mode', async (t) => {
  const files = yamlFiles(DEPLOY).filter((f) => !isKustomizeFile(f));
  t.ok(files.length >= 15, `found ${files.length} manifest files`);
  const seen = new Set<string>();
  for (const file of files) {
    const docs = parseManifests(readFileSync(file, 'utf8'), file);
    t.ok(docs.length > 0, `${relative(ROOT, file)} holds a manifest`);
    for (const doc of docs) {
      seen.add(ManifestValidator.gvk(doc));
      t.same(validator.validate(doc), [], `${relative(ROOT, file)}: ${ManifestValidator.gvk(doc)} ${String((doc.metadata as Manifest | undefined)?.name)}`);
    }
  }
  for (const kind of [
    'serving.kserve.io/v1alpha1/ClusterServingRuntime', 'serving.kserve.io/v1beta1/InferenceService',
    'mlops.seldon.io/v1alpha1/ServerConfig', 'mlops.seldon.io/v1alpha1/Server', 'mlops.seldon.io/v1alpha1/Model',
    'apps/v1/Deployment', 'v1/Service', 'autoscaling/v2/HorizontalPodAutoscaler', 'policy/v1/PodDisruptionBudget', 'v1/ConfigMap',
  ]) {
    t.ok(seen.has(kind), `deploy/ has a ${kind}`);
  }
});

t.test('known-bad manifests are refused, each for its own reason', async (t) => {
  const files = readdirSync(BAD).filter((f) => f.endsWith('.yaml'));
  t.ok(files.length >= 15, `${files.length} known-bad manifests`);
  for (const name of files) {
    const text = readFileSync(join(BAD, name), 'utf8');
    const expect = /^# expect: (.+)$/m.exec(text)?.[1];
    if (expect === undefined) {
      t.fail(`${name} has no "# expect:" line`);
      continue;
    }
    const problems = parseManifests(text, name).flatMap((d) => validator.validate(d));
    t.ok(problems.length > 0, `${name} is refused`);
    t.ok(problems.some((p) => new RegExp(expect).test(p)), `${name}: a problem matches /${expect}/ (got: ${problems.join('; ')})`);
  }
});

/** Renders a kustomize root; undefined (with the reason) when kubectl is missing. */
function kustomize(dir: string): { docs?: Manifest[]; error?: string } {
  const res = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
  if (res.error !== undefined) return { error: `kubectl kustomize cannot run: ${res.error.message}` };
  if (res.status !== 0) return { docs: undefined, error: `kubectl kustomize ${relative(ROOT, dir)} failed: ${res.stderr}` };
  return { docs: parseManifests(res.stdout, dir) };
}

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8', timeout: 30_000 });
const kubectlReason = kubectl.error !== undefined || kubectl.status !== 0 ? 'kubectl is not installed (kubectl kustomize renders the overlays offline)' : undefined;

t.test('kustomize output (base and every overlay) is valid and consistent', { skip: kubectlReason ?? false }, async (t) => {
  const roots = kustomizeRoots();
  t.ok(roots.some((r) => r.endsWith('k8s/base')), 'deploy/k8s/base is a kustomization');
  t.ok(roots.filter((r) => r.includes('/overlays/')).length >= 2, 'at least two overlays');
  for (const root of roots) {
    const rendered = kustomize(root);
    if (rendered.docs === undefined) {
      t.fail(rendered.error ?? 'no output');
      continue;
    }
    const where = relative(ROOT, root);
    for (const doc of rendered.docs) t.same(validator.validate(doc), [], `${where}: ${ManifestValidator.gvk(doc)} ${String((doc.metadata as Manifest).name)}`);
    checkLinks(t, where, rendered.docs);
  }
});

type T = Test;

function byKind(docs: Manifest[], kind: string): Manifest[] {
  return docs.filter((d) => d.kind === kind);
}
const get = (doc: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((cur, key) => (cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[key] : undefined), doc);

/** What the schemas cannot check: that objects point at each other correctly. */
function checkLinks(t: T, where: string, docs: Manifest[]): void {
  const deployments = byKind(docs, 'Deployment');
  t.equal(deployments.length, 1, `${where}: one Deployment`);
  const deployment = deployments[0];
  const podLabels = get(deployment, 'spec', 'template', 'metadata', 'labels') as Record<string, string>;
  const matches = (selector: unknown): boolean =>
    selector !== undefined && Object.entries(selector as Record<string, string>).every(([k, v]) => podLabels[k] === v);
  t.ok(matches(get(deployment, 'spec', 'selector', 'matchLabels')), `${where}: the Deployment's selector matches its pods`);
  for (const service of byKind(docs, 'Service')) t.ok(matches(get(service, 'spec', 'selector')), `${where}: Service ${String(get(service, 'metadata', 'name'))} selects the pods`);
  for (const pdb of byKind(docs, 'PodDisruptionBudget')) t.ok(matches(get(pdb, 'spec', 'selector', 'matchLabels')), `${where}: the PodDisruptionBudget selects the pods`);
  for (const hpa of byKind(docs, 'HorizontalPodAutoscaler')) {
    t.same(get(hpa, 'spec', 'scaleTargetRef'), { apiVersion: 'apps/v1', kind: 'Deployment', name: get(deployment, 'metadata', 'name') }, `${where}: the HPA scales the Deployment`);
    const metrics = get(hpa, 'spec', 'metrics') as Manifest[];
    t.ok(metrics.some((m) => get(m, 'resource', 'name') === 'cpu'), `${where}: the HPA scales on CPU`);
    const cpuRequest = get(deployment, 'spec', 'template', 'spec', 'containers', 0, 'resources', 'requests', 'cpu');
    t.ok(cpuRequest !== undefined, `${where}: CPU utilisation needs a CPU request`);
  }
  const container = get(deployment, 'spec', 'template', 'spec', 'containers', 0) as Manifest;
  const ports = (container.ports as Manifest[]).map((p) => [p.name, p.containerPort]).flat();
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
    const port = get(container, probe, 'httpGet', 'port');
    t.ok(ports.includes(port), `${where}: ${probe} port ${String(port)} is a container port`);
  }
  t.equal(get(container, 'readinessProbe', 'httpGet', 'path'), '/v2/health/ready', `${where}: readiness on /v2/health/ready`);
  t.equal(get(container, 'livenessProbe', 'httpGet', 'path'), '/v2/health/live', `${where}: liveness on /v2/health/live`);
  t.equal(get(container, 'securityContext', 'readOnlyRootFilesystem'), true, `${where}: read-only root file system`);
  t.same(get(container, 'securityContext', 'capabilities', 'drop'), ['ALL'], `${where}: every capability dropped`);
  t.equal(get(deployment, 'spec', 'template', 'spec', 'securityContext', 'runAsNonRoot'), true, `${where}: non-root`);
  for (const mount of (container.volumeMounts as Manifest[] | undefined) ?? []) {
    const volumes = (get(deployment, 'spec', 'template', 'spec', 'volumes') as Manifest[] | undefined) ?? [];
    t.ok(volumes.some((v) => v.name === mount.name), `${where}: volume ${String(mount.name)} is declared`);
  }
}

const REFERENCE = process.env.TESSERA_K8S_SCHEMAS ?? '/work/shared/reference/k8s-schemas';
const noReference = existsSync(join(REFERENCE, 'kubernetes-openapi'))
  ? false
  : `the reference schemas are not at ${REFERENCE} (set TESSERA_K8S_SCHEMAS): the committed fixture is used as it is`;

t.test('the schema fixture is what scripts/k8s-schemas.mjs makes from the reference schemas', { skip: noReference }, async (t) => {
  const from = REFERENCE;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-k8s-schemas-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'schemas.json');
  const res = spawnSync(process.execPath, [join(ROOT, 'scripts', 'k8s-schemas.mjs'), '--from', from, '--out', out], { encoding: 'utf8', timeout: 120_000 });
  t.equal(res.status, 0, res.stderr);
  t.ok(readFileSync(out, 'utf8') === readFileSync(SCHEMAS_FILE, 'utf8'), 'test/fixtures/k8s/schemas.json is up to date (node scripts/k8s-schemas.mjs)');
});
