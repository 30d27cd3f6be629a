// The gRPC front end through a generic grpc-js client built from the project's proto: every RPC,
// ModelStreamInfer with a failing request in the middle, typed and raw round trips of every
// datatype, errors with REST's messages, health following readiness, repository RPCs, sizes.
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { IDENTITY_TYPES, identityModel } from '../../src/modelgen/examples.js';
import { exampleRepository, startTestServer, writeModel, infer as restInfer } from '../helpers/server.js';
import { grpcClients } from '../helpers/grpc.js';

type Output = { name: string; datatype: string; shape: string[]; contents?: Record<string, unknown[]> | null };
type InferResponse = { model_name: string; model_version: string; id: string; outputs: Output[]; raw_output_contents: Buffer[]; parameters: Record<string, Record<string, unknown>> };

const IRIS_INPUT = { name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [5.1, 3.5, 1.4, 0.2] } };
const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

// The server of the inference service and message size tests.
const root = exampleRepository(t, ['iris', 'add_sub']);
for (const suffix of Object.keys(IDENTITY_TYPES)) writeModel(root, `identity_${suffix}`, identityModel(suffix), { name: `identity_${suffix}` });
const server = await startTestServer(t, { folder: root });

t.test('gRPC inference service', async (t) => {
  const client = grpcClients(server.grpcAddress);
  t.teardown(() => client.close());
  const { call } = client;

  t.test('health, metadata and readiness RPCs', async (t) => {
    t.same(await call('ServerLive', {}), { live: true });
    t.same(await call('ServerReady', {}), { ready: true });
    t.same(await call('ModelReady', { name: 'iris', version: '' }), { ready: true });
    t.same(await call('ModelReady', { name: 'iris', version: '1' }), { ready: true });
    const meta = await call<{ name: string; extensions: string[] }>('ServerMetadata', {});
    t.equal(meta.name, 'tessera');
    t.ok(meta.extensions.includes('model_repository'));
    t.same(await call('ModelMetadata', { name: 'iris', version: '' }), {
      name: 'iris',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: ['-1', '4'] }],
      outputs: [
        { name: 'label', datatype: 'INT64', shape: ['-1'] },
        { name: 'probabilities', datatype: 'FP32', shape: ['-1', '3'] },
      ],
    });
    await t.rejects(call('ModelReady', { name: 'nope', version: '' }), { code: grpc.status.NOT_FOUND, details: /Model nope not found/ });
    await t.rejects(call('ModelMetadata', { name: 'iris', version: '9' }), { code: grpc.status.NOT_FOUND });
  });

  t.test('ModelInfer with typed contents: id, parameters, requested outputs', async (t) => {
    const res = await call<InferResponse>('ModelInfer', {
      model_name: 'iris',
      id: 'g-1',
      parameters: { tag: { string_param: 'x' }, n: { int64_param: '7' } },
      inputs: [IRIS_INPUT],
      outputs: [{ name: 'label' }],
    });
    t.equal(res.model_name, 'iris');
    t.equal(res.model_version, '1');
    t.equal(res.id, 'g-1');
    t.equal(res.parameters.tag.string_param, 'x');
    t.equal(res.outputs.length, 1);
    t.equal(res.outputs[0].name, 'label');
    t.same(res.outputs[0].contents?.int64_contents, ['0']);
    t.same(res.raw_output_contents, [], 'typed request, typed response');
  });

  t.test('typed contents round-trip every datatype that has a typed field', async (t) => {
    const cases: [string, string, Record<string, unknown[]>][] = [
      ['bool', 'BOOL', { bool_contents: [true, false, true, false] }],
      ['uint8', 'UINT8', { uint_contents: [0, 1, 128, 255] }],
      ['uint16', 'UINT16', { uint_contents: [0, 1, 32768, 65535] }],
      ['uint32', 'UINT32', { uint_contents: [0, 1, 2147483648, 4294967295] }],
      ['uint64', 'UINT64', { uint64_contents: ['0', '1', '9223372036854775808', '18446744073709551615'] }],
      ['int8', 'INT8', { int_contents: [-128, -1, 0, 127] }],
      ['int16', 'INT16', { int_contents: [-32768, -1, 0, 32767] }],
      ['int32', 'INT32', { int_contents: [-2147483648, -1, 0, 2147483647] }],
      ['int64', 'INT64', { int64_contents: ['-9223372036854775808', '-1', '9007199254740993', '9223372036854775807'] }],
      ['fp32', 'FP32', { fp32_contents: [0, -1.5, 0.25, 1e10] }],
      ['fp64', 'FP64', { fp64_contents: [0, -1.5, 1.7976931348623157e308, 5e-324] }],
      ['bytes', 'BYTES', { bytes_contents: [Buffer.from('a'), Buffer.from('héllo'), Buffer.from(''), Buffer.from('日本')] }],
    ];
    for (const [suffix, datatype, contents] of cases) {
      const res = await call<InferResponse>('ModelInfer', { model_name: `identity_${suffix}`, inputs: [{ name: 'INPUT0', datatype, shape: [2, 2], contents }] });
      const field = Object.keys(contents)[0];
      t.same(res.outputs[0].contents?.[field], contents[field], `${datatype} typed round trip`);
      t.same(res.outputs[0].shape, ['2', '2']);
    }
  });

  t.test('raw contents round-trip every datatype, raw responses for raw requests', async (t) => {
    const framed = (items: Buffer[]): Buffer => Buffer.concat(items.flatMap((b) => { const l = Buffer.alloc(4); l.writeUInt32LE(b.length); return [l, b]; }));
    const cases: [string, string, Buffer][] = [
      ['bool', 'BOOL', Buffer.from([1, 0, 1, 1])],
      ['uint8', 'UINT8', Buffer.from([0, 1, 128, 255])],
      ['uint16', 'UINT16', bytesOf(Uint16Array.from([0, 1, 32768, 65535]))],
      ['uint32', 'UINT32', bytesOf(Uint32Array.from([0, 1, 2 ** 31, 2 ** 32 - 1]))],
      ['uint64', 'UINT64', bytesOf(BigUint64Array.from([0n, 1n, 2n ** 63n, 2n ** 64n - 1n]))],
      ['int8', 'INT8', bytesOf(Int8Array.from([-128, -1, 0, 127]))],
      ['int16', 'INT16', bytesOf(Int16Array.from([-32768, -1, 0, 32767]))],
      ['int32', 'INT32', bytesOf(Int32Array.from([-(2 ** 31), -1, 0, 2 ** 31 - 1]))],
      ['int64', 'INT64', bytesOf(BigInt64Array.from([-(2n ** 63n), -1n, 9007199254740993n, 2n ** 63n - 1n]))],
      ['fp16', 'FP16', bytesOf(Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001]))],
      ['fp32', 'FP32', bytesOf(Float32Array.from([0, -1.5, 0.1, 3.4e38]))],
      ['fp64', 'FP64', bytesOf(Float64Array.from([0, -1.5, 0.1, 5e-324]))],
      ['bytes', 'BYTES', framed([Buffer.from('a'), Buffer.from('héllo wörld'), Buffer.from(''), Buffer.from('🎉')])],
    ];
    for (const [suffix, datatype, raw] of cases) {
      const res = await call<InferResponse>('ModelInfer', { model_name: `identity_${suffix}`, inputs: [{ name: 'INPUT0', datatype, shape: [2, 2] }], raw_input_contents: [raw] });
      t.equal(res.raw_output_contents.length, 1, `${datatype}: raw response`);
      t.ok(Buffer.from(res.raw_output_contents[0]).equals(raw), `${datatype}: bytes come back exactly`);
      t.notOk(res.outputs[0].contents?.[Object.keys(res.outputs[0].contents ?? {})[0]]?.length, `${datatype}: no typed contents`);
    }
  });

  t.test('errors carry the REST message and the mapped code; the server keeps serving', async (t) => {
    const cases: { label: string; request: object; code: grpc.status; details: RegExp }[] = [
      { label: 'unknown model', request: { model_name: 'nope', inputs: [IRIS_INPUT] }, code: grpc.status.NOT_FOUND, details: /Model nope not found/ },
      { label: 'datatype mismatch', request: { model_name: 'iris', inputs: [{ ...IRIS_INPUT, datatype: 'FP64', contents: { fp64_contents: [1, 2, 3, 4] } }] }, code: grpc.status.INVALID_ARGUMENT, details: /input 'input': datatype FP64 does not match the model's FP32/ },
      { label: 'count vs shape', request: { model_name: 'iris', inputs: [{ ...IRIS_INPUT, shape: [2, 4] }] }, code: grpc.status.INVALID_ARGUMENT, details: /input 'input': shape \[2,4\] needs 8 elements but the data has 4/ },
      { label: 'missing input', request: { model_name: 'add_sub', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16], contents: { fp32_contents: new Array(16).fill(1) } }] }, code: grpc.status.INVALID_ARGUMENT, details: /missing input 'INPUT1'/ },
      { label: 'unknown output', request: { model_name: 'iris', inputs: [IRIS_INPUT], outputs: [{ name: 'x' }] }, code: grpc.status.INVALID_ARGUMENT, details: /unknown requested output 'x'/ },
      { label: 'raw and typed mixed', request: { model_name: 'iris', inputs: [IRIS_INPUT], raw_input_contents: [bytesOf(Float32Array.from([1, 2, 3, 4]))] }, code: grpc.status.INVALID_ARGUMENT, details: /contents must not be set when raw_input_contents is used/ },
      { label: 'raw count', request: { model_name: 'add_sub', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, 16] }, { name: 'INPUT1', datatype: 'FP32', shape: [1, 16] }], raw_input_contents: [Buffer.alloc(64)] }, code: grpc.status.INVALID_ARGUMENT, details: /raw_input_contents has 1 entries but the request has 2 inputs/ },
      { label: 'raw size', request: { model_name: 'iris', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [Buffer.alloc(12)] }, code: grpc.status.INVALID_ARGUMENT, details: /needs 16 bytes but 12 were given/ },
      { label: 'FP16 typed', request: { model_name: 'identity_fp16', inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 1], contents: { fp32_contents: [1] } }] }, code: grpc.status.INVALID_ARGUMENT, details: /FP16 has no typed contents field; send it in raw_input_contents/ },
      { label: 'no data', request: { model_name: 'iris', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4] }] }, code: grpc.status.INVALID_ARGUMENT, details: /input 'input': no data/ },
      { label: 'out of range', request: { model_name: 'identity_int8', inputs: [{ name: 'INPUT0', datatype: 'INT8', shape: [1, 1], contents: { int_contents: [300] } }] }, code: grpc.status.INVALID_ARGUMENT, details: /element 0 is 300, expected an integer in \[-128, 127\]/ },
    ];
    for (const c of cases) {
      await t.rejects(call('ModelInfer', c.request), { code: c.code, details: c.details }, c.label);
      const ok = await call<InferResponse>('ModelInfer', { model_name: 'iris', inputs: [IRIS_INPUT] });
      t.equal(ok.model_name, 'iris', `${c.label}: still serving`);
    }
    // The same message on REST:
    const rest = await restInfer(server, 'iris', { inputs: [{ name: 'input', datatype: 'FP64', shape: [1, 4], data: [1, 2, 3, 4] }] });
    t.match(rest.json().error, /input 'input': datatype FP64 does not match the model's FP32/, 'REST says the same');
  });

  t.test('ModelStreamInfer: one response per request, in order, an error mid-stream keeps it open', async (t) => {
    const stream = (client.inference.ModelStreamInfer as () => grpc.ClientDuplexStream<object, { error_message: string; infer_response: InferResponse | null }>)();
    const responses: { error_message: string; infer_response: InferResponse | null }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      stream.on('data', (r) => responses.push(r));
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    stream.write({ model_name: 'iris', id: 's1', inputs: [IRIS_INPUT] });
    stream.write({ model_name: 'iris', id: 's2', inputs: [{ ...IRIS_INPUT, shape: [3, 4] }] });
    stream.write({ model_name: 'nope', id: 's3', inputs: [IRIS_INPUT] });
    stream.write({ model_name: 'iris', id: 's4', inputs: [{ ...IRIS_INPUT, contents: { fp32_contents: [6.6, 3.0, 5.6, 2.1] } }] });
    stream.end();
    await done;
    t.equal(responses.length, 4, 'one response per request');
    t.same(responses.map((r) => r.infer_response?.id), ['s1', 's2', 's3', 's4'], 'in request order');
    t.equal(responses[0].error_message, '');
    t.match(responses[1].error_message, /shape \[3,4\] needs 12 elements/);
    t.match(responses[2].error_message, /Model nope not found/);
    t.equal(responses[3].error_message, '');
    t.same(responses[3].infer_response?.outputs[0].contents?.int64_contents, ['2'], 'the request after the failures is answered');
  });

  t.test('non-UTF-8 BYTES round-trip exactly; NUL bytes, which ONNX Runtime cuts, are refused', async (t) => {
    const framed = (items: Buffer[]): Buffer => Buffer.concat(items.flatMap((b) => { const l = Buffer.alloc(4); l.writeUInt32LE(b.length); return [l, b]; }));
    const binary = [Buffer.from('ok'), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from([0xc3, 0x28, 0xe9]), Buffer.from('é日本', 'utf8')];
    const raw = framed(binary);
    const viaRaw = await call<InferResponse>('ModelInfer', { model_name: 'identity_bytes', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 2] }], raw_input_contents: [raw] });
    t.ok(Buffer.from(viaRaw.raw_output_contents[0]).equals(raw), 'raw: every byte back, UTF-8 and not');
    const viaTyped = await call<InferResponse>('ModelInfer', { model_name: 'identity_bytes', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [2, 2], contents: { bytes_contents: binary } }] });
    t.same(viaTyped.outputs[0].contents?.bytes_contents, binary, 'typed: every byte back');
    await t.rejects(
      call('ModelInfer', { model_name: 'identity_bytes', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], contents: { bytes_contents: [Buffer.from([0x61, 0x00, 0x62])] } }] }),
      { code: grpc.status.INVALID_ARGUMENT, details: /BYTES element 0 contains a NUL byte/ },
    );
    const ok = await call<InferResponse>('ModelInfer', { model_name: 'identity_bytes', inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1], contents: { bytes_contents: [Buffer.from('fine')] } }] });
    t.same(ok.outputs[0].contents?.bytes_contents, [Buffer.from('fine')]);
  });

  t.test('grpc.health.v1 Check follows readiness', async (t) => {
    t.same(await client.check(''), { status: 'SERVING' });
    t.same(await client.check('inference.GRPCInferenceService'), { status: 'SERVING' });
    await t.rejects(client.check('other.Service'), { code: grpc.status.NOT_FOUND });
  });
});

