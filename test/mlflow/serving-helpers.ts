// Shared by the MLflow serving tests: the real MLflow-written models and their recorded cases,
// the rows of a recorded /invocations body (in the signature's column order), V2 requests built
// from them, and the comparisons (labels exactly, values within 1e-5 relative).
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

export const MODELS_DIR = process.env.TESSERA_MLFLOW_MODELS ?? '/work/shared/data/mlflow-models';
export const PRESENT = existsSync(join(MODELS_DIR, 'cases.json'));
export const MODEL_NAMES = ['wine-elasticnet', 'iris-logreg', 'iris-tree', 'diabetes-forest', 'cancer-gbc', 'wine-pipeline', 'iris-xgb', 'diabetes-xgb'];
export const CLASSIFIERS = new Set(['iris-logreg', 'iris-tree', 'cancer-gbc', 'wine-pipeline', 'iris-xgb']);
export const TOLERANCE = 1e-5;

export interface RecordedCase {
  model: string;
  format: string;
  request: { content_type: string; body: string };
  response: { status: number; content_type: string; body: string };
  sklearn_predict: number[];
  sklearn_predict_proba?: number[][];
}

export const cases = (): RecordedCase[] => JSON.parse(readFileSync(join(MODELS_DIR, 'cases.json'), 'utf8')) as RecordedCase[];

/** Copies the named MLflow model folders into `root` (a model repository). */
export function copyModels(root: string, names: readonly string[], as: (name: string) => string = (n) => n): void {
  for (const name of names) cpSync(join(MODELS_DIR, name), join(root, as(name)), { recursive: true });
}

/** The signature's column names of a model, or undefined for a tensor signature. */
export function signatureColumns(name: string): string[] | undefined {
  const mlmodel = parseYaml(readFileSync(join(MODELS_DIR, name, 'MLmodel'), 'utf8')) as { signature: { inputs: string } };
  const sig = JSON.parse(mlmodel.signature.inputs) as Array<{ type: string; name?: string }>;
  return sig.every((s) => s.name !== undefined && s.type !== 'tensor') ? sig.map((s) => s.name!) : undefined;
}

type Json = null | number | string | Json[] | { [k: string]: Json };
type Cell = number | null;

/** The rows of an /invocations body, in the order of `columns` for column-based bodies. */
export function rowsOf(bodyText: string, columns: string[] | undefined): Cell[][] {
  const body = JSON.parse(bodyText) as Record<string, Json>;
  const record = (r: Json): Cell[] => (Array.isArray(r) ? (r as Cell[]) : columns!.map((c) => (r as Record<string, Cell>)[c]));
  if (body.dataframe_split) {
    const split = body.dataframe_split as { columns?: string[]; data: Cell[][] };
    if (!split.columns) return split.data;
    return split.data.map((row) => columns!.map((c) => row[split.columns!.indexOf(c)]));
  }
  if (body.dataframe_records) return (body.dataframe_records as Json[]).map(record);
  if (body.instances) return (body.instances as Json[]).map(record);
  if (Array.isArray(body.inputs)) return body.inputs as Cell[][];
  const byColumn = body.inputs as Record<string, Cell[]>;
  const n = byColumn[columns![0]].length;
  return Array.from({ length: n }, (_, i) => columns!.map((c) => byColumn[c][i]));
}

export interface V2Input {
  name: string;
  shape: number[];
  datatype: string;
  data: Cell[];
}

/** A V2 request for these rows: one input per column (content type pd) for column models, else one matrix. */
export function v2Inputs(rows: Cell[][], columns: string[] | undefined, datatype = 'FP64'): { inputs: V2Input[]; parameters?: Record<string, string> } {
  if (columns === undefined) return { inputs: [{ name: 'input-0', shape: [rows.length, rows[0].length], datatype, data: rows.flat() }] };
  return {
    parameters: { content_type: 'pd' },
    inputs: columns.map((c, j) => ({ name: c, shape: [rows.length], datatype, data: rows.map((r) => r[j]) })),
  };
}

export function maxRelativeError(got: readonly number[], want: readonly number[]): number {
  if (got.length !== want.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const scale = Math.max(Math.abs(want[i]), 1e-12);
    worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
  }
  return worst;
}

/** Whether `got` matches `want`: exactly for labels, within TOLERANCE relative for values. */
export function agrees(model: string, got: readonly number[], want: readonly number[]): { ok: boolean; detail: string } {
  if (CLASSIFIERS.has(model)) {
    const ok = got.length === want.length && got.every((v, i) => v === want[i]);
    return { ok, detail: ok ? 'labels equal' : `labels ${JSON.stringify(got)} vs ${JSON.stringify(want)}` };
  }
  const err = maxRelativeError(got, want);
  return { ok: err <= TOLERANCE, detail: `max relative error ${err.toExponential(2)}` };
}
