// Every V2 REST route over a real socket, and the error of each kind, each followed by a request
// that proves the server still serves.
import t from 'tap';
import { exampleRepository, infer, rawRequest, startTestServer } from '../helpers/server.js';

const IRIS_ROW = [5.1, 3.5, 1.4, 0.2];
const irisBody = (extra: object = {}): object => ({
  inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: IRIS_ROW }],
  ...extra,
});

// The server with default settings, for every test but the body limit's.
const server = await startTestServer(t, { folder: exampleRepository(t, ['iris', 'add_sub', 'identity_fp32']) });

t.test('V2 REST routes', async (t) => {
  const get = (path: string) => rawRequest(server.url + path);

  const stillServes = async (): Promise<void> => {
    const res = await infer(server, 'iris', irisBody());
    t.equal(res.status, 200, 'server still serves after the error');
  };

  t.test('health', async (t) => {
    const live = await get('/v2/health/live');
    t.equal(live.status, 200);
    t.same(live.json(), { live: true });
    const ready = await get('/v2/health/ready');
    t.equal(ready.status, 200);
    t.same(ready.json(), { ready: true });
  });

  t.test('server metadata on /v2 and /v2/', async (t) => {
    for (const path of ['/v2', '/v2/']) {
      const res = await get(path);
      t.equal(res.status, 200, path);
      const body = res.json();
      t.equal(body.name, 'tessera');
      t.type(body.version, 'string');
      t.ok(Array.isArray(body.extensions));
    }
  });

  t.test('model list with states', async (t) => {
    const res = await get('/v2/models');
    t.equal(res.status, 200);
    const models = res.json().models as { name: string; state: string; version: string }[];
    t.same(
      models.map((m) => [m.name, m.version, m.state]),
      [
        ['add_sub', '', 'READY'],
        ['identity_fp32', '', 'READY'],
        ['iris', '1', 'READY'],
      ],
    );
  });

  t.test('model metadata, plain and versioned', async (t) => {
    for (const path of ['/v2/models/iris', '/v2/models/iris/versions/1']) {
      const res = await get(path);
      t.equal(res.status, 200, path);
      t.same(res.json(), {
        name: 'iris',
        versions: ['1'],
        platform: 'onnxruntime_onnx',
        inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
        outputs: [
          { name: 'label', datatype: 'INT64', shape: [-1] },
          { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
        ],
      });
    }
    const unknown = await get('/v2/models/nope');
    t.equal(unknown.status, 404);
    t.match(unknown.json().error, /nope/);
    const badVersion = await get('/v2/models/iris/versions/7');
    t.equal(badVersion.status, 404);
    t.match(badVersion.json().error, /version 7/);
  });

  t.test('model ready, plain and versioned', async (t) => {
    for (const path of ['/v2/models/iris/ready', '/v2/models/iris/versions/1/ready']) {
      const res = await get(path);
      t.equal(res.status, 200, path);
      t.same(res.json(), { name: 'iris', ready: true });
    }
    const res = await get('/v2/models/nope/ready');
    t.equal(res.status, 404);
    t.match(res.json(), { error: /nope/ });
  });

  t.test('infer: id echoed, outputs filtered, parameters passed through, versioned route', async (t) => {
    const res = await infer(
      server,
      'iris',
      irisBody({ id: 'req-42', parameters: { content_type: 'np', custom: 7 }, outputs: [{ name: 'label' }] }),
      '/v2/models/iris/versions/1/infer',
    );
    t.equal(res.status, 200);
    const body = res.json();
    t.equal(body.model_name, 'iris');
    t.equal(body.model_version, '1');
    t.equal(body.id, 'req-42');
    t.same(body.parameters, { content_type: 'np', custom: 7 });
    t.same(body.outputs, [{ name: 'label', datatype: 'INT64', shape: [1], data: [0] }]);
  });

  t.test('bodies with application/json, no Content-Type, and octet-stream JSON', async (t) => {
    const body = JSON.stringify(irisBody());
    const variants: Record<string, Record<string, string>> = {
      'application/json': { 'content-type': 'application/json' },
      'no content type': {},
      'application/octet-stream': { 'content-type': 'application/octet-stream' },
      'json with charset': { 'content-type': 'application/json; charset=utf-8' },
    };
    for (const [label, headers] of Object.entries(variants)) {
      const res = await rawRequest(`${server.url}/v2/models/iris/infer`, { method: 'POST', headers, body });
      t.equal(res.status, 200, label);
      t.same((res.json().outputs as { data: number[] }[])[0].data, [0], label);
    }
  });

  t.test('errors answer {"error"} with the right status and the server keeps serving', async (t) => {
    const cases: { label: string; model?: string; body: unknown; status: number; message: RegExp }[] = [
      { label: 'malformed JSON', body: '{"inputs": [', status: 400, message: /malformed JSON/ },
      { label: 'not an object', body: '[1,2]', status: 400, message: /JSON object/ },
      { label: 'empty body', body: '', status: 400, message: /empty/ },
      { label: 'no inputs', body: { inputs: [] }, status: 400, message: /inputs.*at least one input/ },
      { label: 'shape not integers', body: { inputs: [{ name: 'input', shape: [1.5, 4], datatype: 'FP32', data: IRIS_ROW }] }, status: 400, message: /inputs\[0\]\.shape\[0\]/ },
      { label: 'missing data', body: { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32' }] }, status: 400, message: /inputs\[0\]\.data: is required/ },
      { label: 'unknown datatype', body: { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FLOAT', data: IRIS_ROW }] }, status: 400, message: /unknown datatype 'FLOAT'/ },
      { label: 'missing input', model: 'add_sub', body: { inputs: [{ name: 'INPUT0', shape: [1, 16], datatype: 'FP32', data: new Array(16).fill(1) }] }, status: 400, message: /missing input 'INPUT1'/ },
      { label: 'unexpected input', body: { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: IRIS_ROW }, { name: 'extra', shape: [1], datatype: 'FP32', data: [1] }] }, status: 400, message: /unexpected input 'extra'/ },
      { label: 'datatype differs from metadata', body: { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP64', data: IRIS_ROW }] }, status: 400, message: /input 'input': datatype FP64 does not match the model's FP32/ },
      { label: 'rank mismatch', body: { inputs: [{ name: 'input', shape: [4], datatype: 'FP32', data: IRIS_ROW }] }, status: 400, message: /input 'input'.*rank 1.*rank 2/ },
      { label: 'fixed dim mismatch', body: { inputs: [{ name: 'input', shape: [2, 2], datatype: 'FP32', data: IRIS_ROW }] }, status: 400, message: /input 'input': dimension 1 .* is 2 but the model expects 4/ },
      { label: 'shape vs element count', body: { inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: IRIS_ROW }] }, status: 400, message: /input 'input': shape \[2,4\] needs 8 elements but 'data' has 4/ },
      { label: 'element of the wrong type', body: { inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 'x', 4] }] }, status: 400, message: /input 'input': element 2 is "x", expected a number for FP32/ },
      { label: 'unknown requested output', body: irisBody({ outputs: [{ name: 'scores' }] }), status: 400, message: /unknown requested output 'scores'/ },
      { label: 'unknown model', model: 'nope', body: irisBody(), status: 404, message: /Model nope not found/ },
    ];
    for (const c of cases) {
      const model = c.model ?? 'iris';
      const res = await infer(server, model, c.body as object);
      t.equal(res.status, c.status, `${c.label}: status`);
      const body = res.json();
      t.same(Object.keys(body), ['error'], `${c.label}: only an error field`);
      t.match(body.error, c.message, `${c.label}: message`);
      await stillServes();
    }
    const versionRes = await infer(server, 'iris', irisBody(), '/v2/models/iris/versions/9/infer');
    t.equal(versionRes.status, 404, 'unknown version');
    t.match(versionRes.json(), { error: /version 9/ });
    const route = await get('/v2/nothing/here');
    t.equal(route.status, 404);
    t.match(route.json(), { error: /Not Found/ });
  });
});

t.test('body limit: 413 beyond http_max_input_size', async (t) => {
  const root = exampleRepository(t, ['identity_fp32']);
  const limited = await startTestServer(t, { folder: root, settings: { http_max_input_size: '1000' } });
  const small = { inputs: [{ name: 'INPUT0', shape: [1, 2], datatype: 'FP32', data: [1, 2] }] };
  const big = { inputs: [{ name: 'INPUT0', shape: [1, 400], datatype: 'FP32', data: new Array(400).fill(1.5) }] };
  const over = await infer(limited, 'identity_fp32', big);
  t.equal(over.status, 413);
  t.match(over.json(), { error: /larger than the limit of 1000 bytes/ });
  const ok = await infer(limited, 'identity_fp32', small);
  t.equal(ok.status, 200, 'still serves after a 413');
});

t.test('default body limit is 64 MiB', async (t) => {
  t.equal(server.settings.http_max_input_size, 64 * 1024 * 1024);
});
