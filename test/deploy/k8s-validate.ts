// Strict offline validation of Kubernetes manifests against the official schemas, as extracted by
// scripts/k8s-schemas.mjs into test/fixtures/k8s/schemas.json: misspelled fields, wrong types,
// values outside an enum and missing required fields all fail, as the API server would refuse them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formats from 'ajv-formats';
import { parseAllDocuments } from 'yaml';
import { ROOT } from './helpers.js';

export const SCHEMAS_FILE = join(ROOT, 'test', 'fixtures', 'k8s', 'schemas.json');

interface SchemaFile {
  kinds: Record<string, { $ref: string; scope: 'Cluster' | 'Namespaced'; source: string }>;
  definitions: Record<string, object>;
}

export type Manifest = Record<string, unknown>;

/** Every document of a YAML stream (empty documents dropped); a YAML syntax error throws. */
export function parseManifests(text: string, origin: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc, i) => {
      if (doc.errors.length > 0) throw new Error(`${origin} document ${i + 1}: ${doc.errors[0].message}`);
      return doc.toJS() as unknown;
    })
    .filter((d): d is Manifest => d !== null && d !== undefined)
    .map((d) => {
      if (typeof d !== 'object' || Array.isArray(d)) throw new Error(`${origin}: a document is not a mapping`);
      return d;
    });
}

/** The API server prunes null values before validating; so does this. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== null).map(withoutNulls);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]));
  }
  return value;
}

function describe(error: ErrorObject): string {
  const extra =
    error.keyword === 'additionalProperties'
      ? ` (${String((error.params as { additionalProperty: string }).additionalProperty)})`
      : error.keyword === 'enum'
        ? ` (${JSON.stringify((error.params as { allowedValues: unknown[] }).allowedValues)})`
        : '';
  return `${error.instancePath || '/'} ${error.message ?? error.keyword}${extra}`;
}

export class ManifestValidator {
  private readonly ajv: Ajv;
  private readonly schemas: SchemaFile;
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(file = SCHEMAS_FILE) {
    this.schemas = JSON.parse(readFileSync(file, 'utf8')) as SchemaFile;
    // strict: false: the schemas carry OpenAPI keywords ajv does not know (they are ignored).
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    (formats as unknown as (ajv: Ajv) => Ajv)(this.ajv);
    this.ajv.addSchema({ $id: 'k8s', definitions: this.schemas.definitions });
  }

  kinds(): string[] {
    return Object.keys(this.schemas.kinds);
  }

  /** `apiVersion/kind` as the schema file names it ("v1/Service", "apps/v1/Deployment"). */
  static gvk(doc: Manifest): string {
    return `${String(doc.apiVersion)}/${String(doc.kind)}`;
  }

  /** Problems with one manifest; empty when it is valid. */
  validate(doc: Manifest): string[] {
    if (typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') return ['/ must have string apiVersion and kind'];
    const gvk = ManifestValidator.gvk(doc);
    const kind = this.schemas.kinds[gvk];
    if (kind === undefined) return [`no schema for ${gvk} (known: ${this.kinds().join(', ')})`];
    let validate = this.compiled.get(gvk);
    if (validate === undefined) {
      validate = this.ajv.compile({ $ref: `k8s${kind.$ref}` });
      this.compiled.set(gvk, validate);
    }
    const value = withoutNulls(doc) as Manifest;
    const problems = validate(value) ? [] : (validate.errors ?? []).map(describe);
    const metadata = (value.metadata ?? {}) as Record<string, unknown>;
    if (typeof metadata.name !== 'string' && typeof metadata.generateName !== 'string') problems.push('/metadata must have name');
    if (kind.scope === 'Cluster' && metadata.namespace !== undefined) {
      problems.push(`/metadata cluster-scoped ${gvk} must not have metadata.namespace (${String(metadata.namespace)})`);
    }
    return problems;
  }
}
