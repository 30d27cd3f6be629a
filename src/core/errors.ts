// The error catalogue: every failure Tessera reports has a stable code, and the code alone decides
// what each surface answers: the HTTP status, the gRPC status code, MLflow's `error_code` and the
// statistics' failure reason. Throw sites pick a code (through the factories below); nothing
// matches message text later. The message is what clients read: it names the field and the problem.
//
// MLflow's names and statuses follow mlflow/exceptions.py (ERROR_CODE_TO_HTTP_STATUS) and
// databricks.proto's ErrorCode; Tessera's `http` status is what every surface answers with, the
// `mlflow` name is the `error_code` the MLflow surface puts beside it.

/** gRPC status codes (grpc/status.h). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** The broad family of a code: who is at fault and whether retrying may help. */
export type ErrorKind =
  | 'invalid_argument'
  | 'not_found'
  | 'too_large'
  | 'unsupported'
  | 'unavailable'
  | 'cancelled'
  | 'deadline'
  | 'exhausted'
  | 'unauthenticated'
  | 'permission'
  | 'unimplemented'
  | 'internal';

/** Why a request failed, as Triton's nv_inference_request_failure `reason` (plus INVALID, TIMEOUT). */
export type FailureReason = 'REJECTED' | 'CANCELED' | 'INVALID' | 'TIMEOUT' | 'BACKEND' | 'OTHER';

/** MLflow's ErrorCode names used by Tessera (databricks.proto). */
export type MlflowErrorCode =
  | 'BAD_REQUEST'
  | 'INVALID_PARAMETER_VALUE'
  | 'RESOURCE_DOES_NOT_EXIST'
  | 'ENDPOINT_NOT_FOUND'
  | 'TEMPORARILY_UNAVAILABLE'
  | 'RESOURCE_EXHAUSTED'
  | 'REQUEST_LIMIT_EXCEEDED'
  | 'CANCELLED'
  | 'DEADLINE_EXCEEDED'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_IMPLEMENTED'
  | 'INTERNAL_ERROR';

export interface ErrorDescription {
  kind: ErrorKind;
  http: number;
  grpc: number;
  mlflow: MlflowErrorCode;
  /** The statistics' failure reason of a request that ends with this code. */
  failure: FailureReason;
}

const G = GrpcCode;

