// V2 metadata of an MLflow model from its signature, as MLServer's MLflow runtime derives it
// (mlserver_mlflow/metadata.py): one input per column (shape [-1, 1], content type by column
// type), tensors as they are; unnamed specs are input-<i> / output-<i>. The model's content type
// is `pd` for columns, `dict` for named tensors, `np` for one unnamed tensor.
// Also the V2 request adapter: per-column V2 inputs (KServe's MLflow example sends
// {"name": "fixed acidity", "shape": [1], "datatype": "FP32", "data": [7.4]} with
// parameters.content_type "pd") to the runtime's inputs, through the same path as /invocations.
import type { Datatype } from '../core/datatypes.js';
import type { Tensor } from '../core/tensor.js';
import type { Parameters, TensorMetadata } from '../core/types.js';
import { invalidParameter } from './errors.js';
import type { DecodedInvocation, ModelInput } from './invocations/decode.js';
import { castData, toRuntimeFeeds } from './invocations/feeds.js';
import { enforceParams } from './invocations/params.js';
import type { PyJson } from './invocations/python-json.js';
import { responseShape, type ServingPlan } from './plan.js';
import { COLUMN_DATATYPE, isComplexType, numpyDatatype, type ColumnType, type Schema, type Signature } from './signature.js';

export type MlflowContentType = 'pd' | 'np' | 'dict';

export interface MlflowV2Metadata {
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  /** The model-level (request) content type MLServer sets from the signature. */
  contentType: MlflowContentType;
}

const COLUMN_CONTENT_TYPE: Record<ColumnType, string> = {
  boolean: 'np',
  integer: 'np',
  long: 'np',
  float: 'np',
  double: 'np',
  string: 'str',
  binary: 'base64',
  datetime: 'datetime',
};

export function schemaToMetadata(schema: Schema, prefix: 'input-' | 'output-'): TensorMetadata[] {
  if (schema.kind === 'tensors') {
    return schema.tensors.map((t, i) => ({
      name: t.name ?? `${prefix}${i}`,
      datatype: numpyDatatype(t.dtype) ?? 'BYTES',
      shape: [...t.shape],
      parameters: { content_type: 'np' },
    }));
  }
  return schema.columns.map((c, i) => ({
    name: c.name ?? `${prefix}${i}`,
    datatype: isComplexType(c.type) ? 'BYTES' : COLUMN_DATATYPE[c.type],
    shape: [-1, 1],
    parameters: { content_type: isComplexType(c.type) ? 'pd_json' : COLUMN_CONTENT_TYPE[c.type] },
  }));
}

export function schemaContentType(schema: Schema): MlflowContentType {
  if (schema.kind === 'columns') return 'pd';
  return schema.named ? 'dict' : 'np';
}

/** V2 metadata from the signature; undefined when the model has no input signature (use the runtime's). */
export function signatureToV2Metadata(signature: Signature | undefined): MlflowV2Metadata | undefined {
  if (!signature?.inputs) return undefined;
  return {
    inputs: schemaToMetadata(signature.inputs, 'input-'),
    outputs: signature.outputs ? schemaToMetadata(signature.outputs, 'output-') : [],
    contentType: schemaContentType(signature.inputs),
  };
}

/** Request parameters that are V2 or Tessera controls, not MLflow params. */
const CONTROL_PARAMETERS = new Set(['content_type', 'headers', 'priority', 'timeout', 'binary_data_output']);

const rows = (t: Tensor): number => (t.shape.length === 0 ? 1 : t.shape[0]);

/**
 * A V2 request for an MLflow model, decoded to the runtime's inputs. Column signatures take one
 * V2 input per column, shape [n] or [n, 1], any datatype castable to the column's (FP32 data for a
 * double column is widened); extra inputs are ignored, missing required ones refused. Tensor
 * signatures take their tensors by name (named) or the single input (unnamed). Request
 * parameters other than V2 controls are MLflow params (as MLServer forwards them).
 */
export function decodeV2Request(inputs: Tensor[], parameters: Parameters | undefined, plan: ServingPlan): DecodedInvocation {
  const schema = plan.inputSchema;
  let input: ModelInput;
  if (schema.kind === 'columns') {
    const byName = new Map(inputs.map((t) => [t.name, t]));
    const n = inputs.length > 0 ? rows(inputs[0]) : 0;
    const missing: string[] = [];
    const columns = schema.columns.map((spec, i) => {
      const name = spec.name ?? `input-${i}`;
      const t = byName.get(name);
      if (!t) {
        if (spec.required) missing.push(name);
        return undefined;
      }
      const ok = t.shape.length === 1 || (t.shape.length === 2 && t.shape[1] === 1);
      if (!ok) throw invalidParameter(`input '${name}': a column takes shape [n] or [n, 1], got ${JSON.stringify(t.shape)}`);
      if (rows(t) !== n) throw invalidParameter(`input '${name}' has ${rows(t)} rows but input '${inputs[0].name}' has ${n}: every column must have the same length`);
      const datatype = plan.columnDatatypes[i];
      return { name, datatype, shape: [n], data: cast(t, datatype, name) };
    });
    if (missing.length > 0) throw invalidParameter(`the model's signature requires the inputs ${JSON.stringify(missing)}, which the request lacks (inputs: ${JSON.stringify(inputs.map((t) => t.name))})`);
    input = { kind: 'columns', rows: n, columns, fromFrame: true };
  } else if (!schema.named) {
    if (inputs.length !== 1) throw invalidParameter(`the model takes one tensor (unnamed signature), got ${inputs.length} inputs`);
    const spec = schema.tensors[0];
    const t = inputs[0];
    checkShape(t, spec.shape, t.name);
    const datatype = numpyDatatype(spec.dtype)!;
    input = { kind: 'tensors', tensors: [{ ...t, datatype, data: cast(t, datatype, t.name) }], fromFrame: false };
  } else {
    const byName = new Map(inputs.map((t) => [t.name, t]));
    const missing = schema.tensors.filter((s) => !byName.has(s.name!)).map((s) => s.name!);
    if (missing.length > 0) throw invalidParameter(`the request lacks the inputs ${JSON.stringify(missing)}`);
    const tensors = schema.tensors.map((spec) => {
      const t = byName.get(spec.name!)!;
      checkShape(t, spec.shape, spec.name!);
      const datatype = numpyDatatype(spec.dtype)!;
      return { ...t, datatype, data: cast(t, datatype, spec.name!) };
    });
    input = { kind: 'tensors', tensors, fromFrame: false };
  }
  const extra: Record<string, PyJson> = {};
  for (const [k, v] of Object.entries(parameters ?? {})) if (!CONTROL_PARAMETERS.has(k)) extra[k] = v;
  const params = enforceParams(extra, plan.params);
  const feeds = toRuntimeFeeds(input, plan);
  return { inputs: feeds, params, response: responseShape(plan, input.fromFrame), rows: feeds[0]?.shape[0] ?? 0 };
}

function cast(t: Tensor, to: Datatype, name: string): Tensor['data'] {
  try {
    return castData(t.data, t.datatype, to, name);
  } catch (error) {
    throw invalidParameter(`input '${name}' is ${t.datatype}, which cannot be read as the signature's ${to}: ${(error as Error).message}`);
  }
}

function checkShape(t: Tensor, shape: number[], name: string): void {
  const ok = t.shape.length === shape.length && shape.every((d, i) => d === -1 || d === t.shape[i]);
  if (!ok) throw invalidParameter(`input '${name}' has shape ${JSON.stringify(t.shape)} but the signature expects ${JSON.stringify(shape)}`);
}
