#!/usr/bin/env node
// gRPC and large-tensor benchmark.
//
//   Scenario A: Tessera's gRPC ModelInfer (iris, raw_input_contents) against a bare grpc-js server
//               (benchmarks/bare-grpc.mjs), load from h2load with a pre-encoded gRPC frame.
//   Scenario A2: identity_fp32 (1×4 FP32, raw contents) at 1 stream against the same bare server:
//               the issue's "gRPC at 1 stream, identity" row (MLServer, its reference, cannot be
//               installed here: Tessera's figure and its ratio to bare grpc-js instead).
//   Scenario B: one 16 MiB FP32 tensor through identity_fp32 over JSON HTTP, binary HTTP
//               (binary tensor extension) and gRPC (raw contents), sequentially from one client.
//   Scenario C: small requests while 16 MiB JSON requests run: wrk -c1 on REST iris alone, then
//               while one client sends 16 MiB JSON bodies back to back (they are decoded off the
//               main thread, src/http/json-offload.ts); p50/p99 of the small requests both ways.
//
//   npm run bench:grpc                   full run (10 s per h2load run, 2 rounds, 8 large requests)
//   npm run bench:grpc -- --quick        smoke run (2 s per h2load run, 1 round, 2 large requests)
//   npm run bench:grpc -- --duration 5 --rounds 3 --streams 16,64 --requests 4
//
// Everything binds to and talks to 127.0.0.1 only. Child processes are killed at the end, on
// SIGINT/SIGTERM and on any error. Results land in benchmarks/results/grpc-<timestamp>.{md,json}.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import {
  BENCH_DIR, HOST, ROOT, assertAlive, hasWrk, cleanup, requireTool, fmt, freePort, gitCommit, grpcFrame, h2loadVersion,
  machineInfo, machineMarkdown, measureRounds, parseBenchArgs, parseList, percentile, printReport,
  requirePositiveIntegers, rpsSummary, runH2load as runH2loadOn, runMain, runMeta, runTool, setupCleanup,
  runWrk, startChild, startHardLimit, stopChild, tmpPath, waitHttpReady, waitUntil, writeResults,
} from './lib.mjs';

/** h2load against a target's ModelInfer with a pre-encoded frame (lib.mjs). */
const runH2load = (target, framePath, streams, seconds) =>
  runH2loadOn({ port: target.grpcPort, path: GRPC_METHOD, frame: framePath, connections: streams, seconds });

const PROTO = path.join(ROOT, 'proto', 'grpc_service.proto');
const GRPC_METHOD = '/inference.GRPCInferenceService/ModelInfer';
const IRIS_VALUES = [5.1, 3.5, 1.4, 0.2];
const MIB = 1024 * 1024;
const BIG_ELEMENTS = 4 * MIB; // 4,194,304 FP32 values = 16 MiB
const BIG_BYTES = BIG_ELEMENTS * 4;
// The JSON body of 4M floats written as JSON numbers (~80 MB) is above Tessera's default 64 MiB
// http_max_input_size, so Tessera is started with a larger limit (iris traffic is unaffected).
const HTTP_MAX_INPUT = 256 * MIB;
const GRPC_CLIENT_MAX = 256 * MIB;

// Every child (servers, h2load, curl) is tracked and killed on the way out.
setupCleanup('bench:grpc', 'tessera-bench-grpc-');

// ---------------------------------------------------------------------------------------------
// Options

const { args, quick: QUICK, duration: DURATION, rounds: ROUNDS, warmup: WARMUP } = parseBenchArgs(
  'Usage: npm run bench:grpc [-- --quick] [--duration SEC] [--rounds N] [--streams 1,16,64] [--requests N] [--workers N]',
  { streams: { type: 'string' }, requests: { type: 'string' }, workers: { type: 'string' } },
);
// Tessera's own default (cores - 1, at least 1), passed explicitly.
const WORKERS = Number(args.workers ?? Math.max(1, machineInfo().cores - 1));
const STREAMS = parseList(args.streams ?? '1,16,64');
const BIG_REQUESTS = Number(args.requests ?? (QUICK ? 2 : 8));
const BIG_WARMUP = 2;
requirePositiveIntegers([['duration', DURATION], ['rounds', ROUNDS], ['requests', BIG_REQUESTS], ...STREAMS.map((c) => ['streams', c])]);

