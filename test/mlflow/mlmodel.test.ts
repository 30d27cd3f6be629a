// MLmodel parsing: the 8 real MLflow-written models, signature forms (columns, tensors, named,
// unnamed, params, complex types), the flavor picked for serving and the refusals.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { MlflowModelError } from '../../src/mlflow/errors.js';
import { parseMLmodel, readMLmodel, servable, checkServableFile } from '../../src/mlflow/mlmodel.js';
import { parseParamSchema, parseSchema, schemaRepr } from '../../src/mlflow/signature.js';

const MODELS = '/work/shared/data/mlflow-models';
const REAL = {
  'wine-elasticnet': { flavor: 'sklearn', kind: 'columns', width: 13, out: ['float64', [-1]] },
  'iris-logreg': { flavor: 'sklearn', kind: 'tensors', width: 4, out: ['int64', [-1]] },
  'iris-tree': { flavor: 'sklearn', kind: 'columns', width: 4, out: ['int64', [-1]] },
  'diabetes-forest': { flavor: 'sklearn', kind: 'tensors', width: 10, out: ['float64', [-1]] },
  'cancer-gbc': { flavor: 'sklearn', kind: 'columns', width: 30, out: ['int64', [-1]] },
  'wine-pipeline': { flavor: 'sklearn', kind: 'columns', width: 13, out: ['int64', [-1]] },
  'iris-xgb': { flavor: 'xgboost', kind: 'tensors', width: 4, out: ['int64', [-1]] },
  'diabetes-xgb': { flavor: 'xgboost', kind: 'columns', width: 10, out: ['float32', [-1]] },
} as const;

t.test('the 8 real models parse, with their signatures and served files', async (t) => {
  for (const [name, want] of Object.entries(REAL)) {
    const dir = path.join(MODELS, name);
    const m = await readMLmodel(dir);
    t.equal(m.mlflowVersion, '3.6.1.dev0', `${name} version`);
    t.ok(m.modelUuid && /^[0-9a-f]{32}$/.test(m.modelUuid), `${name} uuid`);
    t.ok(m.modelSizeBytes && m.modelSizeBytes > 0, `${name} size`);
    t.ok('python_function' in m.flavors, `${name} pyfunc flavor`);
    t.equal(m.signature?.params, undefined, `${name} params: null`);
    const inputs = m.signature!.inputs!;
    t.equal(inputs.kind, want.kind, `${name} signature kind`);
    if (inputs.kind === 'columns') {
      t.equal(inputs.columns.length, want.width);
      t.ok(inputs.named);
      t.ok(inputs.columns.every((c) => c.type === 'double' && c.required));
    } else {
      t.same(inputs.tensors, [{ dtype: 'float64', shape: [-1, want.width] }], `${name} tensor spec`);
      t.notOk(inputs.named);
    }
    const outputs = m.signature!.outputs!;
    t.same(outputs, { kind: 'tensors', named: false, tensors: [{ dtype: want.out[0], shape: want.out[1] }] }, `${name} outputs`);
    t.equal(m.inputExample?.artifactPath, 'input_example.json');
    t.equal(m.inputExample?.servingInputPath, 'serving_input_example.json');
    t.equal(m.inputExample?.type, want.kind === 'columns' ? 'dataframe' : 'ndarray');
    const s = servable(m);
    t.equal(s.flavor, want.flavor, `${name} flavor`);
    if (s.flavor === 'sklearn') {
      t.equal(s.picklePath, path.join(dir, 'model.pkl'));
      t.equal(s.serializationFormat, 'cloudpickle');
      t.equal(s.sklearnVersion, '1.2.1');
    } else if (s.flavor === 'xgboost') {
      const format = name === 'iris-xgb' ? 'ubj' : 'json';
      t.equal(s.modelPath, path.join(dir, `model.${format}`));
      t.equal(s.modelFormat, format);
      t.equal(s.modelClass, name === 'iris-xgb' ? 'xgboost.sklearn.XGBClassifier' : 'xgboost.sklearn.XGBRegressor');
    }
    await checkServableFile(s);
  }
  const wine = await readMLmodel(path.join(MODELS, 'wine-elasticnet'));
  t.equal(wine.signature!.inputs!.kind === 'columns' && wine.signature!.inputs!.columns[11].name, 'od280/od315_of_diluted_wines');
  const tree = await readMLmodel(path.join(MODELS, 'iris-tree'));
  t.equal(
    schemaRepr(tree.signature!.inputs!),
    "['sepal length (cm)': double (required), 'sepal width (cm)': double (required), 'petal length (cm)': double (required), 'petal width (cm)': double (required)]",
  );
  const logreg = await readMLmodel(path.join(MODELS, 'iris-logreg'));
  t.equal(schemaRepr(logreg.signature!.inputs!), "[Tensor('float64', (-1, 4))]");
});

