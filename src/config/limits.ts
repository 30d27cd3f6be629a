// Server settings for the limits that keep clients from stalling, exhausting or killing the server
// (issue #14), the readiness rule, and graceful shutdown (issue #12 §4). Spread into the server
// settings schema; `resolveLimits` turns them into the values the listeners, decoders and the
// shutdown sequence use, deriving the defaults that depend on the machine or on other settings.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_TENSOR_LIMITS, type TensorLimits } from '../core/limits.js';
import type { GrpcConnectionLimits } from '../grpc/limits.js';
import type { HttpLimits } from '../http/limits.js';
import type { ShutdownTiming } from '../lifecycle/shutdown.js';
import type { ServerSettings } from './schema.js';

const seconds = z.number().min(0);
const ms = z.number().int().min(0);

export const limitsSettingsShape = {
  http_request_timeout: seconds
    .default(60)
    .describe('seconds a client has to send a whole request (headers and body); slower ones get 408 and are closed; 0: no limit'),
  http_headers_timeout: z.number().positive().default(10).describe('seconds a client has to send the request line and headers (at most http_request_timeout)'),
  http_keep_alive_timeout: z
    .number()
    .positive()
    .default(75)
    .describe('seconds an idle keep-alive connection stays open (longer than common load balancer idle timeouts, 60 s)'),
  http_idle_timeout: seconds
    .default(300)
    .describe('seconds a connection may pass with no traffic either way (a client that stops reading its answer); then it is closed; 0: never'),
  http_max_connections: z
    .number()
    .int()
    .min(0)
    .nullable()
    .default(null)
    .describe('open connections on the HTTP port; more are closed at once (default: 40 % of the open-file limit, at most 10000); 0: no cap'),
  http_max_inflight_bytes: z
    .number()
    .int()
    .min(0)
    .nullable()
    .default(null)
    .describe('request-body bytes the server holds at once (received, not yet answered); while over it new uploads get 503 with Retry-After (default: 4 x http_max_input_size); 0: no cap'),
  grpc_max_connection_idle: ms.default(300_000).describe('ms a gRPC connection with no call stays open before GOAWAY; 0: never closed'),
  grpc_max_connection_age: ms.default(0).describe('ms after which a gRPC connection is asked to go away (clients reconnect, spreading load); 0: never'),
  grpc_max_connection_age_grace: ms.default(30_000).describe('ms the calls of a connection past its age get to finish'),
  grpc_max_connections: z
    .number()
    .int()
    .min(0)
    .nullable()
    .default(null)
    .describe('open connections on the gRPC port; more are closed at once (default: 40 % of the open-file limit, at most 10000); 0: no cap'),
  grpc_stream_reset_burst: z
    .number()
    .int()
    .positive()
    .default(10_000)
    .describe('stream resets (cancelled calls) a gRPC connection may send at once before it is closed (HTTP/2 rapid-reset guard; Node: 1000)'),
  grpc_stream_reset_rate: z
    .number()
    .int()
    .positive()
    .default(1000)
    .describe('stream resets per second a gRPC connection may send after that burst (Node: 33)'),
  max_tensor_elements: z
    .number()
    .int()
    .positive()
    .max(2 ** 31 - 1)
    .default(DEFAULT_TENSOR_LIMITS.maxTensorElements)
    .describe('most elements in one input tensor; a larger shape gets 400 / RESOURCE_EXHAUSTED before anything is allocated'),
  max_request_elements: z
    .number()
    .int()
    .positive()
    .default(DEFAULT_TENSOR_LIMITS.maxRequestElements)
    .describe('most elements in all inputs of one request together; more get 400 / RESOURCE_EXHAUSTED'),
  strict_readiness: z
    .boolean()
    .default(false)
    .describe("readiness waits for every configured model to be READY (Triton's strict readiness); false: at least one READY and none loading"),
  drain_delay: seconds
    .default(0)
    .describe('seconds after SIGTERM during which readiness answers 503 but every request and connection is still served (for load balancers to notice); then listeners close'),
  shutdown_grace: seconds
    .optional()
    .describe('seconds from SIGTERM until what is still queued gets 503 and the process exits, drain delay included (default 25, under Kubernetes 30 s; parallel_workers_timeout is MLServer\'s name for it); a running model execution always finishes'),
};

/** The default shutdown grace: under Kubernetes' default terminationGracePeriodSeconds (30 s). */
export const DEFAULT_SHUTDOWN_GRACE_S = 25;

/** Share of the open-file limit each listener (HTTP, gRPC) may hold, leaving the rest to files and the other. */
const CONNECTION_SHARE = 0.4;
const MAX_DEFAULT_CONNECTIONS = 10_000;

/** The process's soft open-file limit (Linux /proc/self/limits); undefined if unknown or unlimited. */
export function openFileLimit(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number | undefined {
  try {
    const line = read('/proc/self/limits')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    const n = Number(soft);
    return soft !== undefined && Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The default connection cap of one listener for an open-file limit. */
export function defaultConnectionCap(fileLimit: number | undefined): number {
  if (fileLimit === undefined) return MAX_DEFAULT_CONNECTIONS;
  return Math.max(64, Math.min(MAX_DEFAULT_CONNECTIONS, Math.floor(fileLimit * CONNECTION_SHARE)));
}

/** The settings resolveLimits reads (the server settings schema's output has them all). */
export type LimitsSettingsInput = Pick<ServerSettings, keyof typeof limitsSettingsShape | 'http_max_input_size' | 'parallel_workers_timeout'>;

/** The limits as the listeners, the tensor decoders and the shutdown sequence take them. */
export interface ResolvedLimits {
  http: HttpLimits;
  grpc: GrpcConnectionLimits;
  tensors: TensorLimits;
  shutdown: ShutdownTiming;
}

/** The limits in the units their users take, with derived defaults filled in. */
export function resolveLimits(s: LimitsSettingsInput, fileLimit: number | undefined = openFileLimit()): ResolvedLimits {
  const cap = defaultConnectionCap(fileLimit);
  const graceS = s.shutdown_grace ?? s.parallel_workers_timeout ?? DEFAULT_SHUTDOWN_GRACE_S;
  return {
    http: {
      requestTimeoutMs: s.http_request_timeout * 1000,
      headersTimeoutMs: s.http_headers_timeout * 1000,
      keepAliveTimeoutMs: s.http_keep_alive_timeout * 1000,
      idleTimeoutMs: s.http_idle_timeout * 1000,
      maxConnections: s.http_max_connections ?? cap,
      maxInflightBytes: s.http_max_inflight_bytes ?? 4 * s.http_max_input_size,
    },
    grpc: {
      maxConnectionIdleMs: s.grpc_max_connection_idle,
      maxConnectionAgeMs: s.grpc_max_connection_age,
      maxConnectionAgeGraceMs: s.grpc_max_connection_age_grace,
      maxConnections: s.grpc_max_connections ?? cap,
      streamResetBurst: s.grpc_stream_reset_burst,
      streamResetRate: s.grpc_stream_reset_rate,
    },
    tensors: { maxTensorElements: s.max_tensor_elements, maxRequestElements: s.max_request_elements },
    shutdown: { drainDelayMs: s.drain_delay * 1000, graceMs: Math.max(graceS, s.drain_delay) * 1000 },
  };
}