// ---------------------------------------------------------------------------------------------
// Tools: h2load (installed on demand), curl

function curlHasHttp2() {
  const r = spawnSync('curl', ['-V'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return false;
  return /^Features:.*\bHTTP2\b/m.test(r.stdout ?? '');
}

// ---------------------------------------------------------------------------------------------
// Protobuf: the iris request encoded once, a gRPC frame, response decoding

// keepCase: field names as in the .proto (protobufjs camel-cases them by default).
const root = new protobuf.Root().loadSync(PROTO, { keepCase: true });
const InferRequestType = root.lookupType('inference.ModelInferRequest');
const InferResponseType = root.lookupType('inference.ModelInferResponse');

function irisRequestBytes() {
  const raw = Buffer.from(new Float32Array(IRIS_VALUES).buffer); // little-endian on x86/arm
  const message = InferRequestType.fromObject({
    model_name: 'iris',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4] }],
    raw_input_contents: [raw],
  });
  return Buffer.from(InferRequestType.encode(message).finish());
}

function decodeGrpcFrame(bytes) {
  if (bytes.length < 5) throw new Error(`gRPC response body is ${bytes.length} bytes, shorter than a frame header`);
  const length = bytes.readUInt32BE(1);
  if (bytes[0] !== 0 || bytes.length < 5 + length) throw new Error('malformed or compressed gRPC response frame');
  return InferResponseType.toObject(InferResponseType.decode(bytes.subarray(5, 5 + length)), { longs: String });
}

function identityRequestBytes() {
  const raw = Buffer.from(new Float32Array(IRIS_VALUES).buffer);
  const message = InferRequestType.fromObject({
    model_name: 'identity_fp32',
    inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 4] }],
    raw_input_contents: [raw],
  });
  return Buffer.from(InferRequestType.encode(message).finish());
}

function describeResponse(r) {
  const outs = (r.outputs ?? []).map((o) => `${o.name} ${o.datatype} [${(o.shape ?? []).join(',')}]`).join(', ');
  const raw = (r.raw_output_contents ?? []).map((b) => b.length).join('+');
  return `model ${r.model_name} v${r.model_version}; outputs ${outs}; raw_output_contents ${raw || 'none'} bytes`;
}

function grpcClient(port) {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const proto = grpc.loadPackageDefinition(definition);
  return new proto.inference.GRPCInferenceService(`${HOST}:${port}`, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': GRPC_CLIENT_MAX,
    'grpc.max_receive_message_length': GRPC_CLIENT_MAX,
  });
}

