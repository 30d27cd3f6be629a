// /invocations decoding and encoding against MLflow's recorded answers (cases.json) and every
// error row of the reference's §1.5 table: status, error_code, content type and message text.
import t from 'tap';
import type { Tensor } from '../../src/core/tensor.js';
import { bytesFromStrings, type BytesData } from '../../src/core/tensor.js';
import { MlflowError } from '../../src/mlflow/errors.js';
import { decodeInvocations } from '../../src/mlflow/invocations/decode.js';
import { encodeInvocationsResponse } from '../../src/mlflow/invocations/encode.js';
import { SCORING_PROTOCOL_CHANGE_INFO } from '../../src/mlflow/invocations/messages.js';
import type { ServingPlan } from '../../src/mlflow/plan.js';
import { CASES, CLASSIFIERS, IRIS_COLUMNS, IRIS_INPUTS, IRIS_OUTPUTS, irisColumnPlan, irisTensorPlan, irisUnnamedPlan, onnxPlan, realPlan } from './fixtures.js';

const JSON_CT = 'application/json';

function bytesToStrings(d: BytesData): string[] {
  const dec = new TextDecoder();
  return Array.from({ length: d.offsets.length - 1 }, (_, i) => dec.decode(d.values.subarray(d.offsets[i], d.offsets[i + 1])));
}

interface Asserts {
  equal(found: unknown, wanted: unknown, message: string): unknown;
  same(found: unknown, wanted: unknown, message: string): unknown;
  match(found: unknown, wanted: unknown, message: string): unknown;
  ok(value: unknown, message: string): unknown;
}

function decodeErr(body: string | Uint8Array, ct: string | undefined, plan: ServingPlan): MlflowError {
  try {
    decodeInvocations(body, ct, plan);
  } catch (error) {
    if (error instanceof MlflowError) return error;
    throw error;
  }
  throw new Error(`expected an MlflowError for ${String(body).slice(0, 80)}`);
}

type Want = { status: number; code?: string; message: string | RegExp; contentType?: string };
function expectError(tt: Asserts, body: string | Uint8Array, ct: string | undefined, plan: ServingPlan, want: Want, what: string): MlflowError {
  const e = decodeErr(body, ct, plan);
  tt.equal(e.status, want.status, `${what}: status`);
  tt.equal(e.errorCode, want.code, `${what}: error_code`);
  tt.equal(e.contentType, want.contentType ?? 'application/json', `${what}: content type`);
  if (typeof want.message === 'string') tt.equal(e.message, want.message, `${what}: message`);
  else tt.match(e.message, want.message, `${what}: message`);
  if (e.contentType === 'application/json') {
    const parsed = JSON.parse(e.body()) as { error_code: string; message: string };
    tt.same(Object.keys(parsed).slice(0, 2), ['error_code', 'message'], `${what}: body members`);
    tt.equal(parsed.error_code, want.code, `${what}: body error_code`);
    tt.equal(parsed.message, e.message, `${what}: body message`);
    tt.ok(e.body().startsWith(`{"error_code": "${want.code}", "message": `), `${what}: Python json.dumps layout`);
  } else tt.equal(e.body(), e.message, `${what}: plain-text body`);
  return e;
}

/** The rows a cases.json request sends, in signature column order, read independently of the decoder. */
function expectedMatrix(body: string, columns: string[] | undefined): number[][] {
  const doc = JSON.parse(body) as Record<string, unknown>;
  const [format] = Object.keys(doc);
  const v = doc[format] as never;
  if (format === 'dataframe_split') {
    const { columns: cols, data } = v as { columns?: string[]; data: number[][] };
    return cols && columns ? data.map((row) => columns.map((c) => row[cols.indexOf(c)])) : data;
  }
  if ((format === 'dataframe_records' || format === 'instances') && columns && !Array.isArray((v as unknown[])[0])) {
    return (v as Record<string, number>[]).map((rec) => columns.map((c) => rec[c]));
  }
  if (format === 'inputs' && columns && !Array.isArray(v)) {
    const dict = v as Record<string, number[]>;
    return dict[columns[0]].map((_, r) => columns.map((c) => dict[c][r]));
  }
  return v as number[][];
}

