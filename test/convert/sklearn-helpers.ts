// Shared by the sklearn converter tests: loading the generated fixtures, running a converted model
// in onnxruntime-node in-process, and comparing with sklearn's recorded outputs.
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import type { ConvertedModel } from '../../src/convert/model.js';

export const FIXTURES = new URL('../fixtures/sklearn/', import.meta.url);

export interface FixtureFile { variant: string; path: string; format: 'pickle' | 'cloudpickle' | 'joblib' }
export type Cell = number | string | boolean | null;
export interface FixtureCase {
  name: string;
  estimator: string;
  note: string;
  files: FixtureFile[];
  input: { type: 'double' | 'string'; rows: Cell[][] };
  columns?: string[];
  predict?: Cell[] | Cell[][];
  predict_proba?: Cell[][];
  transform?: Cell[][];
}

export function loadCases(): FixtureCase[] {
  return (JSON.parse(readFileSync(new URL('cases.json', FIXTURES), 'utf8')) as { cases: FixtureCase[] }).cases;
}

export function fixtureBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(path, FIXTURES)));
}

/** The input tensor for rows: float64 (null → NaN) or strings. */
export function inputTensor(type: 'double' | 'string', rows: Cell[][]): ort.Tensor {
  const n = rows.length;
  const f = rows[0].length;
  if (type === 'string') return new ort.Tensor('string', rows.flat().map((c) => String(c)), [n, f]);
  return new ort.Tensor('float64', Float64Array.from(rows.flat(), (c) => (c === null ? NaN : Number(c))), [n, f]);
}

export async function run(model: ConvertedModel, input: ort.Tensor): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(model.onnx);
  try {
    return await session.run({ [model.inputs[0].name]: input });
  } finally {
    await session.release();
  }
}

/** Tensor elements as plain JS values (bigint → number when safe, else string). */
export function plain(t: ort.Tensor): Array<number | string | boolean> {
  const data = t.data as ArrayLike<unknown>;
  return Array.from(data, (v) => {
    if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    if (t.type === 'bool') return Boolean(v);
    return v as number | string;
  });
}

/**
 * Largest relative difference between actual and expected numbers (null expected = NaN, which must
 * be NaN). Values whose magnitude is below `floor` are compared absolutely against `floor`
 * (probabilities like 1e-300 have no meaningful relative error).
 */
export function maxRelativeError(actual: ArrayLike<number>, expected: Cell[], floor = 1e-12): number {
  let worst = 0;
  if (actual.length !== expected.length) return Infinity;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i] === null ? NaN : Number(expected[i]);
    const a = actual[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      if (!(Number.isNaN(e) && Number.isNaN(a))) return Infinity;
      continue;
    }
    if (a === e) continue;
    const rel = Math.abs(a - e) / Math.max(Math.abs(e), floor);
    worst = Math.max(worst, rel);
  }
  return worst;
}
