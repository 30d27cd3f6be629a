// ONNX-flavor MLflow models for the serve / predict / build-docker tests: the bundled iris and wine
// graphs saved as `mlflow.onnx.save_model` lays them out (MLmodel with the onnx and python_function
// flavors and a signature, model.onnx beside it; reference mlflow.md §3), and a file store
// (test/helpers/mlruns.ts) that registers them.
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'tessera.mjs');

export const WINE_COLUMNS = [
  'alcohol', 'malic_acid', 'ash', 'alcalinity_of_ash', 'magnesium', 'total_phenols', 'flavanoids',
  'nonflavanoid_phenols', 'proanthocyanins', 'color_intensity', 'hue', 'od280_od315_of_diluted_wines', 'proline',
];

const yamlString = (json: unknown): string => JSON.stringify(JSON.stringify(json));

function mlmodel(signature: { inputs: unknown; outputs: unknown }): string {
  return [
    'flavors:',
    '  onnx:',
    '    code: null',
    '    data: model.onnx',
    '    onnx_session_options: null',
    '    onnx_version: 1.12.0',
    '    providers:',
    '    - CUDAExecutionProvider',
    '    - CPUExecutionProvider',
    '  python_function:',
    '    data: model.onnx',
    '    env:',
    '      conda: conda.yaml',
    '      virtualenv: python_env.yaml',
    '    loader_module: mlflow.onnx',
    '    python_version: 3.11.2',
    'mlflow_version: 3.6.1.dev0',
    'model_id: null',
    'signature:',
    `  inputs: ${yamlString(signature.inputs)}`,
    `  outputs: ${yamlString(signature.outputs)}`,
    '  params: null',
    "utc_time_created: '2026-01-01 00:00:00.000000'",
    '',
  ].join('\n');
}

/** iris.onnx with a named tensor signature (input FP32 [-1,4]; outputs label, probabilities). */
export function writeIrisModel(dir: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(ROOT, 'settings/models/iris/model.onnx'), path.join(dir, 'model.onnx'));
  writeFileSync(
    path.join(dir, 'MLmodel'),
    mlmodel({
      inputs: [{ name: 'input', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 4] } }],
      outputs: [
        { name: 'label', type: 'tensor', 'tensor-spec': { dtype: 'int64', shape: [-1] } },
        { name: 'probabilities', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 3] } },
      ],
    }),
  );
  return dir;
}

/** wine.onnx (ridge regression, FP32 [-1,13] → predictions [-1]) with a column signature. */
export function writeWineModel(dir: string): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(path.join(ROOT, 'settings/models/wine/model.onnx'), path.join(dir, 'model.onnx'));
  writeFileSync(
    path.join(dir, 'MLmodel'),
    mlmodel({
      inputs: WINE_COLUMNS.map((name) => ({ type: 'double', name, required: true })),
      outputs: [{ name: 'predictions', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1] } }],
    }),
  );
  return dir;
}

/** Row i of wineCsv is the line of i % 997: the 997 lines, formatted once (a 200k-row CSV is built in a few ms). */
const WINE_PERIOD = 997;
let wineLines: string[] | undefined;
function wineLine(r: number): string {
  wineLines ??= Array.from({ length: WINE_PERIOD }, (_, r) =>
    [
      11 + (r % 40) / 10, 0.7 + (r % 50) / 10, 1.4 + (r % 17) / 10, 10 + (r % 20), 70 + (r % 90), 1 + (r % 28) / 10, 0.3 + (r % 47) / 10,
      0.1 + (r % 5) / 10, 0.4 + (r % 30) / 10, 1.3 + (r % 110) / 10, 0.5 + (r % 12) / 10, 1.3 + (r % 27) / 10, 280 + (r % 1400),
    ].map((v) => String(Math.round(v * 1000) / 1000)).join(','),
  );
  return wineLines[r];
}

/** A CSV of wine rows (deterministic, header included). */
export function wineCsv(rows: number, offset = 0): string {
  const lines = [WINE_COLUMNS.join(',')];
  for (let i = offset; i < offset + rows; i++) lines.push(wineLine(i % WINE_PERIOD));
  return `${lines.join('\n')}\n`;
}
