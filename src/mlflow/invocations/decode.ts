// /invocations request bodies decoded as MLflow's scoring server does (reference §1.2, §1.3):
// the JSON formats (dataframe_split, dataframe_records, instances, inputs, params, the unified-LLM
// keys) and CSV, cast to the signature's types, then checked against the schema with MLflow's
// error codes and texts. The result is the runtime's inputs as typed tensors, the params and the
// shape the response takes. Pure functions: bytes and headers in, tensors or an MlflowError out.
import { parse as parseCsvSync } from 'csv-parse/sync';
import type { Datatype } from '../../core/datatypes.js';
import { elementCount, type Tensor } from '../../core/tensor.js';
import { badRequest, invalidInput, invalidParameter, MlflowError } from '../errors.js';
import { responseShape, type ResponseShape, type ServingPlan } from '../plan.js';
import { COLUMN_NUMPY_NAME, DATATYPE_NUMPY_NAME, numpyDatatype, pyStr, pyTuple, schemaRepr, type ColumnType, type Schema, type TensorSpec } from '../signature.js';
import { CellError, cellSink, pyRepr } from './cells.js';
import { readInvocationsContentType } from './content-type.js';
import { REQUIRED_INPUT_FORMAT, SCORING_PROTOCOL_CHANGE_INFO, SUPPORTED_FORMATS, UNIFIED_LLM_KEYS } from './messages.js';
import { toRuntimeFeeds } from './feeds.js';
import { enforceParams, type ParamValues } from './params.js';
import { isJsonObject, parsePythonJson, pyClass, PyJsonError, type PyJson } from './python-json.js';

export interface DecodedInvocation {
  /** The runtime's inputs, named and typed as the model takes them. */
  inputs: Tensor[];
  /** Params after MLflow's params-schema enforcement (defaults filled in). */
  params: ParamValues;
  /** How to build `{"predictions": …}` from the outputs. */
  response: ResponseShape;
  /** Rows in the request (dim 0 of the inputs). */
  rows: number;
}

/** What reached "predict" after MLflow's parsing and schema enforcement. */
export type ModelInput =
  /** A DataFrame against a column signature: one 1-D tensor per schema column (undefined: optional, absent). */
  | { kind: 'columns'; rows: number; columns: (Tensor | undefined)[]; fromFrame: true }
  /** Arrays against a tensor signature, aligned with the schema's tensors. */
  | { kind: 'tensors'; tensors: Tensor[]; fromFrame: boolean };

const MAX_ECHO = 1000;

// ---- entry points -------------------------------------------------------------------------------

/** Decodes one /invocations request: content type, then the JSON or CSV path. */
export function decodeInvocations(body: Uint8Array | string, contentType: string | undefined, plan: ServingPlan): DecodedInvocation {
  const kind = readInvocationsContentType(contentType);
  const text = typeof body === 'string' ? body : decodeUtf8(body);
  return kind === 'csv' ? decodeCsvText(text, plan) : decodeJsonText(text, plan);
}

function decodeUtf8(body: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    // MLflow answers 500 (UnicodeDecodeError); a malformed body is the client's error.
    throw badRequest('Invalid input. The request body is not valid UTF-8.');
  }
}

export function decodeJsonText(text: string, plan: ServingPlan): DecodedInvocation {
  let doc: PyJson;
  try {
    doc = parsePythonJson(text);
  } catch (error) {
    if (!(error instanceof PyJsonError)) throw error;
    const echo = text.length > MAX_ECHO ? `${text.slice(0, MAX_ECHO)}… (${text.length} characters)` : text;
    throw invalidInput(`Ensure that input is a valid JSON formatted string. Error: 'JSONDecodeError(${pyStr(error.message)})'\nInput: \n${echo}\n`);
  }
  return decodeJsonDocument(doc, plan);
}

/** The JSON path on an already parsed document (Python json.loads semantics). */
export function decodeJsonDocument(doc: PyJson, plan: ServingPlan): DecodedInvocation {
  if (Array.isArray(doc)) throw invalidInput(`${REQUIRED_INPUT_FORMAT}. Received a list.`);
  if (!isJsonObject(doc)) throw invalidInput(`${REQUIRED_INPUT_FORMAT}. Received unexpected input type '${pyClass(doc)}.`);
  if (UNIFIED_LLM_KEYS.some((k) => k in doc)) refuseUnifiedLlmInput(doc, plan);
  const formats = Object.keys(doc).filter((k) => (SUPPORTED_FORMATS as readonly string[]).includes(k));
  if (formats.length !== 1) {
    throw badRequest(`${REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: [${formats.map(pyStr).join(', ')}]. ${SCORING_PROTOCOL_CHANGE_INFO}`);
  }
  const format = formats[0] as (typeof SUPPORTED_FORMATS)[number];
  const value = doc[format];
  const input = format === 'dataframe_split' || format === 'dataframe_records' ? frameToInput(parseFrameFormat(format, value), plan, 'json') : parseTfServing(format, value, plan);
  const params = enforceParams(doc.params, plan.params, input);
  return finish(input, params, plan);
}

