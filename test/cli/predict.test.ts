// `tessera predict`: MLflow's flags; JSON from standard input to standard output and CSV files,
// byte for byte what /invocations answers for the same rows; a 200k-row CSV streamed through the
// worker pool in bounded memory (the child's peak RSS at its end against its peak when its first
// predictions were written) and its output written as it goes;
// the progress bar on a terminal only; MLflow's error messages with a non-zero exit and no partial
// output file left behind.
// The real CLI runs as a child wherever the process is what is tested (standard input and output,
// exit codes, a terminal, peak RSS, a cache across runs); the cases about the command's own logic
// (its errors, --help, CSV output, no bar off a terminal) call predictMain in this process with
// streams of the test's: each child costs a Node start-up, the server's modules and a worker.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import { parsePredictArgs, predictMain } from '../../src/cli/predict.js';
import { UsageError } from '../../src/cli/serve-model.js';
import { startServe, type ServeResult } from '../../src/cli/serve.js';
import { tempDir } from '../helpers/server.js';
import { MODELS_DIR } from '../mlflow/serving-helpers.js';
import { BIN, wineCsv, writeIrisModel, writeWineModel } from './mlflow-fixtures.js';

const ENV: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
for (const k of Object.keys(ENV)) if (/^(MLFLOW|TESSERA|MLSERVER)_/.test(k)) delete ENV[k];

const ROWS = 200_000;
/** Peak RSS a streamed 200k-row run may add after its first chunk (reading the file whole takes far more). */
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

/** A stream that keeps what is written to it (no isTTY: not a terminal). */
function collect(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const parts: Buffer[] = [];
  stream.on('data', (c: Buffer) => parts.push(c));
  return { stream, text: () => Buffer.concat(parts).toString('utf8') };
}

/** `tessera predict` in this process (predictMain), `input` on its standard input: as `predict` answers. */
async function predictHere(args: string[], input = ''): Promise<{ status: number; stdout: string; stderr: string }> {
  const stdin = new PassThrough();
  stdin.end(input);
  const stdout = collect();
  const stderr = collect();
  const status = await predictMain(args, ENV, { stdin, stdout: stdout.stream, stderr: stderr.stream });
  return { status, stdout: stdout.text(), stderr: stderr.text() };
}

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
  const bad = await predictHere(['-m', iris], '{"inputs": [[1, 2, 3, 4]');
  t.equal(bad.status, 1);
  t.match(bad.stderr, /BAD_REQUEST: Invalid input\. Ensure that input is a valid JSON formatted string/);
  const csv = path.join(work, 'missing-column.csv');
  writeFileSync(csv, wineCsv(5).replace(/^alcohol,/, 'alcool,'));
  const out = path.join(work, 'missing.json');
  // A child: exit code 1 from the process itself, and no output file left behind.
  const missing = predict(['-m', wine, '-t', 'csv', '-i', csv, '-o', out]);
  t.equal(missing.status, 1);
  t.match(missing.stderr, /INVALID_PARAMETER_VALUE: Failed to predict data .*Model is missing inputs \['alcohol'\]/s);
  t.notOk(existsSync(out) || existsSync(`${out}.partial`), 'no output file left behind');
  const noModel = await predictHere(['-m', path.join(work, 'nope'), '-i', csv]);
  t.equal(noModel.status, 1);
  t.match(noModel.stderr, /Model path '.*nope' does not exist/);
  const help = await predictHere(['--help']);
  t.equal(help.status, 0);
  for (const flag of ['-m, --model-uri', '-i, --input-path', '-o, --output-path', '-t, --content-type', '--output-format', '-w, --workers', 'MLFLOW_MODELS_WORKERS']) t.match(help.stdout, flag);
  const noInput = await predictHere(['-m', wine, '-t', 'csv', '-i', path.join(work, 'nope.csv')]);
  t.equal(noInput.status, 1);
  t.match(noInput.stderr, /ENOENT.*nope\.csv/);
});

/**
 * Runs predict as a child writing to `out`, sampling its peak RSS (VmHWM) and the size of the
 * output written so far (`out`.partial) until it exits. The child's V8 old space is capped at
 * HEAP_MB: far less than reading the file whole would need, so a non-streaming predict fails
 * outright, and the cap keeps V8 from growing its heap lazily (garbage it has not collected yet is
 * not memory the pipeline holds: uncapped, peak RSS drifts up ~80 MB at 200k rows).
 */
async function predictMeasured(args: string[], out: string): Promise<{ code: number | null; stderr: string; samples: { outputBytes: number; peakMb: number }[]; peakMb: number }> {
  const child = spawn(process.execPath, [BIN, 'predict', ...args, '-o', out], { env: { ...ENV, NODE_OPTIONS: `--max-old-space-size=${HEAP_MB}` }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let peakKb = 0;
  const samples: { outputBytes: number; peakMb: number }[] = [];
  const sample = (): void => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      return; // exited
    }
    let outputBytes = 0;
    try {
      outputBytes = statSync(`${out}.partial`).size;
    } catch {
      // not opened yet, or renamed at the end
    }
    samples.push({ outputBytes, peakMb: peakKb / 1024 });
  };
  const timer = setInterval(sample, 10);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => (sample(), resolve(c))));
  clearInterval(timer);
  return { code, stderr, samples, peakMb: peakKb / 1024 };
}

/** A CSV of 8000 wine rows (two chunks of the default 4096), shared by the smaller runs below. */
const small = path.join(work, 'small.csv');
const smallText = wineCsv(8000);
writeFileSync(small, smallText);