t.test('cases.json: every recorded request decodes to its rows, every response encodes to the exact body', async (t) => {
  t.equal(CASES.length, 29);
  for (const c of CASES) {
    const what = `${c.model} ${c.format}`;
    const plan = await realPlan(c.model);
    const columns = plan.inputSchema.kind === 'columns' ? plan.inputSchema.columns.map((s) => s.name!) : undefined;
    const decoded = decodeInvocations(c.request.body, c.request.content_type, plan);
    const want = expectedMatrix(c.request.body, columns);
    t.equal(decoded.inputs.length, 1, what);
    const input = decoded.inputs[0];
    t.same([input.name, input.datatype, input.shape], ['input', 'FP64', [want.length, want[0].length]], `${what}: input`);
    t.same(Array.from(input.data as Float64Array), want.flat(), `${what}: values exact`);
    t.same(decoded.params, {}, `${what}: no params`);
    t.same(decoded.response, { kind: 'predict', output: CLASSIFIERS.has(c.model) ? 'label' : 'variable' });
    // The model's answer as the runtime gives it: int64 labels, float64 values, float32 for xgboost's regressor.
    const n = c.sklearn_predict.length;
    const outputs: Tensor[] = CLASSIFIERS.has(c.model)
      ? [
          { name: 'label', datatype: 'INT64', shape: [n], data: BigInt64Array.from(c.sklearn_predict.map(BigInt)) },
          { name: 'probabilities', datatype: 'FP32', shape: [n, 3], data: new Float32Array(n * 3).fill(0.25) },
        ]
      : c.model === 'diabetes-xgb'
        ? [{ name: 'variable', datatype: 'FP32', shape: [n], data: Float32Array.from(c.sklearn_predict) }]
        : [{ name: 'variable', datatype: 'FP64', shape: [n], data: Float64Array.from(c.sklearn_predict) }];
    t.equal(encodeInvocationsResponse(outputs, decoded.response), c.response.body, `${what}: exact response body`);
    t.equal(c.response.status, 200);
  }
});

