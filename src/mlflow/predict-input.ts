// Streaming pieces of `tessera predict` (mlflow models predict): CSV input read in chunks of N rows
// with csv-parse's streaming parser (a 1 GB file is never held whole), JSON input decoded once
// and cut into row chunks, and the `{"predictions": …}` output (or CSV) written chunk by chunk so
// output memory is bounded too. The CLI command wires these to files, stdin/stdout and the pool.
import { once } from 'node:events';
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { parse as parseCsv } from 'csv-parse';
import { stringify as stringifyCsv } from 'csv-stringify/sync';
import { isBytesData, elementCount, type Tensor, type TensorData } from '../core/tensor.js';
import { badRequest } from './errors.js';
import { decodeCsvRows, decodeJsonText, type DecodedInvocation } from './invocations/decode.js';
import { cellWriter, chunkItems, type EncodeOptions } from './invocations/encode.js';
import { pythonJsonString, pythonFloatRepr } from './invocations/python-json-encode.js';
import type { ResponseShape, ServingPlan } from './plan.js';

export const DEFAULT_CHUNK_ROWS = 4096;

/**
 * CSV from a stream, decoded chunk by chunk: the first line is the header (as MLflow reads it),
 * then every `chunkRows` rows become one decoded request. Memory holds one chunk of rows.
 */
export async function* readCsvChunks(source: Readable, plan: ServingPlan, options: { chunkRows?: number } = {}): AsyncGenerator<DecodedInvocation> {
  const chunkRows = Math.max(1, options.chunkRows ?? DEFAULT_CHUNK_ROWS);
  const parser = source.pipe(parseCsv({ bom: true, skip_empty_lines: true }));
  let header: string[] | undefined;
  let rows: string[][] = [];
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (header === undefined) {
        header = record;
        continue;
      }
      rows.push(record);
      if (rows.length === chunkRows) {
        yield decodeCsvRows(header, rows, plan);
        rows = [];
      }
    }
  } catch (error) {
    if ((error as { code?: string }).code?.startsWith('CSV_')) {
      throw badRequest(
        `Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas DataFrame produced using the \`pandas.DataFrame.to_csv()\` method. Error: '${(error as Error).message}'`,
      );
    }
    throw error;
  }
  if (header === undefined) {
    throw badRequest("Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: 'No columns to parse from file'");
  }
  if (rows.length > 0) yield decodeCsvRows(header, rows, plan);
}

/** JSON input (any /invocations format) read whole, as MLflow does, then cut into row chunks. */
export async function readJsonInput(source: Readable, plan: ServingPlan, options: { maxBytes?: number } = {}): Promise<DecodedInvocation> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of source as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += b.length;
    if (options.maxBytes !== undefined && total > options.maxBytes) {
      throw badRequest(`JSON input is larger than ${options.maxBytes} bytes; use CSV input (-t csv), which is streamed`);
    }
    parts.push(b);
  }
  const text = new TextDecoder('utf-8', { fatal: false }).decode(Buffer.concat(parts));
  return decodeJsonText(text, plan);
}

function sliceData(data: TensorData, from: number, to: number): TensorData {
  if (isBytesData(data)) {
    const base = data.offsets[from];
    const offsets = data.offsets.slice(from, to + 1).map((o) => o - base);
    return { kind: 'bytes', values: data.values.subarray(base, data.offsets[to]), offsets };
  }
  return data.subarray(from, to);
}

/** Rows [from, to) of every input (views, no copy of numeric data). */
export function sliceRows(decoded: DecodedInvocation, from: number, to: number): DecodedInvocation {
  const inputs = decoded.inputs.map((t) => {
    const step = elementCount(t.shape.slice(1));
    return { ...t, shape: [to - from, ...t.shape.slice(1)], data: sliceData(t.data, from * step, to * step) };
  });
  return { ...decoded, inputs, rows: to - from };
}

/** A decoded request cut into chunks of at most `chunkRows` rows. */
export function* splitRows(decoded: DecodedInvocation, chunkRows = DEFAULT_CHUNK_ROWS): Generator<DecodedInvocation> {
  if (decoded.rows <= chunkRows || decoded.inputs.some((t) => t.shape.length === 0)) {
    yield decoded;
    return;
  }
  for (let from = 0; from < decoded.rows; from += chunkRows) yield sliceRows(decoded, from, Math.min(decoded.rows, from + chunkRows));
}

async function writeText(out: Writable, text: string): Promise<void> {
  if (text.length > 0 && !out.write(text)) await once(out, 'drain');
}

/**
 * `{"predictions": …}` written incrementally: the same bytes as encodeInvocationsResponse() on
 * all rows at once. A dict of several outputs (ONNX, tensor input) is spooled per output to
 * temporary files, since each output's list spans every chunk.
 */
export class PredictionsJsonWriter {
  private started = false;
  private counts: number[] = [];
  private spool: { dir: string; files: FileHandle[]; names: string[] } | undefined;
  private names: string[] | undefined;

  constructor(
    private readonly out: Writable,
    private readonly shape: ResponseShape,
    private readonly options: EncodeOptions & { outputNames?: string[] } = {},
  ) {}

