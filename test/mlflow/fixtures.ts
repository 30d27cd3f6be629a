// Shared fixtures for the MLflow library tests: plans for the real MLflow-written models (with the
// runtime inputs the converters give them: one FP64 [-1, k] matrix) and for ONNX-flavor models.
import path from 'node:path';
import type { TensorMetadata } from '../../src/core/types.js';
import { parseMLmodel, readMLmodel, servable } from '../../src/mlflow/mlmodel.js';
import { createServingPlan, type ServingPlan } from '../../src/mlflow/plan.js';
import { CLASSIFIERS, cases, MODELS_DIR, type RecordedCase } from './serving-helpers.js';

export { CLASSIFIERS, type RecordedCase as Case } from './serving-helpers.js';
export const MODELS = MODELS_DIR;
export const CASES: RecordedCase[] = cases();

/** A plan for a real model as the converters will serve it: input FP64 [-1, k], label or value output. */
export async function realPlan(name: string): Promise<ServingPlan> {
  const m = await readMLmodel(path.join(MODELS, name));
  const s = servable(m);
  const inputs = m.signature!.inputs!;
  const width = inputs.kind === 'columns' ? inputs.columns.length : inputs.tensors[0].shape[1];
  const classifier = CLASSIFIERS.has(name);
  const out: TensorMetadata[] = classifier
    ? [
        { name: 'label', datatype: 'INT64', shape: [-1] },
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
      ]
    : [{ name: 'variable', datatype: name === 'diabetes-xgb' ? 'FP32' : 'FP64', shape: [-1] }];
  return createServingPlan(m, s.flavor, [{ name: 'input', datatype: 'FP64', shape: [-1, width] }], out, { predictOutput: out[0].name });
}

const ONNX_FLAVOR = '  onnx:\n    data: model.onnx\n  python_function:\n    loader_module: mlflow.onnx\n';

/** An ONNX-flavor MLmodel with the given signature members (JSON strings or null). */
export function onnxPlan(
  signature: { inputs?: unknown; outputs?: unknown; params?: unknown } | null,
  runtimeInputs: TensorMetadata[],
  runtimeOutputs: TensorMetadata[],
): ServingPlan {
  const sig =
    signature === null
      ? ''
      : `signature:\n  inputs: ${JSON.stringify(JSON.stringify(signature.inputs ?? null) === 'null' ? null : JSON.stringify(signature.inputs))}\n  outputs: null\n  params: ${signature.params ? JSON.stringify(JSON.stringify(signature.params)) : 'null'}\n`;
  const m = parseMLmodel(`flavors:\n${ONNX_FLAVOR}${sig}`, '/models/test');
  return createServingPlan(m, 'onnx', runtimeInputs, runtimeOutputs);
}

export const IRIS_INPUTS: TensorMetadata[] = [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }];
export const IRIS_OUTPUTS: TensorMetadata[] = [
  { name: 'label', datatype: 'INT64', shape: [-1] },
  { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
];
export const IRIS_COLUMNS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

/** iris.onnx logged with a named tensor signature (infer_signature of a dict/ndarray). */
export const irisTensorPlan = (): ServingPlan =>
  onnxPlan({ inputs: [{ name: 'input', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 4] } }] }, IRIS_INPUTS, IRIS_OUTPUTS);
/** iris.onnx with an unnamed tensor signature (what a numpy example gives). */
export const irisUnnamedPlan = (): ServingPlan =>
  onnxPlan({ inputs: [{ type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 4] } }] }, IRIS_INPUTS, IRIS_OUTPUTS);
/** iris.onnx with a column signature (a DataFrame example). */
export const irisColumnPlan = (params?: unknown): ServingPlan =>
  onnxPlan({ inputs: IRIS_COLUMNS.map((name) => ({ type: 'double', name, required: true })), params }, IRIS_INPUTS, IRIS_OUTPUTS);
