#!/usr/bin/env node
// Where a request's time and memory go, for the targets the harness misses: the compiled server
// under wrk (REST iris) or h2load (gRPC iris), with
//   - a CPU profile of its main thread (the inspector's sampling profiler, 100 µs, after a warm-up),
//     summed per function and per module and given in µs of main-thread time per request (idle
//     time left out), beside the CPU time the thread really used per request (/proc);
//   - an allocation profile (V8's sampling heap profiler, counting objects already collected too),
//     in bytes allocated per request, by function.
// The server runs inside this process (dist/server.js, the compiled code), the load comes from the
// outside as in the harness.
//
//   node benchmarks/profile.mjs [--what rest|grpc] [--connections 16] [--seconds 8]
//
// Results: benchmarks/results/profile-<what>-<time>.{md,json}. Not part of `npm run bench`.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import protobuf from 'protobufjs';
import {
  HOST, ROOT, fmt, gitCommit, grpcFrame, machineInfo, machineMarkdown, printReport, runH2load, runMain,
  runWrk, setupCleanup, tmpPath, withCpu, writeResults,
} from './lib.mjs';

const { values: args } = parseArgs({
  options: {
    what: { type: 'string', default: 'rest' },
    connections: { type: 'string', default: '16' },
    seconds: { type: 'string', default: '8' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write('Usage: node benchmarks/profile.mjs [--what rest|grpc] [--connections 16] [--seconds 8]\n');
  process.exit(0);
}
const WHAT = args.what;
if (!['rest', 'grpc'].includes(WHAT)) throw new Error('--what must be rest or grpc');
const C = Number(args.connections);
const SECONDS = Number(args.seconds);
const IRIS = [5.1, 3.5, 1.4, 0.2];
const GRPC_PATH = '/inference.GRPCInferenceService/ModelInfer';

setupCleanup('bench:profile', 'tessera-bench-profile-');

const lua = tmpPath('iris.lua');
writeFileSync(lua, `wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[${IRIS.join(',')}]}]}'\n`);
const frame = tmpPath('iris.frame');
{
  const root = new protobuf.Root().loadSync(path.join(ROOT, 'proto', 'grpc_service.proto'), { keepCase: true });
  const T = root.lookupType('inference.ModelInferRequest');
  const message = T.encode(T.fromObject({ model_name: 'iris', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [Buffer.from(new Float32Array(IRIS).buffer)] })).finish();
  writeFileSync(frame, grpcFrame(Buffer.from(message)));
}

/** The load of one measurement: wrk on REST iris or h2load on gRPC iris; resolves with a request count. */
function load(httpUrl, grpcPort, seconds) {
  if (WHAT === 'rest') return runWrk(`${httpUrl}/v2/models/iris/infer`, C, seconds, lua);
  return runH2load({ port: grpcPort, path: GRPC_PATH, frame, connections: C, seconds }).then(({ durationsMs: _d, ...r }) => r);
}

/** Self time per function and per module of a CPU profile, idle left out. */
function summarise(p) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const fn = new Map();
  const mod = new Map();
  let busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const cf = byId.get(p.samples[i]).callFrame;
    const us = p.timeDeltas[i] ?? 0;
    if (cf.functionName === '(idle)') continue;
    busy += us;
    const where = cf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/');
    const key = `${cf.functionName || '(anonymous)'} ${where ? `${where.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}` : ''}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + us);
    let m = where === '' ? `(native) ${cf.functionName || 'anonymous'}` : where.startsWith('dist/') ? where : where.startsWith('node:') ? where.split('/').slice(0, 2).join('/') : where.split('/')[0].startsWith('@') ? where.split('/').slice(0, 2).join('/') : where.split('/')[0];
    if (m.startsWith('node:internal')) m = 'node:internal/*';
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
  return { busyUs: busy, functions: top(fn, 30), modules: top(mod, 20) };
}

function byFunction(node, out = new Map()) {
  const cf = node.callFrame;
  const where = cf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/');
  const key = `${cf.functionName || '(anonymous)'} ${where ? `${where.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}` : ''}`.trim();
  out.set(key, (out.get(key) ?? 0) + node.selfSize);
  for (const c of node.children) byFunction(c, out);
  return out;
}

/**
 * The compiled server in this process (dist/server.js; the load comes from wrk or h2load, other
 * processes): after a warm-up, one run under the CPU profiler (and /proc's count of this thread's
 * CPU time), one under the allocation sampler.
 */
async function profileRuns() {
  const { startServer } = await import(pathToFileURL(path.join(ROOT, 'dist', 'server.js')).href);
  const { pino } = await import('pino');
  const server = await startServer({
    folder: path.join(ROOT, 'settings'),
    env: {},
    flags: { host: HOST, http_port: '0', grpc_port: '0', metrics_port: '0' },
    logger: pino({ level: 'silent' }),
  });
  await server.loaded;
  const grpcPort = Number(server.grpcAddress.split(':').pop());
  const session = new Session();
  session.connect();
  try {
    await load(server.url, grpcPort, 3); // warm-up: inline execution on, code optimised
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    const r = await withCpu(process.pid, () => load(server.url, grpcPort, SECONDS));
    const { profile } = await session.post('Profiler.stop');
    const cpu = { requests: r.requests ?? r.done, rps: r.rps, p50: r.p50, p99: r.p99, cpu: r.cpu, profile: summarise(profile) };
    await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    const a = await load(server.url, grpcPort, Math.min(SECONDS, 5));
    const { profile: heap } = await session.post('HeapProfiler.stopSampling');
    const requests = a.requests ?? a.done;
    const bytes = byFunction(heap.head);
    let total = 0;
    for (const v of bytes.values()) total += v;
    const alloc = { requests, bytesPerRequest: total / requests, top: [...bytes].sort((x, y) => y[1] - x[1]).slice(0, 25).map(([k, v]) => [k, v / requests]) };
    return { cpu, alloc };
  } finally {
    session.disconnect();
    await server.close();
  }
}

async function main() {
  const started = new Date();
  process.stdout.write(`profiling ${WHAT} iris at ${C} connections, ${SECONDS} s ...\n`);
  const { cpu, alloc } = await profileRuns();
  process.stdout.write(`  ${fmt(cpu.rps, 0)} req/s, main thread ${fmt(cpu.cpu.mainUsPerRequest, 1)} µs/request (/proc)\n`);
  process.stdout.write(`  ${fmt(alloc.bytesPerRequest, 0)} bytes allocated per request\n`);
  const perReq = (us) => us / cpu.requests;
  const md = printReport([
    `# Where a ${WHAT === 'rest' ? 'REST' : 'gRPC'} iris request goes — ${started.toISOString()}`,
    '',
    ...machineMarkdown(machineInfo(), `${WHAT === 'rest' ? 'wrk' : 'h2load'} ${C} connections, ${SECONDS} s`, gitCommit(['src', 'bin', 'settings'])),
    `- ${cpu.requests} requests, ${fmt(cpu.rps, 0)} req/s, p50 ${fmt(cpu.p50, 3)} ms, p99 ${fmt(cpu.p99, 3)} ms.`,
    `- CPU per request (/proc): main thread ${fmt(cpu.cpu.mainUsPerRequest, 1)} µs, all threads ${fmt(cpu.cpu.allUsPerRequest, 1)} µs.`,
    `- Main-thread profile: ${fmt(perReq(cpu.profile.busyUs), 1)} µs of samples per request, idle left out (wall-clock sampling: a syscall's`,
    '  time includes waiting for the core, so these add up to more than the CPU time above). The load tool shares the machine.',
    '',
    '## Main thread, by module (µs per request)',
    '',
    '| module | µs/request |',
    '|---|---:|',
    ...cpu.profile.modules.map(([k, v]) => `| ${k} | ${fmt(perReq(v), 2)} |`),
    '',
    '## Main thread, by function (self time, µs per request)',
    '',
    '| function | µs/request |',
    '|---|---:|',
    ...cpu.profile.functions.map(([k, v]) => `| \`${k}\` | ${fmt(perReq(v), 2)} |`),
    '',
    `## Allocation (bytes per request, ${fmt(alloc.bytesPerRequest, 0)} in all; objects collected since counted)`,
    '',
    '| function | bytes/request |',
    '|---|---:|',
    ...alloc.top.map(([k, v]) => `| \`${k}\` | ${fmt(v, 0)} |`),
    '',
  ]);
  writeResults(`profile-${WHAT}-`, started, md, { startedAt: started.toISOString(), what: WHAT, connections: C, seconds: SECONDS, cpu, alloc });
}

runMain(main);
