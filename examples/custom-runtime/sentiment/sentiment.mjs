// A custom runtime for Tessera: a small lexicon sentiment scorer written in plain JavaScript.
//
// Input `text` (BYTES, one string per row); outputs `score` (FP32: the mean polarity of the words
// found in the lexicon, -1 .. 1, 0 when none is found) and `label` (BYTES: positive, negative or
// neutral). The lexicon is lexicon.json beside this file; `parameters.extra.threshold` in
// model-settings.json sets how far from 0 a score must be to get a label other than neutral.
// Requests are batched (max_batch_size in model-settings.json): predict() sees every row of the
// batch at once, and answers one row per input row.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

let lexicon = new Map();
let threshold = 0.1;

/** Called once per worker before the first predict(): settings are the model settings. */
export async function load(settings) {
  const folder = settings.parameters.uri; // the model folder, absolute
  lexicon = new Map(Object.entries(JSON.parse(await readFile(join(folder, 'lexicon.json'), 'utf8'))));
  threshold = settings.parameters.extra?.threshold ?? threshold;
}

/** inputs: [{name, datatype, shape, data}]; BYTES data is an array of Buffers. */
export function predict(inputs) {
  const text = inputs.find((t) => t.name === 'text');
  const rows = text.data.length;
  const score = new Float32Array(rows);
  const label = new Array(rows);
  for (let i = 0; i < rows; i++) {
    const words = text.data[i].toString('utf8').toLowerCase().match(/[\p{L}']+/gu) ?? [];
    let sum = 0;
    let found = 0;
    for (const w of words) {
      const v = lexicon.get(w);
      if (v !== undefined) {
        sum += v;
        found++;
      }
    }
    score[i] = found === 0 ? 0 : sum / found;
    label[i] = score[i] > threshold ? 'positive' : score[i] < -threshold ? 'negative' : 'neutral';
  }
  return [
    { name: 'score', datatype: 'FP32', shape: [rows], data: score },
    { name: 'label', datatype: 'BYTES', shape: [rows], data: label },
  ];
}
