// The ONNX graph toolkit for converters: a GraphBuilder (graph.ts), typed ai.onnx operator helpers
// (ops.ts) and ai.onnx.ml operator helpers (ml.ts). Tree ensembles: src/convert/trees/.
export * from './graph.js';
export * from './ops.js';
export * from './ml.js';
