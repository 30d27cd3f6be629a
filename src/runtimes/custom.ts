// Custom runtimes: a model whose `implementation` is a path to the user's own JavaScript or
// TypeScript module (relative to the model folder: "./my_runtime.mjs"), as MLServer's custom
// runtimes and Triton's Python backend allow. It runs in the worker pool like an ONNX model, is
// batched when the model settings set max_batch_size, and is bounded by request_timeout.
//
// The module exports:
//   predict(inputs, parameters)   required; inputs: [{name, datatype, shape, data}] with data a typed
//                                 array (Float32Array for FP32, BigInt64Array for INT64, Uint8Array
//                                 for BOOL...) or, for BYTES, an array of Buffers (Uint8Array views;
//                                 .toString() gives UTF-8 text). Returns the outputs as an array of
//                                 {name, datatype?, shape, data} or an object {name: {shape, data}};
//                                 BYTES data may be strings or Uint8Arrays. May be async.
//   load(settings, context)       optional, awaited once per worker before the first predict;
//                                 settings: the model settings (parameters.uri absolute).
//   metadata()                    optional: {inputs, outputs} as [{name, datatype, shape}]; else the
//                                 settings' inputs and outputs.
//   unload()                      optional, on unload.
// A module signals a bad request (400) by throwing an error whose `code` is 'INVALID_INPUT'.
// Outputs are checked strictly: a missing or unknown datatype, a shape that does not fit the
// declared one, data that is not the datatype's typed array, or an element count that does not
// match the shape fail the request with 500 naming the module, the output and the problem.
import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ARRAY_OF, isDatatype, type Datatype, type FixedDatatype, type NumericArray } from '../core/datatypes.js';
import { invalidInput, runtimeError, TesseraError } from '../core/errors.js';
import { bytesElement, bytesFromArrays, elementCount, isBytesData, type Tensor } from '../core/tensor.js';
import type { Parameters, TensorMetadata } from '../core/types.js';
import { defineRuntime, type LoadedModel, type ModelSpec, type RunContext, type RuntimeMetadata, type WorkerRuntime } from './runtime.js';

const MODULE_EXTENSIONS = /\.(mjs|js|cjs|ts|mts)$/i;

/** A tensor as the user's module sees it. */
export interface UserTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
  data: NumericArray | Buffer[];
  parameters?: Parameters;
}

interface UserModule {
  predict: (inputs: UserTensor[], parameters: Parameters) => unknown;
  load?: (settings: unknown, context: { name: string; version: string; folder: string }) => unknown;
  metadata?: () => unknown;
  unload?: () => unknown;
}

export const customRuntime = defineRuntime({
  name: 'custom',
  platform: 'custom',
  backend: 'custom',
  modelFiles: [],
  selects: (implementation) => MODULE_EXTENSIONS.test(implementation.trim()),
  locate: ({ folder, implementation }) => resolve(folder, (implementation ?? '').trim()),
  // parameters.extra is the module's own business: handed over as is (settings.parameters.extra).
  options: z.record(z.string(), z.unknown()),
  terminable: true,
  worker: async (): Promise<WorkerRuntime> => ({ load: loadModule }),
});

const typeName = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : ArrayBuffer.isView(value) ? value.constructor.name : typeof value;

async function importModule(path: string, key: string): Promise<Record<string, unknown>> {
  // A query per load: a reload imports the module afresh instead of reusing the cached one.
  const url = `${pathToFileURL(path).href}?load=${encodeURIComponent(key)}`;
  if (/\.m?ts$/i.test(extname(path))) {
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
  }
  return (await import(url)) as Record<string, unknown>;
}

const tensorMetadata = z.object({
  name: z.string().min(1),
  datatype: z.string().refine(isDatatype, { message: 'not a V2 datatype' }),
  shape: z.array(z.number().int().min(-1)),
});
const metadataSchema = z.object({ inputs: z.array(tensorMetadata), outputs: z.array(tensorMetadata) });

