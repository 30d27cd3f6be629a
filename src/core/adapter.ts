// Request adapters: when the tensors clients send are not the tensors a runtime's workers run.
//
// An MLflow model's signature may have thirteen named columns (what V2 clients send, one input per
// column, MLServer's `pd` content type) in front of one [rows, 13] FP64 matrix (what the converted
// graph takes). A runtime declares this with a main-thread hook (RuntimeInfo.adapter) that the
// loader calls once the workers have loaded the model; the adapter it returns then fronts the
// model for every front end: the dataplane applies it to V2 HTTP and gRPC requests alike, and
// checks the result against the runtime's real inputs. Core knows nothing of what an adapter
// translates: signatures, columns and content types stay in the runtime that makes it.
import type { ModelSpec, RuntimeMetadata } from './backend.js';
import type { Tensor } from './tensor.js';
import type { InferenceRequest, TensorMetadata } from './types.js';

export interface RequestAdapter {
  /** Inputs as clients see them (V2 metadata, Triton's configuration). */
  readonly inputs: TensorMetadata[];
  /**
   * Outputs as clients see them. They pass through by name: each is an output of the runtime
   * (the loader checks), so a request's `outputs` name runtime outputs.
   */
  readonly outputs: TensorMetadata[];
  /** The model's content type in metadata parameters (MLServer's `pd`, `np`, `dict`), if any. */
  readonly contentType?: string | undefined;
  /** Outputs computed when a request names none (default: every output). */
  readonly defaultOutputs?: readonly string[] | undefined;
  /**
   * A client's request as the runtime's inputs, named and typed as the runtime takes them. Throws
   * a TesseraError (INVALID_INPUT, BAD_REQUEST) naming what does not fit. The result is then
   * validated against the runtime's own inputs like any request.
   */
  toRuntime(request: InferenceRequest): Tensor[];
}

/** What a runtime's adapter hook is given, on the main thread, once the workers hold the model. */
export interface AdapterContext {
  /** The load: settings, paths and the artifact its prepare step made (with what it found). */
  spec: ModelSpec;
  /** The runtime's own inputs and outputs, as the workers reported them. */
  metadata: RuntimeMetadata;
}
