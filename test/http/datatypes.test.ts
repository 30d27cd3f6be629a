// Every datatype round-trips through an identity model over real HTTP, including the 64-bit
// extremes that plain JSON.parse would corrupt; FP16 is refused in JSON with a clear 400.
import t from 'tap';
import { IDENTITY_TYPES, identityModel } from '../../src/modelgen/examples.js';
import { infer, startTestServer, tempDir, writeModel } from '../helpers/server.js';

// One server for the file, with an identity model per datatype.
const root = tempDir(t);
for (const suffix of Object.keys(IDENTITY_TYPES)) writeModel(root, `identity_${suffix}`, identityModel(suffix), { name: `identity_${suffix}` });
const server = await startTestServer(t, { folder: root });

// Values as JSON text (so 64-bit literals stay exact in the test too).
const CASES: Record<string, { datatype: string; data: string }> = {
  bool: { datatype: 'BOOL', data: '[true,false,true,true]' },
  uint8: { datatype: 'UINT8', data: '[0,1,128,255]' },
  uint16: { datatype: 'UINT16', data: '[0,1,32768,65535]' },
  uint32: { datatype: 'UINT32', data: '[0,1,2147483648,4294967295]' },
  uint64: { datatype: 'UINT64', data: '[0,9007199254740993,9223372036854775808,18446744073709551615]' },
  int8: { datatype: 'INT8', data: '[-128,-1,0,127]' },
  int16: { datatype: 'INT16', data: '[-32768,-1,0,32767]' },
  int32: { datatype: 'INT32', data: '[-2147483648,-1,0,2147483647]' },
  int64: { datatype: 'INT64', data: '[-9223372036854775807,-9223372036854775808,9007199254740993,9223372036854775807]' },
  fp32: { datatype: 'FP32', data: '[0,-1.5,3.4028234663852886e+38,1.401298464324817e-45]' },
  fp64: { datatype: 'FP64', data: '[0,-1.5,1.7976931348623157e+308,5e-324]' },
  bytes: { datatype: 'BYTES', data: '["plain","héllo wörld","日本語 ✓","emoji 🎉"]' },
};

t.test('identity round trip of every datatype', async (t) => {
  for (const [suffix, c] of Object.entries(CASES)) {
    const body = `{"inputs":[{"name":"INPUT0","shape":[2,2],"datatype":"${c.datatype}","data":${c.data}}]}`;
    const res = await infer(server, `identity_${suffix}`, body);
    t.equal(res.status, 200, `${c.datatype}: status (${res.text.slice(0, 200)})`);
    // Compare the raw JSON text of the data, so exactness is checked digit by digit.
    const expected = `{"name":"OUTPUT0","datatype":"${c.datatype}","shape":[2,2],"data":${c.data}}`;
    t.ok(res.text.includes(expected), `${c.datatype}: data comes back exactly\n  got ${res.text}`);
  }
});

t.test('nested data is accepted; the shape decides', async (t) => {
  const res = await infer(server, 'identity_int64', '{"inputs":[{"name":"INPUT0","shape":[2,2],"datatype":"INT64","data":[[9223372036854775807,1],[2,-9223372036854775808]]}]}');
  t.equal(res.status, 200);
  t.ok(res.text.includes('"data":[9223372036854775807,1,2,-9223372036854775808]'), res.text);
});

t.test('datatype errors', async (t) => {
  const cases: { model: string; datatype: string; data: string; message: RegExp }[] = [
    { model: 'fp16', datatype: 'FP16', data: '[1,2,3,4]', message: /receiving FP16 data via JSON is not supported/ },
    { model: 'uint64', datatype: 'UINT64', data: '[0,1,2,18446744073709551616]', message: /element 3 is 18446744073709551616, expected an integer in \[0, 18446744073709551615\]/ },
    { model: 'int64', datatype: 'INT64', data: '[0,1,2,9223372036854775808]', message: /element 3 .* expected an integer in/ },
    { model: 'int8', datatype: 'INT8', data: '[0,1,2,128]', message: /element 3 is 128, expected an integer in \[-128, 127\]/ },
    { model: 'uint8', datatype: 'UINT8', data: '[0,1,2,-1]', message: /element 3 is -1/ },
    { model: 'int32', datatype: 'INT32', data: '[0,1,2,1.5]', message: /element 3 is 1.5, expected an integer for INT32/ },
    { model: 'bool', datatype: 'BOOL', data: '[true,false,"yes",true]', message: /element 2 is "yes", expected a boolean/ },
    { model: 'bytes', datatype: 'BYTES', data: '["a","b",3,"d"]', message: /element 2 is 3, expected a string for BYTES/ },
  ];
  for (const c of cases) {
    const body = `{"inputs":[{"name":"INPUT0","shape":[2,2],"datatype":"${c.datatype}","data":${c.data}}]}`;
    const res = await infer(server, `identity_${c.model}`, body);
    t.equal(res.status, 400, `${c.datatype}: 400`);
    t.match(res.json().error, c.message, `${c.datatype}: message names the problem`);
    t.match(res.json().error, /input 'INPUT0'/, `${c.datatype}: message names the input`);
  }
  const ok = await infer(server, 'identity_fp32', '{"inputs":[{"name":"INPUT0","shape":[1,1],"datatype":"FP32","data":[1]}]}');
  t.equal(ok.status, 200, 'still serving');
});

t.test('NaN and infinities: null in JSON (JSON has no NaN)', async (t) => {
  const res = await infer(server, 'identity_fp32', '{"inputs":[{"name":"INPUT0","shape":[1,3],"datatype":"FP32","data":[null,"Infinity",1]}]}');
  t.equal(res.status, 200);
  t.ok(res.text.includes('"data":[null,null,1]'), res.text);
});
