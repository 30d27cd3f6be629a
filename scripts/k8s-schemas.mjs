#!/usr/bin/env node
// Extracts the schemas of the Kubernetes kinds Tessera's manifests use (deploy/) from the official
// schema files into one small JSON file the manifest test compiles quickly:
//
//   node scripts/k8s-schemas.mjs [--from DIR] [--out test/fixtures/k8s/schemas.json]
//
// DIR (default /work/shared/reference/k8s-schemas, or TESSERA_K8S_SCHEMAS) holds the unmodified
// upstream files: the Kubernetes OpenAPI v2 document and the KServe / Seldon Core v2 CRDs (see its
// README). Compiling the 1.9 MB InferenceService schema as it is takes ~8 s and ~700 MB; the
// output here compiles in well under a second because:
//   - only the kinds listed below are kept, with the definitions they reach;
//   - descriptions are dropped;
//   - subtrees repeated inside a CRD (the PodSpec / Container schemas are inlined many times) are
//     stored once under `definitions` and referenced.
// Made strict on the way, as the API server is strict about field names:
//   - every object schema listing `properties` gets `additionalProperties: false` (unless it sets
//     additionalProperties or is x-kubernetes-preserve-unknown-fields), so misspelled fields fail;
//   - a CRD's `metadata` (just `type: object` in CRDs) is checked against Kubernetes' ObjectMeta;
//   - IntOrString and Quantity get their real JSON types (the OpenAPI document says "string");
//   - enums: the OpenAPI v2 document carries none for core kinds, so the closed value sets of the
//     fields below are added, each checked against the field's own description (the values must all
//     be named there, or the script fails).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: args } = parseArgs({
  options: {
    from: { type: 'string', default: process.env.TESSERA_K8S_SCHEMAS ?? '/work/shared/reference/k8s-schemas' },
    out: { type: 'string', default: join(ROOT, 'test', 'fixtures', 'k8s', 'schemas.json') },
  },
});

/** Core kinds: apiVersion/kind -> definition in the OpenAPI document. */
const CORE_KINDS = {
  'v1/Namespace': 'io.k8s.api.core.v1.Namespace',
  'v1/ServiceAccount': 'io.k8s.api.core.v1.ServiceAccount',
  'v1/Service': 'io.k8s.api.core.v1.Service',
  'v1/ConfigMap': 'io.k8s.api.core.v1.ConfigMap',
  'v1/PersistentVolumeClaim': 'io.k8s.api.core.v1.PersistentVolumeClaim',
  'apps/v1/Deployment': 'io.k8s.api.apps.v1.Deployment',
  'autoscaling/v2/HorizontalPodAutoscaler': 'io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler',
  'policy/v1/PodDisruptionBudget': 'io.k8s.api.policy.v1.PodDisruptionBudget',
};
const CLUSTER_SCOPED_CORE = ['v1/Namespace'];

/** CRDs: file under DIR (the served, storage version of each is used). */
const CRDS = [
  'kserve-v0.20.0/serving.kserve.io_clusterservingruntimes.yaml',
  'kserve-v0.20.0/serving.kserve.io_servingruntimes.yaml',
  'kserve-v0.20.0/serving.kserve.io_inferenceservices.yaml',
  'seldon-core-v2.10.2/mlops.seldon.io_serverconfigs.yaml',
  'seldon-core-v2.10.2/mlops.seldon.io_servers.yaml',
  'seldon-core-v2.10.2/mlops.seldon.io_models.yaml',
];

