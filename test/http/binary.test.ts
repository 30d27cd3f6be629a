// Triton's binary tensor data extension over real HTTP: mixed JSON/binary inputs, binary outputs
// on request, raw single-input bodies, every malformed framing case as a precise 400, 16 MiB
// tensors, and gzip/deflate bodies and responses.
import { gunzipSync, gzipSync, deflateSync } from 'node:zlib';
import t from 'tap';
import { identityModel } from '../../src/modelgen/examples.js';
import { exampleRepository, rawRequest, startTestServer, writeModel, type RawResponse } from '../helpers/server.js';
import type { RunningServer } from '../../src/server.js';

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function framedBytes(elements: Buffer[]): Buffer {
  return Buffer.concat(
    elements.flatMap((e) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(e.length);
      return [len, e];
    }),
  );
}

function post(server: RunningServer, model: string, json: object | null, binary: Buffer[] = [], headers: Record<string, string> = {}): Promise<RawResponse> {
  const header = json === null ? Buffer.alloc(0) : Buffer.from(JSON.stringify(json));
  const body = Buffer.concat([header, ...binary]);
  return rawRequest(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length), ...headers },
    body,
  });
}

/** Splits a binary response into its JSON header and the blocks of its binary outputs. */
function parseBinaryResponse(res: RawResponse): { json: { outputs: { name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: { binary_data_size?: number } }[] }; blocks: Map<string, Buffer> } {
  const length = Number(res.headers['inference-header-content-length']);
  const json = JSON.parse(res.body.subarray(0, length).toString('utf8'));
  const blocks = new Map<string, Buffer>();
  let offset = length;
  for (const o of json.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    blocks.set(o.name, res.body.subarray(offset, offset + size));
    offset += size;
  }
  if (offset !== res.body.length) throw new Error('binary response has extra bytes');
  return { json, blocks };
}

// One server for the file.
const root = exampleRepository(t, ['iris', 'add_sub', 'identity_fp32', 'identity_int64', 'identity_bytes']);
writeModel(root, 'identity_fp16', identityModel('fp16'), { name: 'identity_fp16' });
const server = await startTestServer(t, { folder: root });

