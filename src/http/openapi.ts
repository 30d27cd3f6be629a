// The OpenAPI 3 description of Tessera's REST API, served at /v2/docs/dataplane.json and rendered by
// Swagger UI at /v2/docs. Each route carries its own operation (route option `config.openapi`, from
// the builders below); the document is assembled from the routes fastify actually registered, so
// it cannot list a route that does not exist or miss one that does. The routes parse bodies
// themselves (exact 64-bit integers, binary extension), so there are no fastify schemas to use.

export type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, description: string): Schema => ({ description, content: { 'application/json': { schema } } });
const error = (description: string): Schema => json(ref('Error'), description);

const modelParam = { name: 'model', in: 'path', required: true, schema: { type: 'string' }, description: 'model name' };
const versionParam = { name: 'version', in: 'path', required: true, schema: { type: 'string' }, description: 'model version' };
const repositoryParam = { name: 'model', in: 'path', required: true, schema: { type: 'string' }, description: 'model name (folder name or settings name)' };

const schemas: Record<string, Schema> = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'string', description: 'what went wrong, naming the field and the problem' } },
  },
  Datatype: {
    type: 'string',
    enum: ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BYTES', 'BF16'],
  },
  Parameters: {
    type: 'object',
    additionalProperties: { oneOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
    description: 'free-form; `priority` (1 = highest) and `timeout` (µs in queue) steer scheduling',
  },
  RequestInput: {
    type: 'object',
    required: ['name', 'shape', 'datatype'],
    properties: {
      name: { type: 'string' },
      shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
      datatype: ref('Datatype'),
      parameters: ref('Parameters'),
      data: {
        type: 'array',
        items: {},
        description: 'row-major values, flat or nested; BYTES as strings; INT64/UINT64 exact over 64 bits. Omitted when `parameters.binary_data_size` sends it binary.',
      },
    },
  },
  RequestOutput: {
    type: 'object',
    required: ['name'],
    properties: { name: { type: 'string' }, parameters: { type: 'object', properties: { binary_data: { type: 'boolean' } } } },
  },
  InferenceRequest: {
    type: 'object',
    required: ['inputs'],
    properties: {
      id: { type: 'string', description: 'echoed in the response and on every log line of the request' },
      parameters: ref('Parameters'),
      inputs: { type: 'array', items: ref('RequestInput') },
      outputs: { type: 'array', items: ref('RequestOutput'), description: 'outputs to return (default: all)' },
    },
    example: { id: '42', inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] },
  },
  ResponseOutput: {
    type: 'object',
    required: ['name', 'shape', 'datatype'],
    properties: { name: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } }, datatype: ref('Datatype'), parameters: ref('Parameters'), data: { type: 'array', items: {} } },
  },
  InferenceResponse: {
    type: 'object',
    required: ['model_name', 'outputs'],
    properties: {
      model_name: { type: 'string' },
      model_version: { type: 'string' },
      id: { type: 'string' },
      parameters: ref('Parameters'),
      outputs: { type: 'array', items: ref('ResponseOutput') },
    },
  },
  TensorMetadata: {
    type: 'object',
    required: ['name', 'datatype', 'shape'],
    properties: { name: { type: 'string' }, datatype: ref('Datatype'), shape: { type: 'array', items: { type: 'integer' }, description: '-1 for a variable dimension' } },
  },
  ServerMetadata: {
    type: 'object',
    required: ['name', 'version', 'extensions'],
    properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } },
  },
  ModelMetadata: {
    type: 'object',
    required: ['name', 'platform', 'inputs', 'outputs'],
    properties: {
      name: { type: 'string' },
      versions: { type: 'array', items: { type: 'string' } },
      platform: { type: 'string' },
      inputs: { type: 'array', items: ref('TensorMetadata') },
      outputs: { type: 'array', items: ref('TensorMetadata') },
    },
  },
  ModelStatus: {
    type: 'object',
    properties: { name: { type: 'string' }, version: { type: 'string' }, state: { type: 'string', enum: ['LOADING', 'READY', 'UNAVAILABLE', 'UNLOADING'] }, reason: { type: 'string' } },
  },
  DurationStat: { type: 'object', properties: { count: { type: 'integer' }, ns: { type: 'integer' } } },
  ModelStatistics: {
    type: 'object',
    properties: {
      name: { type: 'string' },
      version: { type: 'string' },
      last_inference: { type: 'integer', description: 'ms since the epoch' },
      inference_count: { type: 'integer', description: 'rows inferred' },
      execution_count: { type: 'integer', description: 'model executions (batches)' },
      inference_stats: {
        type: 'object',
        properties: Object.fromEntries(
          ['success', 'fail', 'queue', 'compute_input', 'compute_infer', 'compute_output', 'cache_hit', 'cache_miss'].map((k) => [k, ref('DurationStat')]),
        ),
      },
      batch_stats: {
        type: 'array',
        items: {
          type: 'object',
          properties: { batch_size: { type: 'integer' }, compute_input: ref('DurationStat'), compute_infer: ref('DurationStat'), compute_output: ref('DurationStat') },
        },
      },
    },
  },
  ModelConfig: {
    type: 'object',
    description: "Triton's ModelConfig in JSON (snake_case), derived from the model and its settings",
    properties: {
      name: { type: 'string' },
      platform: { type: 'string' },
      backend: { type: 'string' },
      max_batch_size: { type: 'integer', description: '0 when the model does not batch' },
      input: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, data_type: { type: 'string' }, dims: { type: 'array', items: { type: 'integer' } } } } },
      output: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, data_type: { type: 'string' }, dims: { type: 'array', items: { type: 'integer' } } } } },
      dynamic_batching: { type: 'object' },
      instance_group: { type: 'array', items: { type: 'object' } },
    },
  },
};

