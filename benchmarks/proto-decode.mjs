// Decode cost of a ModelInferRequest: @grpc/proto-loader's deserializer (what Tessera's gRPC server
// uses) vs protobufjs decoding into message instances without the toObject conversion (what a
// compiled/static codec would do). `node benchmarks/proto-decode.mjs`
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const PROTO = fileURLToPath(new URL('../proto/grpc_service.proto', import.meta.url));
const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
const method = definition['inference.GRPCInferenceService'].ModelInfer;
const Request = protobuf.loadSync(PROTO).lookupType('inference.ModelInferRequest');

function encode(floats) {
  const raw = Buffer.from(new Float32Array(floats).buffer);
  return Buffer.from(Request.encode(Request.fromObject({
    model_name: 'iris', id: '1',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [floats / 4, 4] }],
    raw_input_contents: [raw],
  })).finish());
}

function time(label, fn, iterations) {
  for (let i = 0; i < Math.min(1000, iterations); i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  return { label, usPerCall: ns / 1000 };
}

const rows = [];
for (const [name, floats, n] of [['iris 1x4 raw', 4, 200_000], ['16 MiB raw FP32', 4 * 1024 * 1024, 50]]) {
  const buf = encode(floats);
  rows.push({ message: name, ...time('proto-loader deserialize', () => method.requestDeserialize(buf), n) });
  rows.push({ message: name, ...time('protobufjs decode (static)', () => Request.decode(buf), n) });
}
console.log('| message | decoder | µs per call |\n|---|---|---:|');
for (const r of rows) console.log(`| ${r.message} | ${r.label} | ${r.usPerCall.toFixed(2)} |`);
