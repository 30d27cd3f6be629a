// An MLflow model as the server fronts it: the request adapter (core/adapter.ts) that the mlflow
// runtime makes at load from the MLmodel signature and the runtime's real inputs and outputs.
//
// - V2 metadata as MLServer's MLflow runtime derives it (metadata.ts): one input per column with
//   content type `pd` for a column signature, the signature's tensors for a tensor signature, the
//   runtime's own inputs without a signature. The outputs are what the server answers: `predict`
//   (and `predict_proba` for classifiers) for the sklearn and xgboost flavors, as MLServer's
//   sklearn runtime names them, the graph's outputs for the onnx flavor.
// - A V2 request (HTTP or gRPC) is decoded with decodeV2Request into the runtime's tensors; the
//   MLflow errors it raises become the catalogue's (400 INVALID_INPUT / BAD_REQUEST).
// - /invocations reads `plan` to decode MLflow's formats itself, then runs those tensors.
import type { RequestAdapter } from '../core/adapter.js';
import { badRequest, invalidInput, unsupportedMediaType, type TesseraError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { InferenceRequest, TensorMetadata } from '../core/types.js';
import { MlflowError } from './errors.js';
import { decodeV2Request, schemaContentType, signatureToV2Metadata } from './metadata.js';
import type { MLmodel } from './mlmodel.js';
import type { ResponseShape, ServingPlan } from './plan.js';

/** The runtime registry's name for MLflow model folders (src/runtimes/mlflow.ts). */
export const MLFLOW_RUNTIME = 'mlflow';

/** An MLflow error of a V2 request as the catalogue's error (same message). */
export function asCatalogued(error: MlflowError): TesseraError {
  if (error.status === 415) return unsupportedMediaType(error.message, error);
  if (error.errorCode === 'INVALID_PARAMETER_VALUE') return invalidInput(error.message, error);
  return badRequest(error.message, error);
}

export class MlflowRequestAdapter implements RequestAdapter {
  readonly inputs: TensorMetadata[];
  readonly outputs: TensorMetadata[];
  readonly contentType: string | undefined;
  readonly defaultOutputs: readonly string[] | undefined;

  constructor(
    readonly plan: ServingPlan,
    readonly mlmodel: MLmodel,
  ) {
    const signed = signatureToV2Metadata(mlmodel.signature);
    this.inputs = signed?.inputs ?? plan.runtimeInputs.map((t) => ({ ...t, shape: [...t.shape] }));
    this.outputs = plan.runtimeOutputs.map((t) => ({ ...t, shape: [...t.shape] }));
    this.contentType = plan.derivedSchema ? undefined : schemaContentType(plan.inputSchema);
    // sklearn/xgboost: `predict` unless the request asks for `predict_proba` (MLServer's sklearn
    // runtime); the onnx flavor: every output of the graph, as for ONNX models.
    this.defaultOutputs = plan.predictOutput === undefined ? undefined : [plan.predictOutput];
  }

  toRuntime(request: InferenceRequest): Tensor[] {
    try {
      return decodeV2Request(request.inputs, request.parameters, this.plan).inputs;
    } catch (error) {
      if (error instanceof MlflowError) throw asCatalogued(error);
      throw error;
    }
  }

  /** The runtime outputs an /invocations answer of this shape is built from. */
  invocationOutputs(shape: ResponseShape): string[] {
    return shape.kind === 'predict' ? [shape.output] : this.plan.runtimeOutputs.map((o) => o.name);
  }
}