function modelInfer(client, request, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    client.ModelInfer(request, { deadline: new Date(Date.now() + timeoutMs) }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

/**
 * One ModelInfer call with the exact frame h2load will send, checked for grpc-status 0 in the
 * trailers (h2load only sees HTTP 200). curl when it speaks HTTP/2, else a grpc-js client.
 */
async function verifyGrpcCall(target, framePath) {
  const url = `http://${HOST}:${target.grpcPort}${GRPC_METHOD}`;
  if (curlHasHttp2()) {
    const bodyPath = tmpPath(`${target.key}-response.bin`);
    const argv = [
      '--http2-prior-knowledge', '-s', '-D', '-', '-o', bodyPath, '--max-time', '15',
      '--data-binary', `@${framePath}`,
      '-H', 'content-type: application/grpc', '-H', 'te: trailers', url,
    ];
    const r = await runTool('curl', argv, 20_000);
    const status = /^grpc-status:\s*(\d+)/im.exec(r.out);
    if (r.code !== 0 || !status || status[1] !== '0') {
      const message = /^grpc-message:\s*(.*)$/im.exec(r.out)?.[1] ?? '';
      throw new Error(`${target.label}: curl check failed (exit ${r.code}, grpc-status ${status?.[1] ?? 'missing'} ${message}):\n${r.out}${r.err}`);
    }
    const response = decodeGrpcFrame(readFileSync(bodyPath));
    return { method: 'curl --http2-prior-knowledge', grpcStatus: 0, response, summary: describeResponse(response) };
  }
  const client = grpcClient(target.grpcPort);
  try {
    const message = InferRequestType.decode(readFileSync(framePath).subarray(5));
    const request = InferRequestType.toObject(message, { longs: String });
    const response = await modelInfer(client, request, 15_000);
    return { method: 'grpc-js client (curl lacks HTTP/2)', grpcStatus: 0, response, summary: describeResponse(response) };
  } finally {
    client.close();
  }
}

function checkIrisResponse(label, r) {
  const outs = r.outputs ?? [];
  const raw = (r.raw_output_contents ?? []).map((b) => b.length);
  const ok =
    r.model_name === 'iris' &&
    outs.length === 2 &&
    outs[0].name === 'label' && outs[0].datatype === 'INT64' &&
    outs[1].name === 'probabilities' && outs[1].datatype === 'FP32' &&
    raw.length === 2 && raw[0] === 8 && raw[1] === 12;
  if (!ok) throw new Error(`${label}: unexpected iris response: ${describeResponse(r)}`);
}

// ---------------------------------------------------------------------------------------------
// Servers

function tcpOpen(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startTessera() {
  const [httpPort, grpcPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const argv = [
    path.join(ROOT, 'bin', 'tessera.mjs'), 'start',
    '--http-port', String(httpPort), '--grpc-port', String(grpcPort), '--metrics-port', String(metricsPort),
    '--host', HOST, '--workers', String(WORKERS), '--log-level', 'warn', '--http-max-input-size', String(HTTP_MAX_INPUT),
  ];
  const child = startChild('tessera', argv);
  const base = `http://${HOST}:${httpPort}`;
  await waitHttpReady(child, base);
  await waitUntil(child, () => tcpOpen(grpcPort), 10_000, 'gRPC port open');
  return { key: 'tessera', label: `tessera w=${WORKERS}`, child, httpPort, grpcPort, base };
}

async function startBareGrpc() {
  const grpcPort = await freePort();
  const child = startChild('bare-grpc', [path.join(BENCH_DIR, 'bare-grpc.mjs'), '--port', String(grpcPort), '--host', HOST]);
  await waitUntil(child, () => tcpOpen(grpcPort), 30_000, 'gRPC port open');
  return { key: 'bare', label: 'bare grpc-js', child, grpcPort };
}

// ---------------------------------------------------------------------------------------------
// Scenario B: one 16 MiB FP32 tensor, three paths

/** POST with node:http over one keep-alive connection; resolves { status, headers, body: Buffer }. */
const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function httpPost(url, headers, body, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent: httpAgent, headers: { ...headers, 'content-length': Buffer.byteLength(body) }, timeout: timeoutMs },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`POST ${url} timed out after ${timeoutMs / 1000}s`)));
    req.on('error', reject);
    req.end(body);
  });
}

