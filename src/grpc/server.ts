// The gRPC front end: inference.GRPCInferenceService (Triton's wire layout), grpc.health.v1 and
// server reflection. A thin adapter over the same dataplane and repository as the REST routes, so
// validation and error messages are identical.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import type { DataPlane } from '../core/dataplane.js';
import { TesseraError, asTesseraError } from '../core/errors.js';
import type { ModelRepository } from '../core/model-repository.js';
import type { ModelStatistics } from '../core/statistics.js';
import type { Metrics } from '../metrics/metrics.js';
import { decodeInferRequest, encodeInferResponse, type ModelInferRequestMessage, type ModelInferResponseMessage } from './codec.js';

const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
export const PROTO_FILES = ['grpc_service.proto', 'health.proto'];
export const INFERENCE_SERVICE = 'inference.GRPCInferenceService';

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
  keepalive: {
    timeMs: number;
    timeoutMs: number;
    permitWithoutCalls: boolean;
    maxPingsWithoutData: number;
    minPingIntervalWithoutDataMs: number;
    maxPingStrikes: number;
  };
}

type Unary<Req, Res> = grpc.handleUnaryCall<Req, Res>;

function grpcError(error: unknown): Partial<grpc.StatusObject> {
  const e = asTesseraError(error);
  return { code: e.grpcCode as grpc.status, details: e.message };
}

/** What every call reports to: logs (with the call's request id) and metrics. */
interface CallContext {
  logger: Logger;
  accessLog: boolean;
  metrics: Metrics | undefined;
}

let generatedIds = 0;

/**
 * Reports a finished call: metrics by method and code, the access log line, and the error line
 * for internal failures. The per-call logger carries `requestId` (the V2 `id` when the request has
 * one, else a generated id) and is only made when a line is written.
 */
function report(ctx: CallContext, method: string, started: number, requestId: string | undefined, error?: unknown): void {
  const e = error === undefined ? undefined : asTesseraError(error);
  const code = grpc.status[e === undefined ? grpc.status.OK : (e.grpcCode as grpc.status)];
  const seconds = (performance.now() - started) / 1000;
  ctx.metrics?.grpcSeconds.observe({ method, code }, seconds);
  const internal = error !== undefined && (!(error instanceof TesseraError) || error.kind === 'internal');
  if (!ctx.accessLog && !internal) return;
  const log = ctx.logger.child({ requestId: requestId || `grpc-${++generatedIds}` });
  if (internal) log.error({ err: error, method }, 'gRPC call failed');
  if (ctx.accessLog) log.info({ method, code, ms: Math.round(seconds * 1e6) / 1000, ...(e ? { reason: e.message } : {}) }, 'call completed');
}

/** Wraps a handler: its result or its TesseraError (mapped to the gRPC code) goes to the callback. */
function unary<Req, Res>(
  ctx: CallContext,
  method: string,
  handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>,
): Unary<Req, Res> {
  return (call, callback) => {
    const started = performance.now();
    const id = (call.request as { id?: string } | null)?.id;
    Promise.resolve()
      .then(() => handler(call.request, call))
      .then(
        (result) => {
          callback(null, result);
          report(ctx, method, started, id);
        },
        (error: unknown) => {
          callback(grpcError(error));
          report(ctx, method, started, id, error);
        },
      );
  };
}