const base = (flavors: string, extra = ''): string => `flavors:\n${flavors}mlflow_version: 3.6.0\n${extra}`;

t.test('the ONNX flavor is served natively and preferred', async (t) => {
  const m = parseMLmodel(
    base(
      '  onnx:\n    code: null\n    data: model.onnx\n    onnx_session_options: null\n    onnx_version: 1.17.0\n    providers:\n    - CUDAExecutionProvider\n    - CPUExecutionProvider\n  python_function:\n    data: model.onnx\n    loader_module: mlflow.onnx\n',
      `signature:\n  inputs: '[{"name": "input", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]'\n  outputs: null\n  params: '[{"name": "threshold", "default": 0.5, "shape": null, "type": "double"}]'\n`,
    ),
    '/models/iris',
  );
  const s = servable(m);
  t.same(s, { flavor: 'onnx', modelPath: '/models/iris/model.onnx', providers: ['CUDAExecutionProvider', 'CPUExecutionProvider'] });
  t.same(m.signature!.inputs, { kind: 'tensors', named: true, tensors: [{ name: 'input', dtype: 'float32', shape: [-1, 4] }] });
  t.equal(m.signature!.outputs, undefined);
  t.same(m.signature!.params, [{ name: 'threshold', type: 'double', default: 0.5, shape: null }]);
  await t.rejects(checkServableFile(s), /model file '\/models\/iris\/model.onnx' does not exist/);
});

t.test('another flavor is refused naming the flavors found and what Tessera serves', async (t) => {
  const m = parseMLmodel(base('  python_function:\n    loader_module: mlflow.pytorch\n  pytorch:\n    model_data: data\n'), '/models/torchy');
  t.throws(() => servable(m), {
    message:
      "The MLflow model in '/models/torchy' has flavors 'python_function', 'pytorch' (python_function loader_module mlflow.pytorch); Tessera serves only the 'onnx', 'sklearn' and 'xgboost' flavors (log the model with mlflow.onnx, mlflow.sklearn or mlflow.xgboost)",
  });
  const custom = parseMLmodel(base('  python_function:\n    loader_module: mlflow.pyfunc.model\n    python_model: python_model.pkl\n'), '/m');
  t.throws(() => servable(custom), /has flavor 'python_function' \(python_function loader_module mlflow.pyfunc.model\); Tessera serves only/);
});

t.test('flavor files must stay inside the model folder; flavor fields are validated', async (t) => {
  t.throws(() => servable(parseMLmodel(base('  onnx:\n    data: ../../etc/passwd\n'), '/m')), /names '..\/..\/etc\/passwd', which is outside the model directory/);
  t.throws(() => servable(parseMLmodel(base('  sklearn:\n    serialization_format: joblib\n'), '/m')), /the 'sklearn' flavor is invalid: pickled_model/);
  t.throws(() => servable(parseMLmodel(base('  xgboost:\n    data: model.bin\n    model_format: parquet\n'), '/m')), /the 'xgboost' flavor is invalid: model_format/);
  const legacy = servable(parseMLmodel(base('  xgboost:\n    data: model.xgb\n'), '/m'));
  t.same(legacy, { flavor: 'xgboost', modelPath: '/m/model.xgb', modelFormat: 'xgb', modelClass: 'xgboost.core.Booster' });
  const oldSklearn = servable(parseMLmodel(base('  sklearn:\n    pickled_model: model.pkl\n'), '/m'));
  t.same(oldSklearn, { flavor: 'sklearn', picklePath: '/m/model.pkl', serializationFormat: 'pickle' });
});

