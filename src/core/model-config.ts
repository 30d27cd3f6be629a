// Triton's model configuration extension: a model version described as the JSON form of Triton's
// ModelConfig (snake_case fields), derived from the graph's metadata and the model settings. It is
// what perf_analyzer reads before it sends load: max_batch_size, input and output names, types and
// dims, and whether dynamic batching is on.
import { preferredBatchSizes } from './loader.js';
import type { ModelVersion } from './registry.js';
import type { TensorMetadata } from './types.js';

export interface TritonTensorConfig {
  name: string;
  data_type: string;
  dims: number[];
}

export interface TritonModelConfig {
  name: string;
  platform: string;
  backend: string;
  version_policy: { latest: { num_versions: number } } | { specific: { versions: number[] } };
  max_batch_size: number;
  input: TritonTensorConfig[];
  output: TritonTensorConfig[];
  dynamic_batching?: {
    max_queue_delay_microseconds: number;
    preferred_batch_size: number[];
    priority_levels: number;
    default_priority_level: number;
    default_queue_policy: {
      timeout_action: 'REJECT';
      default_timeout_microseconds: number;
      allow_timeout_override: boolean;
      max_queue_size: number;
    };
  };
  instance_group: { name: string; kind: 'KIND_CPU'; count: number }[];
  default_model_filename: string;
  parameters: Record<string, { string_value: string }>;
}

/** V2 datatype → Triton's DataType enum name (BYTES is TYPE_STRING there). */
export function tritonDataType(datatype: string): string {
  return datatype === 'BYTES' ? 'TYPE_STRING' : `TYPE_${datatype}`;
}

/**
 * The configuration of a model version. With batching (max_batch_size > 1) dims leave out the
 * batch dimension, as Triton's do; otherwise max_batch_size is 0 and dims are the full shape.
 */
export function modelConfig(entry: ModelVersion, workers: number): TritonModelConfig {
  const s = entry.settings;
  const batching = s.max_batch_size > 1;
  const tensor = (t: TensorMetadata): TritonTensorConfig => ({
    name: t.name,
    data_type: tritonDataType(t.datatype),
    dims: batching ? t.shape.slice(1) : [...t.shape],
  });
  const numeric = /^\d+$/.test(entry.version);
  const config: TritonModelConfig = {
    name: entry.name,
    platform: entry.platform,
    backend: 'onnxruntime',
    version_policy: numeric ? { specific: { versions: [Number(entry.version)] } } : { latest: { num_versions: 1 } },
    max_batch_size: batching ? s.max_batch_size : 0,
    input: entry.inputs.map(tensor),
    output: entry.outputs.map(tensor),
    instance_group: [{ name: entry.name, kind: 'KIND_CPU', count: Math.min(s.parameters.instance_count ?? workers, workers) }],
    default_model_filename: 'model.onnx',
    parameters: {},
  };
  if (batching) {
    config.dynamic_batching = {
      max_queue_delay_microseconds: Math.round(s.max_batch_time * 1e6),
      preferred_batch_size: preferredBatchSizes(s),
      priority_levels: s.priority_levels,
      default_priority_level: s.default_priority_level || s.priority_levels,
      default_queue_policy: {
        timeout_action: 'REJECT',
        default_timeout_microseconds: Math.round(s.queue_timeout * 1e6),
        allow_timeout_override: true,
        max_queue_size: s.max_queue_size,
      },
    };
  }
  if (s.parameters.content_type !== undefined) config.parameters.content_type = { string_value: s.parameters.content_type };
  return config;
}
