// The command line: MLServer's environment start (`MLSERVER_MODEL_IMPLEMENTATION=mlserver_mlflow.MLflowRuntime
// MLSERVER_MODEL_URI=<dir> MLSERVER_MODEL_NAME=wine npm start`, i.e. bin/tessera.mjs start with the
// bundled settings) serving the MLflow model alone over V2 HTTP, gRPC and /invocations, with an
// unwritable conversion cache (a read-only container converts in memory); and `tessera convert`
// (through the CLI's main): graphs written, the V2 metadata printed, refusals with exit codes.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import t from 'tap';
import { main } from '../../src/cli/main.js';
import { LOADER_OPTIONS, PROTO_FILES } from '../../src/grpc/server.js';
import { HOST, startCliOnFreePorts } from '../deploy/helpers.js';
import { tempDir } from '../helpers/server.js';
import { agrees, cases, MODELS_DIR, PRESENT, rowsOf, signatureColumns, v2Inputs } from './serving-helpers.js';

/** Runs the CLI's main in this process, capturing what it writes to stdout and stderr. */
async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

t.test('the MLflow models are here', { skip: PRESENT ? false : `the MLflow models are not on this machine (${MODELS_DIR})` }, async (t) => {
  t.ok(PRESENT);
});

if (PRESENT) {
  const all = cases();
  const wine = all.find((c) => c.model === 'wine-elasticnet')!;
  const columns = signatureColumns('wine-elasticnet')!;

  t.test('MLSERVER_MODEL_* start: the MLflow model alone, over V2 HTTP, gRPC and /invocations', async (t) => {
    const work = tempDir(t);
    const model = join(work, 'wine');
    cpSync(join(MODELS_DIR, 'wine-elasticnet'), model, { recursive: true });
    writeFileSync(join(work, 'not-a-folder'), '');
    // `npm start` is `bin/tessera.mjs start` (the bundled settings folder) after a build check.
    const { server, ports, base } = await startCliOnFreePorts(['start'], (p) => ({
      MLSERVER_MODEL_IMPLEMENTATION: 'mlserver_mlflow.MLflowRuntime',
      MLSERVER_MODEL_URI: model,
      MLSERVER_MODEL_NAME: 'wine',
      MLSERVER_HTTP_PORT: String(p.http),
      MLSERVER_GRPC_PORT: String(p.grpc),
      MLSERVER_PARALLEL_WORKERS: '1',
      TESSERA_METRICS_PORT: String(p.metrics),
      TESSERA_HOST: HOST,
      // Unwritable (a file's sub-folder), as in a read-only container: conversion in memory.
      TESSERA_CONVERSION_CACHE_DIR: join(work, 'not-a-folder', 'cache'),
    }));
    t.teardown(() => server.stop());
    const { grpc: grpcPort, metrics } = ports;
    const index = (await (await fetch(`${base}/v2/models`)).json()) as { models: { name: string; state: string }[] };
    t.same(index.models.map((m) => [m.name, m.state]), [['wine', 'READY']], 'the one model of the environment, not the bundled ones');
    const loaded = server
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{') && l.includes('"model loaded"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    t.match(loaded[0], { model: 'wine', runtime: 'mlflow', flavor: 'sklearn', cache: /^off: .*not writable/, convertMs: Number }, 'converted in memory, the cache reported off');

    const rows = rowsOf(wine.request.body, columns);
    const v2 = await fetch(`${base}/v2/models/wine/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(v2Inputs(rows, columns)) });
    t.equal(v2.status, 200);
    const outputs = ((await v2.json()) as { outputs: { name: string; data: number[] }[] }).outputs;
    t.ok(agrees('wine-elasticnet', outputs[0].data, wine.sklearn_predict).ok, 'V2 HTTP per-column request');

    const definition = protoLoader.loadSync(PROTO_FILES, LOADER_OPTIONS);
    const proto = grpc.loadPackageDefinition(definition) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
    const client = new proto.inference.GRPCInferenceService(`${HOST}:${grpcPort}`, grpc.credentials.createInsecure()) as grpc.Client & Record<string, (...a: unknown[]) => unknown>;
    t.teardown(() => client.close());
    const reply = await new Promise<{ outputs: { name: string; contents: { fp64_contents: number[] } }[] }>((resolve, reject) =>
      (client.ModelInfer as (r: object, cb: (e: Error | null, v: never) => void) => void).call(
        client,
        {
          model_name: 'wine',
          parameters: { content_type: { string_param: 'pd' } },
          inputs: v2Inputs(rows, columns).inputs.map((i) => ({ name: i.name, datatype: 'FP64', shape: i.shape, contents: { fp64_contents: i.data } })),
        },
        (e, v) => (e ? reject(e) : resolve(v)),
      ),
    );
    t.equal(reply.outputs[0].name, 'predict');
    t.ok(agrees('wine-elasticnet', reply.outputs[0].contents.fp64_contents.map(Number), wine.sklearn_predict).ok, 'V2 gRPC');

    const invocations = await fetch(`${base}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: wine.request.body });
    t.equal(invocations.status, 200);
    t.ok(agrees('wine-elasticnet', ((await invocations.json()) as { predictions: number[] }).predictions, wine.sklearn_predict).ok, '/invocations on the same port');
    t.equal(await server.stop(), 0, 'SIGTERM: exit 0');
  });

  t.test('tessera convert: the graph written, the V2 metadata printed', async (t) => {
    const work = tempDir(t);
    const out = join(work, 'wine.onnx');
    const wineRun = await cli(['convert', '-m', join(MODELS_DIR, 'wine-elasticnet'), '-o', out]);
    t.equal(wineRun.code, 0, wineRun.stderr);
    const meta = JSON.parse(wineRun.stdout) as { kind: string; estimator: string; bytes: number; graph: { inputs: unknown[] }; v2: { inputs: { name: string }[]; outputs: unknown[]; parameters: unknown } };
    t.equal(meta.kind, 'mlflow sklearn flavor');
    t.equal(meta.estimator, 'sklearn.linear_model._coordinate_descent.ElasticNet');
    t.same(meta.graph.inputs, [{ name: 'input', datatype: 'FP64', shape: [-1, 13] }], "the graph's input");
    t.same(meta.v2.inputs.map((i) => i.name), columns, 'the V2 inputs: one per signature column');
    t.same(meta.v2.parameters, { content_type: 'pd' });
    t.same(meta.v2.outputs, [{ name: 'predict', datatype: 'FP64', shape: [-1] }]);
    t.equal(readFileSync(out).byteLength, meta.bytes, 'the ONNX file written');
    t.match(wineRun.stderr, /wrote .*wine\.onnx \(\d+ bytes\): sklearn ElasticNet/);

    // A bare XGBoost file (MLServer's folder layout), metadata to a file.
    const folder = join(work, 'xgb');
    mkdirSync(folder);
    cpSync(join(MODELS_DIR, 'iris-xgb', 'model.ubj'), join(folder, 'model.ubj'));
    const xgb = await cli(['convert', '-m', folder, '-o', join(work, 'xgb.onnx'), '--metadata', join(work, 'xgb.json')]);
    t.equal(xgb.code, 0, xgb.stderr);
    t.equal(xgb.stdout, '', 'metadata went to the file');
    const xmeta = JSON.parse(readFileSync(join(work, 'xgb.json'), 'utf8')) as { kind: string; v2: { outputs: { name: string }[] } };
    t.equal(xmeta.kind, 'xgboost');
    t.same(xmeta.v2.outputs.map((o) => o.name), ['predict', 'predict_proba']);

    const evil = await cli(['convert', '-m', new URL('../fixtures/sklearn/malicious/os-system.pkl', import.meta.url).pathname, '-o', join(work, 'evil.onnx')]);
    t.equal(evil.code, 1, 'a malicious pickle: exit 1');
    t.match(evil.stderr, /posix\.system/, 'naming the global');
    const usage = await cli(['convert', '-m', join(MODELS_DIR, 'wine-elasticnet')]);
    t.equal(usage.code, 2, 'no -o: exit 2');
    t.match(usage.stderr, /-o\/--output is required/);
    const missing = await cli(['convert', '-m', join(work, 'nope'), '-o', join(work, 'x.onnx')]);
    t.equal(missing.code, 2);
    t.match(missing.stderr, /no such file or folder/);
  });
}
