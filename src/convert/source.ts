// One entry point over both converters, for the runtimes' prepare step and `tessera convert`: a
// model file's bytes and what kind of file it is, to the ConvertedModel. Also what identifies a
// conversion in the cache (CONVERTER_VERSION and the options that change the graph).
import { ConversionError, type ConvertedModel } from './model.js';
import type { PickleFormat } from './pickle/index.js';
import { convertSklearn } from './sklearn/index.js';
import { convertXgboost } from './xgboost/index.js';

/**
 * Bump when any converter's output changes for the same input (a fix, a new operator layout):
 * cached conversions made by another version are then made again.
 */
export const CONVERTER_VERSION = '1';

export type ConversionSource =
  /** A pickled fitted estimator (pickle, cloudpickle or joblib). */
  | { kind: 'sklearn'; format: PickleFormat }
  /**
   * An XGBoost model file (JSON or UBJSON). `modelClass` is MLflow's `model_class` (default: the
   * sklearn wrapper the file records, else a Booster); `format` as MLflow's `model_format`.
   */
  | { kind: 'xgboost'; modelClass?: string | undefined; format?: 'json' | 'ubj' | undefined };

/** The pickle format a file name implies (MLServer's model.joblib / model.pkl / model.pickle). */
export function pickleFormatOf(file: string): PickleFormat {
  return file.endsWith('.joblib') ? 'joblib' : 'pickle';
}

/** The XGBoost format a file name implies (model.json, model.ubj); undefined: told from the bytes. */
export function xgboostFormatOf(file: string): 'json' | 'ubj' | undefined {
  return file.endsWith('.json') ? 'json' : file.endsWith('.ubj') ? 'ubj' : undefined;
}

const LEGACY_XGBOOST =
  "the file is in XGBoost's legacy binary format (what save_model wrote to model.bst or *.model before XGBoost 2.0), which Tessera cannot read: " +
  "load it with XGBoost and save it again as JSON or UBJSON (booster.save_model('model.json') or 'model.ubj')";

/** Whether XGBoost bytes start like a JSON or UBJSON document (an object), after whitespace. */
function looksLikeDocument(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return bytes[i] === 0x7b;
}

/** Converts a model file's bytes. Throws ConversionError naming the estimator and the problem. */
export function convertSource(bytes: Uint8Array, source: ConversionSource): ConvertedModel {
  if (source.kind === 'sklearn') return convertSklearn(bytes, { format: source.format });
  if (bytes.length > 0 && !looksLikeDocument(bytes)) throw new ConversionError('XGBoost model', LEGACY_XGBOOST);
  return convertXgboost(bytes, {
    ...(source.modelClass !== undefined ? { modelClass: source.modelClass } : {}),
    ...(source.format !== undefined ? { format: source.format } : {}),
  });
}

/** What, besides the source's bytes, decides the graph: part of the cache key. */
export function conversionRecipe(source: ConversionSource): string {
  // The pickle format only names how the bytes were written (they are read the same way).
  const parts = source.kind === 'sklearn' ? ['sklearn'] : ['xgboost', source.modelClass ?? '', source.format ?? ''];
  return `tessera-converter/${CONVERTER_VERSION}/${parts.join('/')}`;
}
