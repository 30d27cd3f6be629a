// Settings schemas: MLServer's field names and defaults (settings.json, model-settings.json), plus
// Tessera's own fields. The descriptions feed `tessera start --help` and the README table.
import { z } from 'zod';
import { DATATYPES } from '../core/datatypes.js';
import type { ModelSettings as CoreModelSettings } from '../core/settings.js';
import { securitySettingsShape } from '../security/settings.js';
import { limitsSettingsShape } from './limits.js';

const MIB = 1024 * 1024;

const port = z.number().int().min(0).max(65535);

export const serverSettingsSchema = z.object({
  debug: z.boolean().default(false).describe('access log and debug-level logs'),
  log_level: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('log level (debug: true lowers it to debug)'),
  host: z.string().min(1).default('127.0.0.1').describe('address the listeners bind to (127.0.0.1: this machine only; the container image sets 0.0.0.0)'),
  http_port: port.default(8080).describe('HTTP (V2 REST) port; 0 picks a free port'),
  grpc_port: port.default(8081).describe('gRPC port; 0 picks a free port'),
  metrics_port: port.default(8082).describe('Prometheus metrics port (its own listener)'),
  metrics_endpoint: z.string().nullable().default('/metrics').describe('metrics path; null disables metrics'),
  parallel_workers: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('inference worker threads (default: cores - 1, at least 1; 0 is read as 1: models never run on the main thread)'),
  worker_max_heap_mb: z
    .number()
    .int()
    .min(16)
    .optional()
    .describe('V8 heap limit per inference worker in MiB; a worker over it is replaced (default: V8 default)'),
  heap_growing_percent: z
    .number()
    .int()
    .min(0)
    .max(300)
    .default(30)
    .describe("how far V8 lets a heap grow past what survived the last full collection, in percent (0: V8's own adaptive factor)"),
  worker_nice: z
    .number()
    .int()
    .min(0)
    .max(19)
    .default(5)
    .describe('nice increment of inference workers, so HTTP handling keeps priority under load'),
  parallel_workers_timeout: z.number().min(0).optional().describe("MLServer's name for shutdown_grace (which wins when both are set)"),
  model_repository_root: z.string().default('.').describe('folder searched for models (relative to the settings folder)'),
  load_models_at_startup: z.boolean().default(true).describe('load every model found at start-up'),
  server_name: z.string().default('tessera').describe("name reported by GET /v2"),
  server_version: z.string().optional().describe('version reported by GET /v2 (default: the package version)'),
  extensions: z.array(z.string()).default([]).describe('extra extension names reported by GET /v2'),
  http_max_input_size: z
    .number()
    .int()
    .positive()
    .default(64 * MIB)
    .describe('largest HTTP request body in bytes; larger bodies get 413'),
  grpc_max_message_length: z
    .number()
    .int()
    .positive()
    .nullable()
    .default(null)
    .describe('gRPC send/receive message limit in bytes (default 64 MiB, as the HTTP body limit)'),
  grpc_force_raw_output: z.boolean().default(false).describe('answer gRPC with raw_output_contents even for typed requests'),
  grpc_keepalive_time: z.number().int().positive().default(7_200_000).describe('gRPC keepalive ping interval, ms (Triton: 2 h)'),
  grpc_keepalive_timeout: z.number().int().positive().default(20_000).describe('gRPC keepalive ack timeout, ms'),
  grpc_keepalive_permit_without_calls: z.boolean().default(false).describe('allow client keepalive pings with no call open'),
  grpc_http2_max_pings_without_data: z.number().int().min(0).default(2).describe('HTTP/2 pings allowed without data'),
  grpc_http2_min_recv_ping_interval_without_data: z.number().int().min(0).default(300_000).describe('least interval between client pings without data, ms'),
  grpc_http2_max_ping_strikes: z.number().int().min(0).default(2).describe('bad pings tolerated before GOAWAY'),
  // Limits, readiness rule and graceful shutdown (src/config/limits.ts).
  ...limitsSettingsShape,
  root_path: z.string().default('').describe('path prefix a proxy in front strips (MLServer): the API docs page and document use it; routes stay the same'),
  gzip_enabled: z.boolean().default(true).describe('compress responses of 1 KiB or more when the client accepts gzip or deflate'),
  // Authentication, TLS, CORS, docs and reflection switches (src/security/settings.ts).
  ...securitySettingsShape,
  conversion_cache_dir: z
    .string()
    .min(1)
    .nullable()
    .optional()
    .describe('folder for sklearn/XGBoost models converted to ONNX, kept across restarts (default $XDG_CACHE_HOME/tessera/conversions, else ~/.cache/tessera/conversions); null: no cache; an unwritable folder converts in memory'),
  mlflow_scoring: z
    .enum(['auto', 'on', 'off'])
    .default('auto')
    .describe("MLflow's scoring routes (/ping, /health, /version, /invocations) on the HTTP port: auto = when an MLflow model is found at start-up"),
  mlflow_scoring_model: z
    .string()
    .min(1)
    .optional()
    .describe('the model POST /invocations serves when several MLflow models are loaded (default: the only one)'),
});

export type ServerSettingsInput = z.input<typeof serverSettingsSchema>;
export type ServerSettings = z.output<typeof serverSettingsSchema>;

