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
import { allowAll, type Authorize, type CallOptions } from './call.js';
import { healthService } from './health.js';
import { inferenceService } from './inference.js';

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
  const call: CallOptions = { logger: options.logger, accessLog: options.accessLog, metrics: options.metrics, authorize: options.authorize ?? allowAll };
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
  });
  server.addService(
    proto.inference.GRPCInferenceService.service,
    inferenceService(call, { dataplane: options.dataplane, repository: options.repository, forceRawOutput: options.forceRawOutput }),
  );
  server.addService(proto.grpc.health.v1.Health.service, healthService(call, options.dataplane));
  new ReflectionService(definition).addToServer(server);
  return server;
}

/** Binds and starts; resolves with the port actually bound (port 0 picks a free one). */
export function listenGrpc(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
}

/** Stops accepting calls, lets running ones finish up to `graceMs`, then cancels the rest. */
export function closeGrpc(server: grpc.Server, graceMs: number): Promise<void> {
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
