// Streaming pieces of `tessera predict`: a 200k-row CSV read in bounded chunks with exact row count
// and the same values as the one-shot path; JSON input cut into row chunks; `{"predictions": …}`
// and CSV written chunk by chunk, byte-identical to the one-shot encoder.
import { createReadStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t from 'tap';
import type { Tensor } from '../../src/core/tensor.js';
import { decodeCsvText } from '../../src/mlflow/invocations/decode.js';
import { encodeInvocationsResponse } from '../../src/mlflow/invocations/encode.js';
import type { ResponseShape } from '../../src/mlflow/plan.js';
import { PredictionsCsvWriter, PredictionsJsonWriter, readCsvChunks, readJsonInput, splitRows } from '../../src/mlflow/predict-input.js';
import { realPlan } from './fixtures.js';

const ROWS = 200_000;

function collect(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (c: Buffer) => parts.push(c));
  return { out, text: () => Buffer.concat(parts).toString('utf8') };
}

t.test('a 200k-row CSV streams in bounded chunks with the same values as the one-shot path', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'predict-stream-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const plan = await realPlan('iris-tree');
  const names = plan.inputSchema.kind === 'columns' ? plan.inputSchema.columns.map((c) => c.name!) : [];
  const lines = [names.map((n) => `"${n}"`).join(',')];
  for (let r = 0; r < ROWS; r++) lines.push(`${(r % 80) / 10 + 0.05},${(r % 45) / 10},${(r % 69) / 10 + 1},${(r % 25) / 10}`);
  const file = path.join(dir, 'big.csv');
  writeFileSync(file, lines.join('\n') + '\n');

  const chunkRows = 4096;
  const sizes: number[] = [];
  const parts: Float64Array[] = [];
  for await (const chunk of readCsvChunks(createReadStream(file, { highWaterMark: 64 * 1024 }), plan, { chunkRows })) {
    sizes.push(chunk.rows);
    t.ok(chunk.rows <= chunkRows, 'chunk within its bound') || t.bailout('unbounded chunk');
    parts.push(chunk.inputs[0].data as Float64Array);
  }
  t.equal(sizes.reduce((a, b) => a + b, 0), ROWS, 'exact row count');
  t.equal(sizes.length, Math.ceil(ROWS / chunkRows));
  t.equal(sizes.at(-1), ROWS % chunkRows);
  const whole = decodeCsvText(readFileSync(file, 'utf8'), plan).inputs[0].data as Float64Array;
  const streamed = new Float64Array(whole.length);
  let at = 0;
  for (const p of parts) streamed.set(p, at), (at += p.length);
  t.equal(at, ROWS * 4);
  t.equal(Buffer.compare(Buffer.from(streamed.buffer), Buffer.from(whole.buffer)), 0, 'same values, bit for bit');

  // The predictions of every chunk written incrementally equal the one-shot body.
  const labels = BigInt64Array.from({ length: ROWS }, (_, i) => BigInt(i % 3));
  const shape: ResponseShape = { kind: 'predict', output: 'label' };
  const { out, text } = collect();
  const writer = new PredictionsJsonWriter(out, shape);
  for (let from = 0; from < ROWS; from += chunkRows) {
    const n = Math.min(chunkRows, ROWS - from);
    await writer.write([{ name: 'label', datatype: 'INT64', shape: [n], data: labels.subarray(from, from + n) }]);
  }
  await writer.end();
  t.equal(text(), encodeInvocationsResponse([{ name: 'label', datatype: 'INT64', shape: [ROWS], data: labels }], shape));
});

t.test('CSV stream errors: a bad cell names its column and row; an empty input has no columns', async (t) => {
  const plan = await realPlan('iris-logreg');
  const bad = Readable.from(['a,b,c,d\n1,2,3,4\n5,x,7,8\n']);
  await t.rejects(async () => {
    for await (const _ of readCsvChunks(bad, plan, { chunkRows: 1 })) void _;
  }, { status: 400, errorCode: 'BAD_REQUEST', message: /could not convert string to float: 'x' \(column 'b', row 1\)/ });
  await t.rejects(async () => {
    for await (const _ of readCsvChunks(Readable.from(['']), plan)) void _;
  }, /No columns to parse from file/);
  await t.rejects(async () => {
    for await (const _ of readCsvChunks(Readable.from(['a,b\n"1,2\n']), plan)) void _;
  }, { errorCode: 'BAD_REQUEST', message: /^Failed to parse input as a Pandas DataFrame/ });
});

