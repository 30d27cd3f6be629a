// `tessera predict`: MLflow's flags; JSON from standard input to standard output and CSV files,
// byte for byte what /invocations answers for the same rows; a 200k-row CSV streamed through the
// worker pool in bounded memory (peak RSS of the child process measured against a small input);
// the progress bar on a terminal only; MLflow's error messages with a non-zero exit and no partial
// output file left behind.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { parsePredictArgs } from '../../src/cli/predict.js';
import { UsageError } from '../../src/cli/serve-model.js';
import { startServe, type ServeResult } from '../../src/cli/serve.js';
import { tempDir } from '../helpers/server.js';
import { BIN, wineCsv, writeIrisModel, writeWineModel } from './mlflow-fixtures.js';

const ENV: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
for (const k of Object.keys(ENV)) if (/^(MLFLOW|TESSERA|MLSERVER)_/.test(k)) delete ENV[k];

const ROWS = 200_000;
/** Peak RSS above a 1k-row run that a streamed 200k-row run may use (reading the file whole takes far more). */
const STREAMING_RSS_MARGIN_MB = 48;
/** V8 old-space cap of the measured runs (MB). */
const HEAP_MB = 48;

const work = tempDir(t, 'predict-');
const iris = writeIrisModel(path.join(work, 'iris'));
const wine = writeWineModel(path.join(work, 'wine'));

const servers = new Map<string, ServeResult>();
/** A `tessera serve` of the same model, in this process: the /invocations reference. */
async function invocations(model: string, contentType: string, body: string): Promise<{ status: number; text: string }> {
  let serving = servers.get(model);
  if (serving === undefined) {
    serving = await startServe(
    { modelUri: model, host: '127.0.0.1', port: 0, workers: 1, timeout: undefined, name: undefined, watch: undefined, grpcPort: undefined, logLevel: 'silent', warnings: [] },
    pino({ level: 'silent' }),
    ENV,
    );
    servers.set(model, serving);
  }
  await serving.server.loaded;
  const res = await fetch(`${serving.server.url}/invocations`, { method: 'POST', headers: { 'content-type': contentType }, body });
  return { status: res.status, text: await res.text() };
}
t.teardown(async () => {
  for (const s of servers.values()) await s.close();
});

t.test('flags as mlflow models predict', async (t) => {
  t.match(parsePredictArgs(['-m', 'm'], {}), { modelUri: 'm', input: undefined, output: undefined, contentType: 'json', outputFormat: 'json', chunkRows: 4096 });
  t.match(parsePredictArgs(['-m', 'm', '-i', 'in.csv', '-o', 'out.csv', '-t', 'csv'], {}), { input: 'in.csv', output: 'out.csv', contentType: 'csv', outputFormat: 'csv' }, 'CSV output for a .csv file');
  t.match(parsePredictArgs(['-m', 'm', '-o', 'out.csv', '--output-format', 'json', '-w', '2', '--chunk-rows', '100'], {}), { outputFormat: 'json', workers: 2, chunkRows: 100 });
  t.match(parsePredictArgs(['-m', 'm', '--output-format', 'csv'], { MLFLOW_MODELS_WORKERS: '3' }), { output: undefined, outputFormat: 'csv', workers: 3 });
  const ignored = parsePredictArgs(['-m', 'm', '--env-manager', 'local', '--install-mlflow', '-r', 'req.txt', '--env', 'A=1'], {});
  t.ok(ignored !== 'help' && ignored.warnings.length === 4, 'MLflow-only flags accepted with a warning');
  for (const [argv, message] of [
    [['-i', 'x'], /Missing option '-m'/],
    [['-m', 'm', '-t', 'parquet'], /Invalid value for '-t' \/ '--content-type': 'parquet' is not one of 'json', 'csv'/],
    [['-m', 'm', '--output-format', 'xml'], /'--output-format': 'xml'/],
    [['-m', 'm', '--chunk-rows', '0'], /--chunk-rows has value "0"/],
  ] as [string[], RegExp][]) {
    t.throws(() => parsePredictArgs(argv, {}), { constructor: UsageError, message }, argv.join(' '));
  }
});

const predict = (args: string[], input?: string) =>
  spawnSync(process.execPath, [BIN, 'predict', ...args], { encoding: 'utf8', env: ENV, input, timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });

