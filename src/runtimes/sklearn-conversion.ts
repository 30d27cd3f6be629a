// What the runtimes that serve converted models share (sklearn, xgboost, and mlflow for those
// flavors): their options (ONNX Runtime's session options, plus the cache folder the server
// gives), the prepare step that converts a model file to ONNX in a pool worker, through the
// conversion cache, into the shared bytes every worker loads, and the load itself, which is the
// ONNX runtime's (the graph runs in onnxruntime like any ONNX model): `convertedRuntime`.
//
// Also the bare sklearn/xgboost runtimes themselves (`defineTabularRuntime`) and their request
// adapter: MLServer's SKLearnModel and XGBoostModel decode a request's single input as a numpy
// array whatever its name and numeric datatype, and answer `predict` unless `predict_proba` is
// asked for; so does this adapter.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { RequestAdapter } from '../core/adapter.js';
import { ARRAY_OF, type FixedDatatype } from '../core/datatypes.js';
import { invalidInput } from '../core/errors.js';
import { dataLength, isBytesData, type Tensor } from '../core/tensor.js';
import type { InferenceRequest, TensorMetadata } from '../core/types.js';
import { ConversionCache, factsOf, sha256, type ConversionFacts } from '../convert/cache.js';
import { PREDICT_OUTPUT } from '../convert/model.js';
import { conversionRecipe, convertSource, type ConversionSource } from '../convert/source.js';
import { onnxOptionsSchema, onnxRuntime, type OnnxOptions } from './onnx.js';
import { defineRuntime, type LoadedModel, type ModelArtifact, type ModelSpec, type OptionsContext, type RuntimeDefinition, type RuntimeMetadata, type WorkerRuntime } from './runtime.js';

/** parameters.extra of converted models: ONNX Runtime's session options. */
const convertedOptionsSchema = onnxOptionsSchema;

/** The options a worker gets: ONNX Runtime's, and where conversions are cached (null: nowhere). */
export interface ConvertedOptions extends OnnxOptions {
  cacheDir: string | null;
}

function resolveConvertedOptions(options: unknown, context: OptionsContext): ConvertedOptions {
  // The ONNX runtime resolves its own defaults (threads per worker); its schema ignores cacheDir.
  return { ...(onnxRuntime.options(options as Record<string, unknown>, context) as OnnxOptions), cacheDir: context.cacheDir ?? null };
}

/** The converted graph's bytes in shared memory, which every worker's session is created from. */
function shared(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
  out.set(bytes);
  return out;
}

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;

export interface PreparedConversion {
  artifact: ModelArtifact;
  facts: ConversionFacts;
}

/**
 * The prepare step of a converted model, in a pool worker: reads the file, looks the conversion
 * up in the cache, else converts it (and stores it), and returns the ONNX bytes as the artifact.
 * `folder` is the model's own folder, where nothing is ever written. Throws an Error naming the
 * file and the converter's reason (for a malicious pickle: the global it refused).
 */
