// The pool worker: holds the models loaded on it, keyed by model load, and runs them through their
// runtime (from the runtime registry; each runtime's worker side is imported here on first use).
import { Piscina } from 'piscina';
import { deadlineExceeded, TesseraError } from '../core/errors.js';
import { transferables, type Tensor } from '../core/tensor.js';
import { runtimeDefinition } from '../runtimes/registry.js';
import type { LoadedModel, ModelSpec, RuntimeDefinition } from '../runtimes/runtime.js';
import {
  epochMs,
  STATUS,
  type HelloResult,
  type InferResult,
  type LoadResult,
  type PrepareResult,
  type WorkerError,
  type WorkerTask,
} from './messages.js';

interface Held {
  runtime: RuntimeDefinition;
  model: LoadedModel;
  spec: Pick<ModelSpec, 'label' | 'timeoutMs'>;
}

const models = new Map<string, Promise<Held>>();
const status = new Int32Array(new SharedArrayBuffer(STATUS.LENGTH * 4));

/**
 * Runs a call into a runtime. Calls into native runtimes are counted in the shared status word, so
 * the main thread never terminates this worker while one is in progress (that aborts the process).
 */
async function guarded<T>(runtime: RuntimeDefinition, call: () => Promise<T>): Promise<T> {
  if (runtime.terminable) return call();
  Atomics.add(status, STATUS.NATIVE, 1);
  if (Atomics.load(status, STATUS.CLOSING) !== 0) {
    // The main thread is terminating this worker: starting native code now could abort the process.
    Atomics.sub(status, STATUS.NATIVE, 1);
    throw new Error('this worker is being replaced');
  }
  try {
    return await call();
  } finally {
    Atomics.sub(status, STATUS.NATIVE, 1);
  }
}

/**
 * Native runs of this worker, one after another. They run one at a time anyway (a native run
 * blocks the thread), but tasks arrive while one runs and would each pass the shutdown check
 * before their own run began; in turn, each checks when its run is about to start.
 */
let nativeTurn: Promise<unknown> = Promise.resolve();
function inTurn<T>(work: () => Promise<T>): Promise<T> {
  const run = nativeTurn.then(work);
  nativeTurn = run.catch(() => undefined);
  return run;
}

function hold(spec: ModelSpec): { held: Promise<Held>; fresh: boolean } {
  const existing = models.get(spec.key);
  if (existing !== undefined) return { held: existing, fresh: false };
  const runtime = runtimeDefinition(spec.runtime);
  const held = runtime.worker().then(async (side) => ({
    runtime,
    model: await guarded(runtime, () => side.load(spec)),
    spec: { label: spec.label, timeoutMs: spec.timeoutMs },
  }));
  models.set(spec.key, held);
  // A failed load is not kept: a later load retries it.
  held.catch(() => models.delete(spec.key));
  return { held, fresh: true };
}

/** Wraps a result so piscina moves its tensor buffers instead of cloning them. */
function moving<T extends object>(value: T, tensors: readonly Tensor[]): T {
  const list = transferables(tensors);
  const wrapper = {
    get [Piscina.transferableSymbol]() {
      return list;
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  };
  return Piscina.move(wrapper as never) as unknown as T;
}

/**
 * A terminable runtime's run, bounded by its deadline: a promise that never settles (an async hang
 * in user code) answers DEADLINE_EXCEEDED here. A synchronous hang blocks this thread instead; the
 * main thread sees the worker not answering and replaces it.
 */
function bounded<T>(work: Promise<T>, deadline: number | undefined, spec: Held['spec']): Promise<T> {
  if (deadline === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    // The execution's deadline is the model's request_timeout (the dataplane's message, word for word).
    const message = `model ${spec.label} did not answer within its request_timeout of ${spec.timeoutMs / 1000} s`;
    const timer = setTimeout(() => reject(deadlineExceeded(message)), Math.max(0, deadline - Date.now()));
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

export default async function handle(
  task: WorkerTask,
): Promise<HelloResult | PrepareResult | LoadResult | InferResult | WorkerError | { models: string[] } | null> {
  switch (task.op) {
    case 'hello':
      return { status };
    case 'prepare': {
      const runtime = runtimeDefinition(task.spec.runtime);
      const side = await runtime.worker();
      const prepare = side.prepare;
      if (prepare === undefined) return { artifact: undefined };
      return { artifact: await guarded(runtime, () => prepare(task.spec)) };
    }
    case 'load': {
      const started = performance.now();
      const { held, fresh } = hold(task.spec);
      const { model } = await held;
      return { metadata: model.metadata, loadMs: fresh ? performance.now() - started : 0 };
    }
    case 'infer': {
      const pending = models.get(task.key);
      if (pending === undefined) throw new Error(`model load ${task.key} is not held by this worker`);
      const { runtime, model, spec } = await pending;
      const execute = async (): Promise<InferResult | WorkerError> => {
        // Checked when the run would start, not when the task arrived: tasks queue up in a worker.
        if (Atomics.load(status, STATUS.SHUTDOWN) !== 0) {
          return { error: { code: 'SHUTTING_DOWN', message: 'the server is shutting down: the request could not start before its shutdown grace ended' } };
        }
        const startedAt = epochMs();
        const run = guarded(runtime, () => model.run(task.inputs, task.outputs, { parameters: task.parameters, deadline: task.deadline }));
        const outputs = await (runtime.terminable ? bounded(run, task.deadline, spec) : run);
        const result: InferResult = { outputs, startedAt, endedAt: epochMs() };
        return moving(result, outputs);
      };
      try {
        return await (runtime.terminable ? execute() : inTurn(execute));
      } catch (error) {
        // Errors cross threads as plain Errors; keep the code of the request's own faults.
        if (error instanceof TesseraError) return { error: { code: error.code, message: error.message } };
        throw error;
      }
    }
    case 'status':
      return { models: [...models.keys()] };
    case 'unload': {
      const held = models.get(task.key);
      models.delete(task.key);
      const h = await held?.catch(() => null);
      if (h != null) await guarded(h.runtime, () => h.model.dispose());
      return null;
    }
  }
}