t.test(`a ${ROWS}-row CSV: streamed in bounded memory, output equal to /invocations on the same rows`, async (t) => {
  const big = path.join(work, 'big.csv');
  const text = wineCsv(ROWS);
  writeFileSync(big, text);
  const bigOut = path.join(work, 'big.json');

  // One run, measured while it streams: its peak RSS once the first predictions are written (the
  // model loaded, the pipeline running) against its peak at the end, 49 chunks later.
  const run = await predictMeasured(['-m', wine, '-t', 'csv', '-i', big, '-w', '1'], bigOut);
  t.equal(run.code, 0, run.stderr);
  t.notMatch(run.stderr, /predict \|/, 'no progress bar: standard error is a pipe, not a terminal');
  const output = readFileSync(bigOut, 'utf8');
  const first = run.samples.find((s) => s.outputBytes > 0);
  const during = new Set(run.samples.filter((s) => s.outputBytes > 0 && s.outputBytes < output.length).map((s) => s.outputBytes));
  t.ok(first !== undefined && during.size >= 3, `the output was written as the input streamed (${during.size} sizes of ${bigOut}.partial seen before the end)`);
  const atFirst = first?.peakMb ?? 0;
  const fileMb = Buffer.byteLength(text) / 1024 / 1024;
  t.comment(`peak RSS (old space capped at ${HEAP_MB} MB): ${atFirst.toFixed(0)} MB when the first predictions were written, ${run.peakMb.toFixed(0)} MB after ${ROWS} rows (${fileMb.toFixed(1)} MB of CSV)`);
  t.ok(run.peakMb - atFirst < STREAMING_RSS_MARGIN_MB, `peak RSS grows by ${(run.peakMb - atFirst).toFixed(1)} MB (bound ${STREAMING_RSS_MARGIN_MB} MB) from the first predictions to ${ROWS} rows`);

  const predictions = (JSON.parse(output) as { predictions: { predictions: number }[] }).predictions;
  t.equal(predictions.length, ROWS, 'one prediction per row');
  const reference = await invocations(wine, 'text/csv', text);
  t.equal(reference.status, 200);
  t.ok(output === reference.text, 'the whole output equals the /invocations body for the same rows, byte for byte');
});

t.test('CSV output: the same numbers as /invocations, one row each', async (t) => {
  const csvOut = path.join(work, 'small-out.csv');
  const res = await predictHere(['-m', wine, '-t', 'csv', '-i', small, '-o', csvOut]);
  t.equal(res.status, 0, res.stderr);
  const lines = readFileSync(csvOut, 'utf8').trimEnd().split('\n');
  t.equal(lines[0], 'predictions');
  const reference = await invocations(wine, 'text/csv', smallText);
  t.same(lines.slice(1).map(Number), (JSON.parse(reference.text) as { predictions: { predictions: number }[] }).predictions.map((p) => p.predictions));
});

const SCRIPT = '/usr/bin/script';
t.test('the progress bar: on a terminal only', async (t) => {
  const csv = small;
  const plain = await predictHere(['-m', wine, '-t', 'csv', '-i', csv, '-o', path.join(work, 'progress-plain.json')]);
  t.equal(plain.status, 0);
  t.notMatch(plain.stderr, /predict \|/, 'no bar when standard error is not a terminal');
  t.equal(readFileSync(path.join(work, 'progress-plain.json'), 'utf8'), (await invocations(wine, 'text/csv', smallText)).text, 'the output equals /invocations on the same 8000 rows');
  t.test('on a pseudo-terminal (script -q -c)', { skip: existsSync(SCRIPT) ? false : `util-linux ${SCRIPT} is not installed: no pseudo-terminal to run predict on` }, async (t) => {
    const command = [process.execPath, BIN, 'predict', '-m', wine, '-t', 'csv', '-i', csv, '-o', path.join(work, 'progress-tty.json')].map((a) => `'${a}'`).join(' ');
    const tty = spawnSync(SCRIPT, ['-q', '-e', '-c', command, '/dev/null'], { encoding: 'utf8', env: ENV, timeout: 120_000 });
    t.equal(tty.status, 0, tty.stderr);
    t.match(tty.stdout, /predict \|[█░]+\| 100% \| 8000 rows/, 'a bar reaching 100% with the row count on a terminal');
    t.equal(readFileSync(path.join(work, 'progress-tty.json'), 'utf8'), readFileSync(path.join(work, 'progress-plain.json'), 'utf8'), 'the same output');
  });
});

const WINE_SKLEARN = path.join(MODELS_DIR, 'wine-elasticnet');
t.test('a scikit-learn model: converted once, then loaded from the conversion cache', { skip: existsSync(path.join(WINE_SKLEARN, 'MLmodel')) ? false : `${WINE_SKLEARN} is not on this machine` }, async (t) => {
  const model = WINE_SKLEARN;
  const cache = tempDir(t, 'predict-cache-');
  const env = { ...ENV, TESSERA_CONVERSION_CACHE_DIR: cache, TESSERA_LOG_LEVEL: 'info' };
  const body = readFileSync(path.join(model, 'serving_input_example.json'), 'utf8');
  const run = () => spawnSync(process.execPath, [BIN, 'predict', '-m', model, '--log-level', 'info'], { encoding: 'utf8', env, input: body, timeout: 120_000 });
  const first = run();
  t.equal(first.status, 0, first.stderr);
  t.match(first.stdout, /^\{"predictions": \[/);
  t.ok(readdirSync(cache, { recursive: true }).some((f) => String(f).endsWith('.onnx')), 'the converted graph is in the cache');
  t.match(first.stderr, /"cache":"stored"/, 'the first run converts and stores the graph');
  const second = run();
  t.equal(second.status, 0, second.stderr);
  t.equal(second.stdout, first.stdout, 'the same predictions');
  t.match(second.stderr, /"cache":"hit"/, 'the second run loads the cached graph');
});
