// TLS on every listener and mutual TLS (#14, finding 8), with certificates the test makes with
// openssl in a temp folder: a CA, a server certificate for 127.0.0.1 and localhost, a client
// certificate from that CA, and an intruder (a client certificate from a CA the server does not
// know). Real clients: node's https, grpc-js over TLS. Refused: plain text on a TLS port, a client
// that does not trust the server's CA, a gRPC client without a client certificate or with the
// intruder's, the same over HTTPS when tls_http_require_client_cert is on; and bad TLS settings
// stop start-up with a settings error.
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { SettingsError } from '../../src/core/errors.js';
import { startServer } from '../../src/server.js';
import { capturingLogger, exampleRepository, startTestServer, tempDir } from '../helpers/server.js';
import { allRpcs, callRpc, makeCertificates, opensslMissing, send, type Rpc } from './security-clients.js';

/** What the subtests use of tap's test object. */
type Tap = Pick<typeof t, 'ok' | 'match'>;
const rpc = (name: string): Rpc => allRpcs().find((r) => r.name === name) as Rpc;
const INFER = { model_name: 'identity_fp32', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [1.5, 2.5] } }] };
const INFER_JSON = JSON.stringify({ inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 2], data: [1.5, 2.5] }] });

t.test('TLS and mutual TLS', { skip: opensslMissing() }, async (t) => {
  const dir = tempDir(t);
  const c = makeCertificates(dir);
  const clients: grpc.Client[] = [];
  t.teardown(() => clients.forEach((client) => client.close()));
  const grpcClient = (address: string, credentials: grpc.ChannelCredentials): grpc.Client => {
    const client = new grpc.Client(address, credentials);
    clients.push(client);
    return client;
  };
  const refused = async (t: Tap, what: string, promise: Promise<unknown>, pattern: RegExp): Promise<void> => {
    const error = await promise.then(
      () => null,
      (e: unknown) => e as Error & { code?: string },
    );
    t.ok(error !== null, `${what}: refused`);
    if (error !== null) t.match(`${error.code ?? ''} ${error.message}`, pattern, `${what}: ${error.code ?? error.message}`);
  };

  t.test('TLS: HTTPS, gRPC over TLS, HTTPS metrics; plain text and an unknown CA refused', async (t) => {
    const server = await startTestServer(t, {
      folder: tempDir(t),
      settings: { tls_cert_file: c.files.serverCert, tls_key_file: c.files.serverKey, load_models_at_startup: 'false', parallel_workers: '1' },
    });
    t.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    t.match(server.metricsUrl, /^https:\/\//);
    const live = await send(`${server.url}/v2/health/live`, { tls: { ca: c.ca } });
    t.same([live.status, live.json()], [200, { live: true }], 'HTTPS with the CA');
    const viaName = await send(`${server.url.replace('127.0.0.1', 'localhost')}/v2/health/live`, { tls: { ca: c.ca } });
    t.equal(viaName.status, 200, 'the certificate names localhost too');
    await refused(t, 'plain HTTP on the TLS port', send(`${server.url.replace('https:', 'http:')}/v2/health/live`), /ECONNRESET|socket hang up|HPE_|Parse Error/);
    await refused(t, 'a client that trusts another CA', send(`${server.url}/v2/health/live`, { tls: { ca: c.otherCa } }), /self.signed|unable to (get|verify)|CERT|certificate/i);
    const metrics = await send(`${server.metricsUrl}/metrics`, { tls: { ca: c.ca } });
    t.equal(metrics.status, 200, 'metrics over HTTPS');
    t.match(metrics.text, /tessera_http_request_duration_seconds/);

    const tlsClient = grpcClient(server.grpcAddress, grpc.credentials.createSsl(c.ca));
    t.match(await callRpc(tlsClient, rpc('ServerLive'), {}), { ok: true, value: { live: true } }, 'gRPC over TLS');
    t.match(await callRpc(tlsClient, rpc('ServerMetadata'), {}), { ok: true, value: { name: 'tessera' } });
    const plain = grpcClient(server.grpcAddress, grpc.credentials.createInsecure());
    t.match(await callRpc(plain, rpc('ServerLive'), {}, undefined, 5000), { ok: false, code: grpc.status.UNAVAILABLE }, 'plain-text gRPC refused');
    const untrusting = grpcClient(server.grpcAddress, grpc.credentials.createSsl(c.otherCa));
    t.match(await callRpc(untrusting, rpc('ServerLive'), {}, undefined, 5000), { ok: false, code: grpc.status.UNAVAILABLE }, 'a gRPC client trusting another CA refuses the server');
  });

  t.test('mutual TLS: client certificates from tls_ca_file required on gRPC, and on HTTP(S) when asked', async (t) => {
    const server = await startTestServer(t, {
      folder: exampleRepository(t, ['identity_fp32']),
      settings: {
        tls_cert_file: c.files.serverCert,
        tls_key_file: c.files.serverKey,
        tls_ca_file: c.files.ca,
        tls_http_require_client_cert: true,
        parallel_workers: '1',
      },
    });
    const mine = grpcClient(server.grpcAddress, grpc.credentials.createSsl(c.ca, c.clientKey, c.clientCert));
    const answer = await callRpc(mine, rpc('ModelInfer'), INFER);
    t.match(answer, { ok: true, value: { model_name: 'identity_fp32' } }, 'gRPC inference with the client certificate');
    const noCert = grpcClient(server.grpcAddress, grpc.credentials.createSsl(c.ca));
    t.match(await callRpc(noCert, rpc('ServerLive'), {}, undefined, 5000), { ok: false, code: grpc.status.UNAVAILABLE }, 'gRPC without a client certificate refused');
    const intruder = grpcClient(server.grpcAddress, grpc.credentials.createSsl(c.ca, c.otherClientKey, c.otherClientCert));
    t.match(await callRpc(intruder, rpc('ServerLive'), {}, undefined, 5000), { ok: false, code: grpc.status.UNAVAILABLE }, "gRPC with a client certificate of an unknown CA refused");

    const withCert = { ca: c.ca, cert: c.clientCert, key: c.clientKey };
    const inferred = await send(`${server.url}/v2/models/identity_fp32/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: INFER_JSON, tls: withCert });
    t.equal(inferred.status, 200, 'HTTPS inference with the client certificate');
    t.same((inferred.json().outputs as { data: number[] }[])[0].data, [1.5, 2.5]);
    await refused(t, 'HTTPS without a client certificate', send(`${server.url}/v2/health/live`, { tls: { ca: c.ca } }), /ECONNRESET|socket hang up|certificate required|alert|EPIPE/i);
    await refused(
      t,
      'HTTPS with a client certificate of an unknown CA',
      send(`${server.url}/v2/health/live`, { tls: { ca: c.ca, cert: c.otherClientCert, key: c.otherClientKey } }),
      /ECONNRESET|socket hang up|unknown ca|alert|EPIPE/i,
    );
    t.equal((await send(`${server.metricsUrl}/metrics`, { tls: withCert })).status, 200, 'metrics with the client certificate');
    await refused(t, 'metrics without a client certificate', send(`${server.metricsUrl}/metrics`, { tls: { ca: c.ca } }), /ECONNRESET|socket hang up|certificate required|alert|EPIPE/i);
  });

  t.test('bad TLS settings stop start-up, naming the setting', async (t) => {
    const folder = tempDir(t);
    const start = (flags: Record<string, string>) =>
      startServer({ folder, env: {}, flags: { host: '127.0.0.1', http_port: '0', grpc_port: '0', metrics_port: '0', load_models_at_startup: 'false', ...flags }, logger: capturingLogger('silent').logger }).then(
        (s) => s.close().then(() => null),
        (e: unknown) => e as Error,
      );
    const cases: [string, Record<string, string>, RegExp][] = [
      ['a key that is not the certificate’s', { tls_cert_file: c.files.serverCert, tls_key_file: c.files.otherServerKey }, /tls_cert_file \/ tls_key_file \/ tls_ca_file: .*(mismatch|key)/i],
      ['a certificate without its key', { tls_cert_file: c.files.serverCert }, /TLS needs both tls_cert_file and tls_key_file/],
      ['a CA without TLS', { tls_ca_file: c.files.ca }, /tls_ca_file is set but TLS is off/],
      ['client certificates without a CA', { tls_cert_file: c.files.serverCert, tls_key_file: c.files.serverKey, tls_http_require_client_cert: 'true' }, /needs tls_ca_file/],
      ['a missing file', { tls_cert_file: `${dir}/nope.crt`, tls_key_file: c.files.serverKey }, /tls_cert_file: cannot read .*nope\.crt: ENOENT/],
      ['a file that is not PEM', { tls_cert_file: c.files.serverKey, tls_key_file: c.files.serverKey }, /tls_cert_file \/ tls_key_file/],
    ];
    for (const [name, flags, message] of cases) {
      const error = await start(flags);
      t.ok(error instanceof SettingsError, `${name}: a settings error (exit 2)`);
      t.match(error?.message, message, name);
    }
  });
});
