#!/usr/bin/env node
// The image's HEALTHCHECK (no curl in slim images): exits 0 when the server answers 200 on
// /v2/health/ready (or /v2/health/live with the argument `live`), 1 otherwise, within 2 s.
//
// The address comes from the same variables the server reads. `tessera start` listens on
// TESSERA_HTTP_PORT / MLSERVER_HTTP_PORT (default 8080) and TESSERA_HOST / MLSERVER_HOST;
// `tessera serve` (the image's `serve`) puts MLFLOW_PORT and MLFLOW_HOST before those. The check
// cannot see which command the container runs, so with MLFLOW_PORT or MLFLOW_HOST set it asks
// `serve`'s address first and `start`'s next: only Tessera listens in the container, and a
// server answers 200 on only the one it listens on. A wildcard address is reached through
// loopback. A port set only in settings.json or on the command line is not seen.
// With TLS on (TESSERA_TLS_CERT_FILE / MLSERVER_TLS_CERT_FILE) it asks over HTTPS, without
// verifying the certificate: it only talks to this container's own loopback address.
import { request } from 'node:https';

const env = process.env;
/** The first of the variables that is set and not empty. */
const firstSet = (...names) => names.map((n) => env[n]).find((v) => v !== undefined && v !== '');

/** The host to connect to for a listening address (wildcards through loopback; IPv6 in brackets). */
function reachable(host) {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

const startHost = firstSet('TESSERA_HOST', 'MLSERVER_HOST') ?? '127.0.0.1';
const startPort = firstSet('TESSERA_HTTP_PORT', 'MLSERVER_HTTP_PORT') ?? '8080';
const addresses = [`${reachable(startHost)}:${startPort}`];
if (firstSet('MLFLOW_PORT', 'MLFLOW_HOST') !== undefined) {
  const serve = `${reachable(firstSet('MLFLOW_HOST') ?? startHost)}:${firstSet('MLFLOW_PORT') ?? startPort}`;
  if (serve !== addresses[0]) addresses.unshift(serve);
}

const path = process.argv[2] === 'live' ? '/v2/health/live' : '/v2/health/ready';
const tls = firstSet('TESSERA_TLS_CERT_FILE', 'MLSERVER_TLS_CERT_FILE') !== undefined;
const deadline = AbortSignal.timeout(2000);

/** The status of GET path at address, or 0 when nothing answers. */
async function status(address) {
  try {
    if (!tls) return (await fetch(`http://${address}${path}`, { signal: deadline })).status;
    return await new Promise((resolve, reject) => {
      const req = request(`https://${address}${path}`, { rejectUnauthorized: false, signal: deadline }, (res) => {
        res.resume();
        resolve(res.statusCode);
      });
      req.on('error', reject);
      req.end();
    });
  } catch {
    return 0;
  }
}

for (const address of addresses) {
  if ((await status(address)) === 200) process.exit(0);
}
process.exit(1);
