// MLflow's scoring protocol (`mlflow models serve`, reference mlflow.md §1) on the main HTTP port:
// GET /ping, GET /health, GET /version and POST /invocations for one MLflow model, plus
// POST /endpoints/{model}/invocations for any MLflow model of the server (the path MLflow's
// deployments client posts to). /invocations is another decoder and encoder in front of the same
// dataplane call, batcher and worker pool as V2: the body is decoded with the model's serving
// plan into the runtime's tensors, run, and written as MLflow writes `{"predictions": …}`.
//
// Which model /invocations serves: the setting mlflow_scoring_model when set; else the only MLflow
// model of the server (a model served by the mlflow runtime, in any version: requests without a
// version go to the default one). With none or several (and no setting) /invocations answers 404
// ENDPOINT_NOT_FOUND saying so, and /ping answers 404.
//
// Errors have MLflow's shape, never V2's: `{"error_code": "…", "message": "…"}` (Python's json.dumps
// layout) with the status of the catalogue (or of MLflow's own error), 415 content-type refusals as
// text/plain, and a failure of the model itself as MLflow's 400 "Encountered an unexpected error
// while evaluating the model…" with the cause in `stack_trace`.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ModelTarget } from '../../core/dataplane.js';
import type { DataPlane } from '../../core/dataplane.js';
import { TesseraError } from '../../core/errors.js';
import { MlflowError, unexpectedModelError } from '../../mlflow/errors.js';
import { decodeInvocations } from '../../mlflow/invocations/decode.js';
import { encodeInvocationsResponse } from '../../mlflow/invocations/encode.js';
import { pythonJsonString } from '../../mlflow/invocations/python-json-encode.js';
import { MLFLOW_RUNTIME, MlflowRequestAdapter } from '../../mlflow/serving.js';
import { headerDeadline, httpContext } from '../context.js';
import { httpError, logFailure } from '../errors.js';
import type { HttpSurface } from '../app.js';
import type { SurfaceOptions } from './surface.js';

export interface MlflowSurfaceOptions {
  /** The model POST /invocations serves (mlflow_scoring_model); default: the only MLflow model. */
  model?: string | undefined;
  /** GET /version when the model's MLmodel records no mlflow_version: the server's version. */
  serverVersion: string;
}

const text = (description: string): Record<string, unknown> => ({ description, content: { 'application/json': { schema: { type: 'string' } } } });
const mlflowError = (description: string): Record<string, unknown> => ({
  description,
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['error_code', 'message'],
        properties: { error_code: { type: 'string', example: 'BAD_REQUEST' }, message: { type: 'string' }, stack_trace: { type: 'string' } },
      },
    },
    'text/plain': { schema: { type: 'string' } },
  },
});
const invocationBody = {
  required: true,
  content: {
    'application/json': {
      schema: { type: 'object', description: 'exactly one of dataframe_split, dataframe_records, instances, inputs; optional params' },
      example: { dataframe_split: { columns: ['a', 'b'], data: [[1, 2]] } },
    },
    'text/csv': { schema: { type: 'string' }, example: 'a,b\n1,2\n' },
  },
};
const invocationResponses = {
  200: { description: '`{"predictions": …}`', content: { 'application/json': { schema: { type: 'object', properties: { predictions: {} } } } } },
  400: mlflowError('BAD_REQUEST (parsing) or INVALID_PARAMETER_VALUE (schema, params)'),
  404: mlflowError('no such model, or no MLflow model for /invocations'),
  415: mlflowError('unsupported Content-Type (text/plain)'),
  503: mlflowError('the model is not ready, or its queue is full'),
  504: mlflowError('the request timed out'),
};
const OPERATIONS = {
  ping: { tags: ['mlflow'], summary: 'MLflow health: 200 when the model is ready, else 404 (body "\\n")', responses: { 200: text('ready'), 404: text('no model ready') } },
  version: { tags: ['mlflow'], summary: 'The MLflow version (bare text)', responses: { 200: text('e.g. 3.6.1') } },
  invocations: { tags: ['mlflow'], summary: "MLflow's scoring protocol for the server's MLflow model", requestBody: invocationBody, responses: invocationResponses },
  endpoint: {
    tags: ['mlflow'],
    summary: "MLflow's scoring protocol for one MLflow model of the server",
    parameters: [{ name: 'model', in: 'path', required: true, schema: { type: 'string' }, description: 'model name' }],
    requestBody: invocationBody,
    responses: invocationResponses,
  },
};

/** The body of a JSON error, as MLflow's MlflowException.serialize_as_json writes it. */
function errorBody(code: string, message: string, stackTrace?: string): string {
  let out = `{"error_code": ${pythonJsonString(code)}, "message": ${pythonJsonString(message)}`;
  if (stackTrace !== undefined) out += `, "stack_trace": ${pythonJsonString(stackTrace)}`;
  return `${out}}`;
}

/**
 * A body with exactly this Content-Type (a Buffer: fastify would add `; charset=utf-8` to a
 * string's application/json, which MLflow does not send).
 */
function sendText(reply: FastifyReply, status: number, type: string, body: string): FastifyReply {
  return reply.code(status).type(type).send(Buffer.from(body));
}

function sendMlflowError(reply: FastifyReply, error: MlflowError): FastifyReply {
  // MLflow's 415s are FastAPI PlainTextResponses: text/plain; charset=utf-8.
  return sendText(reply, error.status, error.contentType === 'text/plain' ? 'text/plain; charset=utf-8' : 'application/json', error.body());
}

