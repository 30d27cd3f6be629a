// The ONNX runtime: onnxruntime-node sessions, V2 metadata read from the graph, and tensor
// conversion between Tessera's typed arrays and ORT tensors (no per-element copies except for
// strings, which ORT's Node binding only takes as JS strings).
//
// This is the only file that knows ONNX Runtime: its session options (parameters.extra), its model
// file (model.onnx) and its binding. onnxruntime-node is imported inside the worker side only, so
// the main thread never loads it. A model's bytes are read once per load (`prepare`, in one worker)
// into shared memory; every worker, a replacement for one that died included, creates its session
// from those bytes, never from disk again.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type ort from 'onnxruntime-node';
import { z } from 'zod';
import type { Datatype, NumericArray } from '../core/datatypes.js';
import { invalidInput, modelInputRejected } from '../core/errors.js';
import { bytesElement, bytesFromArrays, bytesFromStrings, isBytesData, type BytesData, type Tensor, type TensorData } from '../core/tensor.js';
import type { TensorMetadata } from '../core/types.js';
import { availableCpus } from '../workers/cpus.js';
import { defineRuntime, type LoadedModel, type ModelArtifact, type ModelSpec, type RuntimeMetadata, type WorkerRuntime } from './runtime.js';

export const ONNX_MODEL_FILE = 'model.onnx';

/** ONNX Runtime session options, under parameters.extra of a model. */
export const onnxOptionsSchema = z.object({
  intra_op_threads: z.number().int().min(1).optional().describe('ORT intra-op threads (default: cores / workers, at least 1)'),
  inter_op_threads: z.number().int().min(1).default(1).describe('ORT inter-op threads'),
  allow_spinning: z.boolean().default(false).describe('let idle ORT threads spin (costs CPU the server needs)'),
  graph_optimization_level: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
  execution_mode: z.enum(['sequential', 'parallel']).default('sequential'),
});

/** Session tuning, resolved from model settings and the pool size before it reaches a worker. */
export interface OnnxOptions {
  intraOpThreads: number;
  interOpThreads: number;
  allowSpinning: boolean;
  graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  executionMode: 'sequential' | 'parallel';
}

/** The model file a uri means: the path itself, or model.onnx (else the only *.onnx) inside a folder. */
function locateOnnx({ uri }: { uri: string }): string {
  if (!existsSync(uri) || !statSync(uri).isDirectory()) return uri;
  const standard = join(uri, ONNX_MODEL_FILE);
  if (existsSync(standard)) return standard;
  const onnx = readdirSync(uri).filter((f) => f.endsWith('.onnx'));
  return onnx.length === 1 ? join(uri, onnx[0]) : standard;
}

/** Reads a file into shared memory: the bytes then cross to every worker without a copy. */
export async function readShared(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      // A pipe or device has no size up front: read it to its end, then share the bytes.
      const data = await handle.readFile();
      const shared = new Uint8Array(new SharedArrayBuffer(data.byteLength));
      shared.set(data);
      return shared;
    }
    const size = stat.size;
    const bytes = new Uint8Array(new SharedArrayBuffer(size));
    let offset = 0;
    while (offset < size) {
      const { bytesRead } = await handle.read(bytes, offset, size - offset, offset);
      if (bytesRead === 0) throw new Error(`${path} ended after ${offset} of ${size} bytes`);
      offset += bytesRead;
    }
    return bytes;
  } finally {
    await handle.close();
  }
}

