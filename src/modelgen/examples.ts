// The example models bundled under settings/models and used as test fixtures.
// Each entry yields the ONNX bytes and the model-settings.json written beside them.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModel, seededRandom, type OnnxTypeName } from './onnx-builder.js';
import { readCsv, trainRidge, trainSoftmax } from './train.js';

export interface ExampleModel {
  name: string;
  settings: Record<string, unknown>;
  build(): Uint8Array;
}

const IRIS_CSV = new URL('./iris.csv', import.meta.url);
const WINE_CSV = new URL('./wine.csv', import.meta.url);

export function irisModel(): Uint8Array {
  const model = trainSoftmax(readCsv(IRIS_CSV), 3);
  return buildModel({
    name: 'iris',
    docString: 'Softmax regression on the iris data: 0 setosa, 1 versicolor, 2 virginica',
    inputs: [{ name: 'input', type: 'FLOAT', shape: ['batch', 4] }],
    outputs: [
      { name: 'label', type: 'INT64', shape: ['batch'] },
      { name: 'probabilities', type: 'FLOAT', shape: ['batch', 3] },
    ],
    initializers: [
      { name: 'W', dims: [4, 3], data: model.weights },
      { name: 'B', dims: [3], data: model.bias },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['input', 'W'], outputs: ['xw'] },
      { op: 'Add', inputs: ['xw', 'B'], outputs: ['logits'] },
      { op: 'Softmax', inputs: ['logits'], outputs: ['probabilities'], attributes: { axis: 1 } },
      { op: 'ArgMax', inputs: ['logits'], outputs: ['label'], attributes: { axis: 1, keepdims: 0 } },
    ],
  });
}

export function wineModel(): Uint8Array {
  const model = trainRidge(readCsv(WINE_CSV));
  return buildModel({
    name: 'wine',
    docString: 'Ridge regression of the cultivar index on 13 chemical measurements (UCI wine)',
    inputs: [{ name: 'input', type: 'FLOAT', shape: ['batch', 13] }],
    outputs: [{ name: 'predictions', type: 'FLOAT', shape: ['batch'] }],
    initializers: [
      { name: 'W', dims: [13], data: model.weights },
      { name: 'B', dims: [], data: model.bias },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['input', 'W'], outputs: ['xw'] },
      { op: 'Add', inputs: ['xw', 'B'], outputs: ['predictions'] },
    ],
  });
}

/** V2 datatype name -> ONNX element type, for the identity models. */
export const IDENTITY_TYPES: Record<string, OnnxTypeName> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  fp16: 'FLOAT16',
  fp32: 'FLOAT',
  fp64: 'DOUBLE',
  bytes: 'STRING',
};

export function identityModel(suffix: string): Uint8Array {
  const type = IDENTITY_TYPES[suffix];
  if (type === undefined) throw new Error(`no identity model for ${suffix}`);
  return buildModel({
    name: `identity_${suffix}`,
    inputs: [{ name: 'INPUT0', type, shape: ['rows', 'cols'] }],
    outputs: [{ name: 'OUTPUT0', type, shape: ['rows', 'cols'] }],
    nodes: [{ op: 'Identity', inputs: ['INPUT0'], outputs: ['OUTPUT0'] }],
  });
}

export function addSubModel(): Uint8Array {
  return buildModel({
    name: 'add_sub',
    inputs: [
      { name: 'INPUT0', type: 'FLOAT', shape: ['batch', 16] },
      { name: 'INPUT1', type: 'FLOAT', shape: ['batch', 16] },
    ],
    outputs: [
      { name: 'OUTPUT0', type: 'FLOAT', shape: ['batch', 16] },
      { name: 'OUTPUT1', type: 'FLOAT', shape: ['batch', 16] },
    ],
    nodes: [
      { op: 'Add', inputs: ['INPUT0', 'INPUT1'], outputs: ['OUTPUT0'] },
      { op: 'Sub', inputs: ['INPUT0', 'INPUT1'], outputs: ['OUTPUT1'] },
    ],
  });
}

/**
 * Layer widths of the benchmark MLP: 256 -> 2048 -> 2048 -> 10, 4.7M FP32 weights (19 MB).
 * Wide enough that a row's compute (~9.5 MFLOP) dwarfs parsing its 256 inputs from JSON, so the
 * model saturates the workers rather than the HTTP thread.
 */
export const MLP_LAYERS = [256, 2048, 2048, 10] as const;

export function mlpModel(layers: readonly number[] = MLP_LAYERS, seed = 42): Uint8Array {
  const random = seededRandom(seed);
  const initializers = [];
  const nodes = [];
  let current = 'input';
  for (let l = 0; l + 1 < layers.length; l++) {
    const fanIn = layers[l];
    const fanOut = layers[l + 1];
    const scale = Math.sqrt(6 / fanIn); // He-uniform: activations neither vanish nor explode
    const w = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < w.length; i++) w[i] = (random() * 2 - 1) * scale;
    const b = new Float32Array(fanOut);
    initializers.push({ name: `W${l}`, dims: [fanIn, fanOut], data: w }, { name: `B${l}`, dims: [fanOut], data: b });
    const last = l + 2 === layers.length;
    const gemmOut = last ? 'logits' : `h${l}`;
    nodes.push({ op: 'Gemm', inputs: [current, `W${l}`, `B${l}`], outputs: [gemmOut] });
    if (!last) {
      nodes.push({ op: 'Relu', inputs: [gemmOut], outputs: [`r${l}`] });
      current = `r${l}`;
    }
  }
  return buildModel({
    name: 'mlp',
    docString: `Random MLP ${layers.join('-')} for compute-bound benchmarks`,
    inputs: [{ name: 'input', type: 'FLOAT', shape: ['batch', layers[0]] }],
    outputs: [{ name: 'logits', type: 'FLOAT', shape: ['batch', layers[layers.length - 1]] }],
    initializers,
    nodes,
  });
}

