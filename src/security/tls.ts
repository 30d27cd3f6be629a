// TLS for every listener from PEM files: `tls_cert_file` and `tls_key_file` (both, or neither)
// turn on HTTPS for the HTTP and metrics listeners and TLS for gRPC. `tls_ca_file` holds the CAs
// client certificates must chain to: gRPC then requires a client certificate (mutual TLS), and
// so do the HTTP and metrics listeners when `tls_http_require_client_cert` is true (off by
// default: Kubernetes' HTTPS probes present no certificate). The files are read and checked
// (key against certificate, PEM syntax) at start-up; a bad file stops start-up naming the setting.
import { readFileSync } from 'node:fs';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { SettingsError } from '../core/errors.js';

export interface TlsSettings {
  tls_cert_file: string | null;
  tls_key_file: string | null;
  tls_ca_file: string | null;
  tls_http_require_client_cert: boolean;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** CAs of client certificates; null: no client certificates asked for. */
  ca: Buffer | null;
  /** The HTTP and metrics listeners require a client certificate too. */
  httpClientCert: boolean;
}

function readPem(setting: string, file: string): Buffer {
  try {
    return readFileSync(path.resolve(file));
  } catch (error) {
    throw new SettingsError(`${setting}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The TLS material the settings name, checked; null when TLS is off. */
export function readTls(settings: TlsSettings): TlsMaterial | null {
  const { tls_cert_file: certFile, tls_key_file: keyFile, tls_ca_file: caFile } = settings;
  if (certFile === null && keyFile === null) {
    if (caFile !== null) throw new SettingsError('tls_ca_file is set but TLS is off: set tls_cert_file and tls_key_file too');
    if (settings.tls_http_require_client_cert) throw new SettingsError('tls_http_require_client_cert needs TLS: set tls_cert_file, tls_key_file and tls_ca_file');
    return null;
  }
  if (certFile === null || keyFile === null) throw new SettingsError('TLS needs both tls_cert_file and tls_key_file');
  if (settings.tls_http_require_client_cert && caFile === null) {
    throw new SettingsError('tls_http_require_client_cert needs tls_ca_file (the CAs client certificates must chain to)');
  }
  const material: TlsMaterial = {
    cert: readPem('tls_cert_file', certFile),
    key: readPem('tls_key_file', keyFile),
    ca: caFile === null ? null : readPem('tls_ca_file', caFile),
    httpClientCert: settings.tls_http_require_client_cert,
  };
  try {
    createSecureContext({ cert: material.cert, key: material.key, ...(material.ca ? { ca: material.ca } : {}) });
  } catch (error) {
    throw new SettingsError(`tls_cert_file / tls_key_file / tls_ca_file: ${(error as Error).message}`);
  }
  return material;
}

/** Node https options for the HTTP and metrics listeners. */
export function httpsOptions(m: TlsMaterial): HttpsServerOptions {
  return {
    cert: m.cert,
    key: m.key,
    minVersion: 'TLSv1.2',
    ...(m.ca !== null ? { ca: m.ca } : {}),
    ...(m.httpClientCert ? { requestCert: true, rejectUnauthorized: true } : {}),
  };
}

/** gRPC server credentials: TLS, with required client certificates when a CA is given. */
export function grpcServerCredentials(m: TlsMaterial | null): grpc.ServerCredentials {
  if (m === null) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(m.ca, [{ private_key: m.key, cert_chain: m.cert }], m.ca !== null);
}
