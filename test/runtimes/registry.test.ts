// The runtime registry, in process: which runtime an `implementation` selects, which files make a
// folder a model, options validated with each runtime's schema (clear messages, pool-dependent
// defaults), and the ONNX runtime's worker side: prepare reads the model once into shared memory,
// and load works from those bytes with the file gone. Over a real server: bad ONNX options leave
// the model UNAVAILABLE with the field named.
import { rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { ModelSpec } from '../../src/core/backend.js';
import { irisModel } from '../../src/modelgen/examples.js';
import { DEFAULT_RUNTIME, runtimeDefinition, runtimes } from '../../src/runtimes/registry.js';
import { rawRequest, startTestServer, tempDir, writeModel } from '../helpers/server.js';

t.test('implementation values select runtimes; files make folders models', async (t) => {
  t.equal(DEFAULT_RUNTIME, 'onnx');
  t.equal(runtimes.select(undefined)?.name, 'onnx', 'no implementation: the default runtime');
  t.equal(runtimes.select('')?.name, 'onnx');
  t.equal(runtimes.select('mlserver_onnx.OnnxModel')?.name, 'onnx', "MLServer's ONNX runtime name");
  t.equal(runtimes.select('./my_runtime.mjs')?.name, 'custom', 'a module path: a custom runtime');
  t.equal(runtimes.select('./onnx_helpers.js')?.name, 'custom', 'a module path wins over a name that mentions ONNX');
  t.equal(runtimes.select('models/scorer.ts')?.name, 'custom');
  t.equal(runtimes.select('mlserver_sklearn.SKLearnModel')?.name, 'sklearn', "MLServer's runtime names");
  t.equal(runtimes.select('mlserver_xgboost.XGBoostModel')?.name, 'xgboost');
  t.equal(runtimes.select('mlserver_mlflow.MLflowRuntime')?.name, 'mlflow');
  t.equal(runtimes.select('mlserver_lightgbm.LightGBMModel'), null, 'nothing serves it');
  t.equal(runtimes.recognise(['README.md', 'model.onnx'])?.name, 'onnx');
  t.equal(runtimes.recognise(['MLmodel', 'model.onnx'])?.name, 'mlflow', 'an onnx-flavor MLflow folder is an MLflow model');
  t.equal(runtimes.recognise(['model.onnx', 'model.pkl'])?.name, 'onnx', 'ONNX before a pickle beside it');
  t.equal(runtimes.recognise(['model.pkl'])?.name, 'sklearn');
  t.equal(runtimes.recognise(['README.md']), null);
  t.same(runtimes.all().map((r) => r.name), ['custom', 'mlflow', 'onnx', 'sklearn', 'xgboost']);
  t.throws(() => runtimeDefinition('nope'), { message: /unknown runtime 'nope' \(known: custom, mlflow, onnx, sklearn, xgboost\)/ });
  t.equal(runtimeDefinition('onnx').terminable, false, 'native code: its workers are never terminated');
  t.equal(runtimeDefinition('custom').terminable, true);
});

t.test('options: validated by the runtime, defaults resolved for the pool', async (t) => {
  const onnx = runtimes.get('onnx')!;
  t.match(onnx.options(undefined, { workers: 1 }), {
    intraOpThreads: Math.max(1, availableParallelism()),
    interOpThreads: 1,
    allowSpinning: false,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  t.match(onnx.options({ intra_op_threads: 3, execution_mode: 'parallel' }, { workers: 8 }), { intraOpThreads: 3, executionMode: 'parallel' });
  t.throws(() => onnx.options({ intra_op_threads: 0 }, { workers: 1 }), { message: /intra_op_threads: Too small/ });
  t.throws(() => onnx.options({ graph_optimization_level: 'max' }, { workers: 1 }), { message: /graph_optimization_level: Invalid option/ });
  t.same(runtimes.get('custom')!.options({ threshold: 0.2, anything: [1] }, { workers: 1 }), { threshold: 0.2, anything: [1] }, "a custom runtime's extra is the module's own");
});

t.test('ONNX worker side: prepare reads the bytes once into shared memory; load needs no file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'model.onnx');
  writeFileSync(file, irisModel());
  const onnx = runtimeDefinition('onnx');
  const spec: ModelSpec = {
    key: 'iris@#1',
    label: 'iris',
    model: 'iris',
    version: '',
    runtime: 'onnx',
    path: onnx.locate({ folder: dir, uri: dir, implementation: undefined }),
    folder: dir,
    options: onnx.options({}, { workers: 1 }),
    settings: {} as ModelSpec['settings'],
    timeoutMs: 0,
  };
  t.equal(spec.path, file, 'a folder means its model.onnx');
  const side = await onnx.worker();
  const artifact = await side.prepare!(spec);
  t.ok(artifact !== undefined && artifact.bytes.buffer instanceof SharedArrayBuffer, 'the bytes are in shared memory');
  t.equal(artifact!.bytes.byteLength, irisModel().byteLength);
  rmSync(file);
  const model = await side.load({ ...spec, artifact });
  t.same(model.metadata.inputs, [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }]);
  const [label] = await model.run([{ name: 'input', datatype: 'FP32', shape: [1, 4], data: new Float32Array([5.1, 3.5, 1.4, 0.2]) }], ['label'], {});
  t.same([...(label.data as BigInt64Array)], [0n], 'it runs from the bytes');
  await model.dispose();
  await t.rejects(side.load(spec), { message: /ENOENT/ }, 'without the bytes, the missing file is the reason');
});

t.test('bad runtime options leave the model UNAVAILABLE, naming the field', async (t) => {
  const root = tempDir(t);
  writeModel(root, 'iris', irisModel());
  writeModel(root, 'tuned', irisModel(), { name: 'tuned', parameters: { extra: { inter_op_threads: 'many' } } });
  const server = await startTestServer(t, { folder: root });
  const models = (await rawRequest(`${server.url}/v2/models`)).json().models as { name: string; state: string; reason: string }[];
  t.match(models.find((m) => m.name === 'tuned'), { state: 'UNAVAILABLE', reason: /^parameters\.extra: inter_op_threads: / });
  t.equal(models.find((m) => m.name === 'iris')?.state, 'READY');
});