t.test('gRPC health is NOT_SERVING with zero models; repository RPCs', async (t) => {
  const root = exampleRepository(t, ['iris']);
  const server = await startTestServer(t, { folder: root });
  const client = grpcClients(server.grpcAddress);
  t.teardown(() => client.close());
  const watch = (client.health.Watch as (r: object) => grpc.ClientReadableStream<{ status: string }>)({ service: '' });
  const seen: string[] = [];
  watch.on('data', (m) => seen.push(m.status));
  watch.on('error', () => undefined);
  t.teardown(() => watch.cancel());
  const index = await client.call<{ models: { name: string; version: string; state: string; reason: string }[] }>('RepositoryIndex', { repository_name: '', ready: false });
  t.same(index.models, [{ name: 'iris', version: '1', state: 'READY', reason: '' }]);
  t.same(await client.call('RepositoryModelUnload', { repository_name: '', model_name: 'iris' }), {});
  await t.rejects(client.call('ModelInfer', { model_name: 'iris', inputs: [IRIS_INPUT] }), { code: grpc.status.NOT_FOUND }, 'unloaded: NOT_FOUND');
  const after = await client.call<{ models: { state: string }[] }>('RepositoryIndex', { ready: false });
  t.equal(after.models[0].state, 'UNAVAILABLE');
  t.same((await client.call<{ models: unknown[] }>('RepositoryIndex', { ready: true })).models, []);
  t.same(await client.check(''), { status: 'NOT_SERVING' }, 'health follows readiness: no model loaded');
  t.same(await client.call('ServerReady', {}), { ready: false });
  const waitSeen = async (n: number): Promise<void> => {
    const deadline = Date.now() + 3000;
    while (seen.length < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  };
  await waitSeen(2); // Watch reports changes within its 250 ms polling interval
  t.same(await client.call('RepositoryModelLoad', { repository_name: '', model_name: 'iris' }), {});
  t.same(await client.check(''), { status: 'SERVING' });
  await waitSeen(3);
  t.same(seen, ['SERVING', 'NOT_SERVING', 'SERVING'], 'Watch streams every change');
  await t.rejects(client.call('RepositoryModelLoad', { model_name: 'nope' }), { code: grpc.status.NOT_FOUND });
});

t.test('message sizes: 16 MiB raw FP32 works, 70 MiB gets a clear size error', async (t) => {
  const client = grpcClients(server.grpcAddress);
  t.teardown(() => client.close());
  const n = 4 * 1024 * 1024;
  const values = new Float32Array(n).map((_, i) => i % 977);
  const res = await client.call<InferResponse>('ModelInfer', { model_name: 'identity_fp32', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, n] }], raw_input_contents: [bytesOf(values)] });
  t.ok(Buffer.from(res.raw_output_contents[0]).equals(bytesOf(values)), '16 MiB back bit for bit');
  const huge = Buffer.alloc(70 * 1024 * 1024);
  await t.rejects(
    client.call('ModelInfer', { model_name: 'identity_fp32', inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, huge.length / 4] }], raw_input_contents: [huge] }),
    { code: grpc.status.RESOURCE_EXHAUSTED, details: /larger than max/ },
  );
});