t.test('JSON on standard input to standard output: the /invocations body', async (t) => {
  // (Every JSON format decodes through the same code as /invocations: test/mlflow/invocations.test.ts.)
  const text = JSON.stringify({ inputs: [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]] });
  const res = predict(['-m', iris], text);
  t.equal(res.status, 0, res.stderr);
  t.match(res.stdout, /^\{"predictions": \{"label": \[0, 2, 1\], "probabilities": \[\[/);
  const reference = await invocations(iris, 'application/json', text);
  t.equal(reference.status, 200);
  t.equal(res.stdout, reference.text, 'same bytes as /invocations');
});

t.test('errors: MLflow messages, exit 1, no partial output file', async (t) => {
  const bad = predict(['-m', iris], '{"inputs": [[1, 2, 3, 4]');
  t.equal(bad.status, 1);
  t.match(bad.stderr, /BAD_REQUEST: Invalid input\. Ensure that input is a valid JSON formatted string/);
  const csv = path.join(work, 'missing-column.csv');
  writeFileSync(csv, wineCsv(5).replace(/^alcohol,/, 'alcool,'));
  const out = path.join(work, 'missing.json');
  const missing = predict(['-m', wine, '-t', 'csv', '-i', csv, '-o', out]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /INVALID_PARAMETER_VALUE: Failed to predict data .*Model is missing inputs \['alcohol'\]/s);
  t.notOk(existsSync(out) || existsSync(`${out}.partial`), 'no output file left behind');
  const noModel = predict(['-m', path.join(work, 'nope'), '-i', csv]);
  t.equal(noModel.status, 1);
  t.match(noModel.stderr, /Model path '.*nope' does not exist/);
  const help = predict(['--help']);
  t.equal(help.status, 0);
  for (const flag of ['-m, --model-uri', '-i, --input-path', '-o, --output-path', '-t, --content-type', '--output-format', '-w, --workers', 'MLFLOW_MODELS_WORKERS']) t.match(help.stdout, flag);
  const noInput = predict(['-m', wine, '-t', 'csv', '-i', path.join(work, 'nope.csv')]);
  t.equal(noInput.status, 1);
  t.match(noInput.stderr, /ENOENT.*nope\.csv/);
});

/**
 * Runs predict as a child, sampling its peak RSS (VmHWM) until it exits. The child's V8 old space is
 * capped at HEAP_MB: far less than reading the file whole would need, so a non-streaming predict
 * fails outright, and the cap keeps V8 from growing its heap lazily (garbage it has not collected
 * yet is not memory the pipeline holds: uncapped, peak RSS drifts up ~80 MB at 200k rows).
 */
async function predictMeasured(args: string[]): Promise<{ code: number | null; stderr: string; peakMb: number }> {
  const child = spawn(process.execPath, [BIN, 'predict', ...args], { env: { ...ENV, NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let peakKb = 0;
  const sample = (): void => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      // exited
    }
  };
  const timer = setInterval(sample, 10);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => (sample(), resolve(c))));
  clearInterval(timer);
  return { code, stderr, peakMb: peakKb / 1024 };
}

t.test(`a ${ROWS}-row CSV: streamed in bounded memory, output equal to /invocations on the same rows`, async (t) => {
  const big = path.join(work, 'big.csv');
  const text = wineCsv(ROWS);
  writeFileSync(big, text);
  const small = path.join(work, 'small.csv');
  writeFileSync(small, wineCsv(1000));
  const bigOut = path.join(work, 'big.json');
  const smallOut = path.join(work, 'small.json');

  const base = await predictMeasured(['-m', wine, '-t', 'csv', '-i', small, '-o', smallOut, '-w', '1']);
  t.equal(base.code, 0, base.stderr);
  const run = await predictMeasured(['-m', wine, '-t', 'csv', '-i', big, '-o', bigOut, '-w', '1']);
  t.equal(run.code, 0, run.stderr);
  const fileMb = Buffer.byteLength(text) / 1024 / 1024;
  t.comment(`peak RSS (old space capped at ${HEAP_MB} MB): ${run.peakMb.toFixed(0)} MB for ${ROWS} rows (${fileMb.toFixed(1)} MB of CSV), ${base.peakMb.toFixed(0)} MB for 1000 rows`);
  t.ok(run.peakMb - base.peakMb < STREAMING_RSS_MARGIN_MB, `peak RSS grows by ${(run.peakMb - base.peakMb).toFixed(1)} MB (bound ${STREAMING_RSS_MARGIN_MB} MB) from 1k to ${ROWS} rows`);

  const output = readFileSync(bigOut, 'utf8');
  const predictions = (JSON.parse(output) as { predictions: { predictions: number }[] }).predictions;
  t.equal(predictions.length, ROWS, 'one prediction per row');
  const reference = await invocations(wine, 'text/csv', text);
  t.equal(reference.status, 200);
  t.ok(output === reference.text, 'the whole output equals the /invocations body for the same rows, byte for byte');
  t.equal(readFileSync(smallOut, 'utf8'), (await invocations(wine, 'text/csv', wineCsv(1000))).text, '1000 rows too');

  // CSV output: the same numbers, one row each.
  const csvOut = path.join(work, 'small-out.csv');
  t.equal(predict(['-m', wine, '-t', 'csv', '-i', small, '-o', csvOut]).status, 0);
  const lines = readFileSync(csvOut, 'utf8').trimEnd().split('\n');
  t.equal(lines[0], 'predictions');
  t.same(lines.slice(1).map(Number), (JSON.parse(readFileSync(smallOut, 'utf8')) as { predictions: { predictions: number }[] }).predictions.map((p) => p.predictions));
});

const SCRIPT = '/usr/bin/script';
t.test('the progress bar: on a terminal only', async (t) => {
  const csv = path.join(work, 'progress.csv');
  writeFileSync(csv, wineCsv(8000));
  const plain = predict(['-m', wine, '-t', 'csv', '-i', csv, '-o', path.join(work, 'progress-plain.json')]);
  t.equal(plain.status, 0);
  t.notMatch(plain.stderr, /predict \|/, 'no bar when standard error is not a terminal');
  t.test('on a pseudo-terminal (script -q -c)', { skip: existsSync(SCRIPT) ? false : `util-linux ${SCRIPT} is not installed: no pseudo-terminal to run predict on` }, async (t) => {
    const command = [process.execPath, BIN, 'predict', '-m', wine, '-t', 'csv', '-i', csv, '-o', path.join(work, 'progress-tty.json')].map((a) => `'${a}'`).join(' ');
    const tty = spawnSync(SCRIPT, ['-q', '-e', '-c', command, '/dev/null'], { encoding: 'utf8', env: ENV, timeout: 120_000 });
    t.equal(tty.status, 0, tty.stderr);
    t.match(tty.stdout, /predict \|[█░]+\| 100% \| 8000 rows/, 'a bar reaching 100% with the row count on a terminal');
    t.equal(readFileSync(path.join(work, 'progress-tty.json'), 'utf8'), readFileSync(path.join(work, 'progress-plain.json'), 'utf8'), 'the same output');
  });
});
