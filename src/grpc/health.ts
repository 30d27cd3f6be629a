// grpc.health.v1.Health: '' and the inference service follow server readiness. Watch sends the
// status when it changes (checked every WATCH_INTERVAL_MS) until the client goes away.
import type * as grpc from '@grpc/grpc-js';
import type { DataPlane } from '../core/dataplane.js';
import { notFound } from '../core/errors.js';
import { serverStream, unary, type CallOptions } from './call.js';

export const INFERENCE_SERVICE = 'inference.GRPCInferenceService';
export const WATCH_INTERVAL_MS = 250;

type Status = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export function healthService(call: CallOptions, dataplane: DataPlane): grpc.UntypedServiceImplementation {
  const status = (service: string): Status | null => {
    if (service !== '' && service !== INFERENCE_SERVICE) return null;
    return dataplane.ready() ? 'SERVING' : 'NOT_SERVING';
  };
  return {
    Check: unary(call, 'Check', (r: { service: string }) => {
      const s = status(r.service);
      if (s === null) throw notFound(`unknown service '${r.service}'`);
      return { status: s };
    }),
    Watch: serverStream(call, 'Watch', (stream: grpc.ServerWritableStream<{ service: string }, { status: Status }>) =>
      new Promise<void>((resolve) => {
        let last: Status | undefined;
        const send = (): void => {
          const s = status(stream.request.service) ?? 'SERVICE_UNKNOWN';
          if (s !== last) stream.write({ status: s });
          last = s;
        };
        send();
        const timer = setInterval(send, WATCH_INTERVAL_MS);
        const stop = (): void => {
          clearInterval(timer);
          resolve();
        };
        stream.once('cancelled', stop);
        stream.once('close', stop);
      }),
    ),
  };
}
