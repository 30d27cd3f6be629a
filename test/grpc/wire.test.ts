// Wire compatibility: a ModelInferRequest encoded by hand from the field-number table in
// protocol.md (no generated code, no .proto) and its response decoded the same way; server
// reflection listed over a hand-encoded request too.
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { exampleRepository, startTestServer } from '../helpers/server.js';

// --- a minimal protobuf writer/reader -------------------------------------------------------
const VARINT = 0;
const LENGTH = 2;

function varint(n: bigint | number): Buffer {
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Buffer.from(out);
}
const tag = (field: number, wire: number): Buffer => varint((field << 3) | wire);
const lengthDelimited = (field: number, payload: Buffer): Buffer => Buffer.concat([tag(field, LENGTH), varint(payload.length), payload]);
const str = (field: number, s: string): Buffer => lengthDelimited(field, Buffer.from(s, 'utf8'));
const packed = (field: number, values: number[]): Buffer => lengthDelimited(field, Buffer.concat(values.map(varint)));

type Field = { field: number; wire: number; value: bigint | Buffer };
function readMessage(buf: Buffer): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(readVarint());
    const field = key >> 3;
    const wire = key & 7;
    if (wire === VARINT) fields.push({ field, wire, value: readVarint() });
    else if (wire === LENGTH) {
      const len = Number(readVarint());
      fields.push({ field, wire, value: buf.subarray(pos, pos + len) });
      pos += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return fields;
}
const strings = (fields: Field[], n: number): string[] => fields.filter((f) => f.field === n).map((f) => (f.value as Buffer).toString('utf8'));
const messages = (fields: Field[], n: number): Buffer[] => fields.filter((f) => f.field === n).map((f) => f.value as Buffer);
function decodePacked(buf: Buffer): bigint[] {
  const out: bigint[] = [];
  let pos = 0;
  while (pos < buf.length) {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[pos++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
    }
    out.push(result);
  }
  return out;
}
// ----------------------------------------------------------------------------------------------

const identity = (b: Buffer): Buffer => b;

const server = await startTestServer(t, { folder: exampleRepository(t, ['iris']) });

t.test('a hand-encoded ModelInferRequest and a hand-decoded response', async (t) => {
  const client = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
  t.teardown(() => client.close());

  const rows = Buffer.from(new Float32Array([5.0, 3.4, 1.5, 0.2, 6.6, 3.0, 5.6, 2.1]).buffer);
  // ModelInferRequest: 1 model_name, 3 id, 5 inputs{1 name, 2 datatype, 3 shape (packed int64)},
  // 6 outputs{1 name}, 7 raw_input_contents.
  const input = Buffer.concat([str(1, 'input'), str(2, 'FP32'), packed(3, [2, 4])]);
  const request = Buffer.concat([str(1, 'iris'), str(3, 'wire-1'), lengthDelimited(5, input), lengthDelimited(6, str(1, 'label')), lengthDelimited(7, rows)]);

  const response = await new Promise<Buffer>((resolve, reject) =>
    client.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', identity, identity, request, (error, value) => (error ? reject(error) : resolve(value!))),
  );
  // ModelInferResponse: 1 model_name, 2 model_version, 3 id, 5 outputs{1 name, 2 datatype, 3 shape}, 6 raw_output_contents.
  const fields = readMessage(response);
  t.same(strings(fields, 1), ['iris']);
  t.same(strings(fields, 2), ['1']);
  t.same(strings(fields, 3), ['wire-1']);
  const outputs = messages(fields, 5).map(readMessage);
  t.equal(outputs.length, 1);
  t.same(strings(outputs[0], 1), ['label']);
  t.same(strings(outputs[0], 2), ['INT64']);
  t.same(decodePacked(messages(outputs[0], 3)[0]), [2n], 'shape [2]');
  const raw = messages(fields, 6);
  t.equal(raw.length, 1, 'raw_output_contents for a raw request');
  const labels = new BigInt64Array(new Uint8Array(raw[0]).buffer);
  t.same(Array.from(labels), [0n, 2n], 'setosa and virginica');
});

t.test('server reflection lists the services', async (t) => {
  const client = new grpc.Client(server.grpcAddress, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  // ServerReflectionRequest: 7 list_services. Response: 6 list_services_response{1 service{1 name}}.
  const names = await new Promise<string[]>((resolve, reject) => {
    const call = client.makeBidiStreamRequest('/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo', identity, identity);
    call.on('data', (buf: Buffer) => {
      const list = messages(readMessage(buf), 6)[0];
      resolve(messages(readMessage(list), 1).flatMap((s) => strings(readMessage(s), 1)));
      call.end();
    });
    call.on('error', reject);
    call.write(str(7, '*'));
  });
  t.ok(names.includes('inference.GRPCInferenceService'), names.join(', '));
  t.ok(names.includes('grpc.health.v1.Health'));
});
