// The MLflow library layer: MLmodel files, model URIs, signatures → V2 metadata, the /invocations
// codecs and the streaming pieces of `tessera predict`. Independent of fastify and grpc.
export * from './errors.js';
export * from './signature.js';
export * from './mlmodel.js';
export * from './uri.js';
export * from './plan.js';
export * from './metadata.js';
export * from './serving.js';
export { readInvocationsContentType, CONTENT_TYPES } from './invocations/content-type.js';
export { decodeInvocations, decodeJsonText, decodeJsonDocument, decodeCsvText, decodeCsvRows, parseCsvText, type DecodedInvocation, type ModelInput } from './invocations/decode.js';
export { encodeInvocationsResponse, encodePredictionsValue, type EncodeOptions } from './invocations/encode.js';
export { enforceParams, type ParamValue, type ParamValues } from './invocations/params.js';
export { parsePythonJson, type PyJson } from './invocations/python-json.js';
export { pythonFloatRepr, type NonFiniteStyle } from './invocations/python-json-encode.js';
export * from './predict-input.js';
