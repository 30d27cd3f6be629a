// The pool worker: holds the models loaded on it, keyed by model load, and runs them through their
// runtime (from the runtime registry; each runtime's worker side is imported here on first use).
//
// piscina starts the thread and delivers one task, `hello`, carrying the worker's own channel (a
// MessagePort); every later request (prepare, load, infer, unload, status) arrives on that channel
// and is answered on it, in order. The main thread posts infer requests as soon as they are
// dispatched, so the next one is already waiting here when a run ends: the worker never idles
// through a round trip to the main thread (piscina's task-per-call hand-off did, see pool.ts).
import { threadId, type MessagePort } from 'node:worker_threads';
import { deadlineExceeded, TesseraError } from '../core/errors.js';
import { transferables } from '../core/tensor.js';
import type { LoadedModel, ModelSpec, RuntimeDefinition } from '../runtimes/runtime.js';
import {
  epochMs,
  STATUS,
  type ChannelReply,
  type ChannelRequest,
  type HelloResult,
  type HelloTask,
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

/**
 * The runtime a model names. ONNX models (the bundled ones, and most) need only the ONNX runtime's
 * module: the registry imports every runtime with its dependencies (the MLflow, scikit-learn and
 * XGBoost converters), about 12 MB more per worker, which a worker loads only when one of its
 * models needs another runtime.
 */
async function runtimeDefinition(name: string): Promise<RuntimeDefinition> {
  if (name === 'onnx') {
    const { onnxRuntime } = await import('../runtimes/onnx.js');
    if (onnxRuntime.name === name) return onnxRuntime;
  }
  const registry = await import('../runtimes/registry.js');
  return registry.runtimeDefinition(name);
}

const models = new Map<string, Promise<Held>>();
/** The loads that have finished, for infer requests to find without waiting a microtask. */
const loaded = new Map<string, Held>();
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
 * blocks the thread), but requests arrive while one runs and would each pass the shutdown check
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
  const held = runtimeDefinition(spec.runtime).then(async (runtime) => {
    const side = await runtime.worker();
    return { runtime, model: await guarded(runtime, () => side.load(spec)), spec: { label: spec.label, timeoutMs: spec.timeoutMs } };
  });
  models.set(spec.key, held);
  held.then(
    (h) => {
      if (models.get(spec.key) === held) loaded.set(spec.key, h);
    },
    // A failed load is not kept: a later load retries it.
    () => models.delete(spec.key),
  );
  return { held, fresh: true };
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

type Answer = PrepareResult | LoadResult | InferResult | WorkerError | { models: string[]; thread: number } | null;

async function infer(task: Extract<WorkerTask, { op: 'infer' }>): Promise<InferResult | WorkerError> {
  let held = loaded.get(task.key);
  if (held === undefined) {
    const pending = models.get(task.key);
    if (pending === undefined) throw new Error(`model load ${task.key} is not held by this worker`);
    held = await pending;
  }
  const { runtime, model, spec } = held;
  const execute = async (): Promise<InferResult | WorkerError> => {
    // Checked when the run would start, not when the request arrived: requests queue up here.
    if (Atomics.load(status, STATUS.SHUTDOWN) !== 0) {
      return { error: { code: 'SHUTTING_DOWN', message: 'the server is shutting down: the request could not start before its shutdown grace ended' } };
    }
    const startedAt = epochMs();
    const run = guarded(runtime, () => model.run(task.inputs, task.outputs, { parameters: task.parameters, deadline: task.deadline }));
    const outputs = await (runtime.terminable ? bounded(run, task.deadline, spec) : run);
    return { outputs, startedAt, endedAt: epochMs() };
  };
  try {
    return await (runtime.terminable ? execute() : inTurn(execute));
  } catch (error) {
    // Errors cross threads as plain Errors; keep the code of the request's own faults.
    if (error instanceof TesseraError) return { error: { code: error.code, message: error.message } };
    throw error;
  }
}

async function perform(task: WorkerTask): Promise<Answer> {
  switch (task.op) {
    case 'prepare': {
      const runtime = await runtimeDefinition(task.spec.runtime);
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
    case 'infer':
      return infer(task);
    case 'status':
      return { models: [...models.keys()], thread: threadId };
    case 'unload': {
      const held = models.get(task.key);
      models.delete(task.key);
      loaded.delete(task.key);
      const h = await held?.catch(() => null);
      if (h != null) await guarded(h.runtime, () => h.model.dispose());
      return null;
    }
  }
}

/** Answers one request of the channel; an infer answer moves its output buffers instead of copying them. */
function serve(port: MessagePort, { id, task }: ChannelRequest): void {
  perform(task).then(
    (result) => {
      const reply: ChannelReply = { id, result };
      const moved = result !== null && 'outputs' in result ? transferables(result.outputs) : undefined;
      try {
        port.postMessage(reply, moved);
      } catch (error) {
        // An answer that cannot cross threads (a custom runtime's output on memory that cannot be
        // moved, metadata holding a function): that request fails, the worker and its channel live on.
        const why = `the worker's answer cannot be sent to the main thread: ${error instanceof Error ? error.message : String(error)}`;
        port.postMessage({ id, error: new Error(why) } satisfies ChannelReply);
      }
    },
    (error: unknown) => {
      const reply: ChannelReply = { id, error: error instanceof Error ? error : new Error(String(error)) };
      try {
        port.postMessage(reply);
      } catch {
        // An error whose fields cannot be cloned: its message is enough.
        port.postMessage({ id, error: new Error(error instanceof Error ? error.message : String(error)) } satisfies ChannelReply);
      }
    },
  );
}

/** piscina's entry: the one task, `hello`, hands this worker its channel and gets its status words. */
export default function handle(task: HelloTask): HelloResult {
  if (task.worker !== threadId) throw new Error(`worker ${threadId} was handed the channel of worker ${task.worker}`);
  const port = task.port;
  port.on('message', (message: ChannelRequest) => serve(port, message));
  return { status };
}
