#!/usr/bin/env node
// Baseline for benchmarks/grpc.mjs: the least a grpc-js front end must do for an iris ModelInfer.
// The service is loaded from proto/grpc_service.proto with @grpc/proto-loader and the options
// Tessera uses, so the request is deserialized exactly as Tessera receives it; the reply is a fixed
// ModelInferResponse of the shape Tessera returns for iris (label INT64 [1], probabilities FP32
// [1,3], raw_output_contents of 8 and 12 bytes). No validation, no inference, no worker hop: the
// ceiling for this stack. Only ModelInfer is implemented; other RPCs answer UNIMPLEMENTED.
//
//   node benchmarks/bare-grpc.mjs --port 18091 [--host 127.0.0.1]
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROTO = path.resolve(HERE, '..', 'proto', 'grpc_service.proto');

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});

const definition = protoLoader.loadSync(PROTO, {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
});
const proto = grpc.loadPackageDefinition(definition);

// label 0 (INT64 little-endian) and three FP32 probabilities, as Tessera answers a raw iris request.
const label = Buffer.alloc(8); // 0n
const probabilities = Buffer.from(new Float32Array([0.9972540736198425, 0.0027459501288831234, 4.006997912728988e-13]).buffer);
const REPLY = {
  model_name: 'iris',
  model_version: '1',
  id: '',
  parameters: {},
  outputs: [
    { name: 'label', datatype: 'INT64', shape: ['1'], parameters: {} },
    { name: 'probabilities', datatype: 'FP32', shape: ['1', '3'], parameters: {} },
  ],
  raw_output_contents: [label, probabilities],
};

const server = new grpc.Server();
server.addService(proto.inference.GRPCInferenceService.service, {
  ModelInfer(call, callback) {
    // Touch the deserialized request so a bad one is rejected (and the work cannot be skipped).
    const inputs = call.request?.inputs;
    if (!Array.isArray(inputs) || inputs.length === 0) {
      callback({ code: grpc.status.INVALID_ARGUMENT, details: 'inputs missing' });
      return;
    }
    callback(null, REPLY);
  },
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    server.tryShutdown(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

const port = await new Promise((resolve, reject) => {
  server.bindAsync(`${values.host}:${values.port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
    error ? reject(error) : resolve(p),
  );
});
process.stdout.write(`bare-grpc listening on ${values.host}:${port}\n`);
