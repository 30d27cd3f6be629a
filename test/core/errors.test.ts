// The error catalogue: every code has an HTTP status, a gRPC code and an MLflow error_code that
// agree with each other (MLflow's ERROR_CODE_TO_HTTP_STATUS, from mlflow/exceptions.py), and the
// statistics' failure reason derives from the code.
import t from 'tap';
import { ERROR_CODES, GrpcCode, TesseraError, asTesseraError, failureReason, isErrorCode, queueFull, type ErrorCode } from '../../src/core/errors.js';

/** MLflow's status for each of its error codes that Tessera uses (mlflow/exceptions.py). */
const MLFLOW_STATUS: Record<string, number> = {
  BAD_REQUEST: 400,
  INVALID_PARAMETER_VALUE: 400,
  RESOURCE_DOES_NOT_EXIST: 404,
  ENDPOINT_NOT_FOUND: 404,
  TEMPORARILY_UNAVAILABLE: 503,
  RESOURCE_EXHAUSTED: 429,
  REQUEST_LIMIT_EXCEEDED: 429,
  CANCELLED: 499,
  DEADLINE_EXCEEDED: 504,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_IMPLEMENTED: 501,
  INTERNAL_ERROR: 500,
};

/** Codes whose HTTP status has no MLflow code of its own (MLflow's server answers them outside its error shape). */
const HTTP_ONLY: ErrorCode[] = ['BODY_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'REQUEST_TIMEOUT', 'HEADERS_TOO_LARGE', 'URI_TOO_LONG'];

t.test('every code agrees across HTTP, gRPC and MLflow', async (t) => {
  const grpcCodes = new Set<number>(Object.values(GrpcCode));
  for (const [code, d] of Object.entries(ERROR_CODES)) {
    t.ok(d.http >= 400 && d.http < 600, `${code}: HTTP ${d.http}`);
    t.ok(grpcCodes.has(d.grpc) && (d.grpc as number) !== GrpcCode.OK, `${code}: gRPC ${d.grpc}`);
    t.ok(d.mlflow in MLFLOW_STATUS, `${code}: MLflow ${d.mlflow}`);
    if (!HTTP_ONLY.includes(code as ErrorCode)) t.equal(d.http, MLFLOW_STATUS[d.mlflow], `${code}: the status MLflow gives ${d.mlflow}`);
  }
  const e = new TesseraError('DEADLINE_EXCEEDED', 'too late');
  t.same([e.httpStatus, e.grpcCode, e.mlflowCode, e.kind, e.failureReason], [504, 4, 'DEADLINE_EXCEEDED', 'deadline', 'TIMEOUT']);
  t.same([ERROR_CODES.UNAUTHENTICATED.grpc, ERROR_CODES.PERMISSION_DENIED.grpc], [16, 7]);
});

t.test('failure reasons derive from the code; unknown errors are INTERNAL', async (t) => {
  t.equal(failureReason(queueFull('full')), 'REJECTED');
  t.equal(failureReason(new TesseraError('QUEUE_TIMEOUT', 'x')), 'REJECTED');
  t.equal(failureReason(new TesseraError('CANCELLED', 'x')), 'CANCELED');
  t.equal(failureReason(new TesseraError('INVALID_INPUT', 'x')), 'INVALID');
  t.equal(failureReason(new TesseraError('RUNTIME_ERROR', 'x')), 'BACKEND');
  t.equal(failureReason(new Error('?')), 'BACKEND');
  const wrapped = asTesseraError(new RangeError('out of range'));
  t.same([wrapped.code, wrapped.message, wrapped.httpStatus], ['INTERNAL', 'out of range', 500]);
  t.ok(isErrorCode('MODEL_NOT_FOUND') && !isErrorCode('toString') && !isErrorCode('model_not_found'));
});