function finish(input: ModelInput, params: ParamValues, plan: ServingPlan): DecodedInvocation {
  const inputs = toRuntimeFeeds(input, plan);
  return { inputs, params, response: responseShape(plan, input.fromFrame), rows: inputs[0]?.shape[0] ?? 0 };
}

// ---- schema enforcement errors --------------------------------------------------------------------

/** Failures of MLflow's _enforce_schema: INVALID_PARAMETER_VALUE with MLflow's wrapping text. */
export function enforceError(data: string, schema: Schema, reason: string): MlflowError {
  return invalidParameter(`Failed to predict data '${data}'. \nError: Failed to enforce schema of data '${data}' with schema '${schemaRepr(schema)}'. Error: ${reason}`);
}

function listRepr(names: (string | number)[]): string {
  return `[${names.map((n) => (typeof n === 'number' ? String(n) : pyStr(n))).join(', ')}]`;
}

function missingInputs(missing: (string | number)[], extra: (string | number)[]): string {
  return `Model is missing inputs ${listRepr(missing)}.${extra.length > 0 ? ` Note that there were extra inputs: ${listRepr(extra)}.` : ''}`;
}

/** The unified-LLM keys go to predict as a raw dict; a tensor or column model refuses it there. */
function refuseUnifiedLlmInput(doc: { [key: string]: PyJson }, plan: ServingPlan): never {
  const paramNames = new Set((plan.params ?? []).map((p) => p.name));
  const keys = Object.keys(doc).filter((k) => !paramNames.has(k));
  const schema = plan.inputSchema;
  const data = `dict with keys ${listRepr(keys)}`;
  let reason: string;
  if (schema.kind === 'tensors' && !schema.named) {
    reason = `This model contains a tensor-based model signature with no input names, which suggests a numpy array input or a pandas dataframe input with proper column values, but an input of type <class 'dict'> was found.`;
  } else {
    const names = schema.kind === 'tensors' ? schema.tensors.map((t) => t.name!) : schema.columns.filter((c) => c.required).map((c, i) => c.name ?? i);
    const missing = names.filter((n) => !keys.includes(String(n)));
    reason =
      missing.length > 0
        ? missingInputs(missing, keys.filter((k) => !names.map(String).includes(k)))
        : `This model contains a tensor-based model signature with input names, which suggests a dictionary input mapping input name to a numpy array, but a dict with value type <class 'list'> was found.`;
  }
  throw enforceError(data, schema, reason);
}

// ---- DataFrames -----------------------------------------------------------------------------------

/** A pandas DataFrame as a view over the parsed JSON or CSV: no copy until the cast. */
export interface FrameColumn {
  name: string | number;
  at(row: number): PyJson | undefined;
}
export interface Frame {
  rows: number;
  columns: FrameColumn[];
  /** 'json': casts fail as MlflowFailedTypeConversion; 'csv': as read_csv failures. */
  source?: 'json' | 'csv';
}

function describeFrame(frame: Frame): string {
  const names = frame.columns.slice(0, 20).map((c) => c.name);
  return `DataFrame of ${frame.rows} row${frame.rows === 1 ? '' : 's'} with columns ${listRepr(names)}${frame.columns.length > 20 ? ` and ${frame.columns.length - 20} more` : ''}`;
}

function parseFrameFormat(format: 'dataframe_split' | 'dataframe_records', value: PyJson): Frame {
  return format === 'dataframe_split' ? splitFrame(value) : recordsFrame(value);
}

function typeMessage(v: PyJson, listWord: string): string {
  return Array.isArray(v) ? listWord : isJsonObject(v) ? 'dictionary' : `type ${pyClass(v)}`;
}