export function createGrpcServer(options: GrpcOptions): grpc.Server {
  const { dataplane, repository } = options;
  const ctx: CallContext = { logger: options.logger, accessLog: options.accessLog, metrics: options.metrics };
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

  const infer = async (message: ModelInferRequestMessage, cancellation?: () => AbortSignal): Promise<ModelInferResponseMessage> => {
    const entry = dataplane.servable(message.model_name, message.model_version || undefined);
    const { request, raw } = decodeInferRequest(message);
    const response = await dataplane.infer(entry, request, cancellation);
    return encodeInferResponse(response, raw || options.forceRawOutput);
  };

  type NameVersion = { name: string; version: string };
  server.addService(proto.inference.GRPCInferenceService.service, {
    ServerLive: unary(ctx, 'ServerLive', () => ({ live: dataplane.live() })),
    ServerReady: unary(ctx, 'ServerReady', () => ({ ready: dataplane.ready() })),
    ModelReady: unary(ctx, 'ModelReady', (r: NameVersion) => ({ ready: dataplane.modelReady(r.name, r.version || undefined) })),
    ServerMetadata: unary(ctx, 'ServerMetadata', () => dataplane.serverMetadata()),
    ModelMetadata: unary(ctx, 'ModelMetadata', (r: NameVersion) => {
      const m = dataplane.modelMetadata(r.name, r.version || undefined);
      const tensor = (t: { name: string; datatype: string; shape: number[] }) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(String) });
      return { name: m.name, versions: m.versions, platform: m.platform, inputs: m.inputs.map(tensor), outputs: m.outputs.map(tensor) };
    }),
    ModelInfer: unary(ctx, 'ModelInfer', (message: ModelInferRequestMessage, call) => {
      // A cancelled call takes its request out of the queue.
      const cancellation = (): AbortSignal => {
        const cancelled = new AbortController();
        if (call.cancelled) cancelled.abort();
        call.once('cancelled', () => cancelled.abort());
        return cancelled.signal;
      };
      return infer(message, cancellation);
    }),
    ModelStreamInfer: (call: grpc.ServerDuplexStream<ModelInferRequestMessage, unknown>) => {
      // One response per request, in request order; a failure is reported in that response's
      // error_message and the stream stays open (Triton's behaviour).
      let tail: Promise<void> = Promise.resolve();
      const cancelled = new AbortController();
      call.once('cancelled', () => cancelled.abort());
      call.on('data', (message: ModelInferRequestMessage) => {
        const started = performance.now();
        const result = infer(message, () => cancelled.signal).then(
          (response) => {
            report(ctx, 'ModelStreamInfer', started, message.id);
            return { error_message: '', infer_response: response };
          },
          (error: unknown) => {
            report(ctx, 'ModelStreamInfer', started, message.id, error);
            return {
              error_message: asTesseraError(error).message,
              infer_response: { model_name: message.model_name, model_version: message.model_version, id: message.id },
            };
          },
        );
        tail = tail.then(async () => {
          const out = await result;
          if (!call.cancelled) call.write(out);
        });
      });
      call.on('end', () => void tail.then(() => call.end()));
      call.on('error', () => undefined);
    },
    RepositoryIndex: unary(ctx, 'RepositoryIndex', (r: { ready: boolean }) => ({ models: repository.index(r.ready) })),
    RepositoryModelLoad: unary(ctx, 'RepositoryModelLoad', async (r: { model_name: string }) => {
      await repository.load(r.model_name);
      return {};
    }),
    RepositoryModelUnload: unary(ctx, 'RepositoryModelUnload', async (r: { model_name: string }) => {
      await repository.unload(r.model_name);
      return {};
    }),
    ModelStatistics: unary(ctx, 'ModelStatistics', (r: NameVersion) => {
      const stats = dataplane.statistics(r.name === '' ? undefined : r.name, r.version === '' ? undefined : r.version);
      return { model_stats: stats.map(statisticsMessage) };
    }),
  });

  // grpc.health.v1: '' and the inference service follow server readiness.
  const status = (service: string): 'SERVING' | 'NOT_SERVING' | null => {
    if (service !== '' && service !== INFERENCE_SERVICE) return null;
    return dataplane.ready() ? 'SERVING' : 'NOT_SERVING';
  };
  server.addService(proto.grpc.health.v1.Health.service, {
    Check: unary(ctx, 'Check', (r: { service: string }) => {
      const s = status(r.service);
      if (s === null) throw new TesseraError('not_found', `unknown service '${r.service}'`);
      return { status: s };
    }),
    Watch: (call: grpc.ServerWritableStream<{ service: string }, unknown>) => {
      let last: string | undefined;
      const send = (): void => {
        const s = status(call.request.service) ?? 'SERVICE_UNKNOWN';
        if (s !== last) call.write({ status: s });
        last = s;
      };
      send();
      const timer = setInterval(send, 250);
      call.on('cancelled', () => clearInterval(timer));
      call.on('close', () => clearInterval(timer));
    },
  });

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

/** Statistics as the proto message: 64-bit counters as decimal strings (proto-loader's longs). */
function statisticsMessage(m: ModelStatistics): Record<string, unknown> {
  const d = (x: { count: number; ns: number }): { count: string; ns: string } => ({ count: String(x.count), ns: String(x.ns) });
  const i = m.inference_stats;
  return {
    name: m.name,
    version: m.version,
    last_inference: String(m.last_inference),
    inference_count: String(m.inference_count),
    execution_count: String(m.execution_count),
    inference_stats: {
      success: d(i.success),
      fail: d(i.fail),
      queue: d(i.queue),
      compute_input: d(i.compute_input),
      compute_infer: d(i.compute_infer),
      compute_output: d(i.compute_output),
      cache_hit: d(i.cache_hit),
      cache_miss: d(i.cache_miss),
    },
    batch_stats: m.batch_stats.map((b) => ({
      batch_size: String(b.batch_size),
      compute_input: d(b.compute_input),
      compute_infer: d(b.compute_infer),
      compute_output: d(b.compute_output),
    })),
  };
}
