// Protocol-agnostic inference and metadata types. HTTP, gRPC and MLflow adapters translate their
// wire formats to and from these.
import type { Datatype } from './datatypes.js';
import type { Tensor } from './tensor.js';

/** V2 parameter values; 64-bit integers beyond 2^53 arrive as bigint. */
export type ParameterValue = string | number | boolean | bigint;
export type Parameters = Record<string, ParameterValue>;

export interface RequestedOutput {
  name: string;
  parameters?: Parameters;
}

export interface InferenceRequest {
  id?: string;
  parameters?: Parameters;
  inputs: Tensor[];
  outputs?: RequestedOutput[];
}

export interface InferenceResponse {
  modelName: string;
  modelVersion?: string;
  id?: string;
  parameters?: Parameters;
  outputs: Tensor[];
}

export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  /** -1 marks a dynamic dimension. */
  shape: number[];
  parameters?: Parameters;
}

export interface ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  parameters?: Parameters;
}

export const MODEL_STATES = ['LOADING', 'READY', 'UNAVAILABLE', 'UNLOADING'] as const;
export type ModelState = (typeof MODEL_STATES)[number];

export interface ModelStatus {
  name: string;
  version: string;
  state: ModelState;
  reason: string;
}

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}