export async function prepareConverted(spec: ModelSpec, file: string, source: ConversionSource, folder: string): Promise<PreparedConversion> {
  const t0 = performance.now();
  let info;
  try {
    info = await stat(file);
  } catch {
    throw new Error(`model file ${file} does not exist`);
  }
  if (info.isDirectory()) {
    throw new Error(`${file} is a folder without a model file (${source.kind === 'sklearn' ? 'model.joblib, model.pickle or model.pkl' : 'model.json, model.ubj or model.bst'})`);
  }
  const bytes = await readFile(file);
  const sourceSha256 = sha256(bytes);
  const recipe = conversionRecipe(source);
  const key = ConversionCache.key(sourceSha256, recipe);
  const { cacheDir } = spec.options as ConvertedOptions;
  const cache = new ConversionCache(cacheDir);
  const refusal = cache.refusal(folder);
  const report: Record<string, string | number | boolean> = { source: source.kind, sourceBytes: bytes.byteLength };

  const hit = refusal === undefined ? await cache.get(key, recipe, sourceSha256) : undefined;
  if (hit !== undefined) {
    Object.assign(report, { estimator: hit.facts.estimator, cache: 'hit', cacheFile: hit.file, onnxBytes: hit.facts.onnxBytes, prepareMs: ms(t0) });
    return { artifact: { bytes: shared(hit.onnx), format: 'onnx', report }, facts: hit.facts };
  }

  const c0 = performance.now();
  let converted;
  try {
    converted = convertSource(bytes, source);
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`, { cause: error });
  }
  const convertMs = ms(c0);
  const facts = factsOf(converted, recipe, sourceSha256, convertMs);
  let cacheState: string;
  if (refusal !== undefined) cacheState = `off: ${refusal}`;
  else {
    const stored = await cache.put(key, converted.onnx, facts);
    cacheState = stored.stored ? 'stored' : `off: ${stored.reason}`;
    if (stored.stored) report.cacheFile = stored.file;
  }
  Object.assign(report, { estimator: converted.estimator, convertMs, cache: cacheState, onnxBytes: converted.onnx.byteLength, prepareMs: ms(t0) });
  return { artifact: { bytes: shared(converted.onnx), format: 'onnx', report }, facts };
}

/** The load of a converted model: the ONNX runtime's, from the prepared bytes. */
async function loadConverted(spec: ModelSpec, prepare: (spec: ModelSpec) => Promise<ModelArtifact>): Promise<LoadedModel> {
  // The pool always prepares first; a load without an artifact (a runtime used directly) prepares here.
  const artifact = spec.artifact ?? (await prepare(spec));
  const onnx = await onnxRuntime.worker();
  return onnx.load({ ...spec, artifact });
}

/**
 * The declaration fields every runtime of converted models has alike, given its prepare step:
 * ONNX Runtime runs the graph (so its workers are never terminated mid-run), with ONNX Runtime's
 * session options and the server's cache folder.
 */
export function convertedRuntime(prepare: (spec: ModelSpec) => Promise<ModelArtifact>) {
  return {
    backend: 'onnxruntime',
    options: convertedOptionsSchema,
    resolveOptions: resolveConvertedOptions,
    terminable: false,
    mainThreadOptions: (options: ConvertedOptions) => ({ ...options, intraOpThreads: 1 }),
    worker: async (): Promise<WorkerRuntime> => ({ prepare, load: (spec) => loadConverted(spec, prepare) }),
  } as const;
}

/**
 * A bare model-file runtime (MLServer's SKLearnModel, XGBoostModel): the file its settings point
 * to (the uri itself, or the first of `modelFiles` in a folder: defineRuntime's default locate)
 * converted as `source` says, served through the tabular request adapter.
 */
export function defineTabularRuntime(declaration: {
  name: string;
  /** MLServer's file names, in the order it looks for them. */
  modelFiles: readonly string[];
  selects(implementation: string): boolean;
  /** How the model file is converted. */
  source(file: string): ConversionSource;
}): RuntimeDefinition {
  const prepare = async (spec: ModelSpec): Promise<ModelArtifact> => {
    // The file's own folder is never written to (the conversion cache refuses to live in it).
    const { artifact } = await prepareConverted(spec, spec.path, declaration.source(spec.path), path.dirname(spec.path));
    return artifact;
  };
  return defineRuntime({
    name: declaration.name,
    platform: declaration.name,
    modelFiles: declaration.modelFiles,
    selects: declaration.selects,
    ...convertedRuntime(prepare),
    adapter: ({ spec, metadata }) => new TabularAdapter(spec.label, metadata),
  });
}

// ---- the bare runtimes' request adapter ------------------------------------------------------------

const NUMERIC = new Set(['BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64', 'FP32', 'FP64']);

/** A numeric tensor's data as another numeric datatype (FP64 for the converted graphs). */
function castNumeric(t: Tensor, to: FixedDatatype): Tensor['data'] {
  const data = t.data;
  if (t.datatype === to || isBytesData(data)) return data;
  const n = dataLength(data);
  const out = new ARRAY_OF[to](n);
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) {
      const v = data[i];
      out[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    }
  } else if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) out[i] = Number(data[i]);
  } else {
    out.set(data);
  }
  return out;
}

/**
 * MLServer's SKLearnModel / XGBoostModel request handling over a converted graph: one input, any
 * name, any numeric datatype (cast to the graph's), shape [rows, features] (or [rows] for a
 * one-feature model); the outputs default to `predict`.
 */
class TabularAdapter implements RequestAdapter {
  readonly inputs: TensorMetadata[];
  readonly outputs: TensorMetadata[];
  readonly defaultOutputs: readonly string[] | undefined;
  private readonly target: TensorMetadata;

  constructor(private readonly label: string, metadata: RuntimeMetadata) {
    if (metadata.inputs.length !== 1) throw new Error(`the converted graph has ${metadata.inputs.length} inputs, not one`);
    this.target = metadata.inputs[0];
    this.inputs = metadata.inputs;
    this.outputs = metadata.outputs;
    this.defaultOutputs = metadata.outputs.some((o) => o.name === PREDICT_OUTPUT) ? [PREDICT_OUTPUT] : undefined;
  }

  toRuntime(request: InferenceRequest): Tensor[] {
    const { target } = this;
    const width = target.shape[target.shape.length - 1];
    if (request.inputs.length !== 1) {
      const names = request.inputs.map((t) => `'${t.name}'`).join(', ') || 'none';
      throw invalidInput(`model '${this.label}' takes one input, a [rows, ${width}] matrix of its features, but the request has ${request.inputs.length} (${names})`);
    }
    const t = request.inputs[0];
    let shape = t.shape;
    if (shape.length === 1 && width === 1) shape = [shape[0], 1];
    if (shape.length !== 2) {
      throw invalidInput(`input '${t.name}': shape [${t.shape.join(',')}] is not a [rows, ${width}] matrix of features`);
    }
    const text = target.datatype === 'BYTES';
    if (text && t.datatype !== 'BYTES') throw invalidInput(`input '${t.name}' is ${t.datatype}, but model '${this.label}' takes its features as BYTES (text categories)`);
    if (!text && !NUMERIC.has(t.datatype)) {
      throw invalidInput(`input '${t.name}' is ${t.datatype}, but model '${this.label}' takes numbers (${target.datatype}; any numeric datatype is cast)`);
    }
    const data = text ? t.data : castNumeric(t, target.datatype as FixedDatatype);
    return [{ name: target.name, datatype: target.datatype, shape, data }];
  }
}
