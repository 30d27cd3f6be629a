// The pool worker: holds ONNX sessions keyed by model load and runs them. Any worker can serve
// any model: an infer task carries the model's spec, so a worker that does not hold the session
// yet (a replacement for a worker that died, say) loads it on first use.
import { Piscina } from 'piscina';
import { transferables, type Tensor } from '../core/tensor.js';
import { onnxRuntime } from '../runtimes/onnx.js';
import type { LoadedModel, ModelSpec } from '../runtimes/runtime.js';
import { TesseraError } from '../core/errors.js';
import { epochMs, type InferResult, type LoadResult, type WorkerError, type WorkerTask } from './messages.js';

const sessions = new Map<string, Promise<LoadedModel>>();

function session(spec: ModelSpec): { model: Promise<LoadedModel>; fresh: boolean } {
  const existing = sessions.get(spec.key);
  if (existing !== undefined) return { model: existing, fresh: false };
  const model = onnxRuntime.load(spec);
  sessions.set(spec.key, model);
  // A failed load is not cached: a later task retries it.
  model.catch(() => sessions.delete(spec.key));
  return { model, fresh: true };
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

export default async function handle(task: WorkerTask): Promise<LoadResult | InferResult | WorkerError | null> {
  switch (task.op) {
    case 'load': {
      const started = performance.now();
      const { model, fresh } = session(task.spec);
      const loaded = await model;
      return { metadata: loaded.metadata, loadMs: fresh ? performance.now() - started : 0 };
    }
    case 'infer': {
      const loaded = await session(task.spec).model;
      try {
        const startedAt = epochMs();
        const outputs = await loaded.run(task.inputs, task.outputs);
        const result: InferResult = { outputs, startedAt, endedAt: epochMs() };
        return moving(result, outputs);
      } catch (error) {
        // Errors cross threads as plain Errors; keep the kind of the request's own faults.
        if (error instanceof TesseraError) return { error: { kind: error.kind, message: error.message } };
        throw error;
      }
    }
    case 'status':
      return { models: [...sessions.keys()] } as never;
    case 'unload': {
      const model = sessions.get(task.key);
      sessions.delete(task.key);
      if (model !== undefined) await (await model.catch(() => null))?.dispose();
      return null;
    }
  }
}
