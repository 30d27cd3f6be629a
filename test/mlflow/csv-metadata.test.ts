// CSV bodies (typed by the signature; tensor signatures read the rows as the tensor, where MLflow
// fails), signature → V2 metadata as MLServer derives it, and the V2 per-column adapter with
// KServe's MLflow wine request.
import path from 'node:path';
import t from 'tap';
import type { Tensor } from '../../src/core/tensor.js';
import { MlflowError } from '../../src/mlflow/errors.js';
import { decodeInvocations } from '../../src/mlflow/invocations/decode.js';
import { decodeV2Request, signatureToV2Metadata } from '../../src/mlflow/metadata.js';
import { readMLmodel } from '../../src/mlflow/mlmodel.js';
import { IRIS_COLUMNS, irisColumnPlan, irisTensorPlan, irisUnnamedPlan, MODELS, onnxPlan, realPlan } from './fixtures.js';

const CSV = 'text/csv';

function err(fn: () => unknown): MlflowError {
  try {
    fn();
  } catch (e) {
    if (e instanceof MlflowError) return e;
    throw e;
  }
  throw new Error('expected an MlflowError');
}

t.test('CSV: header line, columns typed by the signature, extra and index columns ignored', async (t) => {
  const plan = irisColumnPlan();
  const body = `,${IRIS_COLUMNS.join(',')},note\n0,5.1,3.5,1.4,0.2,a\n1,6.7,3,5.2,2.3,"b, c"\n`;
  const d = decodeInvocations(body, 'text/csv; charset=utf-8', plan);
  t.same(d.inputs[0].shape, [2, 4]);
  t.same(Array.from(d.inputs[0].data as Float32Array), [5.1, 3.5, 1.4, 0.2, 6.7, 3, 5.2, 2.3].map(Math.fround));
  t.same(d.response, { kind: 'records' });
  // Column order in the file does not matter; NA markers read as NaN.
  const shuffled = decodeInvocations(`petal_width,petal_length,sepal_width,sepal_length\n1,2,NA,4\n`, CSV, plan);
  const v = Array.from(shuffled.inputs[0].data as Float32Array);
  t.same([v[0], v[2], v[3]], [4, 2, 1]);
  t.ok(Number.isNaN(v[1]));
  // The real wine model: CSV of the bundled wine rows, as a DataFrame.to_csv() would write them.
  const wine = await realPlan('wine-elasticnet');
  const cols = (wine.inputSchema.kind === 'columns' ? wine.inputSchema.columns : []).map((c) => c.name!);
  const w = decodeInvocations(`${cols.join(',')}\n${cols.map((_, i) => i + 0.5).join(',')}\n`, CSV, wine);
  t.same(Array.from(w.inputs[0].data as Float64Array), cols.map((_, i) => i + 0.5));
  t.same(w.params, {});
});

t.test('CSV errors: unparsable values, missing columns, empty bodies, broken quoting', async (t) => {
  const plan = irisColumnPlan();
  let e = err(() => decodeInvocations(`${IRIS_COLUMNS.join(',')}\n1,2,abc,4\n`, CSV, plan));
  t.equal(e.status, 400);
  t.equal(e.errorCode, 'BAD_REQUEST');
  t.equal(
    e.message,
    "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: 'could not convert string to float: 'abc' (column 'petal_length', row 1)'",
  );
  e = err(() => decodeInvocations('sepal_length,sepal_width\n1,2\n', CSV, plan));
  t.equal(e.errorCode, 'INVALID_PARAMETER_VALUE');
  t.match(e.message, /Error: Model is missing inputs \['petal_length', 'petal_width'\]\.$/);
  e = err(() => decodeInvocations('', CSV, plan));
  t.match(e.message, /Error: 'No columns to parse from file'/);
  e = err(() => decodeInvocations('a,b\n"1,2\n', CSV, plan));
  t.equal(e.errorCode, 'BAD_REQUEST');
  t.match(e.message, /^Failed to parse input as a Pandas DataFrame/);
});

t.test('do better: CSV to a tensor-signature model reads the rows as the tensor (MLflow fails)', async (t) => {
  const body = 'a,b,c,d\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n';
  for (const plan of [irisUnnamedPlan()]) {
    const d = decodeInvocations(body, CSV, plan);
    t.same([d.inputs[0].name, d.inputs[0].shape], ['input', [2, 4]]);
    t.same(Array.from(d.inputs[0].data as Float32Array), [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3].map(Math.fround));
    t.same(d.response, { kind: 'outputs-dict' });
  }
  // pandas' index column (to_csv's default) is dropped.
  const indexed = decodeInvocations(',a,b,c,d\n0,5.1,3.5,1.4,0.2\n', CSV, irisUnnamedPlan());
  t.same(indexed.inputs[0].shape, [1, 4]);
  // Real tensor-signature model: iris-logreg (float64 [-1, 4]).
  const logreg = await realPlan('iris-logreg');
  const d = decodeInvocations('0,1,2,3\n5,3.4,1.5,0.2\n', CSV, logreg);
  t.same(Array.from(d.inputs[0].data as Float64Array), [5, 3.4, 1.5, 0.2]);
  // Named tensors with [-1]/[-1, 1] shapes take one column each.
  const named = onnxPlan(
    { inputs: [{ name: 'x', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 1] } }, { name: 'y', type: 'tensor', 'tensor-spec': { dtype: 'int64', shape: [-1] } }] },
    [
      { name: 'x', datatype: 'FP32', shape: [-1, 1] },
      { name: 'y', datatype: 'INT64', shape: [-1] },
    ],
    [{ name: 'o', datatype: 'FP32', shape: [-1] }],
  );
  const n = decodeInvocations('y,x\n3,1.5\n4,2.5\n', CSV, named);
  t.same(n.inputs.map((i) => [i.name, i.shape]), [['x', [2, 1]], ['y', [2]]]);
  t.same(Array.from(n.inputs[1].data as BigInt64Array), [3n, 4n]);
  // Wrong width is still an MLflow schema error.
  const e = err(() => decodeInvocations('a,b,c\n1,2,3\n', CSV, irisUnnamedPlan()));
  t.equal(e.errorCode, 'INVALID_PARAMETER_VALUE');
});