/** Closed value sets of core fields: definition -> property -> values (all named in its description). */
const CORE_ENUMS = {
  'io.k8s.api.core.v1.Container': { imagePullPolicy: ['Always', 'Never', 'IfNotPresent'] },
  'io.k8s.api.core.v1.ContainerPort': { protocol: ['TCP', 'UDP', 'SCTP'] },
  'io.k8s.api.core.v1.ServicePort': { protocol: ['TCP', 'UDP', 'SCTP'] },
  'io.k8s.api.core.v1.ServiceSpec': {
    type: ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'],
    sessionAffinity: ['ClientIP', 'None'],
  },
  'io.k8s.api.core.v1.PodSpec': {
    restartPolicy: ['Always', 'OnFailure', 'Never'],
    dnsPolicy: ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'],
  },
  'io.k8s.api.core.v1.SeccompProfile': { type: ['Localhost', 'RuntimeDefault', 'Unconfined'] },
  'io.k8s.api.apps.v1.DeploymentStrategy': { type: ['Recreate', 'RollingUpdate'] },
  'io.k8s.api.autoscaling.v2.MetricSpec': { type: ['ContainerResource', 'External', 'Object', 'Pods', 'Resource'] },
  'io.k8s.api.autoscaling.v2.MetricTarget': { type: ['Utilization', 'Value', 'AverageValue'] },
  'io.k8s.api.policy.v1.PodDisruptionBudgetSpec': { unhealthyPodEvictionPolicy: ['IfHealthyBudget', 'AlwaysAllow'] },
};

// Kubernetes' quantity grammar, as the CRDs spell it for their quantity fields.
const QUANTITY_PATTERN = '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
const SPECIAL = {
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { anyOf: [{ type: 'integer' }, { type: 'string' }] },
  'io.k8s.apimachinery.pkg.api.resource.Quantity': { anyOf: [{ type: 'integer' }, { type: 'number' }, { type: 'string', pattern: QUANTITY_PATTERN }] },
};
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

/** Keywords kept from the source schemas (ajv, draft-07 subset the sources use). */
const KEEP = new Set([
  'type', 'properties', 'additionalProperties', 'items', 'required', 'enum', 'format', 'pattern',
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'minItems', 'maxItems',
  'uniqueItems', 'anyOf', 'allOf', 'oneOf', 'not', '$ref', 'nullable', 'default', 'minProperties', 'maxProperties',
]);

/** Strict, description-free copy of a schema node; `$ref`s are renamed by `ref`. */
function strict(node, ref) {
  if (Array.isArray(node)) return node.map((n) => strict(n, ref));
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (!KEEP.has(key)) continue;
    if (key === '$ref') out.$ref = ref(value);
    else if (key === 'properties') out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strict(v, ref)]));
    else if (key === 'format' && !['int32', 'int64', 'double', 'float', 'byte', 'date-time', 'date'].includes(value)) continue;
    else if (key === 'default' || key === 'enum') out[key] = value;
    else out[key] = strict(value, ref);
  }
  if (node['x-kubernetes-int-or-string'] === true && out.anyOf === undefined) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (out.properties !== undefined && out.additionalProperties === undefined && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    out.additionalProperties = false;
  }
  // OpenAPI's `nullable` is not JSON Schema; null values are dropped before validation (the API
  // server prunes them), so it is not needed.
  delete out.nullable;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Core kinds from the OpenAPI document

const openapiFile = join(args.from, 'kubernetes-openapi', 'swagger.json.unprocessed');
const openapi = JSON.parse(readFileSync(openapiFile, 'utf8')).definitions;
const definitions = {};
const coreRef = (value) => value; // already '#/definitions/<name>', the layout of the output

function addCore(name) {
  if (definitions[name] !== undefined) return;
  if (SPECIAL[name] !== undefined) {
    definitions[name] = SPECIAL[name];
    return;
  }
  const source = openapi[name];
  if (source === undefined) throw new Error(`${name} is not in ${openapiFile}`);
  const copy = strict(source, coreRef);
  for (const [prop, values] of Object.entries(CORE_ENUMS[name] ?? {})) {
    const description = source.properties?.[prop]?.description ?? '';
    const missing = values.filter((v) => !new RegExp(`\\b${v}\\b`).test(description));
    if (missing.length > 0) throw new Error(`${name}.${prop}: ${missing.join(', ')} not named in its description: ${description}`);
    copy.properties[prop] = { ...copy.properties[prop], enum: values };
  }
  definitions[name] = copy;
  for (const match of JSON.stringify(source).matchAll(/"\$ref":"#\/definitions\/([^"]+)"/g)) addCore(match[1]);
}