t.test('binary tensor data extension', async (t) => {
  const a = Float32Array.from({ length: 16 }, (_, i) => i + 0.5);
  const b = Array.from({ length: 16 }, (_, i) => i * 2);

  t.test('the extension is advertised', async (t) => {
    const meta = (await rawRequest(`${server.url}/v2`)).json();
    t.ok((meta.extensions as string[]).includes('binary_tensor_data'));
  });

  t.test('mixed JSON and binary inputs, JSON outputs', async (t) => {
    const res = await post(
      server,
      'add_sub',
      {
        inputs: [
          { name: 'INPUT0', shape: [1, 16], datatype: 'FP32', parameters: { binary_data_size: 64 } },
          { name: 'INPUT1', shape: [1, 16], datatype: 'FP32', data: b },
        ],
      },
      [bytesOf(a)],
    );
    t.equal(res.status, 200, res.text);
    t.match(res.headers['content-type'], /application\/json/);
    const outputs = res.json().outputs as { name: string; data: number[] }[];
    t.same(outputs[0].data, Array.from(a, (x, i) => x + b[i]));
    t.same(outputs[1].data, Array.from(a, (x, i) => x - b[i]));
  });

  t.test('binary outputs on request: per output and for the whole request', async (t) => {
    const inputs = [
      { name: 'INPUT0', shape: [1, 16], datatype: 'FP32', parameters: { binary_data_size: 64 } },
      { name: 'INPUT1', shape: [1, 16], datatype: 'FP32', data: b },
    ];
    const one = await post(server, 'add_sub', { inputs, outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }, { name: 'OUTPUT1' }] }, [bytesOf(a)]);
    t.equal(one.status, 200);
    t.equal(one.headers['content-type'], 'application/octet-stream');
    const parsed = parseBinaryResponse(one);
    t.same(parsed.json.outputs[0], { name: 'OUTPUT0', datatype: 'FP32', shape: [1, 16], parameters: { binary_data_size: 64 } });
    const sum = new Float32Array(new Uint8Array(parsed.blocks.get('OUTPUT0')!).buffer);
    t.same(Array.from(sum), Array.from(a, (x, i) => x + b[i]));
    t.same(parsed.json.outputs[1].data, Array.from(a, (x, i) => x - b[i]), 'the other output stays JSON');

    const all = await post(server, 'add_sub', { inputs, parameters: { binary_data_output: true } }, [bytesOf(a)]);
    const both = parseBinaryResponse(all);
    t.same([...both.blocks.keys()], ['OUTPUT0', 'OUTPUT1']);
    const override = await post(server, 'add_sub', { inputs, parameters: { binary_data_output: true }, outputs: [{ name: 'OUTPUT1', parameters: { binary_data: false } }, { name: 'OUTPUT0' }] }, [bytesOf(a)]);
    const mixed = parseBinaryResponse(override);
    t.same([...mixed.blocks.keys()], ['OUTPUT0'], 'an output-level binary_data: false overrides binary_data_output');
  });

  t.test('INT64 extremes, BYTES framing and FP16 round-trip as binary', async (t) => {
    const ints = BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 9007199254740993n, -1n]);
    const r1 = parseBinaryResponse(await post(server, 'identity_int64', { inputs: [{ name: 'INPUT0', shape: [2, 2], datatype: 'INT64', parameters: { binary_data_size: 32 } }], parameters: { binary_data_output: true } }, [bytesOf(ints)]));
    t.same(r1.blocks.get('OUTPUT0'), bytesOf(ints));
    const strings = framedBytes([Buffer.from('héllo'), Buffer.from(''), Buffer.from('日本 ✓'), Buffer.from('x')]);
    const r2 = parseBinaryResponse(await post(server, 'identity_bytes', { inputs: [{ name: 'INPUT0', shape: [2, 2], datatype: 'BYTES', parameters: { binary_data_size: strings.length } }], parameters: { binary_data_output: true } }, [strings]));
    t.same(r2.blocks.get('OUTPUT0'), strings, 'BYTES framing round-trips');
    const nonUtf8 = framedBytes([Buffer.from([0xff, 0x80, 0x41]), Buffer.from('héllo'), Buffer.from([0xe9]), Buffer.from([0xc3, 0x28])]);
    const r4 = parseBinaryResponse(await post(server, 'identity_bytes', { inputs: [{ name: 'INPUT0', shape: [2, 2], datatype: 'BYTES', parameters: { binary_data_size: nonUtf8.length } }], parameters: { binary_data_output: true } }, [nonUtf8]));
    t.same(r4.blocks.get('OUTPUT0'), nonUtf8, 'non-UTF-8 BYTES round-trip byte for byte');
    const half = Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001]); // 1, -2, 65504, smallest subnormal
    const r3 = parseBinaryResponse(await post(server, 'identity_fp16', { inputs: [{ name: 'INPUT0', shape: [2, 2], datatype: 'FP16', parameters: { binary_data_size: 8 } }], parameters: { binary_data_output: true } }, [bytesOf(half)]));
    t.same(r3.blocks.get('OUTPUT0'), bytesOf(half), 'FP16 round-trips bit for bit');
    const jsonOut = await post(server, 'identity_fp16', { inputs: [{ name: 'INPUT0', shape: [2, 2], datatype: 'FP16', parameters: { binary_data_size: 8 } }] }, [bytesOf(half)]);
    t.equal(jsonOut.status, 400, 'FP16 cannot be answered as JSON');
    t.match(jsonOut.json(), { error: /sending FP16 data via JSON is not supported/ });
  });

  t.test('raw single-input body (Inference-Header-Content-Length: 0)', async (t) => {
    const rows = Float32Array.from([5.0, 3.4, 1.5, 0.2, 6.6, 3.0, 5.6, 2.1]);
    const res = await post(server, 'iris', null, [bytesOf(rows)]);
    t.equal(res.status, 200, res.text);
    const parsed = parseBinaryResponse(res);
    t.same(parsed.json.outputs.map((o) => [o.name, o.shape]), [['label', [2]], ['probabilities', [2, 3]]], 'rows follow from the byte count; all outputs binary');
    t.same(Array.from(new BigInt64Array(new Uint8Array(parsed.blocks.get('label')!).buffer)), [0n, 2n]);
    const ident = parseBinaryResponse(await post(server, 'identity_fp32', null, [bytesOf(Float32Array.from([1, 2, 3]))]));
    t.same(ident.json.outputs[0].shape, [1, 3], 'batch 1 when the batch dim and another are variable');
  });

  t.test('malformed framing answers 400 naming the problem, and the server keeps serving', async (t) => {
    const four = bytesOf(Float32Array.from([1, 2, 3, 4]));
    const irisInput = (parameters: object, extra: object = {}) => ({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', parameters, ...extra }] });
    const cases: { label: string; send: () => Promise<RawResponse>; message: RegExp }[] = [
      { label: 'binary smaller than binary_data_size', send: () => post(server, 'iris', irisInput({ binary_data_size: 16 }), [four.subarray(0, 12)]), message: /input 'input': unexpected size: expecting 16 bytes of binary data but only 12 are left/ },
      { label: 'bytes left over', send: () => post(server, 'iris', irisInput({ binary_data_size: 16 }), [four, Buffer.alloc(4)]), message: /unexpected additional input data: 4 bytes after the last binary input/ },
      { label: 'element count vs shape', send: () => post(server, 'iris', irisInput({ binary_data_size: 12 }), [four.subarray(0, 12)]), message: /input 'input': shape \[1,4\] of FP32 needs 16 bytes but 12 were given/ },
      { label: 'both data and binary_data_size', send: () => post(server, 'iris', irisInput({ binary_data_size: 16 }, { data: [1, 2, 3, 4] }), [four]), message: /input 'input' must set only one of 'data' and 'parameters.binary_data_size'/ },
      {
        label: 'binary_data_size without a binary section',
        send: () => rawRequest(`${server.url}/v2/models/iris/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(irisInput({ binary_data_size: 16 })) }),
        message: /input 'input' has parameters.binary_data_size but the request carries no binary data/,
      },
      {
        label: 'header length beyond the body',
        send: () => rawRequest(`${server.url}/v2/models/iris/infer`, { method: 'POST', headers: { 'inference-header-content-length': '5000' }, body: JSON.stringify(irisInput({ binary_data_size: 16 })) }),
        message: /Inference-Header-Content-Length 5000 is beyond the \d+-byte body/,
      },
      {
        label: 'header length not a number',
        send: () => rawRequest(`${server.url}/v2/models/iris/infer`, { method: 'POST', headers: { 'inference-header-content-length': 'abc' }, body: '{}' }),
        message: /Inference-Header-Content-Length 'abc' is not a non-negative integer/,
      },
      { label: 'negative binary_data_size', send: () => post(server, 'iris', irisInput({ binary_data_size: -4 }), [four]), message: /binary_data_size must be a non-negative integer/ },
      {
        label: 'BYTES element longer than the data',
        send: () => {
          const broken = framedBytes([Buffer.from('abc')]);
          broken.writeUInt32LE(99, 0);
          return post(server, 'identity_bytes', { inputs: [{ name: 'INPUT0', shape: [1, 1], datatype: 'BYTES', parameters: { binary_data_size: broken.length } }] }, [broken]);
        },
        message: /input 'INPUT0': BYTES element 0 claims 99 bytes but the data ends before them/,
      },
      {
        label: 'a NUL byte in BYTES (ONNX Runtime string tensors stop at NUL)',
        send: () => {
          const bad = framedBytes([Buffer.from([0x61, 0x00, 0x62])]);
          return post(server, 'identity_bytes', { inputs: [{ name: 'INPUT0', shape: [1, 1], datatype: 'BYTES', parameters: { binary_data_size: bad.length } }] }, [bad]);
        },
        message: /input 'INPUT0': BYTES element 0 contains a NUL byte/,
      },
      { label: 'raw body for a model with two inputs', send: () => post(server, 'add_sub', null, [four]), message: /needs a model with exactly one input; 'add_sub' has 2/ },
      { label: 'raw body not a whole number of rows', send: () => post(server, 'iris', null, [four.subarray(0, 10)]), message: /raw body of 10 bytes is not a whole number of 16-byte rows/ },
    ];
    for (const c of cases) {
      const res = await c.send();
      t.equal(res.status, 400, `${c.label}: 400 (${res.text.slice(0, 160)})`);
      t.same(Object.keys(res.json()), ['error'], `${c.label}: {"error"} only`);
      t.match(res.json().error, c.message, `${c.label}: message`);
      const ok = await post(server, 'iris', irisInput({ binary_data_size: 16 }), [four]);
      t.equal(ok.status, 200, `${c.label}: still serving`);
    }
  });

  t.test('gzip and deflate request bodies; compressed responses when asked and worth it', async (t) => {
    const body = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [6.6, 3.0, 5.6, 2.1] }] });
    for (const [encoding, compress] of [['gzip', gzipSync], ['deflate', deflateSync]] as const) {
      const res = await rawRequest(`${server.url}/v2/models/iris/infer`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, body: compress(body) });
      t.equal(res.status, 200, `${encoding} body accepted`);
      t.same((res.json().outputs as { data: number[] }[])[0].data, [2]);
    }
    const corrupt = await rawRequest(`${server.url}/v2/models/iris/infer`, { method: 'POST', headers: { 'content-encoding': 'gzip' }, body: 'not gzip at all' });
    t.equal(corrupt.status, 400);
    t.match(corrupt.json(), { error: /not valid gzip data/ });
    const unknown = await rawRequest(`${server.url}/v2/models/iris/infer`, { method: 'POST', headers: { 'content-encoding': 'br' }, body });
    t.equal(unknown.status, 400);
    t.match(unknown.json(), { error: /unsupported Content-Encoding 'br'/ });

    const big = JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, 2000], datatype: 'FP32', data: new Array(2000).fill(0.25) }] });
    const zipped = await rawRequest(`${server.url}/v2/models/identity_fp32/infer`, { method: 'POST', headers: { 'accept-encoding': 'gzip, deflate' }, body: big });
    t.equal(zipped.headers['content-encoding'], 'gzip');
    const unzipped = JSON.parse(gunzipSync(zipped.body).toString('utf8'));
    t.equal(unzipped.outputs[0].data.length, 2000);
    t.ok(zipped.body.length < big.length / 4, 'the response really is compressed');
    const small = await rawRequest(`${server.url}/v2/models/iris/infer`, { method: 'POST', headers: { 'accept-encoding': 'gzip' }, body });
    t.equal(small.headers['content-encoding'], undefined, 'small responses are sent as they are');
    const refused = await rawRequest(`${server.url}/v2/models/identity_fp32/infer`, { method: 'POST', headers: { 'accept-encoding': 'gzip;q=0' }, body: big });
    t.equal(refused.headers['content-encoding'], undefined, 'q=0 is a refusal');
  });
});

t.test('a 16 MiB FP32 tensor through JSON and binary HTTP; 70 MiB is refused', async (t) => {
  const n = 4 * 1024 * 1024; // 16 MiB of FP32
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = (i % 1000) / 8;
  const bin = parseBinaryResponse(await post(server, 'identity_fp32', { inputs: [{ name: 'INPUT0', shape: [1, n], datatype: 'FP32', parameters: { binary_data_size: n * 4 } }], parameters: { binary_data_output: true } }, [bytesOf(values)]));
  t.ok(bin.blocks.get('OUTPUT0')!.equals(bytesOf(values)), 'binary: 16 MiB back bit for bit');
  const json = `{"inputs":[{"name":"INPUT0","shape":[1,${n}],"datatype":"FP32","data":[${Array.prototype.join.call(values, ',')}]}]}`;
  const res = await rawRequest(`${server.url}/v2/models/identity_fp32/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: json });
  t.equal(res.status, 200, 'JSON: 16 MiB tensor accepted');
  const back = (res.json().outputs as { data: number[] }[])[0].data;
  t.equal(back.length, n);
  t.ok(back.every((v, i) => v === values[i]), 'JSON: every value exact');
  const huge = Buffer.alloc(70 * 1024 * 1024);
  const over = await post(server, 'identity_fp32', { inputs: [{ name: 'INPUT0', shape: [1, huge.length / 4], datatype: 'FP32', parameters: { binary_data_size: huge.length } }] }, [huge]);
  t.equal(over.status, 413);
  t.match(over.json(), { error: /larger than the limit of 67108864 bytes/ });
});
