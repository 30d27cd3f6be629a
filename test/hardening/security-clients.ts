// Clients for the security tests (auth, TLS, CORS, exposure): one HTTP(S) request with exact
// headers and optional TLS material; every gRPC method of every service the server offers
// (inference, health, both reflection versions), called generically from the service
// definitions with any metadata and credentials; and test certificates made by openssl.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { loadProtos } from '../../src/grpc/server.js';

export interface TlsClient {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: () => Record<string, unknown>;
}

/** One request with exactly these headers; over HTTPS (with the client's TLS material) for https: URLs. */
export function send(url: string, options: { method?: string; headers?: Record<string, string>; body?: string | Buffer; tls?: TlsClient } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const secure = url.startsWith('https:');
    const common = { method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false as const, timeout: 10_000 };
    const done = (res: import('node:http').IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
      res.on('error', reject);
    };
    const req = secure ? httpsRequest(url, { ...common, ...(options.tls ?? {}) }, done) : httpRequest(url, common, done);
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within 10 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** One RPC of a service, as the definitions describe it. */
export interface Rpc {
  service: string;
  name: string;
  definition: grpc.MethodDefinition<object, object>;
}

const reflectionProtos = (): string[] => {
  const root = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection/package.json')), 'build', 'proto');
  return ['v1', 'v1alpha'].map((v) => join(root, 'grpc', 'reflection', v, 'reflection.proto'));
};

/** Every RPC of the server's own services and of server reflection. */
export function allRpcs(): Rpc[] {
  const definitions = [loadProtos(), protoLoader.loadSync(reflectionProtos(), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true })];
  const out: Rpc[] = [];
  for (const definition of definitions) {
    for (const [service, methods] of Object.entries(definition)) {
      if (!('format' in methods) || typeof methods.format !== 'string') {
        for (const [name, method] of Object.entries(methods as Record<string, grpc.MethodDefinition<object, object>>)) {
          if (typeof method === 'object' && method !== null && 'path' in method) out.push({ service, name, definition: method });
        }
      }
    }
  }
  return out;
}

export type RpcResult = { ok: true; value: unknown } | { ok: false; code: grpc.status; details: string };

/**
 * Calls an RPC once: a unary call, a server stream (the first message), or a bidirectional stream
 * with one message written (its first answer). Resolves with the first answer or the status.
 */
export function callRpc(client: grpc.Client, rpc: Rpc, request: object, metadata = new grpc.Metadata(), timeoutMs = 10_000): Promise<RpcResult> {
  const d = rpc.definition;
  const options = { deadline: Date.now() + timeoutMs };
  return new Promise((resolve) => {
    if (!d.requestStream && !d.responseStream) {
      client.makeUnaryRequest(d.path, d.requestSerialize, d.responseDeserialize, request, metadata, options, (error, value) =>
        resolve(error ? { ok: false, code: error.code, details: error.details } : { ok: true, value }),
      );
      return;
    }
    const stream = d.requestStream
      ? client.makeBidiStreamRequest(d.path, d.requestSerialize, d.responseDeserialize, metadata, options)
      : client.makeServerStreamRequest(d.path, d.requestSerialize, d.responseDeserialize, request, metadata, options);
    let settled = false;
    const settle = (result: RpcResult): void => {
      if (settled) return;
      settled = true;
      resolve(result);
      stream.cancel();
    };
    stream.on('data', (value: unknown) => settle({ ok: true, value }));
    stream.on('error', (error: grpc.ServiceError) => settle({ ok: false, code: error.code, details: error.details }));
    stream.on('status', (status: grpc.StatusObject) => settle(status.code === grpc.status.OK ? { ok: true, value: null } : { ok: false, code: status.code, details: status.details }));
    if (d.requestStream) {
      (stream as grpc.ClientDuplexStream<object, object>).write(request);
    }
  });
}

/** Metadata carrying a bearer token. */
export function bearer(token: string): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set('authorization', `Bearer ${token}`);
  return m;
}

/** Whether openssl can be run (the TLS tests skip, saying why, when it cannot). */
export function opensslMissing(): string | false {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return r.error !== undefined || r.status !== 0 ? 'openssl is not installed (the test makes its certificates with it)' : false;
}

export interface TestCertificates {
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** A CA the server does not know, and a client certificate it signed. */
  otherCa: Buffer;
  otherClientCert: Buffer;
  otherClientKey: Buffer;
  files: { ca: string; serverCert: string; serverKey: string; otherServerKey: string };
}

/** A CA, a server certificate for 127.0.0.1 and localhost, client certificates (P-256 keys: fast). */
export function makeCertificates(dir: string): TestCertificates {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string): void => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', name);
  const ca = (name: string): void => {
    key(`${name}.key`);
    ssl('req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  };
  const leaf = (name: string, signer: string, ext: string): void => {
    key(`${name}.key`);
    ssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  };
  ca('test-ca');
  ca('other-ca');
  leaf('server', 'test-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  leaf('intruder', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  key('unrelated.key');
  const read = (name: string): Buffer => readFileSync(join(dir, name));
  return {
    ca: read('test-ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    otherCa: read('other-ca.crt'),
    otherClientCert: read('intruder.crt'),
    otherClientKey: read('intruder.key'),
    files: { ca: join(dir, 'test-ca.crt'), serverCert: join(dir, 'server.crt'), serverKey: join(dir, 'server.key'), otherServerKey: join(dir, 'unrelated.key') },
  };
}