function splitFrame(value: PyJson): Frame {
  if (!isJsonObject(value)) throw invalidInput(`Dataframe split format must be a dictionary. Got ${typeMessage(value, 'list')}.`);
  const keys = Object.keys(value);
  if (!('data' in value) || keys.some((k) => k !== 'columns' && k !== 'data' && k !== 'index')) {
    throw invalidInput(`Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. Got {${keys.map(pyStr).join(', ')}}.'`);
  }
  const invalid = (detail: string): MlflowError =>
    invalidInput(`Provided dataframe_split field is not a valid dataframe representation in 'split' format. Error: '${detail}'`);
  const data = value.data;
  if (!Array.isArray(data)) throw invalid('DataFrame constructor not properly called!');
  const columnsValue = value.columns;
  let names: (string | number)[] | undefined;
  if (columnsValue !== undefined && columnsValue !== null) {
    if (!Array.isArray(columnsValue)) throw invalid('columns must be a list of column names');
    names = columnsValue.map((c) => (typeof c === 'number' ? c : typeof c === 'string' ? c : pyRepr(c)));
  }
  const rows = data.length;
  const index = value.index;
  if (index !== undefined && index !== null && (!Array.isArray(index) || index.length !== rows)) {
    throw invalid(`Length of values (${rows}) does not match length of index (${Array.isArray(index) ? index.length : 1})`);
  }
  // Rows are lists of cells; a list of scalars is one column.
  const scalarRows = rows > 0 && data.every((r) => !Array.isArray(r));
  const width = scalarRows ? 1 : rows > 0 ? (data[0] as PyJson[]).length : (names?.length ?? 0);
  if (!scalarRows) {
    for (let r = 0; r < rows; r++) {
      const row = data[r];
      if (!Array.isArray(row)) throw invalid(`row ${r} is not a list of values`);
      if (row.length !== width) throw invalid(`row ${r} has ${row.length} values but row 0 has ${width}`);
    }
  }
  if (names !== undefined && names.length !== width && rows > 0) throw invalid(`${names.length} columns passed, passed data had ${width} columns`);
  const columns: FrameColumn[] = [];
  for (let c = 0; c < width; c++) {
    const name = names?.[c] ?? c;
    columns.push(scalarRows ? { name, at: (r) => data[r] } : { name, at: (r) => (data[r] as PyJson[])[c] });
  }
  return { rows, columns };
}

function recordsFrame(value: PyJson): Frame {
  if (!Array.isArray(value)) throw invalidInput(`Dataframe records format must be a list of records. Got ${typeMessage(value, 'list')}.`);
  const invalid = (detail: string): MlflowError =>
    invalidInput(`Provided dataframe_records field is not a valid dataframe representation in 'records' format. Error: '${detail}'`);
  return listFrame(value, invalid);
}

/** pd.DataFrame(list): records (dicts), rows (lists) or one column of scalars. */
function listFrame(value: PyJson[], invalid: (detail: string) => MlflowError): Frame {
  const rows = value.length;
  if (rows === 0) return { rows: 0, columns: [] };
  if (value.every(isJsonObject)) {
    const names: string[] = [];
    const seen = new Set<string>();
    for (const rec of value as { [key: string]: PyJson }[]) {
      for (const k of Object.keys(rec)) if (!seen.has(k)) seen.add(k), names.push(k);
    }
    // A record without a column reads as missing (NaN), as pandas fills it.
    return { rows, columns: names.map((name) => ({ name, at: (r) => (value[r] as { [key: string]: PyJson })[name] ?? null })) };
  }
  if (value.every(Array.isArray)) {
    const width = (value[0] as PyJson[]).length;
    for (let r = 0; r < rows; r++) {
      if ((value[r] as PyJson[]).length !== width) throw invalid(`row ${r} has ${(value[r] as PyJson[]).length} values but row 0 has ${width}`);
    }
    return { rows, columns: Array.from({ length: width }, (_, c) => ({ name: c, at: (r: number) => (value[r] as PyJson[])[c] })) };
  }
  if (value.every((v) => !Array.isArray(v) && !isJsonObject(v))) return { rows, columns: [{ name: 0, at: (r) => value[r] }] };
  throw invalid('mixing records, lists and scalars');
}