t.test('JSON input is decoded once and cut into row chunks (views)', async (t) => {
  const plan = await realPlan('iris-logreg');
  const rows = Array.from({ length: 10 }, (_, i) => [i, i + 0.5, i + 1, i + 1.5]);
  const decoded = await readJsonInput(Readable.from([Buffer.from(JSON.stringify({ inputs: rows }))]), plan);
  const chunks = [...splitRows(decoded, 4)];
  t.same(chunks.map((c) => c.rows), [4, 4, 2]);
  t.same(chunks.flatMap((c) => Array.from(c.inputs[0].data as Float64Array)), rows.flat());
  t.equal((chunks[1].inputs[0].data as Float64Array).buffer, (decoded.inputs[0].data as Float64Array).buffer, 'a view, not a copy');
  await t.rejects(readJsonInput(Readable.from([Buffer.alloc(100, 32)]), plan, { maxBytes: 10 }), /larger than 10 bytes; use CSV input/);
});

t.test('incremental JSON output equals the one-shot body for every response shape; CSV output', async (t) => {
  const n = 7;
  const label: Tensor = { name: 'label', datatype: 'INT64', shape: [n], data: BigInt64Array.from({ length: n }, (_, i) => BigInt(i)) };
  const proba: Tensor = { name: 'probabilities', datatype: 'FP32', shape: [n, 3], data: Float32Array.from({ length: n * 3 }, (_, i) => i / 7) };
  const chunks = (o: Tensor[], size: number): Tensor[][] => {
    const out: Tensor[][] = [];
    for (let from = 0; from < n; from += size) {
      const to = Math.min(n, from + size);
      out.push(o.map((t) => {
        const step = t.shape.length > 1 ? t.shape[1] : 1;
        return { ...t, shape: [to - from, ...t.shape.slice(1)], data: (t.data as Float32Array).subarray(from * step, to * step) };
      }));
    }
    return out;
  };
  const cases: [ResponseShape, Tensor[]][] = [
    [{ kind: 'predict', output: 'probabilities' }, [label, proba]],
    [{ kind: 'records' }, [label, proba]],
    [{ kind: 'outputs-dict' }, [label]],
    [{ kind: 'outputs-dict' }, [label, proba]],
  ];
  for (const [shape, outputs] of cases) {
    const { out, text } = collect();
    const w = new PredictionsJsonWriter(out, shape);
    for (const c of chunks(outputs, 3)) await w.write(c);
    await w.end();
    t.equal(text(), encodeInvocationsResponse(outputs, shape), `${shape.kind} with ${outputs.length} output(s)`);
  }
  // No rows at all.
  const empty = collect();
  const w = new PredictionsJsonWriter(empty.out, { kind: 'outputs-dict' }, { outputNames: ['label', 'probabilities'] });
  await w.end();
  t.equal(empty.text(), '{"predictions": {"label": [], "probabilities": []}}');
  // CSV output: the predict output as `predictions`, or one column per output (2-D ones spread).
  const csv1 = collect();
  const cw = new PredictionsCsvWriter(csv1.out, { kind: 'predict', output: 'label' });
  for (const c of chunks([label, proba], 4)) await cw.write(c);
  t.equal(csv1.text(), 'predictions\n0\n1\n2\n3\n4\n5\n6\n');
  const csv2 = collect();
  const cw2 = new PredictionsCsvWriter(csv2.out, { kind: 'records' });
  await cw2.write(chunks([label, proba], 2)[0]);
  t.equal(csv2.text(), 'label,probabilities_0,probabilities_1,probabilities_2\n0,0.0,0.1428571492433548,0.2857142984867096\n1,0.4285714328289032,0.5714285969734192,0.7142857313156128\n');
});
