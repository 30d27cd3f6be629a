// MLflow model signatures (mlflow/types/schema.py): the `inputs`, `outputs` and `params` members
// of MLmodel's `signature`, each a JSON string. Column-based schemas hold ColSpecs, tensor-based
// ones TensorSpecs; both may be named or unnamed. Parsed with zod, then checked with MLflow's rules
// (no mix of named and unnamed, no mix of columns and tensors, one unnamed tensor at most).
import { z } from 'zod';
import type { Datatype } from '../core/datatypes.js';
import { MlflowModelError } from './errors.js';

/** MLflow's scalar DataTypes, with the numpy dtype each stands for. */
export const COLUMN_TYPES = ['boolean', 'integer', 'long', 'float', 'double', 'string', 'binary', 'datetime'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

/** Array / Object / Map / Any column types: parsed and kept, refused at serving (see servable()). */
export interface ComplexColumnType {
  kind: 'array' | 'object' | 'map' | 'any';
  /** The JSON as written in the signature, for messages. */
  spec: Record<string, unknown>;
}

export interface ColSpec {
  name?: string;
  type: ColumnType | ComplexColumnType;
  required: boolean;
}

/** numpy dtype names as MLflow writes them in `tensor-spec` (`np.dtype(x).name`). */
export interface TensorSpec {
  name?: string;
  dtype: string;
  /** -1 marks a variable dimension. */
  shape: number[];
}

export type Schema =
  | { kind: 'columns'; named: boolean; columns: ColSpec[] }
  | { kind: 'tensors'; named: boolean; tensors: TensorSpec[] };

export type ParamType = Exclude<ColumnType, 'binary'> | 'object';
export interface ParamSpec {
  name: string;
  type: ParamType;
  default: unknown;
  /** null for a scalar, [-1] for a 1-D list. */
  shape: number[] | null;
}

export interface Signature {
  inputs?: Schema;
  outputs?: Schema;
  params?: ParamSpec[];
}

const colSpecJson = z
  .object({ type: z.string(), name: z.string().optional().nullable(), required: z.boolean().optional().nullable() })
  .passthrough();
const tensorSpecJson = z.object({
  type: z.literal('tensor'),
  name: z.string().optional().nullable(),
  'tensor-spec': z.object({ dtype: z.string(), shape: z.array(z.number().int()) }),
});
const paramSpecJson = z
  .object({
    name: z.union([z.string(), z.number()]),
    type: z.string().optional(),
    dtype: z.string().optional(),
    default: z.unknown(),
    shape: z.array(z.number().int()).nullable().optional(),
  })
  .passthrough();

function fail(what: string, detail: string): never {
  throw new MlflowModelError(`Invalid MLmodel signature ${what}: ${detail}`);
}

function zodDetail(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

function parseJsonMember(what: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    return fail(what, `not valid JSON (${(error as Error).message})`);
  }
}

/** Parses one schema member (`signature.inputs` or `.outputs`), a JSON string or already-decoded list. */
export function parseSchema(what: string, value: unknown): Schema | undefined {
  if (value === null || value === undefined) return undefined;
  const list = typeof value === 'string' ? parseJsonMember(what, value) : value;
  if (!Array.isArray(list)) return fail(what, 'expected a JSON list of column or tensor specs');
  if (list.length === 0) return fail(what, 'creating a schema with empty inputs is not allowed');
  const isTensor = (x: unknown): boolean => typeof x === 'object' && x !== null && (x as { type?: unknown }).type === 'tensor';
  const tensors = list.filter(isTensor);
  if (tensors.length > 0 && tensors.length !== list.length) {
    return fail(what, 'a schema cannot mix ColSpec and TensorSpec entries');
  }
  let schema: Schema;
  if (tensors.length > 0) {
    const parsed = z.array(tensorSpecJson).safeParse(list);
    if (!parsed.success) return fail(what, zodDetail(parsed.error));
    schema = {
      kind: 'tensors',
      named: false,
      tensors: parsed.data.map((t) => ({
        ...(t.name != null ? { name: t.name } : {}),
        dtype: t['tensor-spec'].dtype,
        shape: t['tensor-spec'].shape,
      })),
    };
  } else {
    const parsed = z.array(colSpecJson).safeParse(list);
    if (!parsed.success) return fail(what, zodDetail(parsed.error));
    schema = {
      kind: 'columns',
      named: false,
      columns: parsed.data.map((c) => ({
        ...(c.name != null ? { name: c.name } : {}),
        type: columnType(what, c),
        required: c.required ?? true,
      })),
    };
  }
  const specs: { name?: string }[] = schema.kind === 'tensors' ? schema.tensors : schema.columns;
  const namedCount = specs.filter((s) => s.name !== undefined).length;
  if (namedCount !== 0 && namedCount !== specs.length) {
    return fail(what, `a schema cannot mix named and unnamed inputs (names: ${JSON.stringify(specs.map((s) => s.name ?? null))})`);
  }
  schema.named = namedCount > 0;
  if (schema.kind === 'tensors' && !schema.named && schema.tensors.length > 1) {
    return fail(what, 'several unnamed TensorSpecs are not supported; name each tensor');
  }
  return schema;
}

function columnType(what: string, spec: { type: string } & Record<string, unknown>): ColumnType | ComplexColumnType {
  if ((COLUMN_TYPES as readonly string[]).includes(spec.type)) return spec.type as ColumnType;
  if (spec.type === 'array' || spec.type === 'object' || spec.type === 'map' || spec.type === 'any') {
    const { name: _name, required: _required, ...rest } = spec;
    return { kind: spec.type, spec: rest };
  }
  if (spec.type === 'sparkml_vector') return { kind: 'array', spec: { type: 'sparkml_vector' } };
  return fail(what, `unsupported column type '${spec.type}', expected one of ${COLUMN_TYPES.join(', ')}, array, object, map or any`);
}

/** Parses `signature.params` (a ParamSchema JSON string). */
export function parseParamSchema(value: unknown): ParamSpec[] | undefined {
  if (value === null || value === undefined) return undefined;
  const list = typeof value === 'string' ? parseJsonMember('params', value) : value;
  const parsed = z.array(paramSpecJson).safeParse(list);
  if (!parsed.success) return fail('params', zodDetail(parsed.error));
  return parsed.data.map((p) => {
    const type = p.type ?? p.dtype;
    if (type === undefined) return fail('params', `param '${p.name}' has no type`);
    if (type === 'binary') return fail('params', `binary type is not supported for parameters, ParamSpec '${p.name}' has dtype 'binary'`);
    if (type !== 'object' && !(COLUMN_TYPES as readonly string[]).includes(type)) {
      return fail('params', `param '${p.name}' has unsupported type '${type}'`);
    }
    const shape = p.shape ?? null;
    if (shape !== null && !(shape.length === 1 && shape[0] === -1)) {
      return fail('params', `param '${p.name}' has shape ${JSON.stringify(shape)}; only null (scalar) or [-1] (1-D list) are allowed`);
    }
    return { name: String(p.name), type: type as ParamType, default: p.default ?? null, shape };
  });
}

// ---- dtype mapping -------------------------------------------------------------------------

/** V2 datatype of each scalar column type (MLServer's mapping: string/binary/datetime travel as BYTES). */
export const COLUMN_DATATYPE: Record<ColumnType, Datatype> = {
  boolean: 'BOOL',
  integer: 'INT32',
  long: 'INT64',
  float: 'FP32',
  double: 'FP64',
  string: 'BYTES',
  binary: 'BYTES',
  datetime: 'BYTES',
};

/** numpy's name for each column type, as MLflow's messages print it (DataType.to_numpy()). */
export const COLUMN_NUMPY_NAME: Record<ColumnType, string> = {
  boolean: 'bool',
  integer: 'int32',
  long: 'int64',
  float: 'float32',
  double: 'float64',
  string: '<U0',
  binary: '|S0',
  datetime: 'datetime64[ns]',
};

const NUMPY_DATATYPE: Record<string, Datatype> = {
  bool: 'BOOL',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  str: 'BYTES',
  object: 'BYTES',
  bytes: 'BYTES',
};

/** numpy's name for each V2 datatype (BYTES travels as numpy object arrays), as MLflow's messages print it. */
export const DATATYPE_NUMPY_NAME: Record<Datatype, string> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BF16: 'bfloat16',
  BYTES: 'object',
};

