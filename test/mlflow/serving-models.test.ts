// MLflow, scikit-learn and XGBoost models served by the real server, over real sockets.
//
// Server A: a model repository holding the eight MLflow-written models (zero-config MLflow
// folders), an onnx-flavor MLflow folder beside the plain ONNX iris, bare MLServer-style sklearn and
// XGBoost models, malicious pickles (zero-config, inside an MLflow folder, behind a settings file),
// a flavor Tessera does not serve and a legacy binary XGBoost file. Every recorded case answers as
// MLflow answered over /invocations, and as sklearn/XGBoost predict over V2 HTTP and gRPC; MLflow's
// error rows end to end; the V2 and MLflow error shapes side by side.
// Server B: a restart on the same conversion cache (hits, nothing converted), MLflow models named
// by a folder and by a models:/ URI (an alias of a file-store registry), and no default for
// /invocations. Server C: KServe's layout (the model's files at the repository root,
// MLSERVER_MODEL_URI / MLSERVER_MODEL_NAME), still a cache hit, /invocations on the only model.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { buildModel } from '../../src/modelgen/onnx-builder.js';
import { irisModel, writeExamples } from '../../src/modelgen/examples.js';
import { grpcClients } from '../helpers/grpc.js';
import { MlrunsWriter } from '../helpers/mlruns.js';
import { capturingLogger, rawRequest, startTestServer, tempDir, type RawResponse } from '../helpers/server.js';
import {
  agrees,
  cases,
  CLASSIFIERS,
  copyModels,
  maxRelativeError,
  MODEL_NAMES,
  MODELS_DIR,
  PRESENT,
  rowsOf,
  signatureColumns,
  TOLERANCE,
  v2Inputs,
} from './serving-helpers.js';

const FIXTURES = new URL('../fixtures/sklearn/', import.meta.url).pathname;

type V2Output = { name: string; datatype: string; shape: number[]; data: number[] };
type GrpcOutput = { name: string; datatype: string; shape: string[]; contents: Record<string, unknown[]> };

/** POST with that Content-Type (null: none). */
const post = (url: string, body: string | undefined, contentType: string | null = 'application/json'): Promise<RawResponse> =>
  rawRequest(url, { method: 'POST', headers: contentType === null ? {} : { 'content-type': contentType }, ...(body !== undefined ? { body } : {}) });

const predictions = (res: RawResponse): unknown => (JSON.parse(res.text) as { predictions: unknown }).predictions;

/** An onnx-flavor MLflow folder, MLmodel written as MLflow writes it. */
function onnxFlavorFolder(dir: string, onnx: Uint8Array, inputs: string, params: string | null): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), onnx);
  const sig = `signature:\n  inputs: '${inputs}'\n  outputs: null\n  params: ${params === null ? 'null' : `'${params}'`}\n`;
  writeFileSync(
    join(dir, 'MLmodel'),
    `flavors:\n  onnx:\n    data: model.onnx\n    onnx_version: 1.12.0\n    providers:\n    - CPUExecutionProvider\n  python_function:\n    data: model.onnx\n    loader_module: mlflow.onnx\nmlflow_version: 2.9.2\n${sig}`,
  );
}

/** A graph that fails inside ONNX Runtime when a row is not 4 wide (MatMul with a [4, 1] weight). */
const failingModel = (): Uint8Array =>
  buildModel({
    name: 'fails',
    inputs: [{ name: 'input', type: 'FLOAT', shape: ['rows', 'cols'] }],
    outputs: [{ name: 'y', type: 'FLOAT', shape: ['rows', 1] }],
    nodes: [{ op: 'MatMul', inputs: ['input', 'w'], outputs: ['y'] }],
    initializers: [{ name: 'w', dims: [4, 1], data: new Float32Array([1, 1, 1, 1]) }],
  });

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

t.test('the MLflow models are here', { skip: PRESENT ? false : `the MLflow models are not on this machine (${MODELS_DIR})` }, async (t) => {
  t.ok(PRESENT);
});

