// Errors of the dataplane, each with the HTTP status and gRPC code a front end answers with.
// The message is what clients read: it names the field and the problem.

/** gRPC status codes (grpc/status.h) used by Tessera. */
export const GrpcCode = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export type ErrorKind = 'invalid_argument' | 'not_found' | 'unavailable' | 'too_large' | 'unsupported' | 'internal';

const HTTP_STATUS: Record<ErrorKind, number> = {
  invalid_argument: 400,
  not_found: 404,
  too_large: 413,
  internal: 500,
  unsupported: 501,
  unavailable: 503,
};

const GRPC_CODE: Record<ErrorKind, number> = {
  invalid_argument: GrpcCode.INVALID_ARGUMENT,
  not_found: GrpcCode.NOT_FOUND,
  too_large: GrpcCode.RESOURCE_EXHAUSTED,
  internal: GrpcCode.INTERNAL,
  unsupported: GrpcCode.UNIMPLEMENTED,
  unavailable: GrpcCode.UNAVAILABLE,
};

/** Why the scheduler refused a request, for statistics (Triton's failure reasons). */
export type SchedulerRefusal = 'REJECTED' | 'CANCELED';

export class TesseraError extends Error {
  readonly kind: ErrorKind;
  /** Set when the scheduler refused the request (queue full or timed out, client gone). */
  readonly reason: SchedulerRefusal | undefined;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown; reason?: SchedulerRefusal }) {
    super(message, options);
    this.kind = kind;
    this.reason = options?.reason;
    this.name = 'TesseraError';
  }
  get httpStatus(): number {
    return HTTP_STATUS[this.kind];
  }
  get grpcCode(): number {
    return GRPC_CODE[this.kind];
  }
}

export const invalidArgument = (message: string): TesseraError => new TesseraError('invalid_argument', message);
export const notFound = (message: string): TesseraError => new TesseraError('not_found', message);
export const unavailable = (message: string): TesseraError => new TesseraError('unavailable', message);
export const internal = (message: string, cause?: unknown): TesseraError =>
  new TesseraError('internal', message, { cause });

/** Any thrown value as a TesseraError; unknown errors are internal and keep their message. */
export function asTesseraError(error: unknown): TesseraError {
  if (error instanceof TesseraError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return internal(message, error);
}