async function loadModule(spec: ModelSpec): Promise<LoadedModel> {
  const where = `custom runtime ${spec.settings.implementation ?? spec.path} (model ${spec.label})`;
  if (!existsSync(spec.path)) throw new Error(`${where}: module ${spec.path} does not exist`);
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(spec.path, spec.key);
  } catch (error) {
    throw new Error(`${where}: the module failed to import: ${(error as Error).message}`);
  }
  // A CommonJS module or a default export object holding the functions works too.
  const exports = typeof mod.predict === 'function' ? mod : ((mod.default ?? {}) as Record<string, unknown>);
  if (typeof exports.predict !== 'function') {
    throw new Error(`${where}: the module must export a function predict(inputs, parameters)`);
  }
  const user = exports as unknown as UserModule;
  const settings = structuredClone(spec.settings);
  settings.parameters.uri = resolve(spec.folder, spec.settings.parameters.uri ?? '.');
  try {
    await user.load?.(settings, { name: spec.model, version: spec.version, folder: spec.folder });
  } catch (error) {
    throw new Error(`${where}: load() failed: ${(error as Error).message}`);
  }
  let metadata: RuntimeMetadata;
  if (typeof user.metadata === 'function') {
    const declared = metadataSchema.safeParse(await user.metadata());
    if (!declared.success) {
      const issue = declared.error.issues[0];
      throw new Error(`${where}: metadata() must return {inputs, outputs} of {name, datatype, shape}: ${issue.path.join('.')}: ${issue.message}`);
    }
    metadata = { inputs: declared.data.inputs as TensorMetadata[], outputs: declared.data.outputs as TensorMetadata[], skippedOutputs: [] };
  } else {
    const strip = (t: { name: string; datatype: Datatype; shape: number[] }): TensorMetadata => ({ name: t.name, datatype: t.datatype, shape: [...t.shape] });
    metadata = { inputs: spec.settings.inputs.map(strip), outputs: spec.settings.outputs.map(strip), skippedOutputs: [] };
  }
  if (metadata.inputs.length === 0 || metadata.outputs.length === 0) {
    throw new Error(`${where}: declare the model's inputs and outputs, in model-settings.json ("inputs", "outputs") or with an exported metadata() function`);
  }
  return new CustomModel(user, metadata, where);
}

class CustomModel implements LoadedModel {
  private readonly declared: Map<string, TensorMetadata>;
  constructor(
    private readonly user: UserModule,
    readonly metadata: RuntimeMetadata,
    private readonly where: string,
  ) {
    this.declared = new Map(metadata.outputs.map((o) => [o.name, o]));
  }

  async run(inputs: readonly Tensor[], outputs: readonly string[], context: RunContext): Promise<Tensor[]> {
    let result: unknown;
    try {
      result = await this.user.predict(inputs.map(userTensor), context.parameters ?? {});
    } catch (error) {
      const e = error as { code?: unknown; message?: unknown } | null;
      const message = typeof e?.message === 'string' ? e.message : String(error);
      if (e?.code === 'INVALID_INPUT' || e?.code === 'BAD_REQUEST') throw invalidInput(message);
      throw runtimeError(`${this.where}: predict() failed: ${message}`);
    }
    return checkOutputs(result, outputs, this.declared, this.where);
  }

  async dispose(): Promise<void> {
    await this.user.unload?.();
  }
}

/** A tensor for the user: typed arrays as they are, BYTES as Buffers over the packed values (no copy). */
function userTensor(t: Tensor): UserTensor {
  let data: NumericArray | Buffer[];
  if (isBytesData(t.data)) {
    const n = t.data.offsets.length - 1;
    const list = new Array<Buffer>(n);
    for (let i = 0; i < n; i++) {
      const e = bytesElement(t.data, i);
      list[i] = Buffer.from(e.buffer, e.byteOffset, e.byteLength);
    }
    data = list;
  } else {
    data = t.data;
  }
  const out: UserTensor = { name: t.name, datatype: t.datatype, shape: [...t.shape], data };
  if (t.parameters !== undefined) out.parameters = t.parameters;
  return out;
}

const utf8 = new TextEncoder();

