// A generic grpc-js client built from the project's own .proto files.
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS, PROTO_FILES } from '../../src/grpc/server.js';

export type Call = <T = Record<string, unknown>>(method: string, request: object) => Promise<T>;

export interface GrpcClients {
  inference: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  health: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  call: Call;
  check: (service?: string) => Promise<{ status: string }>;
  close: () => void;
}

export function grpcClients(address: string, maxMessage = 256 * 1024 * 1024): GrpcClients {
  // The project's own .proto files, loaded the way any grpc-js client would load them.
  const definition = protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    inference: { GRPCInferenceService: grpc.ServiceClientConstructor };
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  const options = { 'grpc.max_receive_message_length': maxMessage, 'grpc.max_send_message_length': maxMessage };
  const inference = new proto.inference.GRPCInferenceService(address, grpc.credentials.createInsecure(), options) as GrpcClients['inference'];
  const health = new proto.grpc.health.v1.Health(address, grpc.credentials.createInsecure()) as GrpcClients['health'];
  const unary = (client: GrpcClients['inference'], method: string, request: object): Promise<never> =>
    new Promise((resolve, reject) =>
      (client[method] as (r: object, cb: (e: grpc.ServiceError | null, v: never) => void) => void).call(client, request, (e, v) => (e ? reject(e) : resolve(v))),
    );
  return {
    inference,
    health,
    call: (method, request) => unary(inference, method, request),
    check: (service = '') => unary(health, 'Check', { service }),
    close: () => {
      inference.close();
      health.close();
    },
  };
}
