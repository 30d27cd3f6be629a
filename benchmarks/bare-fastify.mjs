#!/usr/bin/env node
// Baseline for benchmarks/run.mjs: the least an HTTP front end must do for an iris V2 request.
// fastify's default JSON parser parses the body, and the reply is a fixed JSON object the size of
// Tessera's iris response. No validation, no inference, no worker hop: the ceiling for this stack.
//
//   node benchmarks/bare-fastify.mjs --port 18090 [--host 127.0.0.1]
import { parseArgs } from 'node:util';
import Fastify from 'fastify';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } },
});

// Same shape and about the same byte size as Tessera's iris reply.
const REPLY = {
  model_name: 'iris',
  model_version: '1',
  outputs: [
    { name: 'label', datatype: 'INT64', shape: [1], data: [0] },
    { name: 'probabilities', datatype: 'FP32', shape: [1, 3], data: [0.9972540736198425, 0.0027459501288831234, 4.006997912728988e-13] },
  ],
};

const app = Fastify({ logger: false });

app.get('/v2/health/ready', async () => ({ ready: true }));

app.post('/v2/models/iris/infer', async (request, reply) => {
  // Touch the parsed body so the parse cannot be optimised away and a bad body is rejected.
  const inputs = request.body?.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) {
    return reply.code(400).send({ error: 'inputs missing' });
  }
  return REPLY;
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    app.close().finally(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

await app.listen({ port: Number(values.port), host: values.host });
process.stdout.write(`bare-fastify listening on http://${values.host}:${app.server.address().port}\n`);