/** The requested outputs from what predict() returned, checked strictly. */
function checkOutputs(result: unknown, requested: readonly string[], declared: Map<string, TensorMetadata>, where: string): Tensor[] {
  const fail = (message: string): TesseraError => runtimeError(`${where}: ${message}`);
  let list: Record<string, unknown>[];
  if (Array.isArray(result)) {
    list = result.map((t, i) => {
      if (t === null || typeof t !== 'object') throw fail(`predict() returned ${typeName(t)} as output ${i}: expected {name, datatype, shape, data}`);
      return t as Record<string, unknown>;
    });
  } else if (result !== null && typeof result === 'object' && !ArrayBuffer.isView(result)) {
    list = Object.entries(result).map(([name, t]) => {
      if (t === null || typeof t !== 'object') throw fail(`predict() returned ${typeName(t)} for output '${name}': expected {datatype, shape, data}`);
      return { name, ...(t as Record<string, unknown>) };
    });
  } else {
    throw fail(`predict() must return an array of output tensors or an object of them by name, not ${typeName(result)}`);
  }
  const byName = new Map<string, Record<string, unknown>>();
  for (const t of list) {
    if (typeof t.name !== 'string') throw fail(`predict() returned an output without a name (${JSON.stringify(Object.keys(t))})`);
    byName.set(t.name, t);
  }
  return requested.map((name) => {
    const t = byName.get(name);
    if (t === undefined) throw fail(`predict() did not return output '${name}' (it returned: ${[...byName.keys()].join(', ') || 'none'})`);
    return checkTensor(t, declared.get(name), (m) => fail(`output '${name}': ${m}`));
  });
}

function checkTensor(t: Record<string, unknown>, declared: TensorMetadata | undefined, fail: (m: string) => TesseraError): Tensor {
  const name = t.name as string;
  const datatype = t.datatype ?? declared?.datatype;
  if (typeof datatype !== 'string' || !isDatatype(datatype)) throw fail(`unknown datatype ${JSON.stringify(datatype)}`);
  if (declared !== undefined && datatype !== declared.datatype) throw fail(`datatype ${datatype} differs from the declared ${declared.datatype}`);
  const shape = t.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw fail(`shape must be an array of non-negative integers, not ${JSON.stringify(shape)}`);
  }
  const dims = shape as number[];
  if (declared !== undefined) {
    const fits = declared.shape.length === dims.length && declared.shape.every((d, i) => d === -1 || d === dims[i]);
    if (!fits) throw fail(`shape [${dims.join(',')}] does not fit the declared [${declared.shape.join(',')}]`);
  }
  const count = elementCount(dims);
  const data = t.data;
  if (datatype === 'BYTES') {
    if (!Array.isArray(data)) throw fail(`BYTES data must be an array of strings or Uint8Arrays, not ${typeName(data)}`);
    if (data.length !== count) throw fail(`shape [${dims.join(',')}] needs ${count} elements but the data has ${data.length}`);
    const elements = data.map((e, i) => {
      if (typeof e === 'string') return utf8.encode(e);
      if (e instanceof Uint8Array) return e;
      throw fail(`BYTES element ${i} is ${typeName(e)}, not a string or Uint8Array`);
    });
    return { name, datatype, shape: dims, data: bytesFromArrays(elements) };
  }
  const expected = ARRAY_OF[datatype as FixedDatatype];
  if (!(data instanceof expected)) {
    throw fail(`data must be a ${expected.name} for ${datatype}, not ${typeName(data)}`);
  }
  const array = data as NumericArray;
  if (array.length !== count) throw fail(`shape [${dims.join(',')}] needs ${count} elements but the data has ${array.length}`);
  // A view over part of a larger buffer (or over shared memory) cannot be moved to the main thread: copy it.
  if (array.buffer instanceof ArrayBuffer && array.byteOffset === 0 && array.byteLength === array.buffer.byteLength && array.constructor === expected) {
    return { name, datatype, shape: dims, data: array };
  }
  const copy = new expected(array.length);
  (copy as Float32Array).set(array as Float32Array);
  return { name, datatype, shape: dims, data: copy };
}