/** Casts a DataFrame column (cast_df_types_according_to_schema): failures are BAD_REQUEST. */
function castFrameColumn(frame: Frame, col: FrameColumn, datatype: Datatype, typeName: string, base64 = false): Tensor {
  const sink = cellSink(datatype, frame.rows, { base64 });
  let r = 0;
  try {
    for (; r < frame.rows; r++) sink.set(r, col.at(r));
  } catch (error) {
    if (!(error instanceof CellError)) throw error;
    const name = typeof col.name === 'number' ? String(col.name) : col.name;
    if (frame.source === 'csv') {
      throw badRequest(
        `Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas DataFrame produced using the \`pandas.DataFrame.to_csv()\` method. Error: '${error.message} (column ${pyStr(name)}, row ${r + 1})'`,
      );
    }
    throw invalidInput(`Data is not compatible with model signature. Failed to convert column ${name} to type '${typeName}'. Error: '${error.pyRepr}'`);
  }
  return { name: String(col.name), datatype, shape: [frame.rows], data: sink.finish() };
}

/** A DataFrame through cast and _enforce_schema, for every kind of signature. */
export function frameToInput(frame: Frame, plan: ServingPlan, source: 'json' | 'csv'): ModelInput {
  frame.source = source;
  const schema = plan.inputSchema;
  const byName = new Map<string | number, FrameColumn>();
  for (const c of frame.columns) if (!byName.has(c.name)) byName.set(c.name, c);
  if (schema.kind === 'columns') {
    const columns: (Tensor | undefined)[] = [];
    if (schema.named) {
      const missing: string[] = [];
      schema.columns.forEach((spec, i) => {
        const col = byName.get(spec.name!);
        if (!col) {
          if (spec.required) missing.push(spec.name!);
          columns.push(undefined);
          return;
        }
        const type = spec.type as ColumnType;
        columns.push(castFrameColumn(frame, col, plan.columnDatatypes[i], columnTypeName(type), type === 'binary'));
      });
      if (missing.length > 0) {
        const names = new Set(schema.columns.map((c) => c.name));
        throw enforceError(describeFrame(frame), schema, missingInputs(missing, frame.columns.map((c) => c.name).filter((n) => !names.has(n as string))));
      }
    } else {
      if (frame.columns.length < schema.columns.length) {
        throw enforceError(
          describeFrame(frame),
          schema,
          `Model inference is missing inputs. The model signature declares ${schema.columns.length} inputs  but the provided value only has ${frame.columns.length} inputs. Note: the inputs were not named in the signature so we can only verify their count.`,
        );
      }
      schema.columns.forEach((spec, i) => {
        const type = spec.type as ColumnType;
        columns.push(castFrameColumn(frame, frame.columns[i], plan.columnDatatypes[i], columnTypeName(type), type === 'binary'));
      });
    }
    return { kind: 'columns', rows: frame.rows, columns, fromFrame: true };
  }
  // Tensor signature: the DataFrame becomes arrays (_enforce_tensor_schema).
  const data = describeFrame(frame);
  if (schema.named) {
    const missing = schema.tensors.filter((t) => !byName.has(t.name!)).map((t) => t.name!);
    if (missing.length > 0) {
      const names = new Set(schema.tensors.map((t) => t.name));
      throw enforceError(data, schema, missingInputs(missing, frame.columns.map((c) => c.name).filter((n) => !names.has(n as string))));
    }
    const tensors = schema.tensors.map((spec) => frameColumnToTensor(frame, byName.get(spec.name!)!, spec, spec.name!, data, schema));
    return { kind: 'tensors', tensors, fromFrame: true };
  }
  const spec = schema.tensors[0];
  if (frame.rows === 0 || frame.columns.length === 0) throw enforceError(data, schema, 'Input DataFrame is empty.');
  if (frame.columns.length === 1) return { kind: 'tensors', tensors: [frameColumnToTensor(frame, frame.columns[0], spec, null, data, schema)], fromFrame: true };
  const k = frame.columns.length;
  if (!(spec.shape.length === 2 && spec.shape[0] === -1 && spec.shape[1] === k)) {
    throw enforceError(
      data,
      schema,
      `This model contains a model signature with an unnamed input. Since the input data is a pandas DataFrame containing multiple columns, the input shape must be of the structure (-1, number_of_dataframe_columns). Instead, the input DataFrame passed had ${k} columns and an input shape of ${pyTuple(spec.shape)} with all values within the DataFrame of scalar type. Please adjust the passed in DataFrame to match the expected structure`,
    );
  }
  // Every column is cast to the tensor's dtype, then to_numpy(): row-major [n, k].
  const datatype = numpyDatatype(spec.dtype)!;
  const sink = cellSink(datatype, frame.rows * k);
  for (let c = 0; c < k; c++) {
    const col = frame.columns[c];
    let r = 0;
    try {
      for (; r < frame.rows; r++) sink.set(r * k + c, col.at(r));
    } catch (error) {
      if (!(error instanceof CellError)) throw error;
      castFrameColumn(frame, col, datatype, spec.dtype); // rethrows with MLflow's text for this column
      throw error;
    }
  }
  return { kind: 'tensors', tensors: [{ name: '', datatype, shape: [frame.rows, k], data: sink.finish() }], fromFrame: true };
}

