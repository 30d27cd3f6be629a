// The Content-Type rules of MLflow's /invocations (scoring_server.invocations): the header is
// split on ';', a charset other than utf-8 is refused, any other parameter is refused, and only
// text/csv and application/json (compared exactly, case-sensitively) are read. Every refusal is a
// 415 with a text/plain body. Without a Content-Type MLflow crashes (500); Tessera answers 415.
import { unsupportedMediaType } from '../errors.js';
import { SCORING_PROTOCOL_CHANGE_INFO } from './messages.js';

export const CONTENT_TYPE_CSV = 'text/csv';
export const CONTENT_TYPE_JSON = 'application/json';
export const CONTENT_TYPES = [CONTENT_TYPE_CSV, CONTENT_TYPE_JSON] as const;

const SUPPORTED = `This predictor only supports the following content types: Types: ['${CONTENT_TYPE_CSV}', '${CONTENT_TYPE_JSON}'].`;

/** 'json' or 'csv', or throws the MLflow 415 for this header. */
export function readInvocationsContentType(header: string | undefined): 'json' | 'csv' {
  if (header === undefined) throw unsupportedMediaType(`${SUPPORTED} Got no Content-Type header.`);
  const parts = header.split(';').map((p) => p.trim());
  const mime = parts[0];
  const params = new Map<string, string>();
  for (const pair of parts.slice(1)) {
    const eq = pair.indexOf('=');
    params.set(eq < 0 ? pair : pair.slice(0, eq), eq < 0 ? '' : pair.slice(eq + 1));
  }
  if ((params.get('charset') ?? 'utf-8').toLowerCase() !== 'utf-8') throw unsupportedMediaType('The scoring server only supports UTF-8');
  const unexpected = [...params.keys()].filter((k) => k !== 'charset');
  if (unexpected.length > 0) {
    throw unsupportedMediaType(`Unrecognized content type parameters: ${unexpected.join(', ')}. ${SCORING_PROTOCOL_CHANGE_INFO}`);
  }
  if (mime === CONTENT_TYPE_CSV) return 'csv';
  if (mime === CONTENT_TYPE_JSON) return 'json';
  throw unsupportedMediaType(`${SUPPORTED} Got '${header}'.`);
}