export const onnxRuntime = defineRuntime({
  name: 'onnx',
  platform: 'onnxruntime_onnx',
  backend: 'onnxruntime',
  modelFiles: [ONNX_MODEL_FILE],
  // Any implementation naming ONNX (mlserver_onnx.OnnxModel, say) selects ONNX Runtime.
  selects: (implementation) => /onnx/i.test(implementation),
  locate: locateOnnx,
  options: onnxOptionsSchema,
  resolveOptions: (o, { workers }): OnnxOptions => ({
    // workers x threads <= cores: more threads than cores only contend.
    intraOpThreads: o.intra_op_threads ?? Math.max(1, Math.floor(availableCpus() / Math.max(1, workers))),
    interOpThreads: o.inter_op_threads,
    allowSpinning: o.allow_spinning,
    graphOptimizationLevel: o.graph_optimization_level,
    executionMode: o.execution_mode,
  }),
  terminable: false,
  // On the main thread the thread that calls run() is the one ORT thread: no pool of its own.
  mainThreadOptions: (options) => ({ ...options, intraOpThreads: 1 }),
  worker: async (): Promise<WorkerRuntime> => {
    // A CommonJS package: its exports are the default export, or (through some loaders) the namespace.
    const imported = (await import('onnxruntime-node')) as unknown as { default?: Binding } & Binding;
    const binding: Binding = imported.default ?? imported;
    return {
      async prepare(spec: ModelSpec): Promise<ModelArtifact> {
        return { bytes: await readShared(spec.path), format: 'onnx' };
      },
      async load(spec: ModelSpec): Promise<LoadedModel> {
        const shared = spec.artifact?.bytes ?? (await readShared(spec.path));
        const session = await createSession(binding, shared, sessionOptions(spec.options as OnnxOptions));
        const skippedOutputs: string[] = [];
        const metadata: RuntimeMetadata = {
          inputs: metadataOf(session.inputMetadata, [], 'input'),
          outputs: metadataOf(session.outputMetadata, skippedOutputs, 'output'),
          skippedOutputs,
        };
        return new OnnxModel(binding, session, metadata);
      },
    };
  },
});

/**
 * A session from the model's bytes (in shared memory). ONNX Runtime keeps about one more copy of
 * the weights for a session made from a buffer than for one made from a file (measured with the
 * bundled mlp, 19 MB of weights: 40 MB resident per session from a buffer, 22 MB from a file), so
 * the bytes are written to a private temp file, the session made from it, and the file removed;
 * the bytes in memory stay the only source (a replacement worker writes its own file from them).
 * Where no temp file can be written (a read-only file system), from a private copy of the bytes.
 */
async function createSession(binding: Binding, shared: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  let dir: string | undefined;
  try {
    dir = await mkdtemp(join(tmpdir(), 'tessera-onnx-'));
  } catch {
    dir = undefined;
  }
  if (dir !== undefined) {
    try {
      const file = join(dir, ONNX_MODEL_FILE);
      await writeFile(file, shared);
      return await binding.InferenceSession.create(file, options);
    } catch {
      // No temp file, or a model ONNX Runtime refuses: the buffer below fails the same way, with a
      // message that names no temp file.
    } finally {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }
  // The binding takes an ArrayBuffer, not shared memory: a private copy, dropped once the session holds the model.
  return binding.InferenceSession.create(new Uint8Array(shared), options);
}

/** ORT tensor type names <-> V2 datatypes. */
const V2_OF_ORT: Record<string, Datatype> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
};
const ORT_OF_V2: Partial<Record<Datatype, ort.Tensor.Type>> = Object.fromEntries(
  Object.entries(V2_OF_ORT).map(([o, v]) => [v, o as ort.Tensor.Type]),
);

/**
 * A run the model's kernels refused: inputs that each fit the metadata but not the graph together
 * (two inputs sharing a dimension with different sizes, an empty batch a MatMul cannot take) are
 * the request's fault, 400, not an internal error logged with a stack; running out of memory stays
 * internal.
 */
function runFailure(error: unknown): unknown {
  const message = error instanceof Error ? error.message : String(error);
  if (/^Non-zero status code returned while running/.test(message) && !/alloc/i.test(message)) {
    return modelInputRejected(`the model cannot run this input: ${message}`);
  }
  return error;
}

function sessionOptions(spec: OnnxOptions): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: spec.intraOpThreads,
    interOpNumThreads: spec.interOpThreads,
    graphOptimizationLevel: spec.graphOptimizationLevel,
    executionMode: spec.executionMode,
    // A kernel that fails on a request's input is reported to that request (400, below); ORT's
    // own error line on stderr for it would let any client flood the log.
    logSeverityLevel: 4,
    // Spinning threads burn the cores the HTTP thread and the other workers need (stack-notes).
    extra: {
      session: {
        intra_op: { allow_spinning: spec.allowSpinning ? '1' : '0' },
        inter_op: { allow_spinning: spec.allowSpinning ? '1' : '0' },
      },
    },
  };
}