/** Every error code Tessera uses, with what each surface answers. */
export const ERROR_CODES = {
  /** Malformed body, envelope or framing: the request cannot be read. */
  BAD_REQUEST: { kind: 'invalid_argument', http: 400, grpc: G.INVALID_ARGUMENT, mlflow: 'BAD_REQUEST', failure: 'INVALID' },
  /** A well-formed request that does not fit the model: inputs, outputs, parameters. */
  INVALID_INPUT: { kind: 'invalid_argument', http: 400, grpc: G.INVALID_ARGUMENT, mlflow: 'INVALID_PARAMETER_VALUE', failure: 'INVALID' },
  MODEL_NOT_FOUND: { kind: 'not_found', http: 404, grpc: G.NOT_FOUND, mlflow: 'RESOURCE_DOES_NOT_EXIST', failure: 'INVALID' },
  /** A route, service or other resource that does not exist. */
  NOT_FOUND: { kind: 'not_found', http: 404, grpc: G.NOT_FOUND, mlflow: 'ENDPOINT_NOT_FOUND', failure: 'INVALID' },
  MODEL_NOT_READY: { kind: 'unavailable', http: 503, grpc: G.UNAVAILABLE, mlflow: 'TEMPORARILY_UNAVAILABLE', failure: 'OTHER' },
  BODY_TOO_LARGE: { kind: 'too_large', http: 413, grpc: G.RESOURCE_EXHAUSTED, mlflow: 'BAD_REQUEST', failure: 'INVALID' },
  UNSUPPORTED_MEDIA_TYPE: { kind: 'unsupported', http: 415, grpc: G.INVALID_ARGUMENT, mlflow: 'BAD_REQUEST', failure: 'INVALID' },
  /** The model's queue is full (max_queue_size). */
  QUEUE_FULL: { kind: 'unavailable', http: 503, grpc: G.UNAVAILABLE, mlflow: 'TEMPORARILY_UNAVAILABLE', failure: 'REJECTED' },
  /** Waited in the queue past the queue timeout (queue_timeout, the `timeout` parameter). */
  QUEUE_TIMEOUT: { kind: 'unavailable', http: 503, grpc: G.UNAVAILABLE, mlflow: 'TEMPORARILY_UNAVAILABLE', failure: 'REJECTED' },
  /** The client went away (connection closed, call cancelled). 499 as nginx and MLflow. */
  CANCELLED: { kind: 'cancelled', http: 499, grpc: G.CANCELLED, mlflow: 'CANCELLED', failure: 'CANCELED' },
  /** The request's deadline (the client's, or the model's request_timeout) passed. */
  DEADLINE_EXCEEDED: { kind: 'deadline', http: 504, grpc: G.DEADLINE_EXCEEDED, mlflow: 'DEADLINE_EXCEEDED', failure: 'TIMEOUT' },
  /** A limit of the server (memory, message size) was reached. */
  RESOURCE_EXHAUSTED: { kind: 'exhausted', http: 429, grpc: G.RESOURCE_EXHAUSTED, mlflow: 'RESOURCE_EXHAUSTED', failure: 'REJECTED' },
  /** A caller's rate or quota was reached. */
  RATE_LIMITED: { kind: 'exhausted', http: 429, grpc: G.RESOURCE_EXHAUSTED, mlflow: 'REQUEST_LIMIT_EXCEEDED', failure: 'REJECTED' },
  UNAUTHENTICATED: { kind: 'unauthenticated', http: 401, grpc: G.UNAUTHENTICATED, mlflow: 'UNAUTHENTICATED', failure: 'REJECTED' },
  PERMISSION_DENIED: { kind: 'permission', http: 403, grpc: G.PERMISSION_DENIED, mlflow: 'PERMISSION_DENIED', failure: 'REJECTED' },
  UNIMPLEMENTED: { kind: 'unimplemented', http: 501, grpc: G.UNIMPLEMENTED, mlflow: 'NOT_IMPLEMENTED', failure: 'OTHER' },
  SHUTTING_DOWN: { kind: 'unavailable', http: 503, grpc: G.UNAVAILABLE, mlflow: 'TEMPORARILY_UNAVAILABLE', failure: 'REJECTED' },
  /** The server is over a limit of work in flight (http_max_inflight_bytes): retry later. */
  OVERLOADED: { kind: 'unavailable', http: 503, grpc: G.UNAVAILABLE, mlflow: 'TEMPORARILY_UNAVAILABLE', failure: 'REJECTED' },
  /** A request over a size limit of the server (max_tensor_elements, max_request_elements). */
  LIMIT_EXCEEDED: { kind: 'too_large', http: 400, grpc: G.RESOURCE_EXHAUSTED, mlflow: 'INVALID_PARAMETER_VALUE', failure: 'INVALID' },
  /** The request (headers and body) did not arrive within http_request_timeout / http_headers_timeout. */
  REQUEST_TIMEOUT: { kind: 'deadline', http: 408, grpc: G.DEADLINE_EXCEEDED, mlflow: 'BAD_REQUEST', failure: 'INVALID' },
  /** Request headers over Node's header size limit. */
  HEADERS_TOO_LARGE: { kind: 'too_large', http: 431, grpc: G.RESOURCE_EXHAUSTED, mlflow: 'BAD_REQUEST', failure: 'INVALID' },
  /** A URL path segment over the router's length limit. */
  URI_TOO_LONG: { kind: 'too_large', http: 414, grpc: G.RESOURCE_EXHAUSTED, mlflow: 'BAD_REQUEST', failure: 'INVALID' },
  /** A repository load that failed (the reason is in the message). 400 as Triton. */
  MODEL_LOAD_FAILED: { kind: 'invalid_argument', http: 400, grpc: G.INVALID_ARGUMENT, mlflow: 'BAD_REQUEST', failure: 'OTHER' },
  /**
   * The model's kernels refused an input that fits its metadata (inputs that disagree on a shared
   * dimension, an empty batch an operator cannot take): the request's fault, reported with the
   * runtime's message, not an internal error.
   */
  MODEL_INPUT_REJECTED: { kind: 'invalid_argument', http: 400, grpc: G.INVALID_ARGUMENT, mlflow: 'BAD_REQUEST', failure: 'INVALID' },
  /** A model's own code failed (a custom runtime that threw or returned something malformed). */
  RUNTIME_ERROR: { kind: 'internal', http: 500, grpc: G.INTERNAL, mlflow: 'INTERNAL_ERROR', failure: 'BACKEND' },
  INTERNAL: { kind: 'internal', http: 500, grpc: G.INTERNAL, mlflow: 'INTERNAL_ERROR', failure: 'BACKEND' },
} as const satisfies Record<string, ErrorDescription>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export class TesseraError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'TesseraError';
  }
  get description(): ErrorDescription {
    return ERROR_CODES[this.code];
  }
  get kind(): ErrorKind {
    return ERROR_CODES[this.code].kind;
  }
  get httpStatus(): number {
    return ERROR_CODES[this.code].http;
  }
  get grpcCode(): number {
    return ERROR_CODES[this.code].grpc;
  }
  get mlflowCode(): MlflowErrorCode {
    return ERROR_CODES[this.code].mlflow;
  }
  get failureReason(): FailureReason {
    return ERROR_CODES[this.code].failure;
  }
}