function columnTypeName(type: ColumnType): string {
  return type === 'string' || type === 'binary' ? 'object' : COLUMN_NUMPY_NAME[type];
}

/** _reshape_and_cast_pandas_column_values: scalars for shapes (-1,)/(-1, 1), lists for the rest. */
function frameColumnToTensor(frame: Frame, col: FrameColumn, spec: TensorSpec, name: string | null, data: string, schema: Schema): Tensor {
  const datatype = numpyDatatype(spec.dtype)!;
  const label = name === null ? 'the unnamed input' : `input ${name}`;
  if (spec.shape[0] !== -1 || spec.shape.slice(1).includes(-1)) {
    throw enforceError(
      data,
      schema,
      `For pandas dataframe input, the first dimension of shape must be a variable dimension and other dimensions must be fixed, but in model signature the shape of ${label} is ${pyTuple(spec.shape)}.`,
    );
  }
  const colName = name ?? 'None';
  const first = col.at(0);
  if (!Array.isArray(first)) {
    const isVector = spec.shape.length === 1 || (spec.shape.length === 2 && spec.shape[1] === 1);
    if (!isVector) {
      throw enforceError(
        data,
        schema,
        `The input pandas dataframe column '${colName}' contains scalar values, which requires the shape to be (-1,) or (-1, 1), but got tensor spec shape of ${pyTuple(spec.shape)}.`,
      );
    }
    const t = castFrameColumn(frame, col, datatype, spec.dtype);
    return { ...t, name: name ?? '', shape: spec.shape.length === 1 ? [frame.rows] : [frame.rows, 1] };
  }
  // Columns of lists: each row flattened and reshaped to the spec (np.vstack + reshape + astype).
  const perRow = elementCount(spec.shape.slice(1));
  const sink = cellSink(datatype, frame.rows * perRow);
  const reshapeError = (): MlflowError =>
    enforceError(
      data,
      schema,
      `The value in the Input DataFrame column '${colName}' could not be converted to the expected shape of: '${pyTuple(spec.shape)}'. Ensure that each of the input list elements are of uniform length and that the data can be coerced to the tensor type '${spec.dtype}'`,
    );
  for (let r = 0; r < frame.rows; r++) {
    const flat: PyJson[] = [];
    flatten(col.at(r) ?? null, flat);
    if (flat.length !== perRow) throw reshapeError();
    try {
      for (let j = 0; j < perRow; j++) sink.set(r * perRow + j, flat[j]);
    } catch (error) {
      if (error instanceof CellError) throw reshapeError();
      throw error;
    }
  }
  return { name: name ?? '', datatype, shape: [frame.rows, ...spec.shape.slice(1)], data: sink.finish() };
}

function flatten(v: PyJson, out: PyJson[]): void {
  if (Array.isArray(v)) for (const x of v) flatten(x, out);
  else out.push(v);
}

// ---- instances / inputs (TF-serving formats) ----------------------------------------------------

interface NdArray {
  shape: number[];
  cells: PyJson[];
}

/** np.array(value): its shape, refusing ragged nesting with numpy's message. */
function ndarray(value: PyJson): NdArray {
  const shape: number[] = [];
  let probe: PyJson = value;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    if (probe.length === 0) break;
    probe = probe[0];
  }
  const cells: PyJson[] = [];
  const walk = (v: PyJson, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw ragged(depth);
      cells.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw ragged(depth);
    for (const x of v) walk(x, depth + 1);
  };
  const ragged = (depth: number): CellError =>
    new CellError(
      'ValueError',
      `setting an array element with a sequence. The requested array has an inhomogeneous shape after ${depth} dimensions. The detected shape was ${pyTuple(shape.slice(0, depth))} + inhomogeneous part.`,
    );
  walk(value, 0);
  return { shape, cells };
}

/** convert_data_type(value, spec): np.array(value, dtype); failures are BAD_REQUEST "Invalid input. …". */
function toTensor(value: PyJson, datatype: Datatype, name: string, base64 = false): Tensor {
  try {
    const arr = ndarray(value);
    const sink = cellSink(datatype, arr.cells.length, { base64 });
    for (let i = 0; i < arr.cells.length; i++) sink.set(i, arr.cells[i]);
    return { name, datatype, shape: arr.shape, data: sink.finish() };
  } catch (error) {
    if (error instanceof CellError) throw invalidInput(error.message);
    throw error;
  }
}

