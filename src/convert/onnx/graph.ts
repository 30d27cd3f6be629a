// A graph under construction, for converters: values with element types, unique names,
// initializers, opset bookkeeping, and the V2 metadata the finished graph implies.
//
// Operator helpers (ops.ts, ml.ts) take a GraphBuilder and Values and return Values, so a
// converter reads as the computation it emits:
//
//   const g = new GraphBuilder('xgboost');
//   const x = g.input('input', 'DOUBLE', ['N', 4]);
//   const p = softmax(g, add(g, matMul(g, x, g.constDouble(w, [4, 3])), g.constDouble(b, [3])), 1);
//   g.output(p, 'predict_proba', ['N', 3]);
//   const bytes = g.build();
//
// Types are checked as nodes are added (a DOUBLE added to a FLOAT throws), so a converter bug is
// found at conversion time with the op named, not when ONNX Runtime loads the graph.
import type { Datatype } from '../../core/datatypes.js';
import type { TensorMetadata } from '../../core/types.js';
import {
  buildModel,
  type AttributeValue,
  type Dim,
  type Initializer,
  type Node,
  type OnnxTypeName,
  type TensorData,
  type ValueInfo,
  tensorTypeName,
} from '../../modelgen/onnx-builder.js';

export type { AttributeValue, Dim, OnnxTypeName, TensorData } from '../../modelgen/onnx-builder.js';

/** Element type of a graph value (ONNX TensorProto data type name). */
export type ElemType = OnnxTypeName;

/** A tensor in the graph: its unique name and element type (shape is known for inputs/outputs only). */
export interface Value {
  readonly name: string;
  readonly type: ElemType;
}

/** The ai.onnx.ml domain name. */
export const ML_DOMAIN = 'ai.onnx.ml';

/**
 * ai.onnx opset the toolkit emits: 17 is supported by onnxruntime-node 1.30 and known to the
 * onnx 1.12 checker on the development machine (so graphs without ai.onnx.ml 5 operators can be
 * validated there). Operators are used with their opset-17 signatures (e.g. ReduceSum's axes as an
 * input, ReduceMax's as an attribute).
 */
export const DEFAULT_OPSET = 17;

/** V2 datatype of each ONNX element type a graph input or output may have. */
const V2_DATATYPE: Partial<Record<ElemType, Datatype>> = {
  FLOAT: 'FP32',
  DOUBLE: 'FP64',
  FLOAT16: 'FP16',
  INT8: 'INT8',
  INT16: 'INT16',
  INT32: 'INT32',
  INT64: 'INT64',
  UINT8: 'UINT8',
  UINT16: 'UINT16',
  UINT32: 'UINT32',
  UINT64: 'UINT64',
  BOOL: 'BOOL',
  STRING: 'BYTES',
};

/** The V2 datatype of an ONNX element type (STRING is BYTES). */
export function v2Datatype(type: ElemType): Datatype {
  const datatype = V2_DATATYPE[type];
  if (datatype === undefined) throw new Error(`ONNX type ${type} has no V2 datatype`);
  return datatype;
}

export interface GraphBuilderOptions {
  /** ai.onnx opset; default DEFAULT_OPSET. */
  opset?: number;
  /** The model's doc string (shown by Netron and `onnx.helper.printable_graph`). */
  docString?: string;
  /** ModelProto.metadata_props, e.g. the source estimator and library version. */
  metadata?: Record<string, string>;
}

export interface NodeOptions {
  domain?: string;
  attributes?: Record<string, AttributeValue>;
  /** Names of the outputs (default: fresh names from the op). Use to write a graph output directly. */
  names?: string[];
  docString?: string;
}

interface DeclaredIo {
  name: string;
  type: ElemType;
  shape: Dim[];
}

export class GraphBuilder {
  readonly name: string;
  readonly opset: number;
  private readonly docString: string;
  private readonly metadataProps: Record<string, string>;
  private readonly nodes: Node[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly inputs: DeclaredIo[] = [];
  private readonly outputs: DeclaredIo[] = [];
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private mlOpset = 0;

  constructor(name: string, options: GraphBuilderOptions = {}) {
    this.name = name;
    this.opset = options.opset ?? DEFAULT_OPSET;
    this.docString = options.docString ?? '';
    this.metadataProps = { ...(options.metadata ?? {}) };
  }

  /**
   * A name not yet used in the graph, built from `hint` with a number (`hint_0`, `hint_1`…): a
   * generated name always ends in `_<digits>`, so it never takes a name a converter chooses for
   * an output (such as `predict`) unless that name ends in `_<digits>` too.
   */
  fresh(hint: string): string {
    const base = hint.replace(/[^A-Za-z0-9_.:/-]/g, '_') || 'v';
    let n = this.counters.get(base) ?? 0;
    let name = `${base}_${n}`;
    while (this.used.has(name)) name = `${base}_${++n}`;
    this.counters.set(base, n + 1);
    this.used.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`graph value name '${name}' is already used in graph ${this.name}`);
    this.used.add(name);
    return name;
  }

  /** Declares a graph input; string dims are dynamic (-1 in V2 metadata). */
  input(name: string, type: ElemType, shape: Dim[]): Value {
    this.inputs.push({ name: this.claim(name), type, shape });
    return { name, type };
  }

  /**
   * Declares `value` as a graph output called `name` (an Identity is added when the value has
   * another name; pass `names` to the producing op to avoid it).
   */
  output(value: Value, name: string, shape: Dim[]): Value {
    let out = value;
    if (value.name !== name) {
      this.claim(name);
      this.nodes.push({ op: 'Identity', inputs: [value.name], outputs: [name] });
      out = { name, type: value.type };
    }
    this.outputs.push({ name, type: value.type, shape });
    return out;
  }

