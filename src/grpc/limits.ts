// Connection limits of the gRPC listener: idle and age limits (grpc-js channel options), and a cap
// on open connections. grpc-js has no connection cap of its own, so the listener is a plain
// net.Server with `maxConnections` whose sockets are handed to grpc-js through its connection
// injector (a public API; TLS credentials work the same way through it). Without a cap, ~20k idle
// sockets reached the open-file limit, and new HTTP connections were then reset.
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

export interface GrpcConnectionLimits {
  /** A connection with no call for this long is closed (GOAWAY), ms; 0: never. */
  maxConnectionIdleMs: number;
  /** A connection older than this is asked to go away (clients reconnect, rebalancing), ms; 0: never. */
  maxConnectionAgeMs: number;
  /** Calls still open on a connection past its age get this long to finish, ms. */
  maxConnectionAgeGraceMs: number;
  /** Open connections on the gRPC port; further ones are closed at once; 0: no cap. */
  maxConnections: number;
  /**
   * Stream resets (RST_STREAM) a connection may send in a burst, and per second after it, before
   * Node closes it (its HTTP/2 "rapid reset" guard). Node's 1000 / 33 per second dropped whole
   * connections, every call on them failing with INTERNAL, when clients whose deadlines passed
   * cancelled their calls under load.
   */
  streamResetBurst: number;
  streamResetRate: number;
}

/** grpc-js's own "unlimited" for idle and age (~24.8 days). */
const UNLIMITED_MS = 2 ** 31 - 1;

/** The channel options for the idle and age limits. */
export function connectionOptions(limits: GrpcConnectionLimits): grpc.ServerOptions {
  const ms = (v: number): number => (v > 0 ? Math.min(v, UNLIMITED_MS) : UNLIMITED_MS);
  return {
    'grpc.max_connection_idle_ms': ms(limits.maxConnectionIdleMs),
    'grpc.max_connection_age_ms': ms(limits.maxConnectionAgeMs),
    'grpc.max_connection_age_grace_ms': ms(limits.maxConnectionAgeGraceMs),
  };
}

/**
 * Sets Node's HTTP/2 stream-reset limits on the servers grpc-js makes. grpc-js passes no such
 * option through: its `commonServerOptions` (an internal object it spreads into every
 * http2.createServer call, listeners and injected connections alike) is extended instead. Call it
 * before listening. Returns false when that object is not there (another grpc-js): Node's
 * defaults then apply.
 */
export function applyStreamResetLimits(server: grpc.Server, limits: Pick<GrpcConnectionLimits, 'streamResetBurst' | 'streamResetRate'>): boolean {
  const common = (server as unknown as { commonServerOptions?: unknown }).commonServerOptions;
  if (common === null || typeof common !== 'object') return false;
  Object.assign(common, { streamResetBurst: limits.streamResetBurst, streamResetRate: limits.streamResetRate });
  return true;
}

const listeners = new WeakMap<grpc.Server, NetServer>();

/**
 * Listens on host:port with at most `maxConnections` open connections, handing each accepted
 * socket to `server`. Resolves with the port bound (port 0 picks a free one); rejects with Node's
 * listen error (EADDRINUSE, ENOTFOUND, ...). Refused connections are logged at most every 10 s.
 */
export function listenCapped(
  server: grpc.Server,
  host: string,
  port: number,
  options: { maxConnections: number; credentials: grpc.ServerCredentials; logger?: Logger | undefined },
): Promise<number> {
  const injector = server.createConnectionInjector(options.credentials);
  const listener = createServer({ noDelay: true }, (socket: Socket) => injector.injectConnection(socket));
  if (options.maxConnections > 0) listener.maxConnections = options.maxConnections;
  let lastWarning = 0;
  listener.on('drop', () => {
    const now = Date.now();
    if (now - lastWarning < 10_000) return;
    lastWarning = now;
    options.logger?.warn(`gRPC connection refused: ${options.maxConnections} connections are open (setting grpc_max_connections)`);
  });
  return new Promise((resolve, reject) => {
    listener.once('error', reject);
    listener.listen({ host, port }, () => {
      listener.off('error', reject);
      listeners.set(server, listener);
      resolve((listener.address() as { port: number }).port);
    });
  });
}

/** Stops accepting connections on the listener made by listenCapped (open ones stay). */
export function stopListening(server: grpc.Server): void {
  const listener = listeners.get(server);
  listeners.delete(server);
  listener?.close(); // accepting stops now; its callback would wait for the open connections
}
