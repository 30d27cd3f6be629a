#!/usr/bin/env node
// The image's HEALTHCHECK (no curl in slim images): exits 0 when the server answers 200 on
// /v2/health/ready (or /v2/health/live with the argument `live`), 1 otherwise, within 2 s.
// The port and address come from the same variables the server reads: TESSERA_HTTP_PORT,
// MLSERVER_HTTP_PORT (default 8080) and TESSERA_HOST, MLSERVER_HOST (a wildcard address is
// reached through loopback). A port set only in settings.json or on the command line is not seen.
// With TLS on (TESSERA_TLS_CERT_FILE / MLSERVER_TLS_CERT_FILE) it asks over HTTPS, without
// verifying the certificate: it only talks to this container's own loopback address.
import { request } from 'node:https';
const env = process.env;
const port = env.TESSERA_HTTP_PORT ?? env.MLSERVER_HTTP_PORT ?? '8080';
let host = env.TESSERA_HOST ?? env.MLSERVER_HOST ?? '127.0.0.1';
if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
if (host === '::' || host === '[::]') host = '[::1]';
else if (host.includes(':') && !host.startsWith('[')) host = `[${host}]`;
const path = process.argv[2] === 'live' ? '/v2/health/live' : '/v2/health/ready';
const tls = Boolean(env.TESSERA_TLS_CERT_FILE ?? env.MLSERVER_TLS_CERT_FILE);
try {
  const status = tls
    ? await new Promise((resolve, reject) => {
        const req = request(`https://${host}:${port}${path}`, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
      })
    : (await fetch(`http://${host}:${port}${path}`, { signal: AbortSignal.timeout(2000) })).status;
  process.exit(status === 200 ? 0 : 1);
} catch {
  process.exit(1);
}