if (PRESENT) {
  const all = cases();
  const cache = tempDir(t, 'tessera-conversions-');

  t.test('server A: every model of the repository', async (t) => {
    const root = tempDir(t);
    copyModels(root, MODEL_NAMES);
    const before = new Map(MODEL_NAMES.map((m) => [m, files(join(root, m))]));
    writeExamples(root, ['iris']); // the plain ONNX iris (model-settings.json + model.onnx)
    onnxFlavorFolder(
      join(root, 'iris-mlflow-onnx'),
      irisModel(),
      '[{"name": "input", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]',
      '[{"name": "threshold", "type": "double", "default": 0.5, "shape": null}]',
    );
    onnxFlavorFolder(join(root, 'fails'), failingModel(), '[{"name": "input", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, -1]}}]', null);
    // MLServer-style bare models: a settings file naming SKLearnModel; a zero-config XGBoost file.
    mkdirSync(join(root, 'sk-bare'));
    copyFileSync(join(MODELS_DIR, 'iris-logreg', 'model.pkl'), join(root, 'sk-bare', 'model.pkl'));
    writeFileSync(join(root, 'sk-bare', 'model-settings.json'), JSON.stringify({ implementation: 'mlserver_sklearn.SKLearnModel', parameters: { uri: './model.pkl' } }));
    mkdirSync(join(root, 'xgb-bare'));
    copyFileSync(join(MODELS_DIR, 'iris-xgb', 'model.ubj'), join(root, 'xgb-bare', 'model.ubj'));
    mkdirSync(join(root, 'xgb-legacy'));
    writeFileSync(join(root, 'xgb-legacy', 'model.bst'), Buffer.from([0, 0, 0, 63, 3, 0, 0, 0, 1, 0, 0, 0, 98, 105, 110, 102]));
    // A flavor Tessera does not serve.
    mkdirSync(join(root, 'torch'));
    writeFileSync(join(root, 'torch', 'MLmodel'), 'flavors:\n  pytorch:\n    model_data: data\n  python_function:\n    loader_module: mlflow.pytorch\n');
    // Malicious pickles: zero-config, inside an MLflow folder, behind a settings file.
    const malicious = JSON.parse(readFileSync(join(FIXTURES, 'malicious', 'malicious.json'), 'utf8')) as { cases: { file: string; error: string; markers: string[] }[] };
    const evil = { 'evil-system': 'malicious/os-system.pkl', 'evil-mlflow': 'malicious/eval.pkl', 'evil-class': 'malicious/unknown-class.pkl' } as const;
    const markers = malicious.cases.filter((c) => Object.values(evil).includes(c.file as never)).flatMap((c) => c.markers);
    for (const m of markers) rmSync(m, { force: true });
    mkdirSync(join(root, 'evil-system'));
    copyFileSync(join(FIXTURES, evil['evil-system']), join(root, 'evil-system', 'model.pkl'));
    copyModels(root, ['iris-logreg'], () => 'evil-mlflow');
    copyFileSync(join(FIXTURES, evil['evil-mlflow']), join(root, 'evil-mlflow', 'model.pkl'));
    mkdirSync(join(root, 'evil-class'));
    copyFileSync(join(FIXTURES, evil['evil-class']), join(root, 'evil-class', 'model.joblib'));
    writeFileSync(join(root, 'evil-class', 'model-settings.json'), JSON.stringify({ implementation: 'mlserver_sklearn.SKLearnModel' }));

    const log = capturingLogger();
    const server = await startTestServer(t, {
      folder: root,
      logger: log.logger,
      settings: { conversion_cache_dir: cache, mlflow_scoring_model: 'wine-elasticnet' },
    });
    const grpcClient = grpcClients(server.grpcAddress);
    t.teardown(() => grpcClient.close());
    const models = (await rawRequest(`${server.url}/v2/models`)).json().models as { name: string; state: string; reason: string }[];
    const state = (name: string) => models.find((m) => m.name === name);

    t.test('states: the servable models READY, the others UNAVAILABLE naming why', async (t) => {
      for (const name of [...MODEL_NAMES, 'iris', 'iris-mlflow-onnx', 'fails', 'sk-bare', 'xgb-bare']) t.equal(state(name)?.state, 'READY', `${name} READY ${state(name)?.reason ?? ''}`);
      t.match(state('evil-system'), { state: 'UNAVAILABLE', reason: /posix\.system/ }, 'os.system pickle (zero-config): the global named');
      t.match(state('evil-mlflow'), { state: 'UNAVAILABLE', reason: /builtins\.eval/ }, 'eval pickle inside an MLflow folder');
      t.match(state('evil-class'), { state: 'UNAVAILABLE', reason: /__main__\.Sneaky/ }, 'unknown class behind mlserver_sklearn.SKLearnModel');
      for (const m of markers) t.notOk(existsSync(m), `nothing executed: no marker ${m}`);
      t.match(state('torch'), { state: 'UNAVAILABLE', reason: /'pytorch'.*Tessera serves only the 'onnx', 'sklearn' and 'xgboost' flavors/ }, 'another flavor refused, naming it');
      t.match(state('xgb-legacy'), { state: 'UNAVAILABLE', reason: /legacy binary format.*save it again as JSON or UBJSON/ }, 'legacy binary XGBoost refused');
      const lines = log.lines().filter((l) => l.msg === 'model loaded' && l.runtime === 'mlflow' && l.flavor === 'sklearn');
      t.equal(lines.length, 6, 'six sklearn conversions logged');
      for (const l of lines) {
        t.match(l, { cache: 'stored', convertMs: Number, onnxBytes: Number, sourceBytes: Number, loadMs: Number, rssDeltaMb: Number }, `${String(l.model)}: load line with conversion time and sizes`);
      }
      for (const m of MODEL_NAMES) t.same(files(join(root, m)), before.get(m), `${m}: nothing written in the model folder`);
    });

    t.test('every recorded case over /invocations answers as MLflow did', async (t) => {
      t.equal(all.length, 29);
      let identical = 0;
      for (const c of all) {
        const res = await post(`${server.url}/endpoints/${c.model}/invocations`, c.request.body, c.request.content_type);
        t.equal(res.status, c.response.status, `${c.model} ${c.format}: status`);
        t.equal(res.headers['content-type'], c.response.content_type);
        const got = predictions(res) as number[];
        const want = (JSON.parse(c.response.body) as { predictions: number[] }).predictions;
        const { ok, detail } = agrees(c.model, got, want);
        t.ok(ok, `${c.model} ${c.format}: ${detail}`);
        if (CLASSIFIERS.has(c.model)) t.equal(res.text, c.response.body, `${c.model} ${c.format}: the body, byte for byte`);
        if (res.text === c.response.body) identical++;
      }
      t.ok(identical >= 25, `${identical} of ${all.length} bodies byte-identical (the others differ in the last bits of float64 linear models, as BLAS layouts do)`);
      const wine = all.find((c) => c.model === 'wine-elasticnet')!;
      const viaDefault = await post(`${server.url}/invocations`, wine.request.body);
      t.equal(viaDefault.status, 200, 'POST /invocations serves mlflow_scoring_model');
      t.same(predictions(viaDefault), predictions(await post(`${server.url}/endpoints/wine-elasticnet/invocations`, wine.request.body)));
    });

    t.test('every recorded case over V2 HTTP and gRPC answers as predict did', async (t) => {
      for (const c of all) {
        const columns = signatureColumns(c.model);
        const request = v2Inputs(rowsOf(c.request.body, columns), columns);
        const res = await post(`${server.url}/v2/models/${c.model}/infer`, JSON.stringify(request));
        t.equal(res.status, 200, `${c.model} ${c.format}: HTTP 200 ${res.status === 200 ? '' : res.text}`);
        const outputs = res.json().outputs as V2Output[];
        t.same(outputs.map((o) => o.name), ['predict'], 'predict only, unless asked');
        t.ok(agrees(c.model, outputs[0].data, c.sklearn_predict).ok, `${c.model} ${c.format}: HTTP predict ${agrees(c.model, outputs[0].data, c.sklearn_predict).detail}`);

        const grpcInputs = request.inputs.map((i) => ({ name: i.name, datatype: 'FP64', shape: i.shape, contents: { fp64_contents: i.data } }));
        const reply = await grpcClient.call<{ outputs: GrpcOutput[] }>('ModelInfer', {
          model_name: c.model,
          inputs: grpcInputs,
          ...(request.parameters ? { parameters: { content_type: { string_param: 'pd' } } } : {}),
        });
        const out = reply.outputs[0];
        const values = (Object.values(out.contents).find((v) => v.length > 0) ?? []).map(Number);
        t.equal(out.name, 'predict');
        t.ok(agrees(c.model, values, c.sklearn_predict).ok, `${c.model} ${c.format}: gRPC predict ${agrees(c.model, values, c.sklearn_predict).detail}`);

        if (c.sklearn_predict_proba) {
          const proba = await post(`${server.url}/v2/models/${c.model}/infer`, JSON.stringify({ ...request, outputs: [{ name: 'predict_proba' }] }));
          const [p] = proba.json().outputs as V2Output[];
          t.equal(p.name, 'predict_proba');
          const err = maxRelativeError(p.data, c.sklearn_predict_proba.flat());
          t.ok(err <= TOLERANCE, `${c.model} ${c.format}: predict_proba when asked (max relative error ${err.toExponential(2)})`);
        }
      }
    });

    t.test("the wine model through V2 per column (KServe's request: shape [1], FP32, content type pd) answers as /invocations", async (t) => {
      const columns = signatureColumns('wine-elasticnet')!;
      const c = all.find((x) => x.model === 'wine-elasticnet')!;
      const [row] = rowsOf(c.request.body, columns);
      const kserve = {
        parameters: { content_type: 'pd' },
        inputs: columns.map((name, j) => ({ name, shape: [1], datatype: 'FP32', data: [row[j]] })),
      };
      const v2 = await post(`${server.url}/v2/models/wine-elasticnet/infer`, JSON.stringify(kserve));
      t.equal(v2.status, 200, v2.text);
      const [out] = v2.json().outputs as V2Output[];
      const viaMlflow = predictions(await post(`${server.url}/invocations`, JSON.stringify({ dataframe_split: { columns, data: [row] } }))) as number[];
      const err = maxRelativeError(out.data, viaMlflow);
      t.ok(err <= TOLERANCE, `predict ${out.data[0]} vs /invocations ${viaMlflow[0]} (relative ${err.toExponential(2)}; FP32 inputs)`);
      t.same(v2.json().parameters, { content_type: 'pd' }, 'request parameters echoed');
      const grpcReply = await grpcClient.call<{ outputs: GrpcOutput[] }>('ModelInfer', {
        model_name: 'wine-elasticnet',
        parameters: { content_type: { string_param: 'pd' } },
        inputs: kserve.inputs.map((i) => ({ name: i.name, datatype: 'FP32', shape: i.shape, contents: { fp32_contents: i.data } })),
      });
      t.ok(maxRelativeError(grpcReply.outputs[0].contents.fp64_contents!.map(Number), viaMlflow) <= TOLERANCE, 'and over gRPC');
      const missing = await post(`${server.url}/v2/models/wine-elasticnet/infer`, JSON.stringify({ inputs: kserve.inputs.slice(1) }));
      t.equal(missing.status, 400);
      t.match(missing.json(), { error: /requires the inputs \["alcohol"\]/ }, 'a missing column: 400 in the V2 shape');
      await t.rejects(
        grpcClient.call('ModelInfer', { model_name: 'wine-elasticnet', inputs: [] }),
        { code: grpc.status.INVALID_ARGUMENT },
        'and INVALID_ARGUMENT over gRPC',
      );
    });

    t.test('V2 metadata from the signature; MLServer-style bare models', async (t) => {
      const wine = (await rawRequest(`${server.url}/v2/models/wine-elasticnet`)).json();
      t.equal((wine.inputs as unknown[]).length, 13, 'a column signature: one input per column');
      t.same((wine.inputs as unknown[])[0], { name: 'alcohol', datatype: 'FP64', shape: [-1, 1], parameters: { content_type: 'np' } });
      t.same(wine.parameters, { content_type: 'pd' });
      t.same(wine.outputs, [{ name: 'predict', datatype: 'FP64', shape: [-1] }]);
      t.equal(wine.platform, 'mlflow');
      const logreg = (await rawRequest(`${server.url}/v2/models/iris-logreg`)).json();
      t.same(logreg.inputs, [{ name: 'input-0', datatype: 'FP64', shape: [-1, 4], parameters: { content_type: 'np' } }], 'an unnamed tensor signature');
      t.same((logreg.outputs as { name: string }[]).map((o) => o.name), ['predict', 'predict_proba']);
      const onnx = (await rawRequest(`${server.url}/v2/models/iris-mlflow-onnx`)).json();
      t.same(onnx.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 4], parameters: { content_type: 'np' } }], 'the onnx flavor: named tensor');
      t.same((onnx.outputs as { name: string }[]).map((o) => o.name), ['label', 'probabilities'], "the graph's outputs");

      const c = all.find((x) => x.model === 'iris-logreg')!;
      const rows = rowsOf(c.request.body, undefined);
      const body = { inputs: [{ name: 'input-0', shape: [rows.length, 4], datatype: 'FP32', data: rows.flat() }] };
      for (const bare of ['sk-bare', 'xgb-bare']) {
        const res = await post(`${server.url}/v2/models/${bare}/infer`, JSON.stringify(body));
        t.equal(res.status, 200, `${bare}: FP32 input of any name accepted ${res.status === 200 ? '' : res.text}`);
        const outputs = res.json().outputs as V2Output[];
        t.same(outputs.map((o) => o.name), ['predict'], `${bare}: predict only, unless asked`);
        if (bare === 'sk-bare') t.same(outputs[0].data, c.sklearn_predict, 'sk-bare: the labels of the same pickle served through MLflow');
      }
      const xgb = all.find((x) => x.model === 'iris-xgb')!;
      const xgbRows = rowsOf(xgb.request.body, undefined);
      const xres = await post(`${server.url}/v2/models/xgb-bare/infer`, JSON.stringify({ inputs: [{ name: 'x', shape: [xgbRows.length, 4], datatype: 'FP64', data: xgbRows.flat() }], outputs: [{ name: 'predict' }, { name: 'predict_proba' }] }));
      const [labels, proba] = xres.json().outputs as V2Output[];
      t.same(labels.data, xgb.sklearn_predict, 'xgb-bare: predict equals XGBClassifier.predict');
      t.ok(maxRelativeError(proba.data, xgb.sklearn_predict_proba!.flat()) <= TOLERANCE, 'xgb-bare: predict_proba');
      const two = await post(`${server.url}/v2/models/sk-bare/infer`, JSON.stringify({ inputs: [body.inputs[0], { ...body.inputs[0], name: 'extra' }] }));
      t.equal(two.status, 400);
      t.match(two.json(), { error: /takes one input, a \[rows, 4\] matrix/ });
    });

    t.test("MLflow's error rows end to end, and the onnx flavor", async (t) => {
      const url = (m: string): string => `${server.url}/endpoints/${m}/invocations`;
      const treeColumns = signatureColumns('iris-tree')!;
      const expectError = async (res: Promise<RawResponse>, status: number, code: string, message: RegExp, what: string): Promise<Record<string, unknown>> => {
        const r = await res;
        t.equal(r.status, status, `${what}: ${status}`);
        t.equal(r.headers['content-type'], 'application/json', `${what}: JSON`);
        const body = r.json();
        t.equal(body.error_code, code, `${what}: ${code}`);
        t.match(body.message, message, what);
        return body;
      };
      await expectError(post(url('iris-tree'), '{"inputs": ['), 400, 'BAD_REQUEST', /Ensure that input is a valid JSON formatted string/, 'malformed JSON');
      await expectError(post(url('iris-tree'), '[1, 2]'), 400, 'BAD_REQUEST', /Received a list/, 'a top-level list');
      await expectError(post(url('iris-tree'), '{}'), 400, 'BAD_REQUEST', /exactly one of the input fields/, '{}');
      await expectError(post(url('iris-tree'), '{"dataframe_split": [1]}'), 400, 'BAD_REQUEST', /Dataframe split format must be a dictionary/, 'a bad dataframe_split');
      await expectError(
        post(url('iris-tree'), JSON.stringify({ dataframe_split: { columns: treeColumns, data: [['x', 1, 2, 3]] } })),
        400,
        'BAD_REQUEST',
        /Failed to convert column sepal length \(cm\)/,
        'a string in a double column',
      );
      await expectError(
        post(url('iris-tree'), JSON.stringify({ dataframe_records: [{ [treeColumns[0]]: 1, [treeColumns[1]]: 2, [treeColumns[2]]: 3 }] })),
        400,
        'INVALID_PARAMETER_VALUE',
        /Model is missing inputs \['petal width \(cm\)'\]/,
        'a missing column',
      );
      await expectError(post(url('iris-tree'), '{"input": [[1, 2, 3, 4]]}'), 400, 'INVALID_PARAMETER_VALUE', /Failed to enforce schema/, 'the unified-LLM key');
      await expectError(post(url('iris-mlflow-onnx'), '{"inputs": [[5.1, 3.5, 1.4, 0.2]], "params": {"threshold": "high"}}'), 400, 'INVALID_PARAMETER_VALUE', /Invalid parameters found/, 'bad params');
      const failed = await expectError(post(url('fails'), '{"inputs": [[1, 2, 3, 4, 5]]}'), 400, 'BAD_REQUEST', /^Encountered an unexpected error while evaluating the model/, 'the model itself fails');
      t.type(failed.stack_trace, 'string', 'with the cause in stack_trace');
      t.match(failed.stack_trace, /MatMul|dimension|shape/i, `the runtime's own reason (${String(failed.stack_trace).slice(0, 80)})`);
      await expectError(post(url('nope'), '{}'), 404, 'RESOURCE_DOES_NOT_EXIST', /Model nope not found/, 'an unknown model');
      await expectError(post(url('evil-mlflow'), '{}'), 503, 'TEMPORARILY_UNAVAILABLE', /not ready.*builtins\.eval/, 'a model that failed to load');
      await expectError(post(url('iris'), '{}'), 404, 'ENDPOINT_NOT_FOUND', /not an MLflow model/, 'a plain ONNX model');

      for (const [contentType, message] of [
        ['text/plain', /This predictor only supports the following content types.*Got 'text\/plain'/],
        ['application/json; charset=latin-1', /The scoring server only supports UTF-8/],
        ['application/json; format=pandas-split', /Unrecognized content type parameters: format/],
        [null, /Got no Content-Type header/],
      ] as const) {
        const r = await post(url('iris-tree'), '{}', contentType);
        t.equal(r.status, 415, `${contentType ?? 'no Content-Type'}: 415`);
        t.match(r.headers['content-type'], /^text\/plain/, 'as text/plain');
        t.match(r.text, message);
      }
      const getInvocations = await rawRequest(`${server.url}/invocations`);
      t.equal(getInvocations.status, 405, 'GET /invocations: 405');

      // Do better than MLflow: CSV to a tensor-signature model reads the rows as the tensor.
      const logreg = all.find((x) => x.model === 'iris-logreg')!;
      const rows = rowsOf(logreg.request.body, undefined);
      const csv = await post(url('iris-logreg'), `a,b,c,d\n${rows.map((r) => r.join(',')).join('\n')}\n`, 'text/csv');
      t.equal(csv.status, 200, 'CSV to a tensor-signature model: 200 (MLflow fails)');
      t.same(predictions(csv), logreg.sklearn_predict);

      // The onnx flavor served natively: a dict of the graph's outputs, equal to the plain ONNX model over V2.
      const row = [5.1, 3.5, 1.4, 0.2];
      const onnx = await post(url('iris-mlflow-onnx'), JSON.stringify({ inputs: [row] }));
      t.equal(onnx.status, 200);
      const p = predictions(onnx) as { label: number[]; probabilities: number[][] };
      t.same(Object.keys(p), ['label', 'probabilities']);
      const plain = (await post(`${server.url}/v2/models/iris/infer`, JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: row }] }))).json().outputs as V2Output[];
      t.same(p.label, plain[0].data, 'the label of the plain ONNX iris beside it');
      t.ok(maxRelativeError(p.probabilities[0], plain[1].data) <= TOLERANCE, 'and its probabilities');
    });

    t.test("MLflow's health routes; the two error shapes never mix", async (t) => {
      const ping = await rawRequest(`${server.url}/ping`);
      t.equal(ping.status, 200);
      t.equal(ping.text, '\n');
      t.equal(ping.headers['content-type'], 'application/json');
      t.equal((await rawRequest(`${server.url}/health`)).status, 200);
      const version = await rawRequest(`${server.url}/version`);
      t.equal(version.text, '3.6.1.dev0', "the MLflow version that wrote the model, as bare text");
      const v2 = await post(`${server.url}/v2/models/nope/infer`, '{}');
      t.same(v2.json(), { error: 'Model nope not found' }, 'V2: {"error"}');
      const mlflow = await post(`${server.url}/endpoints/nope/invocations`, '{}');
      t.same(mlflow.json(), { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Model nope not found' }, 'MLflow: {"error_code", "message"}');
      const v2OnMlflowModel = await post(`${server.url}/v2/models/iris-tree/infer`, '{"inputs": [');
      t.same(Object.keys(v2OnMlflowModel.json()), ['error'], 'an MLflow model over V2 answers in the V2 shape');
      const doc = (await rawRequest(`${server.url}/v2/docs/dataplane.json`)).json() as { paths: Record<string, Record<string, unknown>> };
      t.ok(doc.paths['/invocations']?.post && doc.paths['/endpoints/{model}/invocations']?.post && doc.paths['/ping']?.get, 'the MLflow routes are in the API document');
    });
  });

  t.test('server B: a restart on the same cache converts nothing; models:/ URIs; /invocations needs a default among several', async (t) => {
    const root = tempDir(t);
    copyModels(root, ['wine-pipeline', 'diabetes-xgb']);
    // A file store inside the repository (as in a project folder; never scanned for models): the
    // run's model registered as version 1 of "wine", alias "champion".
    const store = join(root, 'mlruns');
    const w = new MlrunsWriter(store);
    await w.experiment('0');
    const run = await w.run({ artifacts: { model: join(MODELS_DIR, 'iris-tree') } });
    await w.registeredModel('wine');
    const version = await w.modelVersion('wine', { source: `file://${join(store, '0', run, 'artifacts', 'model')}`, runId: run });
    await w.setAlias('wine', 'champion', version);
    for (const [name, uri] of [['champion', 'models:/wine@champion'], ['lost', 'models:/wine@nobody']]) {
      mkdirSync(join(root, name));
      writeFileSync(join(root, name, 'model-settings.json'), JSON.stringify({ implementation: 'mlserver_mlflow.MLflowRuntime', parameters: { uri } }));
    }
    // MLflow reads the tracking URI from the environment (the workers' copy of it).
    const previous = process.env.MLFLOW_TRACKING_URI;
    process.env.MLFLOW_TRACKING_URI = w.trackingUri;
    t.teardown(() => {
      if (previous === undefined) delete process.env.MLFLOW_TRACKING_URI;
      else process.env.MLFLOW_TRACKING_URI = previous;
    });
    const log = capturingLogger();
    const server = await startTestServer(t, { folder: root, logger: log.logger, settings: { conversion_cache_dir: cache, parallel_workers: '1' } });
    const models = (await rawRequest(`${server.url}/v2/models`)).json().models as { name: string; state: string; reason: string }[];
    t.match(models.find((m) => m.name === 'champion'), { state: 'READY' }, 'models:/wine@champion resolved in the file store');
    t.match(models.find((m) => m.name === 'lost'), { state: 'UNAVAILABLE', reason: /Registered model alias nobody not found/ }, 'an unknown alias: the reason names it');
    t.same(models.map((m) => m.name).sort(), ['champion', 'diabetes-xgb', 'lost', 'wine-pipeline'], 'the models of mlruns/ are not repository models');
    const tree = all.find((x) => x.model === 'iris-tree')!;
    const viaRegistry = await post(`${server.url}/endpoints/champion/invocations`, tree.request.body);
    t.equal(viaRegistry.text, tree.response.body, 'the registered model answers as MLflow did');
    const loaded = log.lines().filter((l) => l.msg === 'model loaded' && l.model !== 'champion');
    t.equal(loaded.length, 2);
    for (const l of loaded) {
      t.match(l, { cache: 'hit', cacheFile: new RegExp(`^${cache}/`), onnxBytes: Number }, `${String(l.model)}: a cache hit`);
      t.notOk('convertMs' in l, 'not converted again');
    }
    for (const name of ['wine-pipeline', 'diabetes-xgb']) {
      const c = all.find((x) => x.model === name)!;
      const res = await post(`${server.url}/endpoints/${name}/invocations`, c.request.body);
      t.ok(agrees(name, predictions(res) as number[], c.sklearn_predict).ok, `${name} answers from the cached graph`);
    }
    const ambiguous = await post(`${server.url}/invocations`, '{}');
    t.equal(ambiguous.status, 404);
    t.match(ambiguous.json(), { error_code: 'ENDPOINT_NOT_FOUND', message: /Several MLflow models are served \(champion, diabetes-xgb, lost, wine-pipeline\): set mlflow_scoring_model/ });
    t.equal((await rawRequest(`${server.url}/ping`)).status, 404, '/ping: no single model');
  });

  t.test("server C: KServe's layout (files at the root, MLSERVER_MODEL_URI and _NAME), the only model on /invocations", async (t) => {
    const mnt = tempDir(t, 'tessera-mnt-');
    for (const f of readdirSync(join(MODELS_DIR, 'wine-elasticnet'))) copyFileSync(join(MODELS_DIR, 'wine-elasticnet', f), join(mnt, f));
    const before = files(mnt);
    const log = capturingLogger();
    const server = await startTestServer(t, {
      folder: mnt,
      logger: log.logger,
      env: { MLSERVER_MODEL_URI: mnt, MLSERVER_MODEL_NAME: 'mlflow-wine' },
      settings: { conversion_cache_dir: cache, parallel_workers: '1' },
    });
    t.match(log.lines().find((l) => l.msg === 'model loaded'), { model: 'mlflow-wine', runtime: 'mlflow', cache: 'hit' }, 'served as mlflow-wine, from the cache');
    const c = all.find((x) => x.model === 'wine-elasticnet')!;
    const res = await post(`${server.url}/invocations`, c.request.body);
    t.equal(res.status, 200);
    t.ok(agrees('wine-elasticnet', predictions(res) as number[], c.sklearn_predict).ok, '/invocations serves the only MLflow model');
    const columns = signatureColumns('wine-elasticnet')!;
    const v2 = await post(`${server.url}/v2/models/mlflow-wine/infer`, JSON.stringify(v2Inputs(rowsOf(c.request.body, columns), columns)));
    t.ok(agrees('wine-elasticnet', (v2.json().outputs as V2Output[])[0].data, c.sklearn_predict).ok, 'V2 on the InferenceService name');
    t.same(files(mnt), before, 'nothing written in the model folder');
  });
}