t.test('ONNX flavor: tensor signature answers a dict of outputs; DataFrame input answers records', async (t) => {
  const rows = [
    [5.1, 3.5, 1.4, 0.2],
    [6.7, 3.0, 5.2, 2.3],
  ];
  const label: Tensor = { name: 'label', datatype: 'INT64', shape: [2], data: BigInt64Array.from([0n, 2n]) };
  const proba: Tensor = { name: 'probabilities', datatype: 'FP32', shape: [2, 3], data: Float32Array.from([0.9, 0.05, 0.05, 0.1, 0.2, 0.7]) };
  const tensorPlan = irisTensorPlan();
  const bodies = [
    { dataframe_split: { columns: ['input'], data: rows.map((r) => [r]) } },
    { dataframe_records: rows.map((r) => ({ input: r })) },
    { instances: rows },
    { instances: rows.map((r) => ({ input: r })) },
    { inputs: rows },
    { inputs: { input: rows } },
  ];
  for (const body of bodies) {
    const d = decodeInvocations(JSON.stringify(body), JSON_CT, tensorPlan);
    t.same(d.inputs.map((i) => [i.name, i.datatype, i.shape]), [['input', 'FP32', [2, 4]]], Object.keys(body)[0]);
    t.same(Array.from(d.inputs[0].data as Float32Array), rows.flat().map(Math.fround));
    t.same(d.response, { kind: 'outputs-dict' });
  }
  t.equal(
    encodeInvocationsResponse([label, proba], { kind: 'outputs-dict' }),
    '{"predictions": {"label": [0, 2], "probabilities": [[0.8999999761581421, 0.05000000074505806, 0.05000000074505806], [0.10000000149011612, 0.20000000298023224, 0.699999988079071]]}}',
  );
  // Unnamed tensor signature: every DataFrame form and list forms.
  const unnamed = irisUnnamedPlan();
  for (const body of [{ dataframe_split: { data: rows } }, { dataframe_records: rows.map((r) => Object.fromEntries(r.map((v, i) => [`f${i}`, v]))) }, { instances: rows }, { inputs: rows }]) {
    const d = decodeInvocations(JSON.stringify(body), JSON_CT, unnamed);
    t.same([d.inputs[0].shape, Array.from(d.inputs[0].data as Float32Array)], [[2, 4], rows.flat().map(Math.fround)], JSON.stringify(body).slice(0, 30));
    t.same(d.response, { kind: 'outputs-dict' });
  }
  // Column signature: DataFrame reaches the ONNX wrapper → records; 1-output models as MLflow.
  const cols = irisColumnPlan();
  const d = decodeInvocations(JSON.stringify({ dataframe_split: { columns: IRIS_COLUMNS, data: rows } }), JSON_CT, cols);
  t.same(d.response, { kind: 'records' });
  t.same(d.inputs[0].shape, [2, 4]);
  const wineOut: Tensor = { name: 'predictions', datatype: 'FP32', shape: [2], data: Float32Array.from([0.5, 1.25]) };
  t.equal(encodeInvocationsResponse([wineOut], d.response), '{"predictions": [{"predictions": 0.5}, {"predictions": 1.25}]}');
  // Do better: outputs of different widths (MLflow fails) give each row its slice.
  t.equal(
    encodeInvocationsResponse([label, proba], d.response),
    '{"predictions": [{"label": 0, "probabilities": [0.8999999761581421, 0.05000000074505806, 0.05000000074505806]}, {"label": 2, "probabilities": [0.10000000149011612, 0.20000000298023224, 0.699999988079071]}]}',
  );
  // [n, 1] outputs flatten as MLflow's reshape(-1) does.
  const col1: Tensor = { name: 'score', datatype: 'FP64', shape: [2, 1], data: Float64Array.from([1, 2]) };
  t.equal(encodeInvocationsResponse([label, col1], d.response), '{"predictions": [{"label": 0, "score": 1.0}, {"label": 2, "score": 2.0}]}');
  // No signature: the runtime's inputs decide; a DataFrame gives records, arrays a dict.
  const bare = onnxPlan(null, IRIS_INPUTS, IRIS_OUTPUTS);
  t.same(decodeInvocations(JSON.stringify({ dataframe_split: { data: rows } }), JSON_CT, bare).response, { kind: 'records' });
  t.same(decodeInvocations(JSON.stringify({ inputs: rows }), JSON_CT, bare).response, { kind: 'outputs-dict' });
});

t.test('encoding: text labels, booleans, NaN and infinities, non-ASCII, 2-D predictions', async (t) => {
  const text: Tensor = { name: 'label', datatype: 'BYTES', shape: [3], data: bytesFromStrings(['setosa', 'vérsicolor', 'a"b\\c\n']) };
  t.equal(encodeInvocationsResponse([text], { kind: 'predict', output: 'label' }), '{"predictions": ["setosa", "v\\u00e9rsicolor", "a\\"b\\\\c\\n"]}');
  const flags: Tensor = { name: 'y', datatype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) };
  t.equal(encodeInvocationsResponse([flags], { kind: 'predict', output: 'y' }), '{"predictions": [true, false]}');
  const odd: Tensor = { name: 'y', datatype: 'FP64', shape: [2, 2], data: Float64Array.from([NaN, Infinity, -Infinity, 1e-7]) };
  t.equal(encodeInvocationsResponse([odd], { kind: 'predict', output: 'y' }), '{"predictions": [[NaN, Infinity], [-Infinity, 1e-07]]}');
  t.equal(encodeInvocationsResponse([odd], { kind: 'predict', output: 'y' }, { nonFinite: 'null' }), '{"predictions": [[null, null], [null, 1e-07]]}');
  const big: Tensor = { name: 'y', datatype: 'INT64', shape: [1], data: BigInt64Array.from([9007199254740993n]) };
  t.equal(encodeInvocationsResponse([big], { kind: 'predict', output: 'y' }), '{"predictions": [9007199254740993]}');
  t.throws(() => encodeInvocationsResponse([big], { kind: 'predict', output: 'nope' }), new MlflowError('Encountered an unexpected error while evaluating the model. Verify that the serialized input Dataframe is compatible with the model for inference.', { errorCode: 'BAD_REQUEST', stackTrace: "the model returned no output 'nope'" }));
});

