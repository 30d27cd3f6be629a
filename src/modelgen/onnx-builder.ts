// Builds ONNX models in TypeScript, so example models and test fixtures need no Python.
// The schema is a hand-written subset of onnx.proto (onnx-subset.proto beside this file).
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

/** ONNX TensorProto.DataType numbers (onnx.proto). */
export const OnnxType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
} as const;
export type OnnxTypeName = keyof typeof OnnxType;

/** A dimension is a fixed size or a symbolic name (a dynamic dim, -1 in V2 metadata). */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  type: OnnxTypeName;
  shape: Dim[];
  /** A sequence of maps (what ZipMap outputs) from `type` keys to `mapValue` values, not a tensor. */
  mapValue?: OnnxTypeName;
}

/** Typed arrays an initializer (or a tensor attribute) may hold; the ONNX type follows from the array. */
export type TensorData =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array
  | Uint32Array;

export interface Initializer {
  name: string;
  dims: number[];
  /** Typed data (little-endian raw_data), or strings for a STRING tensor. */
  data: TensorData | string[];
  /** Overrides the type implied by `data`: only BOOL (from a Uint8Array of 0/1) is meaningful. */
  type?: OnnxTypeName;
}

/** A tensor-valued attribute (e.g. TreeEnsemble's `nodes_splits`); name is optional there. */
export type TensorAttribute = Omit<Initializer, 'name'> & { name?: string };

/**
 * Attribute values. Plain numbers are INT when integral and FLOAT otherwise (so a float attribute
 * that happens to be integral must be written `{ float: 1 }`); plain arrays of numbers are INTS.
 */
export type AttributeValue =
  | number
  | string
  | number[]
  | { float: number }
  | { floats: number[] }
  | { int: number }
  | { ints: number[] }
  | { strings: string[] }
  | { tensor: TensorAttribute }
  | { tensors: TensorAttribute[] };

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  domain?: string;
  attributes?: Record<string, AttributeValue>;
  /** Node name; default `<op>_<index>`. Must be unique in the graph when given. */
  name?: string;
  docString?: string;
}

export interface OpsetImport {
  /** '' (ai.onnx) or 'ai.onnx.ml'. */
  domain: string;
  version: number;
}

export interface GraphSpec {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: Node[];
  initializers?: Initializer[];
  /** The model's doc string. */
  docString?: string;
  /** The graph's doc string. */
  graphDocString?: string;
  /** ai.onnx opset; 13 is supported by every onnxruntime release we use. Ignored when opsetImports is set. */
  opset?: number;
  /** Every opset import (replaces the default ai.onnx `opset` + ai.onnx.ml 1). */
  opsetImports?: OpsetImport[];
  /** IR version; default 7, which goes with the default opsets. */
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  /** ModelProto.metadata_props: free-form key/value pairs tools such as Netron show. */
  metadata?: Record<string, string>;
}

let modelType: protobuf.Type | undefined;

function schema(): protobuf.Type {
  if (modelType === undefined) {
    const source = readFileSync(new URL('./onnx-subset.proto', import.meta.url), 'utf8');
    modelType = protobuf.parse(source).root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

function valueInfo(v: ValueInfo): object {
  if (v.mapValue !== undefined) {
    const value = { tensorType: { elemType: OnnxType[v.mapValue] } };
    return { name: v.name, type: { sequenceType: { elemType: { mapType: { keyType: OnnxType[v.type], valueType: value } } } } };
  }
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: OnnxType[v.type],
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** The ONNX type a tensor's data implies (a Uint8Array is UINT8; BOOL is given as `type`). */
export function tensorTypeName(data: TensorData | string[]): OnnxTypeName {
  if (Array.isArray(data)) return 'STRING';
  if (data instanceof Float32Array) return 'FLOAT';
  if (data instanceof Float64Array) return 'DOUBLE';
  if (data instanceof BigInt64Array) return 'INT64';
  if (data instanceof BigUint64Array) return 'UINT64';
  if (data instanceof Int32Array) return 'INT32';
  if (data instanceof Int16Array) return 'INT16';
  if (data instanceof Int8Array) return 'INT8';
  if (data instanceof Uint16Array) return 'UINT16';
  if (data instanceof Uint32Array) return 'UINT32';
  return 'UINT8';
}

function tensorProto(init: TensorAttribute): object {
  const dataType = OnnxType[init.type ?? tensorTypeName(init.data)];
  const base = { name: init.name ?? '', dims: init.dims, dataType };
  if (Array.isArray(init.data)) {
    // STRING tensors have no raw_data form: each element is UTF-8 bytes in string_data.
    return { ...base, stringData: init.data.map((v) => new TextEncoder().encode(v)) };
  }
  const d = init.data;
  // raw_data is little-endian, which is what typed arrays hold on every platform Node supports.
  return { ...base, rawData: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
}

// AttributeProto.AttributeType numbers.
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_TENSOR = 4;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;
const ATTR_STRINGS = 8;
const ATTR_TENSORS = 9;

function attribute(name: string, value: AttributeValue): object {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: ATTR_INT, i: value } : { name, type: ATTR_FLOAT, f: value };
  }
  if (typeof value === 'string') return { name, type: ATTR_STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: ATTR_INTS, ints: value };
  if ('float' in value) return { name, type: ATTR_FLOAT, f: value.float };
  if ('floats' in value) return { name, type: ATTR_FLOATS, floats: value.floats };
  if ('int' in value) return { name, type: ATTR_INT, i: value.int };
  if ('ints' in value) return { name, type: ATTR_INTS, ints: value.ints };
  if ('strings' in value) return { name, type: ATTR_STRINGS, strings: value.strings.map((v) => new TextEncoder().encode(v)) };
  if ('tensor' in value) return { name, type: ATTR_TENSOR, t: tensorProto(value.tensor) };
  return { name, type: ATTR_TENSORS, tensors: value.tensors.map(tensorProto) };
}

/**
 * Serialises a graph into ONNX model bytes: by default IR version 7, opset 13 + ai.onnx.ml 1;
 * `opsetImports` and `irVersion` choose others.
 */
export function buildModel(spec: GraphSpec): Uint8Array {
  const type = schema();
  const message = type.fromObject({
    irVersion: spec.irVersion ?? 7,
    producerName: spec.producerName ?? 'tessera-modelgen',
    producerVersion: spec.producerVersion ?? '1',
    docString: spec.docString ?? '',
    opsetImport: spec.opsetImports ?? [
      { domain: '', version: spec.opset ?? 13 },
      { domain: 'ai.onnx.ml', version: 1 },
    ],
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: spec.name,
      docString: spec.graphDocString ?? '',
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map(tensorProto),
      node: spec.nodes.map((n, i) => ({
        name: n.name ?? `${n.op.toLowerCase()}_${i}`,
        opType: n.op,
        domain: n.domain ?? '',
        docString: n.docString ?? '',
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  });
  return type.encode(message).finish();
}

/** mulberry32: a small seeded PRNG so generated weights are identical on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
