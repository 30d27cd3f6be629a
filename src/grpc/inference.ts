// inference.GRPCInferenceService (Triton's wire layout): a thin adapter over the same dataplane and
// repository as the REST routes, so validation and error messages are identical.
import type * as grpc from '@grpc/grpc-js';
import type { DataPlane } from '../core/dataplane.js';
import { asTesseraError } from '../core/errors.js';
import type { RequestContext } from '../core/context.js';
import type { ModelRepository } from '../core/model-repository.js';
import type { TensorLimits } from '../core/limits.js';
import type { ModelStatistics } from '../core/statistics.js';
import { bidiStream, unary, type CallOptions } from './call.js';
import { decodeInferRequest, encodeInferResponse, type ModelInferRequestMessage, type ModelInferResponseMessage } from './codec.js';

export interface InferenceServiceOptions {
  dataplane: DataPlane;
  repository: ModelRepository;
  /** Answer with raw_output_contents even when the request used typed contents. */
  forceRawOutput: boolean;
  /** Element limits on inference requests (default: DEFAULT_TENSOR_LIMITS). */
  tensorLimits?: TensorLimits | undefined;
}

type NameVersion = { name: string; version: string };

export function inferenceService(call: CallOptions, options: InferenceServiceOptions): grpc.UntypedServiceImplementation {
  const { dataplane, repository } = options;

  const infer = async (message: ModelInferRequestMessage, ctx: RequestContext): Promise<ModelInferResponseMessage> => {
    const target = { model: message.model_name, version: message.model_version || undefined };
    dataplane.configuration(target); // an unknown or unready model answers NOT_FOUND/UNAVAILABLE before decoding
    const { request, raw } = decodeInferRequest(message, options.tensorLimits);
    const response = await dataplane.infer(target, request, ctx);
    return encodeInferResponse(response, raw || options.forceRawOutput);
  };

  return {
    ServerLive: unary(call, 'ServerLive', () => ({ live: dataplane.live() })),
    ServerReady: unary(call, 'ServerReady', () => ({ ready: dataplane.ready() })),
    ModelReady: unary(call, 'ModelReady', (r: NameVersion) => ({ ready: dataplane.modelReady(r.name, r.version || undefined) })),
    ServerMetadata: unary(call, 'ServerMetadata', () => dataplane.serverMetadata()),
    ModelMetadata: unary(call, 'ModelMetadata', (r: NameVersion) => {
      const m = dataplane.modelMetadata(r.name, r.version || undefined);
      const tensor = (t: { name: string; datatype: string; shape: number[] }) => ({ name: t.name, datatype: t.datatype, shape: t.shape.map(String) });
      return { name: m.name, versions: m.versions, platform: m.platform, inputs: m.inputs.map(tensor), outputs: m.outputs.map(tensor) };
    }),
    ModelInfer: unary(call, 'ModelInfer', (message: ModelInferRequestMessage, ctx) => infer(message, ctx)),
    // One response per request, in request order; a failure is reported in that response's
    // error_message and the stream stays open (Triton's behaviour).
    ModelStreamInfer: bidiStream(
      call,
      'ModelStreamInfer',
      async (message: ModelInferRequestMessage, ctx) => ({ error_message: '', infer_response: await infer(message, ctx) }),
      (message, error) => ({
        error_message: asTesseraError(error).message,
        infer_response: { model_name: message.model_name, model_version: message.model_version, id: message.id },
      }),
    ),
    RepositoryIndex: unary(call, 'RepositoryIndex', (r: { ready: boolean }) => ({ models: repository.index(r.ready) })),
    RepositoryModelLoad: unary(call, 'RepositoryModelLoad', async (r: { model_name: string }) => {
      await repository.load(r.model_name);
      return {};
    }),
    RepositoryModelUnload: unary(call, 'RepositoryModelUnload', async (r: { model_name: string }) => {
      await repository.unload(r.model_name);
      return {};
    }),
    ModelStatistics: unary(call, 'ModelStatistics', (r: NameVersion) => {
      const stats = dataplane.statistics(r.name === '' ? undefined : r.name, r.version === '' ? undefined : r.version);
      return { model_stats: stats.map(statisticsMessage) };
    }),
  };
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