const kinds = {};
for (const [gvk, name] of Object.entries(CORE_KINDS)) {
  addCore(name);
  const [group, version] = gvk.includes('/') && gvk.split('/').length === 3 ? gvk.split('/') : ['', gvk.split('/')[0]];
  const kind = gvk.split('/').pop();
  const declared = openapi[name]['x-kubernetes-group-version-kind']?.[0];
  if (declared === undefined || declared.group !== group || declared.version !== version || declared.kind !== kind) {
    throw new Error(`${name} is not ${gvk} (${JSON.stringify(declared)})`);
  }
  kinds[gvk] = { $ref: `#/definitions/${name}`, scope: CLUSTER_SCOPED_CORE.includes(gvk) ? 'Cluster' : 'Namespaced', source: relative(args.from, openapiFile) };
}
addCore(OBJECT_META);

// ---------------------------------------------------------------------------------------------
// CRDs, with repeated subtrees shared

const MIN_SHARED = 400; // characters of JSON: smaller repeats are not worth a $ref

function hashOf(text) {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * Rebuilds a schema node with `fn` applied to each sub-schema (never to data such as `default` or
 * `enum` values, nor to the `properties` map itself, whose keys are field names).
 */
function mapSchema(node, fn) {
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties') out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fn(v)]));
    else if (['items', 'additionalProperties', 'not'].includes(key) && value !== null && typeof value === 'object') out[key] = fn(value);
    else if (['anyOf', 'allOf', 'oneOf'].includes(key)) out[key] = value.map(fn);
    else out[key] = value;
  }
  return out;
}

/** Moves sub-schemas that occur more than once into `definitions` (by content); returns the new root. */
function share(root, prefix) {
  const info = new Map(); // schema node -> { hash, size }
  const counts = new Map();
  const measure = (node) => {
    const parts = [];
    mapSchema(node, (child) => {
      const m = measure(child);
      parts.push(m);
      return child;
    });
    const size = JSON.stringify(node).length;
    const hash = hashOf(`${JSON.stringify(mapSchema(node, (child) => info.get(child).hash))}`);
    const result = { hash, size };
    info.set(node, result);
    if (size >= MIN_SHARED) counts.set(hash, (counts.get(hash) ?? 0) + 1);
    return result;
  };
  measure(root);
  const rebuild = (node, top) => {
    const { hash } = info.get(node);
    if (!top && (counts.get(hash) ?? 0) > 1) {
      const name = `${prefix}.${hash}`;
      if (definitions[name] === undefined) definitions[name] = rebuild(node, true);
      return { $ref: `#/definitions/${name}` };
    }
    return mapSchema(node, (child) => rebuild(child, false));
  };
  return rebuild(root, true);
}

for (const file of CRDS) {
  const crd = YAML.parse(readFileSync(join(args.from, file), 'utf8'));
  const version = crd.spec.versions.find((v) => v.served && v.storage) ?? crd.spec.versions.find((v) => v.served);
  const gvk = `${crd.spec.group}/${version.name}/${crd.spec.names.kind}`;
  const schema = strict(version.schema.openAPIV3Schema, (v) => v);
  schema.properties.metadata = { $ref: `#/definitions/${OBJECT_META}` };
  const name = `crd.${crd.spec.group}.${version.name}.${crd.spec.names.kind}`;
  definitions[name] = share(schema, `shared.${crd.spec.names.kind}`);
  kinds[gvk] = { $ref: `#/definitions/${name}`, scope: crd.spec.scope, source: file };
}

const out = {
  $comment: `Generated by scripts/k8s-schemas.mjs from the official schemas (k8s-schemas/README.md); do not edit. Regenerate: node scripts/k8s-schemas.mjs`,
  kinds,
  definitions,
};
mkdirSync(dirname(args.out), { recursive: true });
const text = `${JSON.stringify(out)}\n`;
writeFileSync(args.out, text);
process.stderr.write(`k8s-schemas: ${Object.keys(kinds).length} kinds, ${Object.keys(definitions).length} definitions, ${(text.length / 1024).toFixed(0)} KiB -> ${relative(ROOT, args.out)}\n`);
