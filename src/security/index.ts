// Everything security the composition root (src/server.ts) wires into the listeners, made once
// from the settings: the access policy (tokens, open classes), CORS, TLS material, the path
// redactor, and what each listener is given. Bad settings (an unreadable tokens file, a token
// too short, a key that does not match its certificate) stop start-up with a SettingsError.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Authorize, CallOptions } from '../grpc/call.js';
import { CorsPolicy } from './cors.js';
import { grpcAuthorizer, grpcRedaction } from './grpc.js';
import type { HttpSecurity } from './http.js';
import { pathRedactor, type Redactor } from './paths.js';
import { AccessPolicy } from './policy.js';
import type { RouteClass } from './scopes.js';
import type { SecuritySettings } from './settings.js';
import { grpcServerCredentials, httpsOptions, readTls, type TlsMaterial } from './tls.js';
import { TokenStore } from './tokens.js';

/** Where Tessera itself is installed: its paths are never shown either. */
const INSTALL_DIR = fileURLToPath(new URL('../../', import.meta.url));

export interface Security {
  policy: AccessPolicy;
  cors: CorsPolicy;
  redact: Redactor;
  tls: TlsMaterial | null;
  /** `https` when TLS is on. */
  scheme: 'http' | 'https';
  http: HttpSecurity;
  grpc: { authorize: Authorize; credentials: grpc.ServerCredentials; reflection: boolean; redact: NonNullable<CallOptions['redact']> };
  metrics: { https: HttpsServerOptions | null; guard: (request: IncomingMessage, response: ServerResponse) => boolean };
  /** Stops watching the tokens file. */
  close(): void;
}

export interface SecurityOptions {
  logger: Logger;
  repositoryRoot: string;
}

const isLoopback = (host: string): boolean => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

export function createSecurity(settings: SecuritySettings & { host: string; metrics_endpoint: string | null }, options: SecurityOptions): Security {
  const { logger } = options;
  const tls = readTls(settings);
  const authOn = settings.auth_tokens.length > 0 || settings.auth_tokens_file !== null;
  const tokens = authOn
    ? new TokenStore({ tokens: settings.auth_tokens, file: settings.auth_tokens_file, logger })
    : null;
  const open = new Set<RouteClass>(settings.auth_open);
  const policy = new AccessPolicy(tokens, open);
  const cors = new CorsPolicy(settings.cors_settings);
  const redact = pathRedactor(options.repositoryRoot, [INSTALL_DIR]);
  const https = tls === null ? null : httpsOptions(tls);
  const endpoint = settings.metrics_endpoint === null ? null : settings.metrics_endpoint.startsWith('/') ? settings.metrics_endpoint : `/${settings.metrics_endpoint}`;

  if (tokens !== null) {
    logger.info({ tokens: tokens.size, open: [...open] }, 'bearer-token authentication on');
  } else if (!isLoopback(settings.host)) {
    logger.warn(
      { host: settings.host },
      'no authentication and listening beyond this machine: anyone who reaches these ports can load and unload models (set auth_tokens_file)',
    );
  }
  if (tls !== null) logger.info({ mutualTlsGrpc: tls.ca !== null, mutualTlsHttp: tls.httpClientCert }, 'TLS on');

  return {
    policy,
    cors,
    redact,
    tls,
    scheme: tls === null ? 'http' : 'https',
    // metrics_endpoint is classed `metrics` on the HTTP listener too (tessera serve serves it there).
    http: { policy, cors, redact, https, metricsEndpoint: endpoint },
    grpc: {
      authorize: grpcAuthorizer(policy),
      credentials: grpcServerCredentials(tls),
      reflection: settings.grpc_reflection_enabled,
      redact: grpcRedaction(redact),
    },
    metrics: {
      https,
      guard: (request, response) => {
        if (!policy.enabled) return true;
        const decision = policy.decide('metrics', request.headers.authorization, `GET ${endpoint ?? '/metrics'}`, 'header');
        if (decision.ok) return true;
        response
          .writeHead(decision.error.httpStatus, { 'content-type': 'application/json', 'www-authenticate': decision.challenge })
          .end(JSON.stringify({ error: decision.error.message }));
        return false;
      },
    },
    close: () => tokens?.close(),
  };
}
