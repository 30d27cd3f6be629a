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

export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export type AttributeValue = number | string | number[] | { float: number } | { floats: number[] };

export interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

export interface GraphSpec {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: Node[];
  initializers?: Initializer[];
  docString?: string;
  /** ai.onnx opset; 13 is supported by every onnxruntime release we use. */
  opset?: number;
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

function tensorProto(init: Initializer): object {
  const bytes = new Uint8Array(init.data.buffer, init.data.byteOffset, init.data.byteLength);
  return {
    name: init.name,
    dims: init.dims,
    dataType: init.data instanceof Float32Array ? OnnxType.FLOAT : OnnxType.INT64,
    // raw_data is little-endian, which is what typed arrays hold on every platform Node supports.
    rawData: bytes,
  };
}

// AttributeProto.AttributeType numbers.
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

function attribute(name: string, value: AttributeValue): object {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: ATTR_INT, i: value } : { name, type: ATTR_FLOAT, f: value };
  }
  if (typeof value === 'string') return { name, type: ATTR_STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: ATTR_INTS, ints: value };
  if ('float' in value) return { name, type: ATTR_FLOAT, f: value.float };
  return { name, type: ATTR_FLOATS, floats: value.floats };
}

/** Serialises a graph into ONNX model bytes (IR version 7, opset 13 + ai.onnx.ml 1). */
export function buildModel(spec: GraphSpec): Uint8Array {
  const type = schema();
  const message = type.fromObject({
    irVersion: 7,
    producerName: 'tessera-modelgen',
    producerVersion: '1',
    docString: spec.docString ?? '',
    opsetImport: [
      { domain: '', version: spec.opset ?? 13 },
      { domain: 'ai.onnx.ml', version: 1 },
    ],
    graph: {
      name: spec.name,
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map(tensorProto),
      node: spec.nodes.map((n, i) => ({
        name: `${n.op.toLowerCase()}_${i}`,
        opType: n.op,
        domain: n.domain ?? '',
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