t.test('V2 metadata from signatures, as MLServer derives it', async (t) => {
  const wine = await readMLmodel(path.join(MODELS, 'wine-elasticnet'));
  const meta = signatureToV2Metadata(wine.signature)!;
  t.equal(meta.contentType, 'pd');
  t.equal(meta.inputs.length, 13);
  t.same(meta.inputs[0], { name: 'alcohol', datatype: 'FP64', shape: [-1, 1], parameters: { content_type: 'np' } });
  t.same(meta.outputs, [{ name: 'output-0', datatype: 'FP64', shape: [-1], parameters: { content_type: 'np' } }]);
  const logreg = signatureToV2Metadata((await readMLmodel(path.join(MODELS, 'iris-logreg'))).signature)!;
  t.same(logreg, {
    inputs: [{ name: 'input-0', datatype: 'FP64', shape: [-1, 4], parameters: { content_type: 'np' } }],
    outputs: [{ name: 'output-0', datatype: 'INT64', shape: [-1], parameters: { content_type: 'np' } }],
    contentType: 'np',
  });
  const typed = signatureToV2Metadata({
    inputs: {
      kind: 'columns',
      named: true,
      columns: ['boolean', 'integer', 'long', 'float', 'string', 'binary', 'datetime'].map((type) => ({ name: type, type: type as 'long', required: true })),
    },
  })!;
  t.same(
    typed.inputs.map((i) => [i.name, i.datatype, i.parameters?.content_type]),
    [['boolean', 'BOOL', 'np'], ['integer', 'INT32', 'np'], ['long', 'INT64', 'np'], ['float', 'FP32', 'np'], ['string', 'BYTES', 'str'], ['binary', 'BYTES', 'base64'], ['datetime', 'BYTES', 'datetime']],
  );
  t.equal(signatureToV2Metadata({ inputs: { kind: 'tensors', named: true, tensors: [{ name: 'input', dtype: 'float32', shape: [-1, 4] }] } })!.contentType, 'dict');
  t.equal(signatureToV2Metadata(undefined), undefined);
});

const KSERVE_WINE: [string, number][] = [
  ['fixed acidity', 7.4],
  ['volatile acidity', 0.7],
  ['citric acid', 0],
  ['residual sugar', 1.9],
  ['chlorides', 0.076],
  ['free sulfur dioxide', 11],
  ['total sulfur dioxide', 34],
  ['density', 0.9978],
  ['pH', 3.51],
  ['sulphates', 0.56],
  ['alcohol', 9.4],
];

