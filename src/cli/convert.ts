// `tessera convert -m <model> -o model.onnx`: converts a scikit-learn or XGBoost model to the ONNX
// graph Tessera serves, writes it, and prints (to stdout, or to --metadata FILE) the V2 metadata it
// implies, so the graph can be inspected with any ONNX tool (Netron, onnx.checker, onnxruntime).
//
// The model: an MLflow model (a folder holding MLmodel, or a runs:/ / models:/ / file:// URI) of the
// sklearn, xgboost or onnx flavor (the onnx flavor's graph is copied as is), or a bare model file as
// MLServer serves them: a pickle (.pkl, .pickle, .joblib) or an XGBoost model (.json, .ubj, .bst),
// or a folder holding one under MLServer's names (model.joblib, model.pkl, model.json, ...).
// Nothing is cached and no server is started; the conversion is the one the server makes.
import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TensorMetadata } from '../core/types.js';
import type { ConvertedModel } from '../convert/model.js';
import { convertSource, pickleFormatOf, xgboostFormatOf, type ConversionSource } from '../convert/source.js';
import { checkServableFile, MLMODEL_FILE, readMLmodel, servable } from '../mlflow/mlmodel.js';
import { createServingPlan } from '../mlflow/plan.js';
import { MlflowRequestAdapter } from '../mlflow/serving.js';
import { isModelUri, resolveModelUri } from '../mlflow/uri.js';
import { checkFeatureNames, flavorSource } from '../runtimes/mlflow.js';
import { onnxRuntime, readShared } from '../runtimes/onnx.js';
import type { ModelSpec } from '../runtimes/runtime.js';
import { SKLEARN_MODEL_FILES } from '../runtimes/sklearn.js';
import { XGBOOST_MODEL_FILES } from '../runtimes/xgboost.js';
import { commandOptions, parseFlags, UsageError } from './command.js';

export const CONVERT_HELP = `Usage: tessera convert -m <model> -o <file.onnx> [--metadata <file.json>]

Converts a scikit-learn or XGBoost model to the ONNX graph Tessera serves, writes it to the -o
file, and prints the V2 metadata the model is served with (JSON, on stdout or in --metadata).

  -m, --model-uri MODEL   an MLflow model (a folder with MLmodel, file://, runs:/<run_id>/<path>,
                          models:/<name>/<version|stage|latest>, models:/<name>@<alias>) of the
                          sklearn, xgboost or onnx flavor; or a pickle (.pkl, .pickle, .joblib), an
                          XGBoost model (.json, .ubj, .bst), or a folder holding one under MLServer's
                          names (model.joblib, model.pickle, model.pkl, model.bst, model.json, model.ubj)
  -o, --output FILE       where the ONNX graph is written
      --metadata FILE     write the metadata there instead of printing it
  -h, --help              this help
runs:/ and models:/ read the file store of MLFLOW_TRACKING_URI (default ./mlruns).`;

/** What the conversion made, for the printed metadata. */
interface Converted {
  onnx: Uint8Array;
  source: string;
  kind: string;
  estimator?: string;
  description?: string;
  graph: { inputs: TensorMetadata[]; outputs: TensorMetadata[] };
  v2: { inputs: TensorMetadata[]; outputs: TensorMetadata[]; parameters?: { content_type: string } };
}

/** The bare model file a path means: the file itself, or MLServer's file names inside a folder. */
function bareSource(file: string): { file: string; source: ConversionSource } | undefined {
  let target = file;
  if (statSync(file).isDirectory()) {
    const found = [...SKLEARN_MODEL_FILES, ...XGBOOST_MODEL_FILES].find((f) => existsSync(path.join(file, f)));
    if (found === undefined) return undefined;
    target = path.join(file, found);
  }
  if (/\.(pkl|pickle|joblib)$/i.test(target)) return { file: target, source: { kind: 'sklearn', format: pickleFormatOf(target) } };
  if (/\.(json|ubj|bst|model)$/i.test(target)) return { file: target, source: { kind: 'xgboost', format: xgboostFormatOf(target) } };
  return undefined;
}

const graphOf = (m: ConvertedModel): Converted['graph'] => ({ inputs: m.inputs, outputs: m.outputs });

