// A serving plan: what /invocations, the V2 adapter and `tessera predict` need to know about one
// loaded MLflow model. It ties the MLmodel signature to the runtime's real inputs and outputs
// (the ONNX graph, or the graph the sklearn/xgboost converters build), checked once at load.
import type { Datatype } from '../core/datatypes.js';
import type { TensorMetadata } from '../core/types.js';
import { MlflowModelError } from './errors.js';
import type { MLmodel, ServableFlavor } from './mlmodel.js';
import {
  COLUMN_DATATYPE,
  DATATYPE_NUMPY_NAME,
  describeColumnType,
  isComplexType,
  numpyDatatype,
  type ColumnType,
  type ParamSpec,
  type Schema,
  type TensorSpec,
} from './signature.js';

/** How `{"predictions": …}` is built from the runtime's outputs (reference §1.4, §2). */
export type ResponseShape =
  /** ONNX flavor, ndarray/dict input: `{"<output>": nested list, …}` for every output, in graph order. */
  | { kind: 'outputs-dict' }
  /** ONNX flavor, DataFrame input: records `[{"<output>": v, …}, …]`, one per row. */
  | { kind: 'records' }
  /** sklearn / xgboost `predict`: that output as a (nested) list. */
  | { kind: 'predict'; output: string };

export interface ServingPlan {
  flavor: ServableFlavor;
  /** The signature's input schema, or one derived from the runtime's inputs when there is none. */
  inputSchema: Schema;
  /** True when MLmodel had no input signature (the schema above was derived). */
  derivedSchema: boolean;
  params: ParamSpec[] | undefined;
  runtimeInputs: TensorMetadata[];
  runtimeOutputs: TensorMetadata[];
  /** sklearn/xgboost: the runtime output that holds predict()'s result. */
  predictOutput: string | undefined;
  /** Column signatures: each column's datatype once read (FP64 stays FP64; converters take float64). */
  columnDatatypes: Datatype[];
}

export interface PlanOptions {
  /** sklearn/xgboost: the runtime output holding predict(); default the first output. */
  predictOutput?: string;
}

const loadError = (m: MLmodel, detail: string): MlflowModelError =>
  new MlflowModelError(`Cannot serve the MLflow model in '${m.dir}': ${detail}`, 'INVALID_PARAMETER_VALUE');

/**
 * Checks the signature against the runtime's inputs and outputs and builds the plan. Refuses
 * (naming the column, tensor or type) what cannot be served: array/object/map/any columns,
 * dtypes without a V2 datatype, signatures that do not match the model's inputs.
 */