  /** Adds an initializer holding `data` with `dims` (a scalar has dims []). */
  constant(data: TensorData | string[], dims: number[], hint = 'const', type?: 'BOOL'): Value {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) throw new Error(`constant ${hint}: ${data.length} values for dims [${dims}]`);
    const name = this.fresh(hint);
    this.initializers.push({ name, dims, data, ...(type === undefined ? {} : { type }) });
    return { name, type: type ?? tensorTypeName(data) };
  }

  /** A DOUBLE constant; dims default to [values.length]. */
  constDouble(values: ArrayLike<number>, dims?: number[], hint = 'double'): Value {
    return this.constant(Float64Array.from(values), dims ?? [values.length], hint);
  }

  /** A FLOAT constant (values rounded to float32); dims default to [values.length]. */
  constFloat(values: ArrayLike<number>, dims?: number[], hint = 'float'): Value {
    return this.constant(Float32Array.from(values), dims ?? [values.length], hint);
  }

  /** An INT64 constant; dims default to [values.length]. */
  constInt64(values: ArrayLike<number | bigint>, dims?: number[], hint = 'int64'): Value {
    const data = BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
    return this.constant(data, dims ?? [values.length], hint);
  }

  /** A STRING constant; dims default to [values.length]. */
  constString(values: string[], dims?: number[], hint = 'string'): Value {
    return this.constant(values, dims ?? [values.length], hint);
  }

  /** A scalar (dims []) constant of a numeric type, e.g. for broadcasting in Add/Mul. */
  scalar(value: number, type: 'DOUBLE' | 'FLOAT' | 'INT64', hint = 'scalar'): Value {
    if (type === 'DOUBLE') return this.constDouble([value], [], hint);
    if (type === 'FLOAT') return this.constFloat([value], [], hint);
    return this.constInt64([value], [], hint);
  }

  /**
   * Adds a node and returns its outputs, whose types are `outputTypes` (one per output). ai.onnx.ml
   * nodes must say which ml opset they need (`mlOpset`): the model imports the highest needed.
   * Use the typed helpers in ops.ts/ml.ts rather than this where one exists.
   */
  node(op: string, inputs: (Value | undefined)[], outputTypes: ElemType[], options: NodeOptions & { mlOpset?: number } = {}): Value[] {
    if (options.domain === ML_DOMAIN) {
      if (options.mlOpset === undefined) throw new Error(`${op}: ai.onnx.ml nodes must declare the ml opset they need`);
      this.requireMlOpset(options.mlOpset);
    }
    const names = options.names ?? [];
    if (names.length !== 0 && names.length !== outputTypes.length) throw new Error(`${op}: ${names.length} names for ${outputTypes.length} outputs`);
    const outputs = outputTypes.map((type, i) => ({
      name: names[i] !== undefined ? this.claim(names[i]) : this.fresh(op.toLowerCase()),
      type,
    }));
    this.nodes.push({
      op,
      // An omitted optional input is the empty name in ONNX.
      inputs: trimTrailingEmpty(inputs.map((v) => v?.name ?? '')),
      outputs: outputs.map((o) => o.name),
      ...(options.domain === undefined ? {} : { domain: options.domain }),
      ...(options.attributes === undefined ? {} : { attributes: options.attributes }),
      ...(options.docString === undefined ? {} : { docString: options.docString }),
      name: this.fresh(`node_${op}`),
    });
    return outputs;
  }

  /** Raises the ai.onnx.ml opset the model imports to at least `version`. */
  requireMlOpset(version: number): void {
    this.mlOpset = Math.max(this.mlOpset, version);
  }

  /** Adds a ModelProto.metadata_props entry. */
  setMetadata(key: string, value: string): void {
    this.metadataProps[key] = value;
  }

  /** V2 metadata of the declared inputs and outputs: string dims become -1. */
  metadata(): { inputs: TensorMetadata[]; outputs: TensorMetadata[] } {
    const toV2 = (io: DeclaredIo): TensorMetadata => ({
      name: io.name,
      datatype: v2Datatype(io.type),
      shape: io.shape.map((d) => (typeof d === 'number' ? d : -1)),
    });
    return { inputs: this.inputs.map(toV2), outputs: this.outputs.map(toV2) };
  }

  /** Number of nodes so far (for descriptions and tests). */
  get nodeCount(): number {
    return this.nodes.length;
  }

  /**
   * Serialises the model. IR version follows the opsets: 8 for ai.onnx ≤ 17 with ai.onnx.ml ≤ 3,
   * 9 with ai.onnx.ml 4, 10 with ai.onnx.ml 5 (ONNX's versioning table).
   */
  build(): Uint8Array {
    if (this.outputs.length === 0) throw new Error(`graph ${this.name} has no outputs`);
    const opsetImports = [{ domain: '', version: this.opset }];
    if (this.mlOpset > 0) opsetImports.push({ domain: ML_DOMAIN, version: this.mlOpset });
    const irVersion = Math.max(this.opset <= 17 ? 8 : this.opset <= 20 ? 9 : 10, this.mlOpset >= 5 ? 10 : this.mlOpset === 4 ? 9 : 8);
    const io = (v: DeclaredIo): ValueInfo => ({ name: v.name, type: v.type, shape: v.shape });
    return buildModel({
      name: this.name,
      irVersion,
      opsetImports,
      producerName: 'tessera-convert',
      producerVersion: '1',
      docString: this.docString,
      metadata: this.metadataProps,
      inputs: this.inputs.map(io),
      outputs: this.outputs.map(io),
      nodes: this.nodes,
      initializers: this.initializers,
    });
  }
}

function trimTrailingEmpty(names: string[]): string[] {
  let end = names.length;
  while (end > 0 && names[end - 1] === '') end--;
  return names.slice(0, end);
}