t.test('JSON formats: casting, extra columns, optional keys, scalars and broadcasting', async (t) => {
  const plan = irisColumnPlan();
  // Integers into double columns, numeric strings, extra columns ignored, column order from the signature.
  const d = decodeInvocations(
    JSON.stringify({ dataframe_records: [{ petal_width: 1, sepal_length: '5.5', sepal_width: 3, petal_length: 2, extra: 'x' }] }),
    JSON_CT,
    plan,
  );
  t.same(Array.from(d.inputs[0].data as Float32Array), [5.5, 3, 2, 1]);
  // Records missing a member read as NaN (pandas fills missing cells).
  const gap = decodeInvocations(JSON.stringify({ dataframe_records: [{ sepal_length: 1, sepal_width: 2, petal_length: 3, petal_width: 4 }, { sepal_length: 1, sepal_width: 2, petal_length: 3 }] }), JSON_CT, plan);
  t.ok(Number.isNaN((gap.inputs[0].data as Float32Array)[7]));
  // inputs as a dict of scalars is one row; scalars broadcast beside lists.
  const one = decodeInvocations(JSON.stringify({ inputs: { sepal_length: 1, sepal_width: 2, petal_length: 3, petal_width: 4 } }), JSON_CT, plan);
  t.same(one.inputs[0].shape, [1, 4]);
  const bc = decodeInvocations(JSON.stringify({ inputs: { sepal_length: [1, 2], sepal_width: 9, petal_length: [3, 4], petal_width: [5, 6] } }), JSON_CT, plan);
  t.same(Array.from(bc.inputs[0].data as Float32Array), [1, 9, 3, 5, 2, 9, 4, 6]);
  // inputs as a list of records is a DataFrame too.
  const recs = decodeInvocations(JSON.stringify({ inputs: [{ sepal_length: 1, sepal_width: 2, petal_length: 3, petal_width: 4 }] }), JSON_CT, plan);
  t.same(recs.inputs[0].shape, [1, 4]);
  // Keys beside the format key are dropped silently (signature_name); NaN literals are accepted.
  const extra = decodeInvocations('{"inputs": [[NaN, 1, 2, Infinity]], "signature_name": "x"}', JSON_CT, irisUnnamedPlan());
  const v = Array.from(extra.inputs[0].data as Float32Array);
  t.ok(Number.isNaN(v[0]) && v[3] === Infinity);
  // A single-input named signature takes a bare list.
  t.same(decodeInvocations('{"inputs": [[1, 2, 3, 4]]}', JSON_CT, irisTensorPlan()).inputs[0].shape, [1, 4]);
  // Typed columns: long, string, boolean, binary into a multi-input ONNX model.
  const multi = onnxPlan(
    { inputs: [{ type: 'long', name: 'n' }, { type: 'string', name: 's' }, { type: 'boolean', name: 'b' }, { type: 'binary', name: 'raw' }] },
    [
      { name: 'n', datatype: 'INT64', shape: [-1, 1] },
      { name: 's', datatype: 'BYTES', shape: [-1] },
      { name: 'b', datatype: 'BOOL', shape: [-1] },
      { name: 'raw', datatype: 'BYTES', shape: [-1] },
    ],
    [{ name: 'out', datatype: 'FP32', shape: [-1] }],
  );
  const m = decodeInvocations(
    JSON.stringify({ dataframe_split: { columns: ['s', 'n', 'b', 'raw'], data: [['x', 9007199254740993, true, 'aGk='], [7, '12', 0, '']] } }).replace('9007199254740992', '9007199254740993'),
    JSON_CT,
    multi,
  );
  t.same(m.inputs.map((i) => [i.name, i.datatype, i.shape]), [['n', 'INT64', [2, 1]], ['s', 'BYTES', [2]], ['b', 'BOOL', [2]], ['raw', 'BYTES', [2]]]);
  t.same(Array.from(m.inputs[0].data as BigInt64Array), [9007199254740993n, 12n], 'int64 beyond 2^53 exact');
  t.same(bytesToStrings(m.inputs[1].data as never), ['x', '7']);
  t.same(Array.from(m.inputs[2].data as Uint8Array), [1, 0]);
  t.same(bytesToStrings(m.inputs[3].data as never), ['hi', '']);
});