t.test("V2 per-column adapter: KServe's MLflow wine request (shape [1], FP32, content_type pd)", async (t) => {
  // KServe's wine model: 11 double columns, an sklearn model fed one FP64 [-1, 11] matrix.
  const sig = KSERVE_WINE.map(([name]) => ({ type: 'double', name, required: true }));
  const plan = onnxPlan({ inputs: sig }, [{ name: 'input', datatype: 'FP64', shape: [-1, 11] }], [{ name: 'variable', datatype: 'FP64', shape: [-1] }]);
  // Columns in a different order than the signature; FP32 data widens to the double columns.
  const inputs: Tensor[] = [...KSERVE_WINE].reverse().map(([name, v]) => ({ name, datatype: 'FP32', shape: [1], data: Float32Array.from([v]) }));
  const d = decodeV2Request(inputs, { content_type: 'pd' }, plan);
  t.same(d.inputs.map((i) => [i.name, i.datatype, i.shape]), [['input', 'FP64', [1, 11]]]);
  t.same(Array.from(d.inputs[0].data as Float64Array), KSERVE_WINE.map(([, v]) => Math.fround(v)));
  t.same(d.params, {});
  // The same rows through /invocations give the same tensor up to the FP32 rounding KServe's request applies.
  const inv = decodeInvocations(JSON.stringify({ dataframe_records: [Object.fromEntries(KSERVE_WINE.map(([n, v]) => [n, Math.fround(v)]))] }), 'application/json', plan);
  t.same(Array.from(inv.inputs[0].data as Float64Array), Array.from(d.inputs[0].data as Float64Array));
  // [n, 1] columns, INT64 data, extra inputs ignored.
  const tall: Tensor[] = KSERVE_WINE.map(([name, v]) => ({ name, datatype: 'INT64', shape: [2, 1], data: BigInt64Array.from([BigInt(Math.round(v)), 1n]) }));
  tall.push({ name: 'extra', datatype: 'BYTES', shape: [1], data: { kind: 'bytes', values: new Uint8Array(), offsets: Uint32Array.from([0, 0]) } });
  t.same(decodeV2Request(tall, undefined, plan).inputs[0].shape, [2, 11]);
  // Errors: a missing column, mismatched lengths, a 2-D column, text for a number.
  t.throws(() => decodeV2Request(inputs.slice(1), { content_type: 'pd' }, plan), { status: 400, errorCode: 'INVALID_PARAMETER_VALUE', message: /requires the inputs \["alcohol"\], which the request lacks/ });
  const uneven = inputs.map((i, k) => (k === 0 ? { ...i, shape: [2], data: Float32Array.from([1, 2]) } : i));
  t.throws(() => decodeV2Request(uneven, undefined, plan), /every column must have the same length/);
  const wide = inputs.map((i, k) => (k === 0 ? { ...i, shape: [1, 2], data: Float32Array.from([1, 2]) } : i));
  t.throws(() => decodeV2Request(wide, undefined, plan), /a column takes shape \[n\] or \[n, 1\], got \[1,2\]/);
  const text = inputs.map((i, k) => (k === 0 ? { ...i, datatype: 'BYTES' as const, data: { kind: 'bytes' as const, values: new Uint8Array([0x61]), offsets: Uint32Array.from([0, 1]) } } : i));
  t.throws(() => decodeV2Request(text, undefined, plan), /is BYTES, which cannot be read as the signature's FP64/);
});

t.test('V2 adapter for tensor signatures, and request parameters as MLflow params', async (t) => {
  const x: Tensor = { name: 'input', datatype: 'FP64', shape: [1, 4], data: Float64Array.from([1, 2, 3, 4]) };
  const named = decodeV2Request([x], undefined, irisTensorPlan());
  t.same([named.inputs[0].datatype, Array.from(named.inputs[0].data as Float32Array)], ['FP32', [1, 2, 3, 4]]);
  t.same(named.response, { kind: 'outputs-dict' });
  const unnamed = decodeV2Request([{ ...x, name: 'input-0' }], undefined, irisUnnamedPlan());
  t.same(unnamed.inputs[0].name, 'input');
  t.throws(() => decodeV2Request([{ ...x, shape: [4] }], undefined, irisUnnamedPlan()), /has shape \[4\] but the signature expects \[-1,4\]/);
  t.throws(() => decodeV2Request([{ ...x, name: 'other' }], undefined, irisTensorPlan()), /lacks the inputs \["input"\]/);
  const withParams = irisColumnPlan([{ name: 'threshold', type: 'double', default: 0.5, shape: null }]);
  const cols: Tensor[] = IRIS_COLUMNS.map((name) => ({ name, datatype: 'FP32', shape: [1], data: Float32Array.from([1]) }));
  t.same(decodeV2Request(cols, { content_type: 'pd', threshold: 0.9, priority: 1 }, withParams).params, { threshold: 0.9 });
  t.throws(() => decodeV2Request(cols, { threshold: 'x' }, withParams), { errorCode: 'INVALID_PARAMETER_VALUE', message: /Invalid parameters found/ });
});

t.test('serving plans refuse what cannot be served, naming it', async (t) => {
  const out = [{ name: 'o', datatype: 'FP32' as const, shape: [-1] }];
  t.throws(() => onnxPlan({ inputs: [{ type: 'array', items: { type: 'double' }, name: 'a' }] }, [{ name: 'a', datatype: 'FP32', shape: [-1] }], out), /input column 'a' has type array\{"type":"array","items":\{"type":"double"\}\}; Tessera serves only scalar column types/);
  t.throws(() => onnxPlan({ inputs: [{ type: 'tensor', 'tensor-spec': { dtype: 'complex64', shape: [-1] } }] }, [{ name: 'a', datatype: 'FP32', shape: [-1] }], out), /dtype 'complex64', which has no V2 datatype/);
  t.throws(() => onnxPlan({ inputs: IRIS_COLUMNS.map((name) => ({ type: 'double', name })) }, [{ name: 'input', datatype: 'FP32', shape: [-1, 5] }], out), /the signature has 4 columns but the model's input 'input' takes 5 per row/);
  t.throws(() => onnxPlan({ inputs: [{ name: 'x', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1] } }] }, [{ name: 'y', datatype: 'FP32', shape: [-1] }], out), /the model's inputs \["y"\] are not in the signature/);
  t.throws(() => onnxPlan({ inputs: [{ type: 'string', name: 's' }, { type: 'double', name: 'd' }] }, [{ name: 'input', datatype: 'FP32', shape: [-1, 2] }], out), /the model's input 'input' is FP32 but the signature's columns are BYTES, FP64/);
});