const readyBody = { type: 'object', properties: { ready: { type: 'boolean' } } };
const modelReadyBody = { type: 'object', properties: { name: { type: 'string' }, ready: { type: 'boolean' } } };
const statsBody = { type: 'object', properties: { model_stats: { type: 'array', items: ref('ModelStatistics') } } };

const which = (versioned: boolean): string => (versioned ? 'a model version' : 'a model (its default version)');
const modelParams = (versioned: boolean): Schema[] => (versioned ? [modelParam, versionParam] : [modelParam]);

const repositoryOperation = (action: 'load' | 'unload', summary: string): Schema => ({
  tags: ['repository'],
  summary,
  parameters: [repositoryParam],
  requestBody: { required: false, content: { 'application/json': { schema: { type: 'object' } } } },
  responses: {
    200: json({ type: 'object', properties: { name: { type: 'string' }, [action]: { type: 'boolean' } } }, 'done'),
    400: error(action === 'load' ? 'the model failed to load (the message gives the reason)' : 'malformed body'),
    404: error('no such model in the repository'),
  },
});

/** The OpenAPI operation of each route (attached to the route as `config.openapi`). */
export const operations = {
  live: { tags: ['health'], summary: 'Liveness', responses: { 200: json({ type: 'object', properties: { live: { type: 'boolean' } } }, 'the server is live') } },
  ready: {
    tags: ['health'],
    summary: 'Readiness: every configured model has finished loading and at least one is ready',
    responses: { 200: json(readyBody, 'ready'), 503: json(readyBody, 'not ready') },
  },
  serverMetadata: { tags: ['server'], summary: 'Server metadata', responses: { 200: json(ref('ServerMetadata'), 'name, version, extensions') } },
  models: {
    tags: ['server'],
    summary: 'Every model version with its state',
    responses: { 200: json({ type: 'object', properties: { models: { type: 'array', items: ref('ModelStatus') } } }, 'models') },
  },
  allStatistics: { tags: ['statistics'], summary: 'Statistics of every model version', responses: { 200: json(statsBody, 'statistics') } },
  modelMetadata: (versioned: boolean): Schema => ({
    tags: ['model'],
    summary: `Metadata of ${which(versioned)}`,
    parameters: modelParams(versioned),
    responses: { 200: json(ref('ModelMetadata'), 'metadata'), 404: error('unknown model or version') },
  }),
  modelReady: (versioned: boolean): Schema => ({
    tags: ['model'],
    summary: `Readiness of ${which(versioned)}`,
    parameters: modelParams(versioned),
    responses: { 200: json(modelReadyBody, 'ready'), 503: json(modelReadyBody, 'not ready'), 404: error('unknown model or version') },
  }),
  infer: (versioned: boolean): Schema => ({
    tags: ['inference'],
    summary: `Run inference on ${which(versioned)}`,
    description:
      "V2 JSON body (Content-Type application/json, none, or application/octet-stream). With Triton's binary tensor extension " +
      'the JSON header is the first Inference-Header-Content-Length bytes, followed by binary inputs; outputs asked for with ' +
      '`binary_data` come back the same way. gzip/deflate bodies are accepted. The `x-request-timeout` header (seconds, or ' +
      'with a unit: 1500ms, 2s) sets a deadline.',
    parameters: [
      ...modelParams(versioned),
      { name: 'x-request-timeout', in: 'header', required: false, schema: { type: 'string' }, description: 'deadline: seconds (2, 0.5) or with a unit (1500ms, 2s, 1m)' },
    ],
    requestBody: { required: true, content: { 'application/json': { schema: ref('InferenceRequest') } } },
    responses: {
      200: json(ref('InferenceResponse'), 'the outputs'),
      400: error('malformed request, or one that does not fit the model: the message names the field'),
      404: error('unknown model or version'),
      413: error('body larger than http_max_input_size'),
      499: error('the client went away'),
      500: error('inference failed'),
      503: error('model not ready, queue full, or timed out in queue'),
      504: error("the request's deadline (x-request-timeout, or the model's request_timeout) passed"),
    },
  }),
  statistics: (versioned: boolean): Schema => ({
    tags: ['statistics'],
    summary: `Statistics of ${versioned ? 'a model version' : 'every version of a model'}`,
    parameters: modelParams(versioned),
    responses: { 200: json(statsBody, 'statistics'), 404: error('unknown model or version') },
  }),
  config: (versioned: boolean): Schema => ({
    tags: ['configuration'],
    summary: `Configuration of ${which(versioned)} (Triton's model configuration extension)`,
    parameters: modelParams(versioned),
    responses: { 200: json(ref('ModelConfig'), 'configuration'), 404: error('unknown model or version') },
  }),
  repositoryIndex: {
    tags: ['repository'],
    summary: 'Models found under the repository root',
    requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { ready: { type: 'boolean' } } } } } },
    responses: { 200: json({ type: 'array', items: ref('ModelStatus') }, 'models'), 400: error('malformed body') },
  },
  repositoryLoad: repositoryOperation('load', '(Re)load a model from disk; the old instance serves until the new one is ready'),
  repositoryUnload: repositoryOperation('unload', 'Unload a model'),
  docsPage: { tags: ['docs'], summary: 'This page: Swagger UI for the whole API', responses: { 200: { description: 'HTML' } } },
  docsDocument: { tags: ['docs'], summary: 'The OpenAPI document of the API', responses: { 200: { description: 'OpenAPI 3 JSON', content: { 'application/json': { schema: { type: 'object' } } } } } },
} satisfies Record<string, Schema | ((versioned: boolean) => Schema)>;

/** A route fastify registered, with its operation. */
export interface DocumentedRoute {
  method: string;
  /** fastify's form: /v2/models/:model */
  url: string;
  operation: Schema;
}

/** fastify's /v2/models/:model → OpenAPI's /v2/models/{model}. */
export const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

export function openApiDocument(options: { version: string; routes: readonly DocumentedRoute[]; rootPath: string }): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const r of options.routes) (paths[openApiPath(r.url)] ??= {})[r.method.toLowerCase()] = r.operation;
  return {
    openapi: '3.0.3',
    info: {
      title: 'Tessera V2 inference API',
      version: options.version,
      description:
        "The Open Inference Protocol (V2) over REST, with Triton's binary tensor, model repository, statistics and model configuration extensions. Prometheus metrics are served on the metrics port.",
    },
    servers: [{ url: options.rootPath === '' ? '/' : options.rootPath }],
    paths,
    components: {
      schemas,
      // Operations behind bearer-token auth name this scheme (src/security/http.ts marks them).
      ...(options.routes.some((r) => r.operation.security !== undefined) ? { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } } } : {}),
    },
  };
}
