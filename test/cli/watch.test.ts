// Following the registry: `tessera serve -m models:/iris@champion --watch 0.2` under 16 concurrent
// keep-alive clients while the alias moves 1 -> 2 (a newer version) and back 2 -> 1 (a rollback to
// a lower version): no request fails, every client's answers switch to the new version and never
// go back, and the repository index shows the version served. Also: a version that cannot load
// keeps the served one, and an alias that disappears keeps it too. Load bounded in time and count.
import { Agent, request } from 'node:http';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { MlrunsWriter } from '../helpers/mlruns.js';
import { spawnLogged, waitReady } from '../helpers/process.js';
import { tempDir } from '../helpers/files.js';
import { BIN, writeIrisModel } from './mlflow-fixtures.js';

const ENV: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
for (const k of Object.keys(ENV)) if (/^(MLFLOW|TESSERA|MLSERVER)_/.test(k)) delete ENV[k];

const CLIENTS = 16;
const MAX_REQUESTS = 40_000;
const MAX_LOAD_MS = 30_000;
const BODY = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [6.7, 3.0, 5.2, 2.3] }] });

interface Answer {
  status: number;
  version: string | undefined;
}

/** 16 keep-alive clients posting V2 infer requests until stopped (or the time/count bound). */
function loadGenerator(url: string): { stop(): Promise<Answer[][]>; seen(): Answer[] } {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const target = new URL(`${url}/v2/models/mlflow-model/infer`);
  const answers: Answer[][] = Array.from({ length: CLIENTS }, () => []);
  const all: Answer[] = [];
  let stopped = false;
  let sent = 0;
  const started = Date.now();
  const one = (): Promise<Answer> =>
    new Promise((resolve) => {
      const req = request(target, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) } }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          let version: string | undefined;
          try {
            version = (JSON.parse(Buffer.concat(parts).toString()) as { model_version?: string }).model_version;
          } catch {
            version = undefined;
          }
          resolve({ status: res.statusCode ?? 0, version });
        });
        res.on('error', () => resolve({ status: -1, version: undefined }));
      });
      req.on('error', () => resolve({ status: -1, version: undefined }));
      req.end(BODY);
    });
  const loops = answers.map(async (mine) => {
    while (!stopped && sent < MAX_REQUESTS && Date.now() - started < MAX_LOAD_MS) {
      sent++;
      const a = await one();
      mine.push(a);
      all.push(a);
    }
  });
  return {
    seen: () => all,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
      return answers;
    },
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

t.test('the alias moves under 16 clients: 0 failed requests, answers switch, index shows the version served', async (t) => {
  const dir = tempDir(t, 'watch-');
  const w = new MlrunsWriter(path.join(dir, 'mlruns'));
  await w.experiment();
  await w.registeredModel('iris');
  const model = writeIrisModel(path.join(dir, 'iris'));
  for (let v = 1; v <= 2; v++) {
    const runId = await w.run({ artifacts: { model } });
    await w.modelVersion('iris', { source: `runs:/${runId}/model`, storageLocation: null, runId });
  }
  await w.setAlias('iris', 'champion', 1);

  const child = spawnLogged(process.execPath, [BIN, 'serve', '-m', 'models:/iris@champion', '--watch', '0.2', '-p', '0', '-w', '1'], {
    env: { ...ENV, MLFLOW_TRACKING_URI: w.trackingUri },
  });
  t.teardown(() => {
    if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
  });
  const url = await child.url;
  await waitReady(url);
  const index = async (): Promise<unknown> => (await fetch(`${url}/v2/repository/index`, { method: 'POST' })).json();
  t.same(await index(), [{ name: 'mlflow-model', version: '1', state: 'READY', reason: '' }], 'serves version 1 as mlflow-model');

  const load = loadGenerator(url);
  const answered = (version: string, after: number): boolean => load.seen().slice(after).filter((a) => a.version === version).length >= CLIENTS * 4;
  await until('load to run', () => load.seen().length >= 200);
  await w.setAlias('iris', 'champion', 2);
  let mark = load.seen().length;
  await until('answers from version 2', () => answered('2', mark));
  t.same(await index(), [{ name: 'mlflow-model', version: '2', state: 'READY', reason: '' }], 'index: version 2 only');
  await w.setAlias('iris', 'champion', 1); // a rollback, to a lower version
  mark = load.seen().length;
  await until('answers from version 1 again', () => answered('1', mark));
  const clients = await load.stop();

  const all = clients.flat();
  const failed = all.filter((a) => a.status !== 200);
  t.comment(`${all.length} requests by ${CLIENTS} clients, ${failed.length} failed; versions answered: ${JSON.stringify(countBy(all.map((a) => a.version ?? '?')))}`);
  t.ok(all.length >= 400, `load ran (${all.length} requests)`);
  t.equal(failed.length, 0, `0 failed requests (statuses: ${JSON.stringify(countBy(failed.map((a) => String(a.status))))})`);
  // Per client: 1...1 2...2 1...1 — each switch happens once and is never undone.
  for (const [i, answers] of clients.entries()) {
    const runs = answers.map((a) => a.version).filter((v, j, a) => j === 0 || v !== a[j - 1]);
    t.ok(runs.length <= 3 && runs[0] === '1' && runs.at(-1) === '1' && (runs.length === 1 || runs[1] === '2'), `client ${i}: ${runs.join(' -> ')}`);
  }
  t.same(await index(), [{ name: 'mlflow-model', version: '1', state: 'READY', reason: '' }], 'index: version 1 only after the rollback');
  const switches = child.lines().filter((l) => /^now serving version/.test(String(l.msg)));
  t.same(switches.map((l) => [l.from, l.to]), [['1', '2'], ['2', '1']], 'two switches logged');
  child.proc.kill('SIGTERM');
  t.equal(await child.exited, 0);
});