function bigTensor() {
  // Deterministic pseudo-random FP32 values in [0, 1) (mulberry32), so JSON numbers have the
  // length real data has (a float32 written as a JSON double: ~18-20 characters).
  const data = new Float32Array(BIG_ELEMENTS);
  let a = 0x9e3779b9;
  for (let i = 0; i < BIG_ELEMENTS; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    data[i] = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  return data;
}

async function timedSeries(label, once, verify) {
  const times = [];
  let wire = null;
  for (let i = 0; i < BIG_WARMUP + BIG_REQUESTS; i++) {
    const t0 = process.hrtime.bigint();
    const result = await once();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    wire = verify(result); // outside the timed part; throws on a wrong answer
    if (i >= BIG_WARMUP) times.push(ms);
    process.stdout.write(`  ${label.padEnd(12)} ${i < BIG_WARMUP ? 'warm-up' : `req ${i - BIG_WARMUP + 1}  `} ${ms.toFixed(1).padStart(8)} ms\n`);
  }
  const totalMs = times.reduce((x, y) => x + y, 0);
  return {
    label,
    requests: times.length,
    meanMs: totalMs / times.length,
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    mibPerSecond: (BIG_BYTES / MIB) * times.length / (totalMs / 1000),
    timesMs: times,
    wire,
  };
}

async function scenarioB(tessera) {
  const data = bigTensor();
  const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const url = `${tessera.base}/v2/models/identity_fp32/infer`;
  const shape = [1, BIG_ELEMENTS];
  const sameShape = (s) => Array.isArray(s) && s.length === 2 && Number(s[0]) === 1 && Number(s[1]) === BIG_ELEMENTS;
  const results = [];

  // (a) binary tensor extension: JSON header + raw bytes each way.
  {
    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'INPUT0', shape, datatype: 'FP32', parameters: { binary_data_size: BIG_BYTES } }],
        parameters: { binary_data_output: true },
      }),
    );
    const body = Buffer.concat([header, raw]);
    results.push(
      await timedSeries(
        'binary HTTP',
        async () => {
          const res = await httpPost(url, { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) }, body);
          const bytes = res.body;
          const headerLength = Number(res.headers['inference-header-content-length']);
          const json = res.status === 200 && headerLength > 0 ? JSON.parse(bytes.subarray(0, headerLength).toString('utf8')) : null;
          return { status: res.status, bytes, headerLength, json };
        },
        ({ status, bytes, headerLength, json }) => {
          const out = json?.outputs?.[0];
          const tensor = bytes.subarray(headerLength);
          if (status !== 200 || !sameShape(out?.shape) || out?.parameters?.binary_data_size !== BIG_BYTES || tensor.length !== BIG_BYTES) {
            throw new Error(`binary HTTP: status ${status}, header ${headerLength} bytes, tensor ${tensor.length} bytes: ${bytes.subarray(0, 300).toString()}`);
          }
          if (!tensor.equals(raw)) throw new Error('binary HTTP: OUTPUT0 differs from INPUT0');
          return { requestBytes: body.length, responseBytes: bytes.length };
        },
      ),
    );
  }

  // (b) gRPC raw contents, grpc-js client with 256 MiB message limits.
  {
    const client = grpcClient(tessera.grpcPort);
    const request = {
      model_name: 'identity_fp32',
      inputs: [{ name: 'INPUT0', datatype: 'FP32', shape }],
      raw_input_contents: [raw],
    };
    // Message sizes on the wire (protobuf, without the 5-byte gRPC frame header), computed untimed.
    const requestBytes = InferRequestType.encode(InferRequestType.fromObject(request)).finish().length;
    let responseBytes = null;
    try {
      results.push(
        await timedSeries(
          'gRPC raw',
          () => modelInfer(client, request, 120_000),
          (response) => {
            const out = response?.outputs?.[0];
            const tensor = response?.raw_output_contents?.[0];
            if (!sameShape(out?.shape) || tensor?.length !== BIG_BYTES) {
              throw new Error(`gRPC: unexpected response: ${describeResponse(response ?? {})}`);
            }
            if (!Buffer.from(tensor).equals(raw)) throw new Error('gRPC: OUTPUT0 differs from INPUT0');
            responseBytes ??= InferResponseType.encode(InferResponseType.fromObject(response)).finish().length;
            return { requestBytes, responseBytes };
          },
        ),
      );
    } finally {
      client.close();
    }
  }

  // (c) JSON: prebuilt body string (built here, so its ~80 MB exist only for this path); timed until the
  // response JSON is parsed. Run last, so its garbage (both sides) cannot slow the other paths.
  {
    const body = `{"inputs":[{"name":"INPUT0","shape":[1,${BIG_ELEMENTS}],"datatype":"FP32","data":${JSON.stringify(Array.from(data))}}]}`;
    const requestBytes = Buffer.byteLength(body);
    process.stdout.write(`JSON HTTP: request body ${(requestBytes / 1e6).toFixed(1)} MB\n`);
    let responseBytes = null;
    results.push(
      await timedSeries(
        'JSON HTTP',
        async () => {
          const res = await httpPost(url, { 'content-type': 'application/json' }, body);
          const text = res.body.toString('utf8');
          responseBytes = res.body.length;
          return { status: res.status, json: res.status === 200 ? JSON.parse(text) : text };
        },
        ({ status, json }) => {
          const out = json?.outputs?.[0];
          if (status !== 200 || !sameShape(out?.shape) || out?.data?.length !== BIG_ELEMENTS) {
            throw new Error(`JSON HTTP: status ${status}, output shape ${JSON.stringify(out?.shape)}: ${String(typeof json === 'string' ? json : '').slice(0, 300)}`);
          }
          return { requestBytes, responseBytes };
        },
      ),
    );
  }

  return results;
}