const v2 = { platform: 'onnxruntime_onnx', implementation: 'tessera.OnnxRuntime' };

export const EXAMPLES: ExampleModel[] = [
  // Adaptive batching on: it never delays a lone request, and merging concurrent tiny requests
  // saves a worker hand-off each (iris at 16-64 connections: ~1.5-2x the requests/s, one run).
  { name: 'iris', settings: { name: 'iris', ...v2, max_batch_size: 64, max_batch_time: 0.002, parameters: { version: '1' } }, build: irisModel },
  { name: 'wine', settings: { name: 'wine', ...v2, max_batch_size: 64, max_batch_time: 0.002 }, build: wineModel },
  ...['fp32', 'int64', 'bool', 'bytes'].map((s) => ({
    name: `identity_${s}`,
    settings: { name: `identity_${s}`, ...v2 },
    build: () => identityModel(s),
  })),
  { name: 'add_sub', settings: { name: 'add_sub', ...v2 }, build: addSubModel },
  { name: 'mlp', settings: { name: 'mlp', ...v2 }, build: () => mlpModel() },
];

/**
 * Writes <root>/<name>/model.onnx and model-settings.json for each example.
 * With ifMissing, models whose model.onnx exists are left alone (npm start on a fresh clone).
 */
export function writeExamples(root: string, names?: string[], ifMissing = false): string[] {
  const written: string[] = [];
  for (const example of EXAMPLES) {
    if (names !== undefined && !names.includes(example.name)) continue;
    const dir = join(root, example.name);
    const file = join(dir, 'model.onnx');
    if (ifMissing && existsSync(file)) continue;
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, example.build());
    writeFileSync(join(dir, 'model-settings.json'), JSON.stringify(example.settings, null, 2) + '\n');
    written.push(example.name);
  }
  return written;
}

/**
 * The iris classifier as ai.onnx.ml LinearClassifier + ZipMap, the shape sklearn-onnx exports by
 * default: its `output_probability` is a sequence of maps, not a tensor, and is left out of V2.
 */
export function irisZipMapModel(): Uint8Array {
  const model = trainSoftmax(readCsv(IRIS_CSV), 3);
  // LinearClassifier wants coefficients as [classes, features], row-major.
  const coefficients: number[] = [];
  for (let c = 0; c < 3; c++) for (let j = 0; j < 4; j++) coefficients.push(model.weights[j * 3 + c]);
  return buildModel({
    name: 'iris_zipmap',
    inputs: [{ name: 'input', type: 'FLOAT', shape: ['batch', 4] }],
    outputs: [
      { name: 'label', type: 'INT64', shape: ['batch'] },
      { name: 'output_probability', type: 'INT64', shape: [], mapValue: 'FLOAT' },
    ],
    nodes: [
      {
        op: 'LinearClassifier',
        domain: 'ai.onnx.ml',
        inputs: ['input'],
        outputs: ['label', 'scores'],
        attributes: {
          coefficients: { floats: coefficients },
          intercepts: { floats: Array.from(model.bias) },
          classlabels_ints: [0, 1, 2],
          post_transform: 'SOFTMAX',
        },
      },
      { op: 'ZipMap', domain: 'ai.onnx.ml', inputs: ['scores'], outputs: ['output_probability'], attributes: { classlabels_int64s: [0, 1, 2] } },
    ],
  });
}

/**
 * A model that reports the batch it ran with: OUTPUT0 = INPUT0 (so each request can check it got
 * its own rows back) and BATCH = the number of rows the model saw, repeated for each row.
 */
export function batchProbeModel(): Uint8Array {
  return buildModel({
    name: 'batch_probe',
    inputs: [{ name: 'INPUT0', type: 'FLOAT', shape: ['batch', 'cols'] }],
    outputs: [
      { name: 'OUTPUT0', type: 'FLOAT', shape: ['batch', 'cols'] },
      { name: 'BATCH', type: 'INT64', shape: ['batch', 1] },
    ],
    initializers: [
      { name: 'zero', dims: [1], data: BigInt64Array.from([0n]) },
      { name: 'one', dims: [1], data: BigInt64Array.from([1n]) },
      { name: 'one_one', dims: [2], data: BigInt64Array.from([1n, 1n]) },
    ],
    nodes: [
      { op: 'Identity', inputs: ['INPUT0'], outputs: ['OUTPUT0'] },
      { op: 'Shape', inputs: ['INPUT0'], outputs: ['shape'] },
      { op: 'Slice', inputs: ['shape', 'zero', 'one'], outputs: ['rows'] },
      { op: 'Concat', inputs: ['rows', 'one'], outputs: ['target'], attributes: { axis: 0 } },
      { op: 'Reshape', inputs: ['rows', 'one_one'], outputs: ['rows_2d'] },
      { op: 'Expand', inputs: ['rows_2d', 'target'], outputs: ['BATCH'] },
    ],
  });
}

/** A broken model for the batcher: its output always has one row, whatever the batch. */
export function oneRowModel(): Uint8Array {
  return buildModel({
    name: 'one_row',
    inputs: [{ name: 'INPUT0', type: 'FLOAT', shape: ['batch', 4] }],
    outputs: [{ name: 'OUTPUT0', type: 'FLOAT', shape: [1, 4] }],
    initializers: [
      { name: 'zero', dims: [1], data: BigInt64Array.from([0n]) },
      { name: 'one', dims: [1], data: BigInt64Array.from([1n]) },
    ],
    nodes: [{ op: 'Slice', inputs: ['INPUT0', 'zero', 'one', 'zero'], outputs: ['OUTPUT0'] }],
  });
}
