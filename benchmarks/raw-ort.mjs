#!/usr/bin/env node
// Raw ONNX Runtime compute limit, no server: one InferenceSession on the main thread, session.run in a
// tight loop at each batch size. The ceiling Tessera's inference path is compared against.
// compute.mjs runs this as a child process (own process, nothing else in it); it can run alone too:
//
//   node benchmarks/raw-ort.mjs --model settings/models/mlp/model.onnx [--threads 2] [--batches 1,8,32,128] [--seconds 3]
//
// The model must have one FP32 input of shape [-1, F] (rows along dim 0). Session options match
// Tessera's defaults (sequential, 1 inter-op thread, graph optimisation 'all', no spinning) except
// intraOpNumThreads, which is given (default: all cores).
// Output: one JSON object per line on stdout, first { model info }, then one { batch, ... } per batch size.
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string' },
    threads: { type: 'string' },
    batches: { type: 'string', default: '1,8,32,128' },
    seconds: { type: 'string', default: '3' },
  },
});
if (!args.model) {
  process.stderr.write('raw-ort: --model PATH is required\n');
  process.exit(2);
}
const THREADS = Number(args.threads ?? os.availableParallelism());
const BATCHES = args.batches.split(',').map(Number);
const SECONDS = Number(args.seconds);
if (![THREADS, ...BATCHES].every((n) => Number.isInteger(n) && n > 0) || !(SECONDS > 0)) {
  process.stderr.write('raw-ort: --threads and --batches must be positive integers, --seconds positive\n');
  process.exit(2);
}

const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// Nearest-rank percentile of an ascending array.
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

const createStart = performance.now();
const session = await ort.InferenceSession.create(args.model, {
  intraOpNumThreads: THREADS,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  // Idle intra-op threads sleep instead of spinning (as in Tessera): spinning burns the cores.
  extra: { session: { intra_op: { allow_spinning: '0' } } },
});
const createMs = performance.now() - createStart;

const [inputName] = session.inputNames;
const [outputName] = session.outputNames;
const inputMeta = session.inputMetadata?.find?.((m) => m.name === inputName) ?? session.inputMetadata?.[0];
const features = Number(inputMeta?.shape?.[1]);
if (!Number.isInteger(features) || features < 1) throw new Error(`input ${inputName}: expected shape [-1, F], got ${JSON.stringify(inputMeta?.shape)}`);
emit({ ort: ort.env.versions?.node ?? null, threads: THREADS, input: inputName, features, output: outputName, createMs });

for (const batch of BATCHES) {
  const data = new Float32Array(batch * features).fill(0.5);
  const feeds = { [inputName]: new ort.Tensor('float32', data, [batch, features]) };
  // Warm-up: first runs allocate (arena, thread pool); not measured.
  const first = await session.run(feeds);
  const outShape = first[outputName].dims;
  if (outShape[0] !== batch) throw new Error(`batch ${batch}: output ${outputName} has shape [${outShape}]`);
  const warmEnd = performance.now() + Math.min(500, SECONDS * 250);
  for (let i = 0; i < 3 || performance.now() < warmEnd; i++) await session.run(feeds);

  const times = [];
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  let t = t0;
  while (t < end) {
    const a = performance.now();
    await session.run(feeds);
    t = performance.now();
    times.push(t - a);
  }
  const elapsed = (t - t0) / 1000;
  times.sort((x, y) => x - y);
  emit({
    batch,
    runs: times.length,
    seconds: elapsed,
    rowsPerSec: (times.length * batch) / elapsed,
    runsPerSec: times.length / elapsed,
    p50Ms: percentile(times, 50),
    p90Ms: percentile(times, 90),
    p99Ms: percentile(times, 99),
    outputShape: outShape,
  });
}
await session.release();
