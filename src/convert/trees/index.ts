// Tree ensembles for converters: the normalised description and reference evaluator
// (ensemble.ts) and the ONNX emitter (emit.ts).
export * from './ensemble.js';
export * from './emit.js';