function metadataOf(values: readonly ort.InferenceSession.ValueMetadata[], skipped: string[], what: string): TensorMetadata[] {
  const out: TensorMetadata[] = [];
  for (const v of values) {
    if (!v.isTensor) {
      skipped.push(v.name);
      continue;
    }
    const datatype = V2_OF_ORT[v.type];
    if (datatype === undefined) {
      if (what === 'input') throw new Error(`input '${v.name}' has ONNX type ${v.type}, which Tessera cannot serve`);
      skipped.push(v.name);
      continue;
    }
    out.push({ name: v.name, datatype, shape: v.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) });
  }
  return out;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * How BYTES travel through onnxruntime-node, whose string tensors hold JS strings (passed to ORT as
 * UTF-8) and stop at a NUL byte:
 * - 'text': every element of the request is UTF-8 text, decoded as such (string models see text);
 * - 'latin1': some element is not UTF-8, so every BYTES element of the request is mapped byte for
 *   byte to Latin-1 code points, and string outputs are read back the same way: arbitrary bytes
 *   round-trip exactly through models that move strings (identity, gather, ...).
 * A NUL byte cannot pass either way and is refused with a 400 rather than silently cut.
 */
type StringMode = 'text' | 'latin1';

function stringModeOf(inputs: readonly Tensor[]): StringMode {
  for (const t of inputs) {
    if (!isBytesData(t.data)) continue;
    const n = t.data.offsets.length - 1;
    for (let i = 0; i < n; i++) {
      const element = bytesElement(t.data, i);
      if (element.includes(0)) {
        throw invalidInput(`input '${t.name}': BYTES element ${i} contains a NUL byte, which ONNX Runtime string tensors cannot carry`);
      }
      try {
        strictUtf8.decode(element);
      } catch {
        return 'latin1';
      }
    }
  }
  return 'text';
}

function stringsOf(data: BytesData, mode: StringMode): string[] {
  const n = data.offsets.length - 1;
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const element = bytesElement(data, i);
    out[i] = mode === 'text' ? strictUtf8.decode(element) : Buffer.from(element.buffer, element.byteOffset, element.byteLength).toString('latin1');
  }
  return out;
}

function bytesOfStrings(strings: string[], mode: StringMode): BytesData {
  if (mode === 'text') return bytesFromStrings(strings);
  // A string a model made itself may hold code points above 0xFF: those elements stay UTF-8.
  return bytesFromArrays(strings.map((s) => (/[^\u0000-\u00ff]/.test(s) ? Buffer.from(s, 'utf8') : Buffer.from(s, 'latin1'))));
}

function toOrt(binding: Binding, t: Tensor, mode: StringMode): ort.Tensor {
  const type = ORT_OF_V2[t.datatype];
  if (type === undefined) throw invalidInput(`input '${t.name}': datatype ${t.datatype} is not supported by ONNX Runtime`);
  if (isBytesData(t.data)) return new binding.Tensor('string', stringsOf(t.data, mode), t.shape);
  return new binding.Tensor(type, t.data as NumericArray as ort.Tensor.DataType, t.shape);
}

/** A typed array that owns its whole buffer, so it can be transferred back to the main thread. */
function owned<T extends NumericArray>(a: T): T {
  if (a.byteOffset === 0 && a.buffer.byteLength === a.byteLength) return a;
  return a.slice() as T;
}

function fromOrt(name: string, value: ort.OnnxValue, datatype: Datatype, mode: StringMode): Tensor {
  const tensor = value as ort.Tensor;
  const shape = tensor.dims.map(Number);
  let data: TensorData;
  if (tensor.type === 'string') data = bytesOfStrings(tensor.data as string[], mode);
  else data = owned(tensor.data as NumericArray);
  return { name, datatype, shape, data };
}

type Binding = typeof ort;

class OnnxModel implements LoadedModel {
  private readonly outputTypes = new Map<string, Datatype>();
  constructor(
    private readonly binding: Binding,
    private readonly session: ort.InferenceSession,
    readonly metadata: RuntimeMetadata,
  ) {
    for (const o of metadata.outputs) this.outputTypes.set(o.name, o.datatype);
  }

  async run(inputs: readonly Tensor[], outputs: readonly string[]): Promise<Tensor[]> {
    const mode = stringModeOf(inputs);
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) feeds[t.name] = toOrt(this.binding, t, mode);
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await this.session.run(feeds, outputs as string[]);
    } catch (error) {
      throw runFailure(error);
    }
    return outputs.map((name) => fromOrt(name, result[name], this.outputTypes.get(name)!, mode));
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