export function createServingPlan(
  m: MLmodel,
  flavor: ServableFlavor,
  runtimeInputs: TensorMetadata[],
  runtimeOutputs: TensorMetadata[],
  options: PlanOptions = {},
): ServingPlan {
  if (runtimeInputs.length === 0) throw loadError(m, 'the model has no inputs');
  if (runtimeOutputs.length === 0) throw loadError(m, 'the model has no outputs');
  const signed = m.signature?.inputs;
  const inputSchema = signed ?? derivedSchema(runtimeInputs);
  const columnDatatypes: Datatype[] = [];
  const runtimeNames = new Set(runtimeInputs.map((i) => i.name));
  if (inputSchema.kind === 'columns') {
    for (const c of inputSchema.columns) {
      if (isComplexType(c.type)) {
        throw loadError(
          m,
          `input column ${c.name === undefined ? '(unnamed)' : `'${c.name}'`} has type ${describeColumnType(c.type)}; Tessera serves only scalar column types (boolean, integer, long, float, double, string, binary, datetime)`,
        );
      }
      columnDatatypes.push(COLUMN_DATATYPE[c.type as ColumnType]);
    }
    if (runtimeInputs.length === 1) {
      const only = runtimeInputs[0];
      const width = only.shape.length >= 2 ? only.shape[only.shape.length - 1] : 1;
      if (only.shape.length >= 2 && width !== -1 && width !== inputSchema.columns.length) {
        throw loadError(m, `the signature has ${inputSchema.columns.length} columns but the model's input '${only.name}' takes ${width} per row ${JSON.stringify(only.shape)}`);
      }
      if (only.shape.length === 1 && inputSchema.columns.length !== 1) {
        throw loadError(m, `the signature has ${inputSchema.columns.length} columns but the model's only input '${only.name}' is one-dimensional ${JSON.stringify(only.shape)}`);
      }
      const textual = columnDatatypes.map((d) => d === 'BYTES');
      if (textual.some((t) => t !== (only.datatype === 'BYTES'))) {
        throw loadError(m, `the model's input '${only.name}' is ${only.datatype} but the signature's columns are ${[...new Set(columnDatatypes)].join(', ')}`);
      }
    } else {
      if (!inputSchema.named) throw loadError(m, `the model has ${runtimeInputs.length} inputs but the column signature is unnamed`);
      const names = new Set(inputSchema.columns.map((c) => c.name!));
      const missing = runtimeInputs.filter((i) => !names.has(i.name)).map((i) => i.name);
      if (missing.length > 0) throw loadError(m, `the model's inputs ${JSON.stringify(missing)} have no column in the signature`);
    }
  } else {
    for (const t of inputSchema.tensors) {
      if (numpyDatatype(t.dtype) === undefined) throw loadError(m, `input tensor ${t.name === undefined ? '(unnamed)' : `'${t.name}'`} has dtype '${t.dtype}', which has no V2 datatype`);
    }
    if (!inputSchema.named) {
      if (runtimeInputs.length !== 1) throw loadError(m, `the signature has one unnamed tensor but the model has ${runtimeInputs.length} inputs ${JSON.stringify([...runtimeNames])}`);
    } else {
      const names = new Set(inputSchema.tensors.map((t) => t.name!));
      const missing = runtimeInputs.filter((i) => !names.has(i.name)).map((i) => i.name);
      if (missing.length > 0) throw loadError(m, `the model's inputs ${JSON.stringify(missing)} are not in the signature`);
      const extra = [...names].filter((n) => !runtimeNames.has(n));
      if (extra.length > 0) throw loadError(m, `the signature's tensors ${JSON.stringify(extra)} are not inputs of the model (inputs: ${JSON.stringify([...runtimeNames])})`);
    }
  }
  let predictOutput: string | undefined;
  if (flavor !== 'onnx') {
    predictOutput = options.predictOutput ?? runtimeOutputs[0].name;
    if (!runtimeOutputs.some((o) => o.name === predictOutput)) throw loadError(m, `the predict output '${predictOutput}' is not an output of the model`);
  }
  return {
    flavor,
    inputSchema,
    derivedSchema: signed === undefined,
    params: m.signature?.params,
    runtimeInputs,
    runtimeOutputs,
    predictOutput,
    columnDatatypes,
  };
}

/** No signature: the runtime's inputs as tensors (one unnamed, or named ones), as MLflow feeds ONNX. */
function derivedSchema(inputs: TensorMetadata[]): Schema {
  const tensors: TensorSpec[] = inputs.map((i) => ({
    ...(inputs.length > 1 ? { name: i.name } : {}),
    dtype: DATATYPE_NUMPY_NAME[i.datatype],
    shape: i.shape.map((d, k) => (k === 0 ? -1 : d)),
  }));
  return { kind: 'tensors', named: inputs.length > 1, tensors };
}

/** The response shape for an input that reached the model as a DataFrame (or not). */
export function responseShape(plan: ServingPlan, dataframeInput: boolean): ResponseShape {
  if (plan.flavor !== 'onnx') return { kind: 'predict', output: plan.predictOutput! };
  // _OnnxModelWrapper: a DataFrame gives records; an ndarray or dict gives a dict of outputs. With a
  // tensor signature, MLflow turns DataFrames into arrays before the wrapper sees them.
  const frame = plan.inputSchema.kind === 'columns' || (plan.derivedSchema && dataframeInput);
  return frame ? { kind: 'records' } : { kind: 'outputs-dict' };
}