/** A settings file or value that stops start-up (or a repository scan) with a clear message. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

const factory =
  (code: ErrorCode) =>
  (message: string, cause?: unknown): TesseraError =>
    new TesseraError(code, message, cause === undefined ? undefined : { cause });

export const badRequest = factory('BAD_REQUEST');
export const invalidInput = factory('INVALID_INPUT');
export const modelNotFound = factory('MODEL_NOT_FOUND');
export const notFound = factory('NOT_FOUND');
export const modelNotReady = factory('MODEL_NOT_READY');
export const bodyTooLarge = factory('BODY_TOO_LARGE');
export const unsupportedMediaType = factory('UNSUPPORTED_MEDIA_TYPE');
export const queueFull = factory('QUEUE_FULL');
export const queueTimeout = factory('QUEUE_TIMEOUT');
export const cancelled = factory('CANCELLED');
export const deadlineExceeded = factory('DEADLINE_EXCEEDED');
export const resourceExhausted = factory('RESOURCE_EXHAUSTED');
export const rateLimited = factory('RATE_LIMITED');
export const unauthenticated = factory('UNAUTHENTICATED');
export const permissionDenied = factory('PERMISSION_DENIED');
export const unimplemented = factory('UNIMPLEMENTED');
export const shuttingDown = factory('SHUTTING_DOWN');
export const overloaded = factory('OVERLOADED');
export const limitExceeded = factory('LIMIT_EXCEEDED');
export const requestTimeout = factory('REQUEST_TIMEOUT');
export const headersTooLarge = factory('HEADERS_TOO_LARGE');
export const uriTooLong = factory('URI_TOO_LONG');
export const modelLoadFailed = factory('MODEL_LOAD_FAILED');
export const runtimeError = factory('RUNTIME_ERROR');
export const modelInputRejected = factory('MODEL_INPUT_REJECTED');
export const internal = factory('INTERNAL');

/** Any thrown value as a TesseraError; unknown errors are INTERNAL and keep their message. */
export function asTesseraError(error: unknown): TesseraError {
  if (error instanceof TesseraError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return internal(message, error);
}

/** The statistics' failure reason of any thrown value (unknown errors are BACKEND failures). */
export function failureReason(error: unknown): FailureReason {
  return error instanceof TesseraError ? error.failureReason : 'BACKEND';
}