function describeArray(t: Tensor): string {
  return `ndarray of shape ${pyTuple(t.shape)} and dtype ${DATATYPE_NUMPY_NAME[t.datatype]}`;
}

/** _enforce_tensor_spec: rank and fixed dimensions. */
function checkTensorShape(t: Tensor, spec: TensorSpec, data: string, schema: Schema): void {
  if (spec.shape.length === 1 && spec.shape[0] === -1 && (spec.dtype === 'object' || spec.dtype === 'str')) return;
  const ok = t.shape.length === spec.shape.length && spec.shape.every((d, i) => d === -1 || d === t.shape[i]);
  if (!ok) throw enforceError(data, schema, `Shape of input ${pyTuple(t.shape)} does not match expected shape ${pyTuple(spec.shape)}.`);
}

function parseTfServing(format: 'instances' | 'inputs', value: PyJson, plan: ServingPlan): ModelInput {
  const schema = plan.inputSchema;
  if (format === 'instances' && Array.isArray(value) && value.length > 0 && isJsonObject(value[0])) return instancesRecords(value, plan);
  // _cast_schema_type
  if (schema.named && Array.isArray(value) && !value.some(isJsonObject)) {
    const specs = schema.kind === 'tensors' ? schema.tensors : schema.columns;
    if (specs.length === 1) return dictInput({ [specs[0].name!]: value }, plan);
  }
  if (!schema.named && isJsonObject(value)) {
    throw invalidInput(
      `Failed to parse input data. This model contains an un-named  model signature which expects a single n-dimensional array or a single value as input, however, an input of type <class 'dict'> was found.`,
    );
  }
  if (isJsonObject(value)) return dictInput(value, plan);
  if (Array.isArray(value) && value.every(isJsonObject)) {
    // A list of dicts: a DataFrame of records for a column signature; refused by tensor ones.
    if (schema.kind === 'columns') {
      return frameToInput(listFrame(value, (d) => invalidInput(d)), plan, 'json');
    }
    const kind = schema.named ? 'with input names, which suggests a dictionary input mapping input name to tensor, or a pandas DataFrame input containing columns mapping input name to flattened list value from tensor,' : 'with no input names, which suggests a numpy array input or a pandas dataframe input with proper column values,';
    throw enforceError(`list of ${value.length} dicts`, schema, `This model contains a tensor-based model signature ${kind} but an input of type <class 'list'> was found.`);
  }
  // A list or a scalar: one array with the first input's dtype.
  const first = schema.kind === 'tensors' ? numpyDatatype(schema.tensors[0].dtype)! : plan.columnDatatypes[0];
  const t = toTensor(value, first, '', schema.kind === 'columns' && schema.columns[0].type === 'binary');
  return arrayInput(t, plan);
}

/** An ndarray reaching _enforce_schema. */
function arrayInput(t: Tensor, plan: ServingPlan): ModelInput {
  const schema = plan.inputSchema;
  const data = describeArray(t);
  if (schema.kind === 'tensors') {
    if (schema.named) {
      const names = schema.tensors.map((s) => s.name!);
      throw enforceError(data, schema, missingInputs(names, []));
    }
    checkTensorShape(t, schema.tensors[0], data, schema);
    return { kind: 'tensors', tensors: [t], fromFrame: false };
  }
  // Column signature: pd.DataFrame(array) has integer column names 0..k-1.
  if (t.shape.length > 2) throw enforceError(data, schema, `This model contains a column-based signature, which suggests a DataFrame input. There was an error casting the input data to a DataFrame: Must pass 2-d input. shape=${pyTuple(t.shape)}`);
  const rows = t.shape.length === 0 ? 1 : t.shape[0];
  const width = t.shape.length === 2 ? t.shape[1] : 1;
  const frame: Frame = { rows, columns: [] };
  const values = tensorCells(t);
  for (let c = 0; c < width; c++) frame.columns.push({ name: c, at: (r) => values[r * width + c] });
  return frameToInput(frame, plan, 'json');
}

/** Cells of an already cast tensor, as JSON values again (only on the rare column-array path). */
function tensorCells(t: Tensor): PyJson[] {
  const d = t.data;
  if ('kind' in d) {
    const dec = new TextDecoder();
    return Array.from({ length: d.offsets.length - 1 }, (_, i) => dec.decode(d.values.subarray(d.offsets[i], d.offsets[i + 1])));
  }
  return Array.from(d as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? (Number.isSafeInteger(Number(x)) ? Number(x) : x) : x));
}

