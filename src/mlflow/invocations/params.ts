// `params` checked against the signature's params schema as MLflow's _enforce_params_schema does:
// without a schema any params are ignored; with one, a non-dict is refused, unknown names are
// ignored, absent ones take their default, and values are converted (int → long/float/double,
// long → float/double, float → double) or refused with INVALID_PARAMETER_VALUE.
import { invalidParameter } from '../errors.js';
import { pyStr, type ParamSpec, type ParamType } from '../signature.js';
import { pyRepr, pyStrOf } from './cells.js';
import { isJsonObject, pyTypeName, type PyJson } from './python-json.js';

export type ParamValue = PyJson;
export type ParamValues = Record<string, ParamValue>;

class ParamError extends Error {}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** The DataType's name as str(DataType.x) prints it in MLflow's messages. */
const dt = (t: ParamType): string => `DataType.${t}`;

/** _enforce_param_datatype for one scalar value. */
function enforceScalar(value: PyJson, type: ParamType): PyJson {
  if (value === null) return null;
  if (type === 'object') {
    if (!isJsonObject(value)) throw new ParamError(`Expected value to be a dictionary, got ${pyTypeName(value)}`);
    return value;
  }
  if (type === 'datetime') {
    if (typeof value === 'string' && ISO_DATE.test(value)) return value;
    throw new ParamError(`Failed to convert value \`${pyStrOf(value)}\` from type \`<class '${pyTypeName(value)}'>\` to \`${dt(type)}\``);
  }
  if (Array.isArray(value) || isJsonObject(value)) throw new ParamError(`Value must be a scalar for type \`${dt(type)}\`, got \`${pyStrOf(value)}\``);
  const py = pyTypeName(value);
  const isInt = py === 'int';
  switch (type) {
    case 'boolean':
      if (py === 'bool') return value;
      break;
    case 'string':
      if (py === 'str') return value;
      break;
    case 'integer':
    case 'long':
      if (isInt) return value;
      break;
    case 'float':
    case 'double':
      if (py === 'float' || isInt) return typeof value === 'bigint' ? Number(value) : value;
      break;
  }
  throw new ParamError(`Can not safely convert \`<class '${py}'>\` to \`${dt(type)}\` for value \`${pyStrOf(value)}\``);
}

function specRepr(spec: ParamSpec): string {
  const shape = spec.shape === null ? '' : ` (shape: (${spec.shape.join(', ')},))`;
  return `${pyStr(spec.name)}: ${spec.type} (default: ${pyStrOf(spec.default as PyJson)})${shape}`;
}

function validate(value: PyJson, spec: ParamSpec): PyJson {
  if (spec.shape !== null) {
    const oneD = Array.isArray(value) && value.every((v) => !Array.isArray(v));
    if (!oneD) {
      const ndim = Array.isArray(value) ? 2 : 0;
      throw new ParamError(`Value must be a 1D array with shape (-1,) for param ${specRepr(spec)}, received ${pyTypeName(value)} with ndim ${ndim}`);
    }
  }
  try {
    return spec.shape === null ? enforceScalar(value, spec.type) : (value as PyJson[]).map((v) => enforceScalar(v, spec.type));
  } catch (error) {
    if (error instanceof ParamError) throw new ParamError(`Failed to validate type and shape for ${specRepr(spec)}, error: ${error.message}`);
    throw error;
  }
}

/** Params for predict; throws INVALID_PARAMETER_VALUE with MLflow's texts. */
export function enforceParams(params: PyJson | undefined, schema: ParamSpec[] | undefined, _input?: unknown): ParamValues {
  if (schema === undefined) return {};
  const given = params ?? {};
  if (!isJsonObject(given)) throw invalidParameter(`Parameters must be a dictionary. Got type '${pyTypeName(given)}'.`);
  const out: ParamValues = {};
  const invalid: string[] = [];
  for (const spec of schema) {
    if (!(spec.name in given)) {
      out[spec.name] = (spec.default ?? null) as PyJson;
      continue;
    }
    try {
      out[spec.name] = validate(given[spec.name], spec);
    } catch (error) {
      if (!(error instanceof ParamError)) throw error;
      invalid.push(`(${pyStr(spec.name)}, ${pyRepr(error.message, 2000)})`);
    }
  }
  if (invalid.length > 0) throw invalidParameter(`Invalid parameters found: {${invalid.join(', ')}}`);
  return out;
}