// ---------------------------------------------------------------------------------------------
// Scenario C: small requests while 16 MiB JSON bodies are decoded

async function scenarioC(tessera) {
  const lua = tmpPath('iris-post.lua');
  writeFileSync(lua, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}'\n`);
  const url = `${tessera.base}/v2/models/iris/infer`;
  await runWrk(url, 1, WARMUP, lua);
  const strip = ({ raw, ...r }) => r;
  const alone = strip(await runWrk(url, 1, DURATION, lua));
  process.stdout.write(`  alone        ${fmt(alone.rps, 0).padStart(6)} req/s  p50 ${fmt(alone.p50, 3)}  p99 ${fmt(alone.p99, 3)} ms\n`);
  const data = bigTensor();
  const body = `{"inputs":[{"name":"INPUT0","shape":[1,${BIG_ELEMENTS}],"datatype":"FP32","data":${JSON.stringify(Array.from(data))}}]}`;
  const bigUrl = `${tessera.base}/v2/models/identity_fp32/infer`;
  let stop = false;
  const times = [];
  const sender = (async () => {
    while (!stop) {
      const t0 = performance.now();
      const res = await httpPost(bigUrl, { 'content-type': 'application/json' }, body);
      if (res.status !== 200) throw new Error(`16 MiB JSON request answered ${res.status}: ${res.body.subarray(0, 300).toString()}`);
      times.push(performance.now() - t0);
    }
  })();
  // The first big request is under way before the measurement starts.
  await new Promise((r) => setTimeout(r, 500));
  const during = strip(await runWrk(url, 1, DURATION, lua));
  stop = true;
  await sender;
  process.stdout.write(`  during 16 MiB JSON (${times.length} sent) ${fmt(during.rps, 0).padStart(6)} req/s  p50 ${fmt(during.p50, 3)}  p99 ${fmt(during.p99, 3)} ms\n`);
  return { alone, during, bigRequests: times.length, bigMeanMs: times.reduce((a, b) => a + b, 0) / Math.max(1, times.length) };
}

// ---------------------------------------------------------------------------------------------
// Reporting