/** A dict of name → values (inputs as a dict, instances as records). */
function dictInput(value: { [key: string]: PyJson }, plan: ServingPlan, preconverted?: Map<string, Tensor>): ModelInput {
  const schema = plan.inputSchema;
  const keys = Object.keys(value);
  const data = `dict with keys ${listRepr(keys.slice(0, 20))}`;
  if (schema.kind === 'tensors') {
    if (!schema.named) {
      throw enforceError(data, schema, `This model contains a tensor-based model signature with no input names, which suggests a numpy array input or a pandas dataframe input with proper column values, but an input of type <class 'dict'> was found.`);
    }
    const tensors = schema.tensors.map((spec) => {
      const v = value[spec.name!];
      return v === undefined && !preconverted?.has(spec.name!) ? undefined : (preconverted?.get(spec.name!) ?? toTensor(v!, numpyDatatype(spec.dtype)!, spec.name!));
    });
    const missing = schema.tensors.filter((_, i) => tensors[i] === undefined).map((s) => s.name!);
    if (missing.length > 0) {
      const names = new Set(schema.tensors.map((s) => s.name!));
      throw enforceError(data, schema, missingInputs(missing, keys.filter((k) => !names.has(k))));
    }
    schema.tensors.forEach((spec, i) => checkTensorShape(tensors[i]!, spec, data, schema));
    return { kind: 'tensors', tensors: tensors as Tensor[], fromFrame: false };
  }
  // Column signature: {col: array} becomes a DataFrame; all scalars make one row.
  const specByName = new Map(schema.columns.map((c, i) => [c.name ?? i, i]));
  const converted = new Map<string, Tensor>();
  for (const k of keys) {
    const i = specByName.get(k);
    if (i === undefined) continue; // extra inputs are ignored
    const spec = schema.columns[i];
    const t = preconverted?.get(k) ?? toTensor(value[k], plan.columnDatatypes[i], k, spec.type === 'binary');
    if (t.shape.length > 1) {
      throw enforceError(data, schema, `Incompatible input types for column ${k}. Can not safely convert object to ${columnTypeName(spec.type as ColumnType)}.`);
    }
    converted.set(k, t);
  }
  const lengths = [...converted.values()].filter((t) => t.shape.length === 1).map((t) => t.shape[0]);
  const rows = lengths.length === 0 ? 1 : lengths[0];
  if (lengths.some((n) => n !== rows)) {
    throw enforceError(data, schema, 'This model contains a column-based signature, which suggests a DataFrame input. There was an error casting the input data to a DataFrame: All arrays must be of the same length');
  }
  const columns: (Tensor | undefined)[] = [];
  const missing: (string | number)[] = [];
  schema.columns.forEach((spec, i) => {
    const t = converted.get(String(spec.name ?? i));
    if (!t) {
      if (spec.required) missing.push(spec.name ?? i);
      columns.push(undefined);
      return;
    }
    columns.push(t.shape.length === 0 ? broadcast(t, rows) : t);
  });
  if (missing.length > 0) throw enforceError(data, schema, missingInputs(missing, keys.filter((k) => !specByName.has(k))));
  return { kind: 'columns', rows, columns, fromFrame: true };
}

/** A scalar column repeated over the rows (pandas broadcasts scalars in a dict of columns). */
function broadcast(t: Tensor, rows: number): Tensor {
  const d = t.data;
  if ('kind' in d) {
    const one = d.values.subarray(d.offsets[0], d.offsets[1]);
    const values = new Uint8Array(one.length * rows);
    const offsets = new Uint32Array(rows + 1);
    for (let r = 0; r < rows; r++) values.set(one, r * one.length), (offsets[r + 1] = (r + 1) * one.length);
    return { ...t, shape: [rows], data: { kind: 'bytes', values, offsets } };
  }
  const out = new (d.constructor as new (n: number) => typeof d)(rows);
  (out as { fill(v: unknown): unknown }).fill(d[0]);
  return { ...t, shape: [rows], data: out };
}

