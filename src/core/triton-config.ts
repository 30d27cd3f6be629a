// Triton's model configuration extension: a model version described as the JSON form of Triton's
// ModelConfig (snake_case fields), derived from its ModelConfiguration. It is what perf_analyzer
// reads before it sends load: max_batch_size, input and output names, types and dims, and whether
// dynamic batching is on.
import { basename } from 'node:path';
import { isBatching, type ModelConfiguration } from './model-config.js';
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
export function tritonModelConfig(config: ModelConfiguration): TritonModelConfig {
  const batching = isBatching(config);
  const tensor = (t: TensorMetadata): TritonTensorConfig => ({
    name: t.name,
    data_type: tritonDataType(t.datatype),
    dims: batching ? t.shape.slice(1) : [...t.shape],
  });
  const numeric = /^\d+$/.test(config.version);
  const out: TritonModelConfig = {
    name: config.name,
    platform: config.platform,
    backend: config.runtime.backend,
    version_policy: numeric ? { specific: { versions: [Number(config.version)] } } : { latest: { num_versions: 1 } },
    max_batch_size: batching ? config.batching.maxBatchSize : 0,
    input: config.inputs.map(tensor),
    output: config.outputs.map(tensor),
    instance_group: [{ name: config.name, kind: 'KIND_CPU', count: config.instances }],
    default_model_filename: basename(config.path),
    parameters: {},
  };
  if (batching) {
    out.dynamic_batching = {
      max_queue_delay_microseconds: Math.round(config.batching.maxBatchTimeMs * 1000),
      preferred_batch_size: [...config.batching.preferredBatchSizes],
      priority_levels: config.queue.priorityLevels,
      default_priority_level: config.queue.defaultPriority,
      default_queue_policy: {
        timeout_action: 'REJECT',
        default_timeout_microseconds: Math.round(config.queue.queueTimeoutMs * 1000),
        allow_timeout_override: true,
        max_queue_size: config.queue.maxQueueSize,
      },
    };
  }
  if (config.contentType !== undefined) out.parameters.content_type = { string_value: config.contentType };
  return out;
}