t.test('a version that cannot load, or an alias that disappears, keeps the version served', async (t) => {
  const dir = tempDir(t, 'watch-fail-');
  const w = new MlrunsWriter(path.join(dir, 'mlruns'));
  await w.experiment();
  await w.registeredModel('iris');
  const good = writeIrisModel(path.join(dir, 'good'));
  const broken = writeIrisModel(path.join(dir, 'broken'));
  writeFileSync(path.join(broken, 'model.onnx'), 'not an ONNX graph');
  for (const model of [good, broken, good]) {
    const runId = await w.run({ artifacts: { model } });
    await w.modelVersion('iris', { source: `runs:/${runId}/model`, storageLocation: null, runId });
  }
  await w.setAlias('iris', 'prod', 1);
  const child = spawnLogged(process.execPath, [BIN, 'serve', '-m', 'models:/iris@prod', '--watch', '0.1', '-p', '0', '-w', '1', '--name', 'iris'], {
    env: { ...ENV, MLFLOW_TRACKING_URI: w.trackingUri },
  });
  t.teardown(() => {
    if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
  });
  const url = await child.url;
  await waitReady(url);
  const version = async (): Promise<unknown> => {
    const res = await fetch(`${url}/v2/models/iris/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
    return [res.status, ((await res.json()) as { model_version?: string }).model_version];
  };
  const index = async (): Promise<unknown> => (await fetch(`${url}/v2/repository/index`, { method: 'POST' })).json();
  const logged = (re: RegExp): boolean => child.lines().some((l) => re.test(String(l.msg)));

  await w.setAlias('iris', 'prod', 2);
  await until('the failed load to be logged', () => logged(/^version 2 failed to load: keeping version 1/));
  t.same(await version(), [200, '1'], 'version 1 still answers');
  t.same(await index(), [{ name: 'iris', version: '1', state: 'READY', reason: '' }], 'index: version 1, nothing half-loaded');
  const failures = child.lines().filter((l) => /^version 2 failed to load/.test(String(l.msg))).length;
  await new Promise((r) => setTimeout(r, 400));
  t.equal(child.lines().filter((l) => /^version 2 failed to load/.test(String(l.msg))).length, failures, 'a failed version is not retried at every poll');

  await w.deleteAlias('iris', 'prod');
  await until('the registry read failure to be logged', () => logged(/^cannot read the registry: keeping the version served/));
  t.same(await version(), [200, '1'], 'version 1 still answers without the alias');

  await w.setAlias('iris', 'prod', 3);
  await until('version 3 to answer', async () => JSON.stringify(await version()) === JSON.stringify([200, '3']));
  t.same(await index(), [{ name: 'iris', version: '3', state: 'READY', reason: '' }]);
  child.proc.kill('SIGTERM');
  t.equal(await child.exited, 0);
});

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
