// MLflow's error contract for the scoring server: an HTTP status, MLflow's `error_code`, the message,
// and the body's content type. JSON errors are `{"error_code": …, "message": …}` (MlflowException's
// serialize_as_json); the 415 content-type refusals and the 504 timeout are plain text.
// The server wiring maps these to responses; nothing here knows about fastify.
import { pythonJsonString } from './invocations/python-json-encode.js';

/** MLflow's error codes (databricks_pb2) with the HTTP status MLflow gives each (ERROR_CODE_TO_HTTP_STATUS). */
export const MLFLOW_ERROR_STATUS = {
  BAD_REQUEST: 400,
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_ALREADY_EXISTS: 400,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  INTERNAL_ERROR: 500,
  INVALID_STATE: 500,
  NOT_IMPLEMENTED: 501,
  TEMPORARILY_UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  REQUEST_LIMIT_EXCEEDED: 429,
} as const;
export type MlflowErrorCode = keyof typeof MLFLOW_ERROR_STATUS;

export type MlflowErrorContentType = 'application/json' | 'text/plain';

export class MlflowError extends Error {
  /** HTTP status of the answer. */
  readonly status: number;
  /** MLflow's error code; undefined for the plain-text answers (415, 504). */
  readonly errorCode: MlflowErrorCode | undefined;
  readonly contentType: MlflowErrorContentType;
  /** MLflow adds `stack_trace` to a few errors; Tessera puts the underlying cause there. */
  readonly stackTrace: string | undefined;

  constructor(
    message: string,
    options: { errorCode?: MlflowErrorCode; status?: number; contentType?: MlflowErrorContentType; stackTrace?: string; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MlflowError';
    this.errorCode = options.errorCode;
    this.status = options.status ?? (options.errorCode ? MLFLOW_ERROR_STATUS[options.errorCode] : 500);
    this.contentType = options.contentType ?? 'application/json';
    this.stackTrace = options.stackTrace;
  }

  /** The exact response body: MLflow's JSON (Python's json.dumps layout) or the plain text. */
  body(): string {
    if (this.contentType === 'text/plain') return this.message;
    let out = `{"error_code": ${pythonJsonString(this.errorCode ?? 'INTERNAL_ERROR')}, "message": ${pythonJsonString(this.message)}`;
    if (this.stackTrace !== undefined) out += `, "stack_trace": ${pythonJsonString(this.stackTrace)}`;
    return out + '}';
  }
}

/** 400 BAD_REQUEST: the request could not be parsed (MLflow's parsing errors). */
export const badRequest = (message: string, stackTrace?: string): MlflowError =>
  new MlflowError(message, { errorCode: 'BAD_REQUEST', stackTrace });

/** MlflowInvalidInputException: BAD_REQUEST with MLflow's "Invalid input. " prefix. */
export const invalidInput = (message: string): MlflowError => badRequest(`Invalid input. ${message}`);

/** 400 INVALID_PARAMETER_VALUE: schema or params enforcement failed. */
export const invalidParameter = (message: string): MlflowError =>
  new MlflowError(message, { errorCode: 'INVALID_PARAMETER_VALUE' });

/** 415 text/plain: content-type refusals are not JSON in MLflow. */
export const unsupportedMediaType = (message: string): MlflowError =>
  new MlflowError(message, { status: 415, contentType: 'text/plain' });

/** Model loading / lookup failures (not HTTP answers): URIs, MLmodel, unsupported flavors. */
export class MlflowModelError extends Error {
  readonly errorCode: MlflowErrorCode;
  constructor(message: string, errorCode: MlflowErrorCode = 'INVALID_PARAMETER_VALUE', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MlflowModelError';
    this.errorCode = errorCode;
  }
}

/** The message MLflow gives when anything unexpected fails inside predict (400, with a stack_trace). */
export const UNEXPECTED_PREDICT_ERROR =
  'Encountered an unexpected error while evaluating the model. Verify that the serialized input Dataframe is compatible with the model for inference.';

/** What the wiring returns when the runtime itself fails on a decoded request (MLflow's generic 400). */
export function unexpectedModelError(cause: unknown): MlflowError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return badRequest(UNEXPECTED_PREDICT_ERROR, detail);
}
