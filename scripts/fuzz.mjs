#!/usr/bin/env node
// Fuzzes a running Tessera with mutated inference requests over its three inference surfaces:
// HTTP JSON, HTTP with Triton's binary tensor extension, and gRPC ModelInfer. Requests are made
// from valid ones for the bundled small models, then mutated (fields, shapes, datatypes, data,
// headers, framing, raw bytes), deterministically from a seed: request i of seed S is always the
// same, so a failure is reproduced with `--seed S --only i`.
//
// Every answer is checked for the surface's shape: HTTP 200 carries a V2 response, any other
// status exactly {"error": "<message>"}, and never a 500 (an input must not cause an internal
// error); gRPC answers OK or a catalogued status with a message, never INTERNAL or UNKNOWN. The
// server must stay live throughout, and its memory bounded.
//
//   node scripts/fuzz.mjs [--seed N] [--count 100000] [--seconds 300] [--concurrency 16] [--only i]
//
// Without --url it starts its own server (the bundled models but mlp, on 127.0.0.1) and stops it
// after. Prints the seed, the counts per surface and outcome, and the server's RSS; exits 1 on any
// failure. The test suite runs a short version (test/hardening/fuzz.test.ts) through runFuzz().
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { procRss, startBundledServer } from './server-process.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Deterministic randomness: one generator per request, from (seed, index).