t.test('missing or broken MLmodel files are clear errors', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlmodel-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(readMLmodel(dir), { message: `No MLmodel file in '${dir}': not an MLflow model directory`, errorCode: 'RESOURCE_DOES_NOT_EXIST' });
  writeFileSync(path.join(dir, 'MLmodel'), 'flavors: [unclosed');
  await t.rejects(readMLmodel(dir), new RegExp(`${dir}/MLmodel is not valid YAML`));
  writeFileSync(path.join(dir, 'MLmodel'), 'mlflow_version: 3.6.0\n');
  await t.rejects(readMLmodel(dir), /is not a valid MLmodel file: flavors/);
  writeFileSync(path.join(dir, 'MLmodel'), base('  onnx:\n    data: m.onnx\n', "signature:\n  inputs: '[{\"type\": \"tensor\"'\n"));
  await t.rejects(readMLmodel(dir), /Invalid MLmodel signature inputs: not valid JSON/);
  t.ok((await readMLmodel(dir).catch((e: unknown) => e)) instanceof MlflowModelError);
});

t.test('signature schemas: every column type, complex types, unnamed forms and MLflow rules', async (t) => {
  const cols = parseSchema(
    'inputs',
    JSON.stringify(['boolean', 'integer', 'long', 'float', 'double', 'string', 'binary', 'datetime'].map((type, i) => ({ type, name: `c${i}`, required: i !== 7 }))),
  )!;
  t.equal(cols.kind, 'columns');
  t.equal(
    schemaRepr(cols),
    "['c0': boolean (required), 'c1': integer (required), 'c2': long (required), 'c3': float (required), 'c4': double (required), 'c5': string (required), 'c6': binary (required), 'c7': datetime (optional)]",
  );
  const complex = parseSchema(
    'inputs',
    '[{"type": "array", "items": {"type": "double"}, "name": "a", "required": true}, {"type": "object", "properties": {"x": {"type": "long"}}, "name": "o"}, {"type": "map", "values": {"type": "string"}, "name": "m"}, {"type": "any", "name": "z"}]',
  )!;
  t.same(
    complex.kind === 'columns' && complex.columns.map((c) => (typeof c.type === 'object' ? c.type.kind : c.type)),
    ['array', 'object', 'map', 'any'],
  );
  const unnamedCols = parseSchema('inputs', '[{"type": "string"}]')!;
  t.same(unnamedCols, { kind: 'columns', named: false, columns: [{ type: 'string', required: true }] });
  t.throws(() => parseSchema('inputs', '[{"type": "double", "name": "a"}, {"type": "double"}]'), /cannot mix named and unnamed/);
  t.throws(() => parseSchema('inputs', '[{"type": "double", "name": "a"}, {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}]'), /cannot mix ColSpec and TensorSpec/);
  t.throws(() => parseSchema('inputs', '[{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}, {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}]'), /several unnamed TensorSpecs/);
  t.throws(() => parseSchema('inputs', '[{"type": "decimal", "name": "a"}]'), /unsupported column type 'decimal'/);
  t.throws(() => parseSchema('inputs', '[]'), /empty inputs/);
  t.equal(parseSchema('inputs', null), undefined);
  const params = parseParamSchema(
    '[{"name": "k", "type": "long", "default": 3, "shape": null}, {"name": "stop", "type": "string", "default": ["a"], "shape": [-1]}, {"name": "cfg", "type": "object", "properties": {}, "default": {}}]',
  )!;
  t.same(params.map((p) => [p.name, p.type, p.shape]), [['k', 'long', null], ['stop', 'string', [-1]], ['cfg', 'object', null]]);
  t.throws(() => parseParamSchema('[{"name": "b", "type": "binary", "default": null}]'), /binary type is not supported for parameters/);
  t.throws(() => parseParamSchema('[{"name": "b", "type": "double", "default": 1, "shape": [2, 2]}]'), /shape \[2,2\]/);
});