/** The names of the models served by the mlflow runtime (any state). */
function mlflowModels(dataplane: DataPlane): string[] {
  const names = new Set<string>();
  for (const m of dataplane.listModels()) {
    if (dataplane.model(m.name, m.version).source.runtime === MLFLOW_RUNTIME) names.add(m.name);
  }
  return [...names];
}

const endpointNotFound = (message: string): MlflowError => new MlflowError(message, { errorCode: 'ENDPOINT_NOT_FOUND' });

/** The model /invocations serves (see the file comment); throws 404 ENDPOINT_NOT_FOUND when there is none. */
function defaultTarget(dataplane: DataPlane, configured: string | undefined): ModelTarget {
  if (configured !== undefined) return { model: configured };
  const names = mlflowModels(dataplane);
  if (names.length === 1) return { model: names[0] };
  if (names.length === 0) {
    throw endpointNotFound('No MLflow model is served: POST /invocations serves a model loaded from an MLflow model folder (one holding an MLmodel file)');
  }
  throw endpointNotFound(
    `Several MLflow models are served (${names.sort().join(', ')}): set mlflow_scoring_model to the one POST /invocations serves, or post to /endpoints/<model>/invocations`,
  );
}

/** The MLflow adapter of a READY model (404/503 from the dataplane when unknown or not ready). */
function mlflowAdapter(dataplane: DataPlane, target: ModelTarget): MlflowRequestAdapter {
  const adapter = dataplane.configuration(target).adapted?.adapter;
  if (!(adapter instanceof MlflowRequestAdapter)) {
    throw endpointNotFound(`Model ${target.model} is not an MLflow model: /invocations serves models loaded from an MLflow model folder (V2: POST /v2/models/${target.model}/infer)`);
  }
  return adapter;
}

export function mlflowSurface(options: MlflowSurfaceOptions): HttpSurface {
  const plugin: FastifyPluginAsync<SurfaceOptions> = async (app: FastifyInstance, surface) => {
    const { dataplane, logger, send } = surface;

    app.setErrorHandler((error, request, reply) => {
      if (error instanceof MlflowError) {
        if (error.status >= 500) request.log.error({ err: error.cause ?? error }, error.message);
        else request.log.debug({ status: error.status, code: error.errorCode, reason: error.message }, 'request refused');
        return sendMlflowError(reply, error);
      }
      const e = httpError(error, request, surface.bodyLimit);
      logFailure(request, e);
      return sendText(reply, e.httpStatus, 'application/json', errorBody(e.mlflowCode, e.message));
    });

    const health = (_req: FastifyRequest, reply: FastifyReply): FastifyReply => {
      let ready = false;
      try {
        ready = dataplane.modelReady(defaultTarget(dataplane, options.model).model);
      } catch {
        ready = false; // no such model: MLflow's 404 (its model object does not exist)
      }
      return sendText(reply, ready ? 200 : 404, 'application/json', '\n');
    };
    app.get('/ping', { config: { openapi: OPERATIONS.ping } }, health);
    app.get('/health', { config: { openapi: OPERATIONS.ping } }, health);

    app.get('/version', { config: { openapi: OPERATIONS.version } }, (_req, reply) => {
      let version = options.serverVersion;
      try {
        const adapter = mlflowAdapter(dataplane, defaultTarget(dataplane, options.model));
        version = adapter.mlmodel.mlflowVersion ?? version;
      } catch {
        // no MLflow model ready: the server's version
      }
      return sendText(reply, 200, 'application/json', version);
    });

    const invoke = async (req: FastifyRequest, reply: FastifyReply, target: ModelTarget): Promise<FastifyReply> => {
      const deadline = headerDeadline(req); // its clock starts now; a malformed header is refused first
      const adapter = mlflowAdapter(dataplane, target);
      const body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
      const decoded = decodeInvocations(body, req.headers['content-type'], adapter.plan);
      const ctx = httpContext(req, reply, logger, { protocol: 'mlflow', deadline });
      const outputs = adapter.invocationOutputs(decoded.response).map((name) => ({ name }));
      let response;
      try {
        response = await dataplane.infer(target, { inputs: decoded.inputs, outputs }, ctx, { runtimeInputs: true });
      } catch (error) {
        // The model itself failed (an ONNX Runtime error): MLflow's generic 400 with the cause.
        if (error instanceof TesseraError && (error.code === 'RUNTIME_ERROR' || error.code === 'INTERNAL' || error.code === 'MODEL_INPUT_REJECTED')) {
          throw unexpectedModelError(error);
        }
        throw error;
      }
      const json = encodeInvocationsResponse(response.outputs, decoded.response);
      return send(req, reply.code(200).type('application/json'), Buffer.from(json));
    };
    app.post('/invocations', { config: { openapi: OPERATIONS.invocations } }, (req, reply) => invoke(req, reply, defaultTarget(dataplane, options.model)));
    app.post('/endpoints/:model/invocations', { config: { openapi: OPERATIONS.endpoint } }, (req: FastifyRequest<{ Params: { model: string } }>, reply) =>
      invoke(req, reply, { model: req.params.model }),
    );

    // Other methods: 405 as MLflow's FastAPI app answers them.
    const notAllowed = (_req: FastifyRequest, reply: FastifyReply): FastifyReply =>
      sendText(reply, 405, 'application/json', '{"detail":"Method Not Allowed"}');
    app.route({ method: ['GET', 'PUT', 'DELETE', 'PATCH'], url: '/invocations', handler: notAllowed });
    for (const url of ['/ping', '/health', '/version']) app.route({ method: ['POST', 'PUT', 'DELETE', 'PATCH'], url, handler: notAllowed });
  };
  return { name: 'mlflow', plugin };
}