t.test('params: schema conversions, defaults, unknown names ignored, no schema ignores all', async (t) => {
  const params = [
    { name: 'threshold', type: 'double', default: 0.5, shape: null },
    { name: 'k', type: 'long', default: 3, shape: null },
    { name: 'tags', type: 'string', default: ['a'], shape: [-1] },
    { name: 'verbose', type: 'boolean', default: false, shape: null },
  ];
  const plan = irisColumnPlan(params);
  const body = (p: unknown): string => JSON.stringify({ inputs: { sepal_length: 1, sepal_width: 2, petal_length: 3, petal_width: 4 }, params: p });
  t.same(decodeInvocations(body({ threshold: 1, other: 'x' }), JSON_CT, plan).params, { threshold: 1, k: 3, tags: ['a'], verbose: false });
  t.same(decodeInvocations(body({ k: 7, tags: ['x', 'y'], verbose: true }), JSON_CT, plan).params, { threshold: 0.5, k: 7, tags: ['x', 'y'], verbose: true });
  t.same(decodeInvocations(body(undefined), JSON_CT, plan).params, { threshold: 0.5, k: 3, tags: ['a'], verbose: false });
  // No params schema: params are ignored, even invalid ones (MLflow warns only).
  t.same(decodeInvocations(body([1, 2]), JSON_CT, irisColumnPlan()).params, {});
});

t.test('§1.5 rows: 400 BAD_REQUEST for malformed JSON, empty body, a list, a scalar', async (t) => {
  const plan = irisTensorPlan();
  expectError(t, '{"inputs": [1,', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: /^Invalid input\. Ensure that input is a valid JSON formatted string\. Error: 'JSONDecodeError\('Expecting value: line 1 column 15 \(char 14\)'\)'\nInput: \n\{"inputs": \[1,\n$/ }, 'malformed');
  expectError(t, '', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: /Error: 'JSONDecodeError\('Expecting value: line 1 column 1 \(char 0\)'\)'/ }, 'empty body');
  expectError(t, '{"a": 1} x', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: /Extra data: line 1 column 10/ }, 'extra data');
  const fmt = "The input must be a JSON dictionary with exactly one of the input fields {'dataframe_split', 'dataframe_records', 'instances', 'inputs'}";
  expectError(t, '[[1, 2, 3, 4]]', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: `Invalid input. ${fmt}. Received a list.` }, 'top-level list');
  expectError(t, '42', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: `Invalid input. ${fmt}. Received unexpected input type '<class 'int'>.` }, 'scalar');
  expectError(t, '"x"', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: /Received unexpected input type '<class 'str'>\./ }, 'string');
  expectError(t, Uint8Array.from([0x7b, 0xff, 0x7d]), JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: 'Invalid input. The request body is not valid UTF-8.' }, 'not UTF-8');
});

t.test('§1.5 rows: 400 BAD_REQUEST for {}, unknown keys only, params only, two format keys', async (t) => {
  const plan = irisTensorPlan();
  const fmt = "The input must be a JSON dictionary with exactly one of the input fields {'dataframe_split', 'dataframe_records', 'instances', 'inputs'}";
  for (const [body, fields] of [
    ['{}', '[]'],
    ['{"data": [[1, 2, 3, 4]]}', '[]'],
    ['{"params": {"a": 1}}', '[]'],
    ['{"inputs": [[1, 2, 3, 4]], "instances": [[1, 2, 3, 4]]}', "['inputs', 'instances']"],
  ]) {
    expectError(t, body, JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: `${fmt}. Received dictionary with input fields: ${fields}. ${SCORING_PROTOCOL_CHANGE_INFO}` }, body);
  }
});

