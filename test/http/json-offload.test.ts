// Large JSON bodies are decoded, and large JSON answers encoded, off the main thread
// (src/http/json-offload.ts): the answers (byte for byte), the errors (same status and message as
// the main thread's path) and the element limits are those of small bodies; JSON and binary inputs
// still mix.
import t from 'tap';
import { OFFLOAD_MIN_BYTES, OFFLOAD_MIN_ELEMENTS } from '../../src/http/json-offload.js';
import { exampleRepository, infer, rawRequest, startTestServer } from '../helpers/server.js';

type Out = { name: string; shape: number[]; data: number[] };

t.test('large JSON bodies', async (t) => {
  const root = exampleRepository(t, ['identity_fp32', 'identity_int64', 'add_sub']);
  const server = await startTestServer(t, { folder: root, settings: { parallel_workers: '1', max_tensor_elements: '2000000' } });
  const values = (n: number, scale = 1) => Array.from({ length: n }, (_, i) => ((i * 37) % 1000) / 8 * scale);

  t.test('answers as a small body would', async (t) => {
    const n = 120_000;
    const body = JSON.stringify({ id: 'big', inputs: [{ name: 'INPUT0', shape: [1, n], datatype: 'FP32', data: values(n) }] });
    t.ok(Buffer.byteLength(body) >= OFFLOAD_MIN_BYTES, `${Buffer.byteLength(body)} bytes: decoded off the main thread`);
    const res = await infer(server, 'identity_fp32', body);
    t.equal(res.status, 200, res.text.slice(0, 300));
    t.equal(res.json().id, 'big');
    const [out] = res.json().outputs as Out[];
    t.same(out.shape, [1, n]);
    t.same(out.data, values(n), 'every value back');
  });

  t.test('a large answer is encoded off the main thread, byte for byte as on it', async (t) => {
    // identity_int64 echoes its input: the answer's data is the request's. Exact 64-bit integers
    // (beyond 2^53) and negative values survive the JSON thread as they do the main thread.
    const big = ['9007199254740993', '-9223372036854775808', '9223372036854775807', '0', '-1'];
    const data = (n: number) => Array.from({ length: n }, (_, i) => big[i % big.length]).join(',');
    const body = (n: number) => `{"id":"e${n}","inputs":[{"name":"INPUT0","shape":[1,${n}],"datatype":"INT64","data":[${data(n)}]}]}`;
    const expected = (n: number) => `{"model_name":"identity_int64","id":"e${n}","outputs":[{"name":"OUTPUT0","datatype":"INT64","shape":[1,${n}],"data":[${data(n)}]}]}`;
    for (const n of [OFFLOAD_MIN_ELEMENTS - 1, OFFLOAD_MIN_ELEMENTS, 3 * OFFLOAD_MIN_ELEMENTS]) {
      const res = await infer(server, 'identity_int64', body(n));
      t.equal(res.status, 200, res.text.slice(0, 300));
      t.match(res.headers['content-type'], /^application\/json/);
      t.ok(res.text === expected(n), `${n} values (${n >= OFFLOAD_MIN_ELEMENTS ? 'JSON thread' : 'main thread'}): the exact body`);
    }
    // Requested as binary, a large output is not JSON: it stays a binary block.
    const n = 2 * OFFLOAD_MIN_ELEMENTS;
    const asBinary = await infer(server, 'identity_fp32', { inputs: [{ name: 'INPUT0', shape: [1, n], datatype: 'FP32', data: values(n) }], outputs: [{ name: 'OUTPUT0', parameters: { binary_data: true } }] });
    t.equal(asBinary.status, 200);
    t.equal(asBinary.headers['content-type'], 'application/octet-stream');
  });

  t.test('errors: the same status and message as on the main thread', async (t) => {
    const bad = (n: number) => {
      const data: unknown[] = values(n);
      data[3] = 'three';
      return JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, n], datatype: 'FP32', data }] });
    };
    const small = await infer(server, 'identity_fp32', bad(10));
    const large = await infer(server, 'identity_fp32', bad(120_000));
    t.equal(small.status, 400);
    t.equal(large.status, 400);
    t.equal(large.json().error, String(small.json().error).replace('[1,10]', '[1,120000]'), `same message: ${String(large.json().error)}`);
    const notUtf8 = Buffer.concat([Buffer.from(JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, 120_000], datatype: 'FP32', data: values(120_000) }] })), Buffer.from([0xff, 0xfe])]);
    const res = await rawRequest(`${server.url}/v2/models/identity_fp32/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: notUtf8 });
    t.equal(res.status, 400);
    t.match(res.json().error, /malformed JSON in request body: it is not valid UTF-8/);
    const tooMany = JSON.stringify({ inputs: [{ name: 'INPUT0', shape: [1, 3_000_000], datatype: 'FP32', data: values(100) }] });
    const limited = await infer(server, 'identity_fp32', tooMany + ' '.repeat(OFFLOAD_MIN_BYTES));
    t.equal(limited.status, 400);
    t.match(limited.json().error, /more than max_tensor_elements \(2000000\)/, 'the element limits apply in the decoder thread too');
  });

  t.test('a large JSON input beside a binary one', async (t) => {
    const rows = 8_000;
    const a = values(rows * 16);
    const b = new Float32Array(rows * 16).fill(1);
    const header = Buffer.from(
      JSON.stringify({
        inputs: [
          { name: 'INPUT0', shape: [rows, 16], datatype: 'FP32', data: a },
          { name: 'INPUT1', shape: [rows, 16], datatype: 'FP32', parameters: { binary_data_size: b.byteLength } },
        ],
        outputs: [{ name: 'OUTPUT0' }],
      }),
    );
    t.ok(header.length >= OFFLOAD_MIN_BYTES);
    const res = await rawRequest(`${server.url}/v2/models/add_sub/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, Buffer.from(b.buffer)]),
    });
    t.equal(res.status, 200, res.text.slice(0, 300));
    const [sum] = res.json().outputs as Out[];
    t.same(sum.data, a.map((x) => Math.fround(x) + 1), 'INPUT0 + INPUT1');
  });
});
