// The gRPC front end: inference.GRPCInferenceService (inference.ts), grpc.health.v1 (health.ts)
// and server reflection, every handler wrapped by the one call wrapper (call.ts).
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import type { DataPlane } from '../core/dataplane.js';
import type { ModelRepository } from '../core/model-repository.js';
import type { Metrics } from '../metrics/metrics.js';
import { authorizingServer } from '../security/grpc.js';
import { allowAll, type Authorize, type CallOptions } from './call.js';
import { healthService } from './health.js';
import { inferenceService } from './inference.js';
import { applyStreamResetLimits, connectionOptions, listenCapped, stopListening, type GrpcConnectionLimits } from './limits.js';
import type { TensorLimits } from '../core/limits.js';

export { INFERENCE_SERVICE } from './health.js';

const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
export const PROTO_FILES = ['grpc_service.proto', 'health.proto'];

/** proto-loader options: field names as in the .proto, 64-bit integers as exact decimal strings. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export function loadProtos(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
}

export interface GrpcOptions {
  dataplane: DataPlane;
  repository: ModelRepository;
  logger: Logger;
  maxMessageLength: number;
  /** Answer with raw_output_contents even when the request used typed contents. */
  forceRawOutput: boolean;
  /** One info line per call (MLServer's `debug` setting). */
  accessLog: boolean;
  metrics?: Metrics | undefined;
  /** Authorizes each call (and each stream message); default: every call is allowed. */
  authorize?: Authorize;
  /** Serve server reflection (grpc_reflection_enabled); default true. Authorized like every call. */
  reflection?: boolean;
  /** Rewrites what answers show (absolute paths out of messages); default: nothing. */
  redact?: CallOptions['redact'];
  /** Idle and age limits and the connection cap (grpc_max_connection_*); default: grpc-js's (none). */
  connections?: GrpcConnectionLimits | undefined;
  /** Element limits on inference requests (max_tensor_elements, max_request_elements). */
  tensorLimits?: TensorLimits | undefined;
  keepalive: {
    timeMs: number;
    timeoutMs: number;
    permitWithoutCalls: boolean;
    maxPingsWithoutData: number;
    minPingIntervalWithoutDataMs: number;
    maxPingStrikes: number;
  };
}

export function createGrpcServer(options: GrpcOptions): grpc.Server {
  const call: CallOptions = {
    logger: options.logger,
    accessLog: options.accessLog,
    metrics: options.metrics,
    authorize: options.authorize ?? allowAll,
    redact: options.redact,
  };
  const definition = loadProtos();
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  const k = options.keepalive;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageLength,
    'grpc.max_send_message_length': options.maxMessageLength,
    'grpc.keepalive_time_ms': k.timeMs,
    'grpc.keepalive_timeout_ms': k.timeoutMs,
    'grpc.keepalive_permit_without_calls': k.permitWithoutCalls ? 1 : 0,
    'grpc.http2.max_pings_without_data': k.maxPingsWithoutData,
    'grpc.http2.min_ping_interval_without_data_ms': k.minPingIntervalWithoutDataMs,
    'grpc.http2.max_ping_strikes': k.maxPingStrikes,
    // Channelz (call counters and traces for a channelz service, which Tessera does not serve)
    // costs every call about 1.5 KB of garbage and its bookkeeping.
    'grpc.enable_channelz': 0,
    ...(options.connections !== undefined ? connectionOptions(options.connections) : {}),
  });
  if (options.connections !== undefined && !applyStreamResetLimits(server, options.connections)) {
    options.logger.warn('this grpc-js takes no HTTP/2 stream-reset limits: Node defaults apply (grpc_stream_reset_burst ignored)');
  }
  server.addService(
    proto.inference.GRPCInferenceService.service,
    inferenceService(call, {
      dataplane: options.dataplane,
      repository: options.repository,
      forceRawOutput: options.forceRawOutput,
      tensorLimits: options.tensorLimits,
    }),
  );
  server.addService(proto.grpc.health.v1.Health.service, healthService(call, options.dataplane));
  if (options.reflection !== false) new ReflectionService(definition).addToServer(authorizingServer(server, call));
  return server;
}

/**
 * Binds and starts; resolves with the port actually bound (port 0 picks a free one). With `cap`,
 * the listener holds at most cap.maxConnections connections (0: no cap; see limits.ts).
 */
export function listenGrpc(
  server: grpc.Server,
  host: string,
  port: number,
  credentials = grpc.ServerCredentials.createInsecure(),
  cap?: { maxConnections: number; logger?: Logger | undefined },
): Promise<number> {
  if (cap !== undefined) return listenCapped(server, host, port, { ...cap, credentials });
  return new Promise((resolve, reject) => {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    server.bindAsync(address, credentials, (error, bound) => (error ? reject(error) : resolve(bound)));
  });
}

/** Stops accepting calls, lets running ones finish up to `graceMs`, then cancels the rest. */
export function closeGrpc(server: grpc.Server, graceMs: number): Promise<void> {
  void stopListening(server);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