  async write(outputs: Tensor[]): Promise<void> {
    const items = chunkItems(outputs, this.shape, this.options);
    if (this.shape.kind === 'outputs-dict') {
      this.names ??= outputs.map((o) => o.name);
      if (this.names.length > 1) return this.spoolWrite(items);
    }
    if (!this.started) {
      this.started = true;
      await writeText(this.out, this.shape.kind === 'outputs-dict' ? `{"predictions": {${pythonJsonString(this.names![0])}: [` : '{"predictions": [');
      this.counts = [0];
    }
    if (items[0].length === 0) return;
    await writeText(this.out, (this.counts[0] > 0 ? ', ' : '') + items[0].join(', '));
    this.counts[0] += items[0].length;
  }

  private async spoolWrite(items: string[][]): Promise<void> {
    if (!this.spool) {
      const dir = await mkdtemp(path.join(tmpdir(), 'tessera-predict-'));
      const files = await Promise.all(this.names!.map((_, i) => open(path.join(dir, `output-${i}`), 'w+')));
      this.spool = { dir, files, names: this.names! };
      this.counts = this.names!.map(() => 0);
    }
    for (let j = 0; j < items.length; j++) {
      if (items[j].length === 0) continue;
      await this.spool.files[j].write((this.counts[j] > 0 ? ', ' : '') + items[j].join(', '));
      this.counts[j] += items[j].length;
    }
  }

  async end(): Promise<void> {
    if (this.spool) {
      const { dir, files, names } = this.spool;
      try {
        await writeText(this.out, '{"predictions": {');
        for (let j = 0; j < names.length; j++) {
          await writeText(this.out, `${j > 0 ? ', ' : ''}${pythonJsonString(names[j])}: [`);
          const stream = files[j].createReadStream({ start: 0, autoClose: false, encoding: 'utf8' });
          for await (const chunk of stream) await writeText(this.out, chunk as string);
          await writeText(this.out, ']');
        }
        await writeText(this.out, '}}');
      } finally {
        await Promise.all(files.map((f) => f.close()));
        await rm(dir, { recursive: true, force: true });
      }
      return;
    }
    if (!this.started) {
      // No rows at all.
      const names = this.names ?? this.options.outputNames ?? [];
      const body = this.shape.kind === 'outputs-dict' ? `{${names.map((n) => `${pythonJsonString(n)}: []`).join(', ')}}` : '[]';
      await writeText(this.out, `{"predictions": ${body}}`);
      return;
    }
    await writeText(this.out, this.shape.kind === 'outputs-dict' ? ']}}' : ']}');
  }
}

/** A cell as pandas' to_csv writes it: Python's str(), NaN as an empty field. */
function csvCell(t: Tensor): (i: number) => string {
  const d = t.data;
  if (isBytesData(d)) {
    const dec = new TextDecoder();
    return (i) => dec.decode(d.values.subarray(d.offsets[i], d.offsets[i + 1]));
  }
  if (t.datatype === 'FP32' || t.datatype === 'FP64') return (i) => (Number.isNaN(d[i] as number) ? '' : pythonFloatRepr(d[i] as number));
  if (t.datatype === 'BOOL') return (i) => (d[i] ? 'True' : 'False');
  if (t.datatype === 'FP16' || t.datatype === 'BF16') {
    const json = cellWriter(t);
    return (i) => json(i);
  }
  return (i) => String(d[i]);
}

/**
 * Predictions as CSV, one row per input row: the predict output as `predictions` (or
 * `predictions_<j>` for a 2-D output), or one column per output (`<name>_<j>` for 2-D ones).
 */
export class PredictionsCsvWriter {
  private headerWritten = false;

  constructor(
    private readonly out: Writable,
    private readonly shape: ResponseShape,
  ) {}

  async write(outputs: Tensor[]): Promise<void> {
    const shape = this.shape;
    const chosen = shape.kind === 'predict' ? outputs.filter((o) => o.name === shape.output) : outputs;
    if (chosen.length === 0) throw badRequest(`the model returned none of the outputs to write`);
    const rows = chosen[0].shape[0] ?? 1;
    const cols: { name: string; cell: (i: number) => string; t: Tensor; width: number }[] = chosen.map((t) => {
      const width = t.shape.length <= 1 ? 1 : elementCount(t.shape.slice(1));
      if ((t.shape[0] ?? 1) !== rows) throw badRequest(`output '${t.name}' has ${t.shape[0]} rows, not ${rows}`);
      return { name: this.shape.kind === 'predict' ? 'predictions' : t.name, cell: csvCell(t), t, width };
    });
    const records: string[][] = [];
    if (!this.headerWritten) {
      records.push(cols.flatMap((c) => (c.width === 1 ? [c.name] : Array.from({ length: c.width }, (_, j) => `${c.name}_${j}`))));
      this.headerWritten = true;
    }
    for (let r = 0; r < rows; r++) {
      const rec: string[] = [];
      for (const c of cols) for (let j = 0; j < c.width; j++) rec.push(c.cell(r * c.width + j));
      records.push(rec);
    }
    await writeText(this.out, stringifyCsv(records));
  }

  async end(): Promise<void> {}
}
