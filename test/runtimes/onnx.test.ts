// The ONNX runtime's metadata: symbolic dims become -1, every tensor type maps to a V2 datatype,
// and non-tensor outputs (ZipMap's sequence of maps) are left out with a warning while the
// tensor outputs keep serving.
import t from 'tap';
import { irisZipMapModel } from '../../src/modelgen/examples.js';
import { capturingLogger, infer, rawRequest, startTestServer, tempDir, writeModel } from '../helpers/server.js';

t.test('a ZipMap output is left out with a warning; the label still serves', async (t) => {
  const root = tempDir(t);
  writeModel(root, 'iris_zipmap', irisZipMapModel());
  const { logger, lines } = capturingLogger('warn');
  const server = await startTestServer(t, { folder: root, logger });
  const meta = (await rawRequest(`${server.url}/v2/models/iris_zipmap`)).json();
  t.same(meta.outputs, [{ name: 'label', datatype: 'INT64', shape: [-1] }], 'only the tensor output is in the metadata');
  t.ok(
    lines().some((l) => l.level === 40 && /output 'output_probability' is not a tensor/.test(String(l.msg))),
    'a warning names the left-out output',
  );
  const res = await infer(server, 'iris_zipmap', {
    inputs: [{ name: 'input', shape: [3, 4], datatype: 'FP32', data: [5.0, 3.4, 1.5, 0.2, 5.9, 2.8, 4.3, 1.3, 6.6, 3.0, 5.6, 2.1] }],
  });
  t.equal(res.status, 200, res.text);
  t.same(res.json().outputs, [{ name: 'label', datatype: 'INT64', shape: [3], data: [0, 1, 2] }]);
  const asked = await infer(server, 'iris_zipmap', {
    inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.0, 3.4, 1.5, 0.2] }],
    outputs: [{ name: 'output_probability' }],
  });
  t.equal(asked.status, 400, 'asking for the non-tensor output is a clear 400');
  t.match(asked.json(), { error: /unknown requested output 'output_probability'/ });
});