/** The inputs and outputs of an ONNX graph, read by ONNX Runtime (the onnx flavor's, copied as is). */
async function onnxGraph(bytes: Uint8Array, file: string): Promise<Converted['graph']> {
  const side = await onnxRuntime.worker();
  const spec = {
    key: 'convert', label: file, model: 'convert', version: '', runtime: 'onnx', path: file, folder: path.dirname(file),
    options: onnxRuntime.options({}, { workers: 1 }), settings: {} as ModelSpec['settings'], timeoutMs: 0,
    artifact: { bytes, format: 'onnx' },
  } satisfies ModelSpec;
  const model = await side.load(spec);
  await model.dispose();
  return { inputs: model.metadata.inputs, outputs: model.metadata.outputs };
}

async function convertMlflow(dir: string): Promise<Converted> {
  const m = await readMLmodel(dir);
  const s = servable(m);
  await checkServableFile(s);
  let onnx: Uint8Array;
  let graph: Converted['graph'];
  let facts: Pick<Converted, 'estimator' | 'description'> = {};
  let featureNames: string[] | undefined;
  if (s.flavor === 'onnx') {
    onnx = await readShared(s.modelPath);
    graph = await onnxGraph(onnx, s.modelPath);
  } else {
    const { file, source } = flavorSource(s); // the mlflow runtime's own reading of the flavor
    const model = convertSource(await readFile(file), source);
    onnx = model.onnx;
    graph = graphOf(model);
    facts = { estimator: model.estimator, description: model.description };
    featureNames = model.featureNames;
  }
  const plan = createServingPlan(m, s.flavor, graph.inputs, graph.outputs, s.flavor === 'onnx' ? {} : { predictOutput: graph.outputs[0].name });
  checkFeatureNames(m, featureNames);
  const adapter = new MlflowRequestAdapter(plan, m);
  return {
    onnx,
    source: dir,
    kind: `mlflow ${s.flavor} flavor`,
    ...facts,
    graph,
    v2: { inputs: adapter.inputs, outputs: adapter.outputs, ...(adapter.contentType !== undefined ? { parameters: { content_type: adapter.contentType } } : {}) },
  };
}

async function convert(model: string): Promise<Converted> {
  if (isModelUri(model)) return convertMlflow((await resolveModelUri(model)).dir);
  const full = path.resolve(model);
  if (!existsSync(full)) throw new UsageError(`-m ${model}: no such file or folder`);
  if (statSync(full).isDirectory() && existsSync(path.join(full, MLMODEL_FILE))) return convertMlflow(full);
  const bare = bareSource(full);
  if (bare === undefined) {
    throw new UsageError(`-m ${model}: not an MLflow model folder, a pickle (.pkl, .pickle, .joblib) or an XGBoost model (.json, .ubj, .bst)`);
  }
  const converted = convertSource(await readFile(bare.file), bare.source);
  return {
    onnx: converted.onnx,
    source: bare.file,
    kind: bare.source.kind,
    estimator: converted.estimator,
    description: converted.description,
    graph: graphOf(converted),
    v2: graphOf(converted),
  };
}

interface ConvertOptions {
  model: string;
  output: string;
  metadata: string | undefined;
}

export function parseConvertArgs(argv: string[]): ConvertOptions | 'help' {
  const v = parseFlags(argv, {
    'model-uri': { type: 'string', short: 'm' },
    output: { type: 'string', short: 'o' },
    metadata: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return 'help';
  const model = v['model-uri'];
  const output = v.output;
  if (model === undefined || output === undefined) throw new UsageError(`${model === undefined ? '-m/--model-uri' : '-o/--output'} is required`);
  return { model, output, metadata: v.metadata };
}

/** Runs `tessera convert`; returns the exit code (0 done, 1 the model cannot be converted, 2 usage). */
export async function convertCommand(argv: string[]): Promise<number> {
  const options = commandOptions('tessera convert', CONVERT_HELP, () => parseConvertArgs(argv));
  if (typeof options === 'number') return options;
  const { model, output } = options;
  let converted: Converted;
  try {
    converted = await convert(model);
  } catch (error) {
    process.stderr.write(`tessera convert: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
  const { onnx, ...facts } = converted;
  const out = path.resolve(output);
  await writeFile(out, onnx);
  const metadata = `${JSON.stringify({ ...facts, onnx: out, bytes: onnx.byteLength }, null, 2)}\n`;
  if (options.metadata !== undefined) await writeFile(path.resolve(options.metadata), metadata);
  else process.stdout.write(metadata);
  process.stderr.write(`tessera convert: wrote ${out} (${onnx.byteLength} bytes)${converted.description ? `: ${converted.description}` : ''}\n`);
  return 0;
}