t.test('§1.5 rows: 400 BAD_REQUEST for bad dataframe_split / dataframe_records structure', async (t) => {
  const plan = irisColumnPlan();
  expectError(t, '{"dataframe_split": [[1, 2]]}', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: 'Invalid input. Dataframe split format must be a dictionary. Got list.' }, 'split list');
  expectError(t, '{"dataframe_split": 3}', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: "Invalid input. Dataframe split format must be a dictionary. Got type <class 'int'>." }, 'split int');
  expectError(t, '{"dataframe_split": {"columns": ["a"], "rows": [[1]]}}', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: "Invalid input. Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got {'columns', 'rows'}.'" }, 'split keys');
  expectError(t, '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2, 3]]}}', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: "Invalid input. Provided dataframe_split field is not a valid dataframe representation in 'split' format. Error: '2 columns passed, passed data had 3 columns'" }, 'split width');
  expectError(t, '{"dataframe_split": {"data": [[1, 2], [3]]}}', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: /not a valid dataframe representation in 'split' format. Error: 'row 1 has 1 values but row 0 has 2'/ }, 'split ragged');
  expectError(t, '{"dataframe_split": {"data": [[1, 2]], "index": [0, 1]}}', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: /Length of values \(1\) does not match length of index \(2\)/ }, 'split index');
  expectError(t, '{"dataframe_records": {"a": 1}}', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: 'Invalid input. Dataframe records format must be a list of records. Got dictionary.' }, 'records dict');
  expectError(t, '{"dataframe_records": "x"}', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: "Invalid input. Dataframe records format must be a list of records. Got type <class 'str'>." }, 'records str');
  expectError(t, '{"dataframe_records": [{"a": 1}, [1]]}', JSON_CT, plan, { status: 400, code: 'BAD_REQUEST', message: /not a valid dataframe representation in 'records' format/ }, 'records mixed');
});

t.test('§1.5 rows: 400 BAD_REQUEST for values that cannot be cast while parsing', async (t) => {
  const cols = irisColumnPlan();
  expectError(
    t,
    '{"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"], "data": [[1, "abc", 3, 4]]}}',
    JSON_CT,
    cols,
    { status: 400, code: 'BAD_REQUEST', message: `Invalid input. Data is not compatible with model signature. Failed to convert column sepal_width to type 'float64'. Error: 'ValueError("could not convert string to float: 'abc'")'` },
    'string in a double column (split)',
  );
  expectError(t, '{"instances": [{"sepal_length": "x", "sepal_width": 1, "petal_length": 1, "petal_width": 1}]}', JSON_CT, cols, { status: 400, code: 'BAD_REQUEST', message: "Invalid input. could not convert string to float: 'x'" }, 'string in a column (instances)');
  expectError(t, '{"inputs": {"sepal_length": [[1, 2], [3]], "sepal_width": 1, "petal_length": 1, "petal_width": 1}}', JSON_CT, cols, { status: 400, code: 'BAD_REQUEST', message: /^Invalid input\. setting an array element with a sequence\. The requested array has an inhomogeneous shape after 1 dimensions/ }, 'ragged column');
  const tensor = irisUnnamedPlan();
  expectError(t, '{"inputs": [[1, 2, 3, "four"]]}', JSON_CT, tensor, { status: 400, code: 'BAD_REQUEST', message: "Invalid input. could not convert string to float: 'four'" }, 'string in a tensor');
  expectError(t, '{"inputs": [[1, 2, 3, 4], [1, 2]]}', JSON_CT, tensor, { status: 400, code: 'BAD_REQUEST', message: 'Invalid input. setting an array element with a sequence. The requested array has an inhomogeneous shape after 1 dimensions. The detected shape was (2,) + inhomogeneous part.' }, 'ragged tensor');
  expectError(t, '{"inputs": {"input": [[1, 2, 3, 4]]}}', JSON_CT, tensor, { status: 400, code: 'BAD_REQUEST', message: "Invalid input. Failed to parse input data. This model contains an un-named  model signature which expects a single n-dimensional array or a single value as input, however, an input of type <class 'dict'> was found." }, 'dict for an unnamed tensor (inputs)');
  expectError(t, '{"instances": [{"a": 1}, [1]]}', JSON_CT, cols, { status: 400, code: 'BAD_REQUEST', message: `Invalid input. Ensure that the input is a valid JSON-formatted string.\nError: AttributeError("'list' object has no attribute 'items'")` }, 'instances mixing records');
  expectError(t, '{"instances": [{"sepal_length": 1, "sepal_width": 1, "petal_length": 1, "petal_width": 1}, {"sepal_length": 1}]}', JSON_CT, cols, { status: 400, code: 'BAD_REQUEST', message: 'Invalid input. The length of values for each input/column name are not the same' }, 'instances lengths');
  const longPlan = onnxPlan({ inputs: [{ type: 'long', name: 'n' }] }, [{ name: 'n', datatype: 'INT64', shape: [-1] }], [{ name: 'o', datatype: 'FP32', shape: [-1] }]);
  expectError(t, '{"dataframe_split": {"columns": ["n"], "data": [[null]]}}', JSON_CT, longPlan, { status: 400, code: 'BAD_REQUEST', message: /Failed to convert column n to type 'int64'. Error: 'TypeError\("int\(\) argument must be a string, a bytes-like object or a real number, not 'NoneType'"\)'/ }, 'null in a long column');
});

