// The server settings of authentication, TLS, CORS and what the server shows of itself. Spread
// into the server settings schema (src/config/schema.ts), so they come from settings.json,
// TESSERA_<FIELD> / MLSERVER_<FIELD> and flags like every other server field.
import { z } from 'zod';
import { corsSettingsSchema } from './cors.js';
import { OPENABLE_CLASSES } from './scopes.js';

const file = z.string().min(1).nullable().default(null);

export const securitySettingsShape = {
  auth_tokens: z
    .array(z.string())
    .default([])
    .describe(
      'bearer tokens, each "<token> <scope>[,<scope>] [<subject>]" (scopes: infer, read, admin, metrics); any token turns auth on. Prefer auth_tokens_file: values here show in process listings',
    ),
  auth_tokens_file: file.describe('file of bearer tokens, one "<token> <scopes> [<subject>]" per line; re-read when it changes and on SIGHUP'),
  auth_open: z
    .array(z.enum(OPENABLE_CLASSES))
    .default(['health', 'metrics'])
    .describe('what stays open without a token when auth is on: health, metrics, docs, read'),
  tls_cert_file: file.describe('PEM certificate (chain): HTTPS, gRPC over TLS and HTTPS metrics'),
  tls_key_file: file.describe('PEM private key of tls_cert_file'),
  tls_ca_file: file.describe('PEM CAs of client certificates: gRPC then requires a client certificate (mTLS)'),
  tls_http_require_client_cert: z
    .boolean()
    .default(false)
    .describe('HTTP and metrics require a client certificate from tls_ca_file too (probes present none)'),
  cors_settings: corsSettingsSchema
    .nullable()
    .default(null)
    .describe("MLServer's CORS settings: allow_origins, allow_origin_regex, allow_credentials, allow_methods, allow_headers, expose_headers, max_age"),
  docs_enabled: z.boolean().default(true).describe('serve the Swagger UI and the OpenAPI document at /v2/docs'),
  grpc_reflection_enabled: z.boolean().default(true).describe('serve gRPC server reflection (grpcurl, Postman)'),
};

export type SecuritySettings = { [K in keyof typeof securitySettingsShape]: z.output<(typeof securitySettingsShape)[K]> };
