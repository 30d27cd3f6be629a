// XGBoost → ONNX: the model file reader (JSON and UBJSON) and the converter.
export * from './ubjson.js';
export * from './model-file.js';
export * from './convert.js';