/** Over rounds: mean req/s; percentiles over all logged request durations of all rounds. */
function summarise(runs) {
  const all = runs.flatMap((r) => r.durationsMs).sort((a, b) => a - b);
  return {
    ...rpsSummary(runs),
    p50: percentile(all, 50),
    p90: percentile(all, 90),
    p99: percentile(all, 99),
    requests: all.length,
    problems: runs.reduce((a, r) => a + r.failed + r.errored + r.timeout + r.non2xx + r.loggedOther, 0),
  };
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  requireTool('h2load', 'nghttp2-client', () => Boolean(h2loadVersion()));
  requireTool('wrk', 'wrk', hasWrk);
  const started = new Date();
  const machine = { ...machineInfo(), h2load: h2loadVersion() };
  const commit = gitCommit(['src', 'bin', 'settings', 'proto']);
  const loadSeconds = DURATION * STREAMS.length * 2 * ROUNDS + WARMUP * 2 * STREAMS.length + DURATION * 2 * ROUNDS + DURATION * 2 + WARMUP;
  process.stdout.write(
    `Tessera gRPC benchmark (${QUICK ? 'quick' : 'full'}): ${DURATION}s per h2load run, ${ROUNDS} round(s), ` +
      `streams ${STREAMS.join(',')}; ${BIG_REQUESTS} × 16 MiB per path; about ${Math.ceil((loadSeconds + 60) / 60)} min.\n` +
      `Machine: ${machine.cores} cores, ${machine.cpu}, Node ${machine.node}; ${machine.h2load}; commit ${commit ?? 'unknown'}\n\n`,
  );

  const hardLimit = startHardLimit((loadSeconds * 2 + 600 + BIG_REQUESTS * 3 * 60) * 1000);

  // The iris request, encoded once and framed, shared by curl and h2load.
  const irisMessage = irisRequestBytes();
  const framePath = tmpPath('iris.frame');
  writeFileSync(framePath, grpcFrame(irisMessage));

  process.stdout.write(`starting tessera w=${WORKERS} ... `);
  const tessera = await startTessera();
  process.stdout.write(`ready (http ${tessera.httpPort}, grpc ${tessera.grpcPort})\n`);
  process.stdout.write('starting bare grpc-js ... ');
  const bare = await startBareGrpc();
  process.stdout.write(`ready (grpc ${bare.grpcPort})\n`);
  const targets = [tessera, bare];

  // ---- Scenario A
  const checks = {};
  for (const t of targets) {
    const check = await verifyGrpcCall(t, framePath);
    checkIrisResponse(t.label, check.response);
    checks[t.key] = { method: check.method, grpcStatus: check.grpcStatus, response: check.summary };
    process.stdout.write(`check ${t.label}: grpc-status 0 via ${check.method}; ${check.summary}\n`);
  }
  for (const t of targets) {
    process.stdout.write(`warm-up ${t.label} (${WARMUP}s, 16 streams)\n`);
    await runH2load(t, framePath, 16, WARMUP);
  }
  // runs[streams][key] = [result, ...]
  const runs = await measureRounds(STREAMS, targets, ROUNDS, async (t, c, round) => {
    const r = await runH2load(t, framePath, c, DURATION);
    const bad = r.failed + r.errored + r.timeout + r.non2xx;
    process.stdout.write(
      `  streams=${String(c).padStart(2)} round ${round + 1} ${t.label.padEnd(12)} ${fmt(r.rps, 0).padStart(6)} req/s` +
        `  p50 ${fmt(r.p50, 3)}  p90 ${fmt(r.p90, 3)}  p99 ${fmt(r.p99, 3)} ms` +
        (bad ? `  ⚠ failed ${r.failed} errored ${r.errored} timeout ${r.timeout} non-2xx ${r.non2xx}` : '') +
        '\n',
    );
    return r;
  });
  assertAlive(targets);

  // ---- Scenario A2: identity at 1 stream
  const identityMessage = identityRequestBytes();
  const identityFrame = tmpPath('identity.frame');
  writeFileSync(identityFrame, grpcFrame(identityMessage));
  const identityCheck = await verifyGrpcCall(tessera, identityFrame);
  if (identityCheck.response.model_name !== 'identity_fp32' || identityCheck.response.raw_output_contents?.[0]?.length !== 16) {
    throw new Error(`identity_fp32: unexpected response: ${identityCheck.summary}`);
  }
  process.stdout.write(`\nScenario A2: identity_fp32 at 1 stream (check: ${identityCheck.summary})\n`);
  const identityRuns = { tessera: [], bare: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
      const frame = t.key === 'tessera' ? identityFrame : framePath; // the bare server answers any frame alike
      const r = await runH2load(t, frame, 1, DURATION);
      identityRuns[t.key].push(r);
      process.stdout.write(`  identity 1 stream round ${round + 1} ${t.label.padEnd(12)} ${fmt(r.rps, 0).padStart(6)} req/s  p50 ${fmt(r.p50, 3)}  p99 ${fmt(r.p99, 3)} ms\n`);
    }
  }
  assertAlive(targets);
  await stopChild(bare.child);
  const identity = { tessera: summarise(identityRuns.tessera), bare: summarise(identityRuns.bare) };

  // ---- Scenario C: small requests while 16 MiB JSON requests run
  process.stdout.write(`\nScenario C: REST iris at 1 connection, alone and while 16 MiB JSON requests run\n`);
  const tail = await scenarioC(tessera);
  assertAlive([tessera], 'scenario C');

  // ---- Scenario B
  process.stdout.write(`\nScenario B: 16 MiB FP32 identity tensor, ${BIG_WARMUP} warm-up + ${BIG_REQUESTS} sequential requests per path\n`);
  const big = await scenarioB(tessera);
  assertAlive([tessera], 'scenario B');
  httpAgent.destroy();
  await cleanup();

  // ---- Tables
  const scenarioA = STREAMS.map((c) => ({
    streams: c,
    results: Object.fromEntries(targets.map((t) => [t.key, summarise(runs[c][t.key])])),
  }));
  const aLines = [
    '| streams | target | req/s | p50 ms | p90 ms | p99 ms | req/s tessera/bare |',
    '|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const { streams, results } of scenarioA) {
    for (const t of targets) {
      const s = results[t.key];
      const ratio = t.key === 'tessera' ? fmt(s.rps / results.bare.rps) : '';
      const warn = s.problems ? ` ⚠ ${s.problems} failed/non-200` : '';
      aLines.push(`| ${streams} | ${t.label}${warn} | ${fmt(s.rps, 0)} | ${fmt(s.p50, 3)} | ${fmt(s.p90, 3)} | ${fmt(s.p99, 3)} | ${ratio} |`);
    }
  }
  const a2Lines = [
    '| target | req/s | p50 ms | p90 ms | p99 ms | req/s tessera/bare |',
    '|---|---:|---:|---:|---:|---:|',
    `| tessera identity_fp32 | ${fmt(identity.tessera.rps, 0)} | ${fmt(identity.tessera.p50, 3)} | ${fmt(identity.tessera.p90, 3)} | ${fmt(identity.tessera.p99, 3)} | ${fmt(identity.tessera.rps / identity.bare.rps)} |`,
    `| bare grpc-js | ${fmt(identity.bare.rps, 0)} | ${fmt(identity.bare.p50, 3)} | ${fmt(identity.bare.p90, 3)} | ${fmt(identity.bare.p99, 3)} | |`,
  ];
  const cLines = [
    '| small requests (REST iris, wrk -c1) | req/s | p50 ms | p90 ms | p99 ms |',
    '|---|---:|---:|---:|---:|',
    `| alone | ${fmt(tail.alone.rps, 0)} | ${fmt(tail.alone.p50, 3)} | ${fmt(tail.alone.p90, 3)} | ${fmt(tail.alone.p99, 3)} |`,
    `| while ${tail.bigRequests} × 16 MiB JSON requests ran (${fmt(tail.bigMeanMs, 0)} ms each) | ${fmt(tail.during.rps, 0)} | ${fmt(tail.during.p50, 3)} | ${fmt(tail.during.p90, 3)} | ${fmt(tail.during.p99, 3)} |`,
  ];
  const bLines = [
    '| path | requests | mean ms/request | min ms | max ms | MiB/s | request body | response body |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...big.map((r) => {
      const size = (n) => (n == null ? '—' : `${(n / 1e6).toFixed(1)} MB`);
      return `| ${r.label} | ${r.requests} | ${fmt(r.meanMs, 1)} | ${fmt(r.minMs, 1)} | ${fmt(r.maxMs, 1)} | ${fmt(r.mibPerSecond, 1)} | ${size(r.wire?.requestBytes)} | ${size(r.wire?.responseBytes)} |`;
    }),
  ];

  const md = printReport([
    `# Tessera gRPC benchmark — ${started.toISOString()}${QUICK ? ' (quick)' : ''}`,
    '',
    ...machineMarkdown(machine, machine.h2load, commit),
    `- Tessera: \`bin/tessera.mjs start --workers 2 --http-max-input-size ${HTTP_MAX_INPUT}\` (larger body limit for the ~80 MB JSON body of scenario B). All on ${HOST}.`,
    '',
    '## A. gRPC ModelInfer, iris (raw_input_contents, 1×4 FP32)',
    '',
    `- Load: \`h2load -c C -m 1 -t 1 -D ${DURATION}\` — C connections with one stream each (C concurrent streams), ` +
      `a pre-encoded gRPC frame of ${irisMessage.length + 5} bytes POSTed to \`${GRPC_METHOD}\`; ${WARMUP}s warm-up per target; ` +
      `${ROUNDS} round(s) per cell, order alternated each round. req/s is the mean over rounds; percentiles are over every ` +
      'HTTP-200 request of all rounds (h2load --log-file durations).',
    `- h2load sees only HTTP 200, not grpc-status; one call per target was checked first: ` +
      targets.map((t) => `${t.label}: grpc-status 0 via ${checks[t.key].method} (${checks[t.key].response})`).join('; ') + '.',
    '- bare grpc-js (`benchmarks/bare-grpc.mjs`): proto-loader deserializes the request, fixed iris-shaped reply; the ceiling for this stack.',
    '',
    ...aLines,
    '',
    '## A2. gRPC ModelInfer at 1 stream, identity_fp32 (raw_input_contents, 1×4 FP32)',
    '',
    `- \`h2load -c 1 -m 1 -D ${DURATION}\`, ${ROUNDS} round(s) alternated; the bare server answers its fixed reply.` +
      ' The issue compares this with MLServer with workers=0, which cannot be installed on this machine (no PyPI; Debian has no pydantic v2): Tessera\'s figure and its ratio to bare grpc-js instead.',
    '',
    ...a2Lines,
    '',
    '## C. Small requests while 16 MiB JSON requests run',
    '',
    `- \`wrk -t1 -c1 -d${DURATION}s --latency\` on REST iris, alone, then while one client in the benchmark process sends 16 MiB FP32 tensors as JSON` +
      ` (~80 MB bodies, prebuilt) to identity_fp32 back to back (responses read, not parsed). JSON parts of ${'512 KiB'} or more are decoded off the main thread.`,
    '',
    ...cLines,
    '',
    '## B. One 16 MiB FP32 tensor through identity_fp32 (4,194,304 values)',
    '',
    `- ${BIG_WARMUP} warm-up + ${BIG_REQUESTS} requests per path, sequential, from one client in the benchmark process ` +
      '(client encode/decode cost is part of the time). MiB/s = 16 MiB × requests / summed request time. ' +
      'Order: binary, gRPC, JSON. HTTP client: node:http, one keep-alive connection. Binary: binary tensor extension both ways, timed to the split response. ' +
      'JSON: prebuilt body string (float32 values written as JSON doubles), timed to the parsed response. ' +
      `gRPC: grpc-js client, raw_input_contents/raw_output_contents, message limits ${GRPC_CLIENT_MAX / MIB} MiB. ` +
      'Binary and gRPC outputs are compared byte for byte with the input (outside the timing); JSON is checked for status 200 and output shape.',
    '',
    ...bLines,
    '',
  ]);

  const json = {
    ...runMeta(started, QUICK),
    machine,
    commit,
    scenarioA: {
      model: 'iris',
      frameBytes: irisMessage.length + 5,
      durationSeconds: DURATION,
      rounds: ROUNDS,
      warmupSeconds: WARMUP,
      streamsNote: 'h2load -c C -m 1: C connections, one stream each',
      checks,
      results: scenarioA.map(({ streams, results }) => ({
        streams,
        ratioRps: results.tessera.rps / results.bare.rps,
        ...Object.fromEntries(
          targets.map((t) => [
            t.key,
            { ...results[t.key], runs: runs[streams][t.key].map(({ durationsMs, ...r }) => r) },
          ]),
        ),
      })),
    },
    scenarioA2: {
      model: 'identity_fp32',
      streams: 1,
      tessera: { ...identity.tessera },
      bare: { ...identity.bare },
      ratioRps: identity.tessera.rps / identity.bare.rps,
      mlserver: 'not measured: MLServer cannot be installed on this machine (no PyPI; Debian has no pydantic v2)',
    },
    scenarioC: tail,
    scenarioB: {
      model: 'identity_fp32',
      tensorBytes: BIG_BYTES,
      elements: BIG_ELEMENTS,
      warmup: BIG_WARMUP,
      requests: BIG_REQUESTS,
      note: 'one client in the benchmark process, sequential requests; MiB/s = 16 MiB * N / summed request seconds',
      results: big,
    },
  };
  writeResults('grpc-', started, md, json);
  clearTimeout(hardLimit);
}

runMain(main);