function mulberry32(a) {
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function rngFor(seed, index) {
  const r = mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const rng = {
    next: r,
    int: (n) => Math.floor(r() * n),
    pick: (list) => list[Math.floor(r() * list.length)],
    chance: (p) => r() < p,
  };
  return rng;
}

// ---------------------------------------------------------------------------------------------
// Valid requests for the fuzzed models, and their mutations.

const MODELS = [
  { name: 'iris', input: 'input', datatype: 'FP32', width: 4 },
  { name: 'wine', input: 'input', datatype: 'FP32', width: 13 },
  { name: 'identity_fp32', input: 'INPUT0', datatype: 'FP32', width: 3 },
  { name: 'identity_int64', input: 'INPUT0', datatype: 'INT64', width: 3 },
  { name: 'identity_bool', input: 'INPUT0', datatype: 'BOOL', width: 3 },
  { name: 'identity_bytes', input: 'INPUT0', datatype: 'BYTES', width: 2 },
  { name: 'add_sub', inputs: ['INPUT0', 'INPUT1'], datatype: 'FP32', width: 16 },
];
export const FUZZ_MODELS = [...new Set(MODELS.map((m) => m.name))];

const DATATYPES = ['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP16', 'FP32', 'FP64', 'BF16', 'BYTES'];
const WEIRD_NUMBERS = [0, -0, 1, -1, 0.5, 1e39, -1e39, 1e308, 2 ** 53, 2 ** 63, -(2 ** 63), 2 ** 64, 4294967296, 1e9, NaN, 255, 256, -129, 127];
const WEIRD_STRINGS = ['', 'a', 'NaN', 'Infinity', '-Infinity', '\u0000', '\ud800', '💥', 'x'.repeat(1000), '{"a":1}', '[1,2]', '1e400'];
const WEIRD_DIMS = [0, 1, 2, 3, 4, -1, -5, 1.5, 1e9, 2 ** 32, 2 ** 53, 2 ** 60, '2', null, true];

/** A valid request (as a plain object) for a random fuzzed model. */
function validRequest(rng) {
  const model = rng.pick(MODELS);
  const rows = 1 + rng.int(4);
  const names = model.inputs ?? [model.input];
  const inputs = names.map((name) => ({
    name,
    shape: [rows, model.width],
    datatype: model.datatype,
    data: Array.from({ length: rows * model.width }, () => plain(rng, model.datatype)), // valid values; mutations add weird ones
  }));
  const body = { inputs };
  if (rng.chance(0.3)) body.id = `req-${rng.int(1e6)}`;
  if (rng.chance(0.2)) body.parameters = { custom: rng.int(10), priority: rng.pick([0, 1, 2]) };
  if (rng.chance(0.2)) body.outputs = [{ name: rng.pick(['OUTPUT0', 'label', 'probabilities', 'predictions', 'OUTPUT1']) }];
  return { model: model.name, body };
}

function plain(rng, datatype) {
  switch (datatype) {
    case 'BYTES':
      return `w${rng.int(1000)}`;
    case 'BOOL':
      return rng.chance(0.5);
    case 'INT64':
      return rng.int(2000) - 1000;
    default:
      return Math.round(rng.next() * 1000) / 100;
  }
}

function nest(rng, depth) {
  let v = [rng.int(5)];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Structural mutations of the request object (1 to 3 of them). */
const OBJECT_MUTATIONS = [
  (rng, r) => (r.body.inputs[0].shape = Array.from({ length: rng.int(4) }, () => rng.pick(WEIRD_DIMS))),
  (rng, r) => (r.body.inputs[0].shape[rng.int(r.body.inputs[0].shape.length || 1)] = rng.pick(WEIRD_DIMS)),
  (rng, r) => (r.body.inputs[0].datatype = rng.chance(0.8) ? rng.pick(DATATYPES) : rng.pick(['fp32', 'STRING', '', 7, null])),
  (rng, r) => (r.body.inputs[0].data = rng.chance(0.5) ? [] : rng.pick([null, 5, 'abc', {}, true])),
  (rng, r) => {
    const d = r.body.inputs[0].data;
    if (Array.isArray(d) && d.length > 0) d[rng.int(d.length)] = rng.chance(0.5) ? rng.pick(WEIRD_NUMBERS) : rng.pick(WEIRD_STRINGS);
  },
  (rng, r) => {
    // ragged or re-nested data
    const d = r.body.inputs[0].data;
    if (Array.isArray(d) && d.length >= 2) r.body.inputs[0].data = [d.slice(0, 1 + rng.int(d.length - 1)), d.slice(1)];
  },
  (rng, r) => (r.body.inputs[0].data = nest(rng, rng.pick([2, 50, 99, 100, 101, 150]))),
  (rng, r) => (r.body.inputs[0].name = rng.pick(['', 'nope', 'INPUT0', 'input', 'x'.repeat(300)])),
  (rng, r) => r.body.inputs.push(JSON.parse(JSON.stringify(r.body.inputs[0]))),
  (rng, r) => (r.body.inputs = rng.pick([[], null, {}, 'inputs'])),
  (rng, r) => delete r.body.inputs[0][rng.pick(['name', 'shape', 'datatype', 'data'])],
  (rng, r) => (r.body.inputs[0].parameters = rng.pick([{ binary_data_size: rng.pick([-1, 0, 4, 1e12, 'x']) }, { content_type: 'np' }, 'p', null])),
  (rng, r) => (r.body.parameters = rng.pick([{ timeout: rng.pick([0, 1, -1, 1e20, 'x']) }, { priority: rng.pick([0, 1, 2, 3, 99, -1]) }, { binary_data_output: rng.pick([true, 'yes']) }, [], 'p'])),
  (rng, r) => (r.body.outputs = rng.pick([[{ name: 'nope' }], [{}], 'o', [{ name: 'OUTPUT0', parameters: { binary_data: true } }]])),
  (rng, r) => (r.body.id = rng.pick([5, null, '', 'x'.repeat(10000), {}])),
  (rng, r) => (r.body[rng.pick(['extra', '__proto__', 'constructor'])] = { polluted: true }),
  (rng, r) => (r.model = rng.pick(['nope', '', '..', 'iris%00', 'a'.repeat(150), ...FUZZ_MODELS])),
];

/** Text mutations of a serialized body. */
const TEXT_MUTATIONS = [
  (rng, b) => b.subarray(0, rng.int(b.length)),
  (rng, b) => {
    const c = Buffer.from(b);
    if (c.length > 0) c[rng.int(c.length)] = rng.int(256);
    return c;
  },
  (rng, b) => {
    const at = rng.int(b.length + 1);
    return Buffer.concat([b.subarray(0, at), Buffer.from(rng.pick(['{', '[', ']', '}', '"', ',', '\\', ':', '\u0000', '\xff', '1e400', '99999999999999999999'])), b.subarray(at)]);
  },
  (rng, b) => Buffer.concat([b, b.subarray(0, rng.int(b.length))]),
  (rng, b) => Buffer.from(Array.from({ length: rng.int(64) }, () => rng.int(256))),
  (rng, b) => Buffer.concat([b.subarray(0, rng.int(b.length)), Buffer.from([0xc3, 0x28, 0xff, 0xfe])]),
  (rng) => Buffer.from('['.repeat(1000 + rng.int(100000))),
];

function mutateObject(rng, r) {
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    try {
      rng.pick(OBJECT_MUTATIONS)(rng, r);
    } catch {
      // a mutation that no longer applies (inputs already replaced): skip it
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Surfaces: HTTP JSON, HTTP binary, gRPC. Each returns an outcome ('ok' or a failure string).

function httpRequest(agent, url, method, headers, body) {
  return new Promise((resolve) => {
    const req = request(url, { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (e) => resolve({ error: e.code ?? e.message }));
    });
    req.on('error', (e) => resolve({ error: e.code ?? e.message }));
    req.end(body);
  });
}

/** Checks an HTTP answer's shape; returns '' when it is right, else what is wrong. */
function checkHttp(res) {
  if (res.error !== undefined) return `transport error ${res.error}`;
  if (res.status >= 500 && res.status !== 503 && res.status !== 504) return `status ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`;
  let jsonPart = res.body;
  const headerLength = res.headers['inference-header-content-length'];
  if (res.status === 200 && headerLength !== undefined) jsonPart = res.body.subarray(0, Number(headerLength));
  let json;
  try {
    json = JSON.parse(jsonPart.toString('utf8'));
  } catch {
    return `status ${res.status}: body is not JSON: ${res.body.toString('utf8').slice(0, 100)}`;
  }
  if (res.status === 200) {
    if (typeof json?.model_name !== 'string' || !Array.isArray(json.outputs)) return `200 without a V2 response: ${jsonPart.toString('utf8').slice(0, 200)}`;
    return '';
  }
  const keys = json !== null && typeof json === 'object' ? Object.keys(json) : [];
  if (keys.length !== 1 || keys[0] !== 'error' || typeof json.error !== 'string' || json.error === '') {
    return `status ${res.status} not in the {"error"} shape: ${res.body.toString('utf8').slice(0, 200)}`;
  }
  return '';
}

export function httpJsonCase(rng) {
  const r = validRequest(rng);
  if (rng.chance(0.85)) mutateObject(rng, r);
  let body = Buffer.from(JSON.stringify(r.body));
  if (rng.chance(0.25)) body = rng.pick(TEXT_MUTATIONS)(rng, body);
  const headers = {};
  const type = rng.pick(['application/json', 'application/json', undefined, 'application/octet-stream', 'text/plain', 'application/x-www-form-urlencoded']);
  if (type !== undefined) headers['content-type'] = type;
  if (rng.chance(0.1)) {
    body = rng.chance(0.8) ? gzipSync(body) : Buffer.from(body).subarray(0, 10);
    headers['content-encoding'] = rng.pick(['gzip', 'deflate', 'br', 'gzip']);
  }
  if (rng.chance(0.1)) headers['x-request-timeout'] = rng.pick(['1', '0.001', '5s', '100ms', 'soon', '-1', '1e9']);
  if (rng.chance(0.05)) headers['inference-header-content-length'] = rng.pick(['0', String(body.length), String(body.length + 5), 'x']);
  const version = rng.chance(0.1) ? `/versions/${rng.pick(['1', '2', 'x', ''])}` : '';
  return { path: `/v2/models/${encodeURIComponent(r.model)}${version}/infer`, headers, body };
}

function rawFor(rng, datatype, wanted) {
  const count = Number.isFinite(wanted) ? Math.max(0, Math.min(4096, Math.floor(wanted))) : 1; // a huge shape gets a little data
  if (datatype === 'BYTES') {
    const parts = [];
    for (let i = 0; i < count; i++) {
      const s = Buffer.from(`b${rng.int(100)}`);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(rng.chance(0.95) ? s.length : rng.pick([0, 99, 2 ** 31, 2 ** 32 - 1]));
      parts.push(len, s);
    }
    return Buffer.concat(parts);
  }
  const size = { BOOL: 1, UINT8: 1, INT8: 1, UINT16: 2, INT16: 2, FP16: 2, BF16: 2, UINT32: 4, INT32: 4, FP32: 4, UINT64: 8, INT64: 8, FP64: 8 }[datatype] ?? 4;
  const b = Buffer.alloc(count * size);
  for (let i = 0; i < b.length; i++) b[i] = datatype === 'BOOL' ? rng.int(2) : rng.int(256);
  return b;
}

export function httpBinaryCase(rng) {
  const r = validRequest(rng);
  const blocks = [];
  for (const input of r.body.inputs) {
    const count = input.shape.reduce((a, d) => a * d, 1);
    const raw = rawFor(rng, input.datatype, count);
    delete input.data;
    input.parameters = { binary_data_size: raw.length };
    blocks.push(raw);
  }
  if (rng.chance(0.5)) r.body.parameters = { ...r.body.parameters, binary_data_output: rng.chance(0.8) };
  if (rng.chance(0.8)) mutateObject(rng, r);
  let binary = Buffer.concat(blocks);
  if (rng.chance(0.3)) binary = rng.pick(TEXT_MUTATIONS)(rng, binary);
  const header = Buffer.from(JSON.stringify(r.body));
  let headerLength = String(header.length);
  if (rng.chance(0.15)) headerLength = rng.pick(['0', '-1', 'abc', String(header.length + binary.length + 1), String(header.length - 1), ' 12 ']);
  const body = rng.chance(0.1) ? binary : Buffer.concat([header, binary]); // sometimes a raw single-input body
  return {
    path: `/v2/models/${encodeURIComponent(r.model)}/infer`,
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': rng.chance(0.1) ? '0' : headerLength },
    body,
  };
}

const CONTENT_FIELD = { BOOL: 'bool_contents', INT8: 'int_contents', INT16: 'int_contents', INT32: 'int_contents', INT64: 'int64_contents', UINT8: 'uint_contents', UINT16: 'uint_contents', UINT32: 'uint_contents', UINT64: 'uint64_contents', FP32: 'fp32_contents', FP64: 'fp64_contents', BYTES: 'bytes_contents' };

export function grpcCase(rng) {
  const r = validRequest(rng);
  if (rng.chance(0.85)) mutateObject(rng, r);
  const useRaw = rng.chance(0.4);
  const inputs = Array.isArray(r.body.inputs) ? r.body.inputs.filter((i) => i !== null && typeof i === 'object') : [];
  const raw = [];
  const message = {
    model_name: typeof r.model === 'string' ? r.model : '',
    model_version: rng.chance(0.1) ? rng.pick(['1', '2', 'x']) : '',
    id: typeof r.body.id === 'string' ? r.body.id.slice(0, 100) : '',
    inputs: inputs.map((input) => {
      const datatype = typeof input.datatype === 'string' ? input.datatype : '';
      const shape = (Array.isArray(input.shape) ? input.shape : []).map((d) => (typeof d === 'number' && Number.isFinite(d) ? Math.max(0, Math.min(2 ** 62, Math.floor(Math.abs(d)))) : 1)).map(String);
      const out = { name: typeof input.name === 'string' ? input.name : '', datatype, shape };
      const count = shape.reduce((a, d) => a * Number(d), 1);
      if (useRaw) {
        raw.push(rawFor(rng, datatype, Math.min(count, 4096) + (rng.chance(0.1) ? rng.int(3) - 1 : 0)));
      } else {
        const field = rng.chance(0.9) ? CONTENT_FIELD[datatype] ?? 'fp32_contents' : rng.pick(Object.values(CONTENT_FIELD));
        const data = Array.isArray(input.data) ? input.data.flat(200) : [];
        const values = data.slice(0, 4096).map((v) => {
          if (field === 'bytes_contents') return Buffer.from(String(v));
          if (field === 'bool_contents') return Boolean(v);
          if (field === 'int64_contents' || field === 'uint64_contents') return String(typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0);
          const n = Number(v);
          return Number.isFinite(n) ? (field === 'uint_contents' ? Math.abs(Math.trunc(n)) % 2 ** 32 : field === 'int_contents' ? Math.trunc(n) | 0 : n) : 0;
        });
        out.contents = { [field]: values };
      }
      return out;
    }),
    outputs: Array.isArray(r.body.outputs) ? r.body.outputs.filter((o) => typeof o?.name === 'string').map((o) => ({ name: o.name })) : [],
    raw_input_contents: raw,
  };
  if (rng.chance(0.2)) {
    message.parameters = {
      [rng.pick(['priority', 'timeout', 'custom', 'binary_data_output'])]: rng.pick([{ int64_param: String(rng.int(5)) }, { bool_param: true }, { string_param: 'x' }, { double_param: 1.5 }, { uint64_param: '18446744073709551615' }]),
    };
  }
  if (useRaw && rng.chance(0.1)) message.raw_input_contents.push(Buffer.alloc(rng.int(16)));
  return { message, deadlineMs: rng.chance(0.1) ? rng.pick([1, 10, 100]) : 10_000 };
}

/** gRPC codes an input may cause; INTERNAL and UNKNOWN never. */
const GRPC_EXPECTED = new Set([
  grpc.status.OK,
  grpc.status.INVALID_ARGUMENT,
  grpc.status.NOT_FOUND,
  grpc.status.UNAVAILABLE,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.CANCELLED,
]);

function grpcClient(address) {
  const definition = protoLoader.loadSync(['grpc_service.proto'], {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [join(ROOT, 'proto')],
  });
  const proto = grpc.loadPackageDefinition(definition);
  return new proto.inference.GRPCInferenceService(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
    'grpc.max_send_message_length': 256 * 1024 * 1024,
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * Runs the fuzz against a server: `url` (HTTP base) and `grpcAddress` (host:port). Stops after
 * `count` requests or `seconds`. `rss()`, if given, reads the server's resident memory in bytes.
 * Resolves with the counts, the failures (first 20) and RSS figures.
 */
export async function runFuzz({ url, grpcAddress, seed, count = 100_000, seconds = 300, concurrency = 16, rss, only, onProgress }) {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const client = grpcClient(grpcAddress);
  const counts = { http_json: 0, http_binary: 0, grpc: 0 };
  const outcomes = {};
  const failures = [];
  let failed = 0;
  const rssSamples = [];
  const sampleRss = async () => {
    if (rss !== undefined) rssSamples.push(await rss());
  };
  await sampleRss();
  const stopAt = performance.now() + seconds * 1000;
  let next = only ?? 0;
  const last = only !== undefined ? only + 1 : count;

  const one = async (index) => {
    const rng = rngFor(seed, index);
    const surface = rng.pick(['http_json', 'http_json', 'http_binary', 'grpc', 'grpc']);
    counts[surface]++;
    let problem = '';
    let outcome;
    if (surface === 'grpc') {
      const { message, deadlineMs } = grpcCase(rng);
      const code = await new Promise((resolve) =>
        client.ModelInfer(message, { deadline: Date.now() + deadlineMs }, (e) => {
          if (e === null) resolve(grpc.status.OK);
          else {
            if (!GRPC_EXPECTED.has(e.code)) problem = `gRPC ${grpc.status[e.code] ?? e.code}: ${e.details}`;
            else if (e.code !== grpc.status.CANCELLED && (typeof e.details !== 'string' || e.details === '')) problem = `gRPC ${grpc.status[e.code]} without a message`;
            resolve(e.code);
          }
        }),
      );
      outcome = `grpc ${grpc.status[code] ?? code}`;
    } else {
      const c = surface === 'http_json' ? httpJsonCase(rng) : httpBinaryCase(rng);
      const res = await httpRequest(agent, `${url}${c.path}`, 'POST', c.headers, c.body);
      problem = checkHttp(res);
      outcome = `${surface} ${res.status ?? res.error}`;
    }
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (problem !== '') {
      failed++;
      if (failures.length < 20) failures.push({ index, surface, problem });
    }
  };

  let done = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < last && performance.now() < stopAt) {
      const index = next++;
      await one(index);
      done++;
      if (done % 2000 === 0) {
        // The server must stay live (a crash or a stall fails the run at once).
        const live = await httpRequest(agent, `${url}/v2/health/live`, 'GET', {}, undefined);
        if (live.status !== 200) {
          failed++;
          failures.push({ index, surface: 'health', problem: `liveness: ${live.status ?? live.error}` });
          next = last;
        }
        await sampleRss();
        onProgress?.(done);
      }
    }
  });
  await Promise.all(workers);
  const live = await httpRequest(agent, `${url}/v2/health/live`, 'GET', {}, undefined);
  if (live.status !== 200) {
    failed++;
    failures.push({ index: -1, surface: 'health', problem: `liveness after the run: ${live.status ?? live.error}` });
  }
  await sampleRss();
  agent.destroy();
  client.close();
  return {
    seed,
    requests: done,
    counts,
    outcomes,
    failed,
    failures,
    rss: rssSamples.length === 0 ? undefined : { start: rssSamples[0], max: Math.max(...rssSamples), end: rssSamples[rssSamples.length - 1] },
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      count: { type: 'string', default: '100000' },
      seconds: { type: 'string', default: '300' },
      concurrency: { type: 'string', default: '16' },
      only: { type: 'string' },
      url: { type: 'string' },
      grpc: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write('node scripts/fuzz.mjs [--seed N] [--count 100000] [--seconds 300] [--concurrency 16] [--only INDEX] [--url http://host:port --grpc host:port]\n');
    return 0;
  }
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  process.stdout.write(`fuzz: seed ${seed}\n`);
  const server = values.url !== undefined ? { url: values.url, grpcAddress: values.grpc, stop: async () => ({ code: 0 }), exited: new Promise(() => {}) } : await startBundledServer(FUZZ_MODELS, 'tessera-fuzz-');
  let crashed = false;
  void server.exited.then(() => (crashed = true));
  const started = performance.now();
  const result = await runFuzz({
    url: server.url,
    grpcAddress: server.grpcAddress,
    seed,
    count: Number(values.count),
    seconds: Number(values.seconds),
    concurrency: Number(values.concurrency),
    only: values.only !== undefined ? Number(values.only) : undefined,
    rss: server.pid !== undefined ? () => procRss(server.pid) : undefined,
    onProgress: (n) => process.stderr.write(`\r${n} requests`),
  }).catch(async (error) => {
    if (!crashed) await server.stop(); // never leave the server behind
    throw error;
  });
  process.stderr.write('\n');
  const crashedDuringRun = crashed;
  const stopped = crashedDuringRun ? { code: 'crashed' } : await server.stop();
  const seconds = (performance.now() - started) / 1000;
  const mb = (b) => (b === undefined ? '?' : `${(b / 1024 / 1024).toFixed(0)} MiB`);
  process.stdout.write(`fuzz: seed ${seed}: ${result.requests} requests in ${seconds.toFixed(0)} s (${JSON.stringify(result.counts)})\n`);
  process.stdout.write(`fuzz: outcomes ${JSON.stringify(Object.fromEntries(Object.entries(result.outcomes).sort()))}\n`);
  if (result.rss) process.stdout.write(`fuzz: server RSS start ${mb(result.rss.start)}, max ${mb(result.rss.max)}, end ${mb(result.rss.end)}\n`);
  process.stdout.write(`fuzz: server ${crashedDuringRun ? 'CRASHED' : `stopped with exit code ${stopped.code}`}\n`);
  process.stdout.write(`fuzz: ${result.failed} failures\n`);
  for (const f of result.failures) process.stdout.write(`  #${f.index} (${f.surface}): ${f.problem}  [--seed ${seed} --only ${f.index}]\n`);
  return result.failed === 0 && !crashedDuringRun && stopped.code === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main();
}