/**
 * MLServer fields that only make sense for its Python runtime or for features Tessera does not
 * have; accepted and ignored with a warning, so an MLServer settings.json loads unchanged.
 */
export const IGNORED_SERVER_FIELDS: Record<string, string> = {
  environments_dir: 'Python environments do not apply to ONNX models',
  model_repository_implementation: 'Python repository classes cannot be loaded',
  model_repository_implementation_args: 'Python repository classes cannot be loaded',
  metrics_dir: 'Tessera keeps metrics in one process',
  metrics_rest_server_prefix: 'Tessera names its own HTTP metrics',
  use_structured_logging: 'Tessera logs are always structured (JSON)',
  logging_settings: 'Python logging configuration does not apply',
  kafka_enabled: 'Kafka is not supported',
  kafka_servers: 'Kafka is not supported',
  kafka_topic_input: 'Kafka is not supported',
  kafka_topic_output: 'Kafka is not supported',
  tracing_server: 'tracing is not supported yet',
  cache_enabled: 'the response cache is not supported',
  cache_size: 'the response cache is not supported',
  _custom_rest_server_settings: 'uvicorn settings do not apply',
  _custom_grpc_server_settings: 'grpcio settings do not apply',
  _custom_metrics_server_settings: 'uvicorn settings do not apply',
};

const tensorMetadataSchema = z.object({
  name: z.string().min(1),
  datatype: z.enum(DATATYPES),
  shape: z.array(z.number().int().min(-1)),
  parameters: z.record(z.string(), z.unknown()).optional(),
});

export const modelParametersSchema = z
  .looseObject({
    uri: z.string().optional().describe('model file or folder (default: the model-settings.json folder)'),
    version: z.string().optional().describe('version of this model; absent means unversioned'),
    content_type: z.string().optional().describe('default content type (reported in metadata)'),
    format: z.string().optional(),
    extra: z.record(z.string(), z.unknown()).optional().describe("the runtime's options (validated by the runtime's own schema)"),
    instance_count: z.number().int().min(1).optional().describe('workers that load this model (default: all)'),
    execution: z
      .enum(['auto', 'inline', 'workers'])
      .optional()
      .describe('where requests run: auto (default: on the main thread when measured runs take microseconds), inline (always on the main thread), workers (never)'),
  });

export const modelSettingsSchema = z.looseObject({
  name: z.string().min(1).optional().describe('model name (default: the folder name)'),
  implementation: z.string().optional().describe('runtime: a value naming ONNX (or none) selects ONNX Runtime; a path to a .mjs/.js/.ts module, a custom runtime'),
  platform: z.string().default('').describe("platform reported in metadata (default: the runtime's, onnxruntime_onnx for ONNX)"),
  versions: z.array(z.string()).default([]).describe('informational versions (MLServer field)'),
  inputs: z.array(tensorMetadataSchema).default([]).describe('input metadata overriding the graph'),
  outputs: z.array(tensorMetadataSchema).default([]).describe('output metadata overriding the graph'),
  max_batch_size: z.number().int().min(0).default(0).describe('adaptive batching: most rows per batch'),
  max_batch_time: z.number().min(0).default(0).describe('adaptive batching: seconds a request may wait'),
  preferred_batch_size: z
    .array(z.number().int().min(1))
    .default([])
    .describe('adaptive batching: batch sizes (rows) to cut a larger queue into, as Triton'),
  max_queue_size: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('most requests waiting for this model; beyond it 503 with Retry-After (default: 8 x instances x max(1, max_batch_size), at least 128); 0: no limit'),
  queue_timeout: z.number().min(0).default(0).describe('default seconds a request may wait in the queue; 0: no limit'),
  priority_levels: z.number().int().min(1).default(2).describe('priority levels; a request sets 1 (highest) .. levels'),
  default_priority_level: z.number().int().min(0).default(0).describe('level of requests naming none (0: the lowest level)'),
  request_timeout: z
    .number()
    .min(0)
    .default(60)
    .describe('seconds a request may take from intake to answer (queue and run); then 504 / DEADLINE_EXCEEDED; 0: no limit'),
  parameters: modelParametersSchema.default({}),
});

export type ModelSettingsInput = z.input<typeof modelSettingsSchema>;
export type ModelSettings = z.output<typeof modelSettingsSchema>;

// core declares the settings shape it reads (it imports nothing from config/): the schema must produce it.
type Satisfies<T extends CoreModelSettings> = T;
export type CheckedModelSettings = Satisfies<ModelSettings>;

export const IGNORED_MODEL_FIELDS: Record<string, string> = {
  warm_workers: 'Tessera always loads models in every worker',
  parallel_workers: 'the per-model worker count is deprecated in MLServer; Tessera uses the server pool',
  cache_enabled: 'the response cache is not supported',
};

export const IGNORED_MODEL_PARAMETERS: Record<string, string> = {
  environment_path: 'Python environments do not apply to ONNX models',
  environment_tarball: 'Python environments do not apply to ONNX models',
  inference_pool_gid: 'Tessera has one inference pool',
  autogenerate_inference_pool_gid: 'Tessera has one inference pool',
};
