// A model that holds the worker running it until the test lets it go: a custom runtime whose
// predict() blocks its worker thread (as a long ONNX run does) in Atomics.wait, which takes no CPU,
// until the test releases that request. Tests that need "the worker is busy while requests queue"
// then depend on no timing (a long model run may end before the requests are queued when the
// machine is loaded) and burn no CPU while they wait.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelScheduler } from '../../src/batching/scheduler.js';
import type { RunningServer } from '../../src/server.js';
import { infer, type RawResponse } from './server.js';

/** Longest a gate stays closed (then its request fails): a test that forgets to release must not hang. */
const GATE_LIMIT_MS = 120_000;

const source = (folder: string): string => `
import { existsSync } from 'node:fs';
import { join } from 'node:path';
const cell = new Int32Array(new SharedArrayBuffer(4));
// Request [n] waits until the file open-<n> exists beside this module.
export function predict([gate]) {
  const open = join(${JSON.stringify(folder)}, 'open-' + gate.data[0]);
  const until = Date.now() + ${GATE_LIMIT_MS};
  while (!existsSync(open)) {
    if (Date.now() > until) throw new Error('gate ' + gate.data[0] + ' was never released');
    Atomics.wait(cell, 0, 0, 2);
  }
  return [{ name: 'released', datatype: 'INT32', shape: [1], data: new Int32Array([gate.data[0]]) }];
}
`;

export interface Gate {
  /** Sends a request that holds a worker until release() (a promise of its response). */
  hold(server: RunningServer): Promise<RawResponse>;
  /** Lets every request sent so far finish. */
  release(): void;
}

/** Writes the model `name` (default "gate") into the repository folder `root`. */
export function writeGateModel(root: string, name = 'gate'): Gate {
  const folder = join(root, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'gate.mjs'), source(folder));
  writeFileSync(
    join(folder, 'model-settings.json'),
    JSON.stringify({
      name,
      implementation: './gate.mjs',
      inputs: [{ name: 'gate', datatype: 'INT32', shape: [1] }],
      outputs: [{ name: 'released', datatype: 'INT32', shape: [1] }],
    }),
  );
  let sent = 0;
  let released = 0;
  return {
    hold: (server) => infer(server, name, { inputs: [{ name: 'gate', datatype: 'INT32', shape: [1], data: [++sent] }] }),
    release: () => {
      for (; released < sent; ) writeFileSync(join(folder, `open-${++released}`), '');
    },
  };
}

/** Requests handed to each model's scheduler (ModelScheduler.submit), counted once arrivals() ran. */
const submitted = new Map<string, number>();
let counting = false;

/**
 * The number of requests of `model` that have reached its scheduler (queued, or dispatched to a
 * worker), in this process: to release a gate once every request a test sent is there to queue or
 * batch, however slowly a loaded machine delivered them.
 */
export function arrivals(model: string): number {
  if (!counting) {
    counting = true;
    const submit = ModelScheduler.prototype.submit;
    ModelScheduler.prototype.submit = function (this: ModelScheduler, ...args: Parameters<ModelScheduler['submit']>) {
      submitted.set(this.identity.model, (submitted.get(this.identity.model) ?? 0) + 1);
      return submit.apply(this, args);
    };
  }
  return submitted.get(model) ?? 0;
}

/** Waits (up to 30 s) until `count` more requests of `model` than `before` reached its scheduler. */
export async function untilArrived(model: string, before: number, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (arrivals(model) - before < count) {
    if (Date.now() > deadline) throw new Error(`${arrivals(model) - before} of ${count} requests of ${model} reached its scheduler`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