/** `instances` as a list of records: columns from the records, each value cast per spec. */
function instancesRecords(list: PyJson[], plan: ServingPlan): ModelInput {
  const schema = plan.inputSchema;
  const columns = new Map<string, PyJson[]>();
  for (const item of list) {
    if (!isJsonObject(item)) {
      throw invalidInput(`Ensure that the input is a valid JSON-formatted string.\nError: AttributeError("'${Array.isArray(item) ? 'list' : item === null ? 'NoneType' : typeof item === 'string' ? 'str' : typeof item === 'boolean' ? 'bool' : Number.isInteger(item) ? 'int' : 'float'}' object has no attribute 'items'")`);
    }
    for (const [k, v] of Object.entries(item)) {
      let col = columns.get(k);
      if (!col) columns.set(k, (col = []));
      col.push(v);
    }
  }
  if (schema.kind === 'tensors' && !schema.named) {
    throw enforceError(
      `dict with keys ${listRepr([...columns.keys()])}`,
      schema,
      `This model contains a tensor-based model signature with no input names, which suggests a numpy array input or a pandas dataframe input with proper column values, but an input of type <class 'dict'> was found.`,
    );
  }
  // Only required columns of the schema that are present must agree in length.
  const required = schema.kind === 'tensors' ? schema.tensors.map((t) => t.name!) : schema.columns.filter((c) => c.required).map((c) => c.name!);
  const lengths = required.filter((n) => columns.has(n)).map((n) => columns.get(n)!.length);
  if (lengths.some((n) => n !== lengths[0])) throw invalidInput('The length of values for each input/column name are not the same');
  const value: { [key: string]: PyJson } = {};
  for (const [k, v] of columns) value[k] = v;
  return dictInput(value, plan);
}

// ---- CSV ------------------------------------------------------------------------------------------

/** pandas.read_csv's default missing-value markers. */
const NA_VALUES = new Set(['', '#N/A', '#N/A N/A', '#NA', '-1.#IND', '-1.#QNAN', '-NaN', '-nan', '1.#IND', '1.#QNAN', '<NA>', 'N/A', 'NA', 'NULL', 'NaN', 'None', 'n/a', 'nan', 'null']);

/**
 * A CSV header and rows as a DataFrame view. Text columns keep their text (an empty field is an
 * empty string); other columns read pandas' NA markers as missing. A header left empty is named
 * `Unnamed: <i>` as pandas names it (what `DataFrame.to_csv()` writes for the index).
 */
export function csvFrame(header: string[], rows: string[][], plan: ServingPlan): Frame {
  const schema = plan.inputSchema;
  const textual = new Set<string>();
  if (schema.kind === 'columns') schema.columns.forEach((c, i) => c.name !== undefined && plan.columnDatatypes[i] === 'BYTES' && textual.add(c.name));
  const names = header.map((h, i) => (h === '' ? `Unnamed: ${i}` : h));
  const columns: FrameColumn[] = names.map((name, c) => {
    const keepText = textual.has(name);
    return {
      name,
      at: (r: number): PyJson => {
        const cell = rows[r][c];
        return keepText ? cell : NA_VALUES.has(cell) ? null : cell;
      },
    };
  });
  return { rows: rows.length, columns, source: 'csv' };
}

/**
 * CSV rows decoded as MLflow's serving does (read_csv typed by the signature's columns). For a
 * tensor signature MLflow always fails (TensorSpec has no pandas types); Tessera reads the rows as
 * the tensor instead, dropping pandas' `Unnamed: <i>` index columns.
 */
export function decodeCsvRows(header: string[], rows: string[][], plan: ServingPlan): DecodedInvocation {
  let frame = csvFrame(header, rows, plan);
  if (plan.inputSchema.kind === 'tensors') frame = { ...frame, columns: frame.columns.filter((c) => !/^Unnamed: \d+$/.test(String(c.name))) };
  const input = frameToInput(frame, plan, 'csv');
  return finish(input, enforceParams(undefined, plan.params, input), plan);
}

export function decodeCsvText(text: string, plan: ServingPlan): DecodedInvocation {
  const { header, rows } = parseCsvText(text);
  return decodeCsvRows(header, rows, plan);
}


export function parseCsvText(text: string): { header: string[]; rows: string[][] } {
  let records: string[][];
  try {
    records = parseCsvSync(text, { skip_empty_lines: true, bom: true, relax_quotes: false }) as string[][];
  } catch (error) {
    throw badRequest(
      `Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas DataFrame produced using the \`pandas.DataFrame.to_csv()\` method. Error: '${(error as Error).message}'`,
    );
  }
  if (records.length === 0) {
    throw badRequest(
      "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: 'No columns to parse from file'",
    );
  }
  return { header: records[0], rows: records.slice(1) };
}