t.test('§1.5 rows: 400 INVALID_PARAMETER_VALUE for missing columns, wrong width, dicts after parsing', async (t) => {
  const cols = irisColumnPlan();
  const schema = "['sepal_length': double (required), 'sepal_width': double (required), 'petal_length': double (required), 'petal_width': double (required)]";
  const data = "DataFrame of 1 row with columns ['sepal_length', 'sepal_width', 'petal_length', 'x']";
  expectError(
    t,
    '{"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", "x"], "data": [[1, 2, 3, 4]]}}',
    JSON_CT,
    cols,
    { status: 400, code: 'INVALID_PARAMETER_VALUE', message: `Failed to predict data '${data}'. \nError: Failed to enforce schema of data '${data}' with schema '${schema}'. Error: Model is missing inputs ['petal_width']. Note that there were extra inputs: ['x'].` },
    'missing column',
  );
  expectError(t, '{"inputs": [[1, 2, 3, 4]]}', JSON_CT, cols, { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /Error: Model is missing inputs \['sepal_length', 'sepal_width', 'petal_length', 'petal_width'\]\. Note that there were extra inputs: \[0, 1, 2, 3\]\.$/ }, 'a bare list for a named column signature');
  const tensor = irisUnnamedPlan();
  expectError(t, '{"inputs": [[1, 2, 3]]}', JSON_CT, tensor, { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /with schema '\[Tensor\('float32', \(-1, 4\)\)\]'\. Error: Shape of input \(1, 3\) does not match expected shape \(-1, 4\)\.$/ }, 'wrong width (tensor)');
  expectError(t, '{"dataframe_split": {"data": [[1, 2, 3]]}}', JSON_CT, tensor, { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /the input DataFrame passed had 3 columns and an input shape of \(-1, 4\)/ }, 'wrong width (DataFrame)');
  expectError(t, '{"instances": [{"a": [1, 2, 3, 4]}]}', JSON_CT, tensor, { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /but an input of type <class 'dict'> was found\.$/ }, 'dict to the unnamed-tensor path after parsing');
  const named = irisTensorPlan();
  expectError(t, '{"inputs": {"other": [[1, 2, 3, 4]]}}', JSON_CT, named, { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /Error: Model is missing inputs \['input'\]\. Note that there were extra inputs: \['other'\]\.$/ }, 'missing named tensor');
  expectError(t, '{"dataframe_split": {"columns": ["input"], "data": [[1]]}}', JSON_CT, named, { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /contains scalar values, which requires the shape to be \(-1,\) or \(-1, 1\), but got tensor spec shape of \(-1, 4\)\.$/ }, 'scalars for a 2-D named tensor');
  expectError(t, '{"dataframe_split": {"columns": ["input"], "data": [[[1, 2, 3]]]}}', JSON_CT, named, { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /could not be converted to the expected shape of: '\(-1, 4\)'/ }, 'short lists for a named tensor');
  expectError(t, '{"dataframe_split": {"columns": ["a"], "data": []}}', JSON_CT, tensor, { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /Error: Input DataFrame is empty\.$/ }, 'empty DataFrame');
});