/** The V2 datatype of a numpy dtype name, or undefined (complex, datetime64, void…). */
export function numpyDatatype(dtype: string): Datatype | undefined {
  return NUMPY_DATATYPE[dtype];
}

export function isComplexType(t: ColSpec['type']): t is ComplexColumnType {
  return typeof t === 'object';
}

// ---- Python reprs used in MLflow's messages ---------------------------------------------------

/** Python's repr of a str: single quotes unless the text holds one and no double quote. */
export function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch < ' ' || ch === '\x7f') out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return quote + out + quote;
}

export function pyTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

export function describeColumnType(t: ColSpec['type']): string {
  if (!isComplexType(t)) return t;
  return t.kind === 'any' ? 'Any' : `${t.kind}${JSON.stringify(t.spec)}`;
}

/** repr(Schema) as MLflow prints it in "Failed to enforce schema" messages. */
export function schemaRepr(schema: Schema): string {
  if (schema.kind === 'tensors') {
    const items = schema.tensors.map((t) => {
      const info = `Tensor(${pyStr(t.dtype)}, ${pyTuple(t.shape)})`;
      return t.name === undefined ? info : `${pyStr(t.name)}: ${info}`;
    });
    return `[${items.join(', ')}]`;
  }
  const items = schema.columns.map((c) => {
    const req = c.required ? 'required' : 'optional';
    const type = describeColumnType(c.type);
    return c.name === undefined ? `${type} (${req})` : `${pyStr(c.name)}: ${type} (${req})`;
  });
  return `[${items.join(', ')}]`;
}

/** Names of a schema's inputs; unnamed ones are `input-<i>` as MLServer names them. */
export function specNames(schema: Schema, prefix = 'input-'): string[] {
  const specs: { name?: string }[] = schema.kind === 'tensors' ? schema.tensors : schema.columns;
  return specs.map((s, i) => s.name ?? `${prefix}${i}`);
}
