// Security on the gRPC listener: the call wrapper's authorization step (every RPC of every
// service Tessera implements goes through it, once per call; the `authorization` metadata holds
// the bearer token), the same step in front of server reflection (a service @grpc/reflection adds
// itself, outside the wrapper), and what answers may show (absolute paths out of messages).
import type * as grpc from '@grpc/grpc-js';
import { allowAll, callContext, endStatus, report, type Authorize, type CallOptions } from '../grpc/call.js';
import { redactValue, type Redactor } from './paths.js';
import type { AccessPolicy } from './policy.js';
import { grpcMethodClass } from './scopes.js';

/** The wrapper's authorization step: the method's class against the call's bearer token. */
export function grpcAuthorizer(policy: AccessPolicy): Authorize {
  if (!policy.enabled) return allowAll;
  return (ctx, method, metadata) => {
    const value = metadata.get('authorization')[0];
    const decision = policy.decide(grpcMethodClass(method), typeof value === 'string' ? value : undefined, method, 'metadata');
    if (!decision.ok) throw decision.error;
    ctx.identity = decision.identity;
  };
}

/** Methods whose answers are never rewritten: inference results are large and carry no paths. */
const UNREDACTED = new Set(['ModelInfer', 'ModelStreamInfer', 'ServerLive', 'ServerReady', 'ModelReady', 'Check', 'Watch']);

/** The wrapper's redaction: messages, and the answers of methods that may carry model reasons. */
export function grpcRedaction(redact: Redactor): NonNullable<CallOptions['redact']> {
  return {
    text: redact,
    value: (method, value) => (UNREDACTED.has(method) ? value : redactValue(redact, value)),
  };
}

type Handler = (call: grpc.ServerDuplexStream<unknown, unknown>) => void;

/**
 * A stand-in for the server whose `addService` puts the call wrapper's authorization in front of
 * each streaming handler of a service added by a library (server reflection): the call ends with
 * UNAUTHENTICATED / PERMISSION_DENIED before the library sees it.
 */
export function authorizingServer(server: grpc.Server, options: CallOptions): Pick<grpc.Server, 'addService'> {
  return {
    addService(service: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
      const guarded: grpc.UntypedServiceImplementation = {};
      for (const [method, handler] of Object.entries(implementation)) {
        guarded[method] = ((call: grpc.ServerDuplexStream<unknown, unknown>) => {
          const started = performance.now();
          const ctx = callContext(call, options, undefined);
          Promise.resolve()
            .then(() => options.authorize(ctx, method, call.metadata))
            .then(
              () => (handler as Handler)(call),
              (error: unknown) => {
                call.emit('error', endStatus(error, options));
                report(options, ctx, method, started, error);
              },
            );
        }) as grpc.UntypedHandleCall;
      }
      server.addService(service, guarded);
    },
  };
}