t.test('§1.5 rows: 400 INVALID_PARAMETER_VALUE for bad params (with a params schema)', async (t) => {
  const plan = irisColumnPlan([
    { name: 'threshold', type: 'double', default: 0.5, shape: null },
    { name: 'k', type: 'long', default: 3, shape: null },
  ]);
  const body = (p: unknown): string => JSON.stringify({ inputs: { sepal_length: 1, sepal_width: 2, petal_length: 3, petal_width: 4 }, params: p });
  expectError(t, body([1]), JSON_CT, plan, { status: 400, code: 'INVALID_PARAMETER_VALUE', message: "Parameters must be a dictionary. Got type 'list'." }, 'params list');
  expectError(
    t,
    body({ threshold: 'high' }),
    JSON_CT,
    plan,
    { status: 400, code: 'INVALID_PARAMETER_VALUE', message: `Invalid parameters found: {('threshold', "Failed to validate type and shape for 'threshold': double (default: 0.5), error: Can not safely convert \`<class 'str'>\` to \`DataType.double\` for value \`high\`")}` },
    'string for a double',
  );
  expectError(t, body({ k: 1.5, threshold: [1] }), JSON_CT, plan, { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /^Invalid parameters found: \{\('threshold', .*Value must be a scalar for type `DataType.double`, got `\[1\]`.*\), \('k', .*Can not safely convert `<class 'float'>` to `DataType.long` for value `1.5`/ }, 'two bad params');
});

t.test('§1.5 rows: 400 INVALID_PARAMETER_VALUE for bare unified-LLM keys on a tensor or column model', async (t) => {
  expectError(t, '{"input": [[1, 2, 3, 4]]}', JSON_CT, irisTensorPlan(), { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /Error: Model is missing inputs \['input'\]|but a dict with value type <class 'list'> was found\.$/ }, 'input key, named tensor');
  expectError(t, '{"messages": [{"role": "user", "content": "hi"}]}', JSON_CT, irisUnnamedPlan(), { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /Error: This model contains a tensor-based model signature with no input names/ }, 'messages, unnamed tensor');
  expectError(t, '{"prompt": "hello"}', JSON_CT, irisColumnPlan(), { status: 400, code: 'INVALID_PARAMETER_VALUE', message: /Error: Model is missing inputs \['sepal_length', 'sepal_width', 'petal_length', 'petal_width'\]\. Note that there were extra inputs: \['prompt'\]\.$/ }, 'prompt, columns');
});

t.test('§1.5 rows: 415 text/plain for unsupported types, charsets, parameters; no Content-Type', async (t) => {
  const plan = irisTensorPlan();
  const body = '{"inputs": [[1, 2, 3, 4]]}';
  const types = "This predictor only supports the following content types: Types: ['text/csv', 'application/json'].";
  for (const ct of ['text/plain', 'application/csv', 'APPLICATION/JSON', 'application/x-www-form-urlencoded']) {
    expectError(t, body, ct, plan, { status: 415, message: `${types} Got '${ct}'.`, contentType: 'text/plain' }, ct);
  }
  for (const ct of ['application/json; charset=latin-1', 'text/csv; charset=utf8', 'application/json; charset="utf-8"', 'text/plain; charset=ascii']) {
    expectError(t, body, ct, plan, { status: 415, message: 'The scoring server only supports UTF-8', contentType: 'text/plain' }, ct);
  }
  expectError(t, body, 'application/json; format=pandas-split', plan, { status: 415, message: `Unrecognized content type parameters: format. ${SCORING_PROTOCOL_CHANGE_INFO}`, contentType: 'text/plain' }, 'format parameter');
  expectError(t, body, 'application/json; charset=utf-8; orient=records; x=1', plan, { status: 415, message: /^Unrecognized content type parameters: orient, x\. IMPORTANT/, contentType: 'text/plain' }, 'two parameters');
  // MLflow answers 500 without a Content-Type (an AttributeError); Tessera answers 415.
  expectError(t, body, undefined, plan, { status: 415, message: `${types} Got no Content-Type header.`, contentType: 'text/plain' }, 'no Content-Type');
  // Accepted spellings.
  for (const ct of ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', ' application/json ']) {
    t.same(decodeInvocations(body, ct, plan).inputs[0].shape, [1, 4], ct);
  }
});
