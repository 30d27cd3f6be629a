// Inline execution: a model whose runs take microseconds (iris: ~10 µs per session.run) costs far
// more to hand to a worker thread (post, wake the worker, post back, wake the main thread: ~50-100
// µs of CPU on both sides) than to run. Such a model gets a second session on the front-end
// thread, and requests small enough to stay under a bound run there, with no hand-off at all.
//
// onnxruntime-node's session.run blocks the thread it runs on (after one setImmediate), so an
// inline run is a stall of the event loop for its whole duration: the bound keeps every inline run
// short (INLINE_BOUND_MS), measured, not guessed:
//   - `auto` (the default): run times are measured per size class (input elements, powers of two),
//     from the workers' executions first. Once a size class has enough executions under the bound,
//     the model gets its main-thread session (created from the artifact the workers loaded, one
//     ORT thread), and requests of that class run inline; a class not measured yet, or measured
//     above the bound, goes to the workers (which measure it). Inline runs keep being measured: a
//     class that turns slow goes back to the workers.
//   - `inline`: every request runs on the main thread, whatever its size (the operator's choice for a
//     model known to be tiny; a large request then stalls the event loop for its whole run).
//   - `workers`: never inline.
// Only runtimes that declare main-thread options (runtime.ts: ONNX Runtime, and the converted sklearn,
// XGBoost and MLflow models it runs) can be inline: a custom runtime is user JavaScript that may
// block forever, and the main thread cannot be replaced the way a worker is.
import type { ModelSpec } from '../core/backend.js';
import { deadlineExceeded } from '../core/errors.js';
import type { RequestOptions } from '../core/scheduling.js';
import type { ExecutionTiming, InferenceObserver, ModelRef } from '../core/statistics.js';
import { dataLength, type Tensor } from '../core/tensor.js';
import { runtimeDefinition } from '../runtimes/registry.js';
import type { LoadedModel } from '../runtimes/runtime.js';
import { batchRows } from './merge.js';

/** How a model's requests are placed: see the top of this file. */
export type ExecutionMode = 'auto' | 'inline' | 'workers';

export const EXECUTION_MODES: readonly ExecutionMode[] = ['auto', 'inline', 'workers'];

/**
 * Longest run (ms) auto mode lets happen on the main thread. A 16-connection iris load answers in
 * ~1 ms at p50; a 0.2 ms stall is a fraction of that, and far under the 10 ms readiness bound.
 */
export const INLINE_BOUND_MS = 0.2;

/** Executions of a size class measured before auto mode trusts its mean. */
export const INLINE_MIN_SAMPLES = 32;

/** Share of a size class's runs that must be within the bound (a median, as a moving average: wall-clock times only grow when the machine is busy). */
export const INLINE_SHARE = 0.5;

/** Weight of a new measurement in a size class's moving average. */
const EWMA_WEIGHT = 1 / 16;

/** Size classes: floor(log2(elements)) + 1, elements up to 2^31. */
const CLASSES = 33;

/** The mode a model's settings ask for (parameters.execution), for runtimes that can run inline. */
export function executionMode(spec: ModelSpec): ExecutionMode {
  const asked = spec.settings?.parameters?.execution;
  const mode: ExecutionMode = asked === 'inline' || asked === 'workers' ? asked : 'auto';
  if (mode !== 'workers' && runtimeDefinition(spec.runtime).mainThreadOptions === undefined) return 'workers';
  return mode;
}

/** Every input element of a request (BYTES elements count one each). */
export function inputElements(inputs: readonly Tensor[]): number {
  let n = 0;
  for (const t of inputs) n += dataLength(t.data);
  return n;
}

function sizeClass(elements: number): number {
  return elements <= 0 ? 0 : Math.min(CLASSES - 1, 32 - Math.clz32(elements));
}

/**
 * Run times per size class: a moving average and a count. Fed by every execution, worker or inline
 * (a worker's compute_infer time, which excludes the hand-off). A class not measured itself takes
 * the verdict of the nearest measured class above it (a run does not get slower with fewer
 * elements): a batching model's executions are merged batches, and its single requests, smaller,
 * qualify through them.
 */
export class RunTimes {
  private readonly mean = new Float64Array(CLASSES);
  /** Moving share of runs within the bound: robust to the odd slow run (a first run, a GC, a busy core). */
  private readonly under = new Float64Array(CLASSES);
  private readonly count = new Uint32Array(CLASSES);
  /** Per size class: its requests may run inline (recomputed on every measurement). */
  private readonly fits = new Uint8Array(CLASSES);
  private any = false;

  constructor(private readonly bound = INLINE_BOUND_MS) {}

  add(elements: number, ms: number): void {
    const c = sizeClass(elements);
    const n = this.count[c];
    // A plain mean over the first samples, then a moving average.
    const w = n < INLINE_MIN_SAMPLES ? 1 / (n + 1) : EWMA_WEIGHT;
    this.mean[c] += (ms - this.mean[c]) * w;
    this.under[c] += ((ms <= this.bound ? 1 : 0) - this.under[c]) * w;
    if (n < 0xffffffff) this.count[c] = n + 1;
    if (n + 1 >= INLINE_MIN_SAMPLES) this.classify();
  }

  /** A class fits when at least INLINE_SHARE of its runs take no longer than the bound. */
  private classify(): void {
    let fits = false;
    let any = false;
    for (let c = CLASSES - 1; c >= 0; c--) {
      if (this.count[c] >= INLINE_MIN_SAMPLES) fits = this.under[c] >= INLINE_SHARE;
      this.fits[c] = fits ? 1 : 0;
      any ||= fits;
    }
    this.any = any;
  }

  /** Whether requests of this many elements are measured to run within the bound. */
  within(elements: number): boolean {
    return this.fits[sizeClass(elements)] === 1;
  }

  /** Whether any size class qualifies (auto mode then creates the main-thread session). */
  get anyWithin(): boolean {
    return this.any;
  }

  /** Measured size classes, for logs and tests: elements up to, mean ms, samples. */
  summary(): { maxElements: number; meanMs: number; withinBound: number; samples: number; inline: boolean }[] {
    const out: ReturnType<RunTimes['summary']> = [];
    for (let c = 0; c < CLASSES; c++) {
      if (this.count[c] > 0) {
        out.push({ maxElements: c === 0 ? 0 : 2 ** c - 1, meanMs: this.mean[c], withinBound: this.under[c], samples: this.count[c], inline: this.fits[c] === 1 });
      }
    }
    return out;
  }
}

/**
 * A model's inline execution: its mode, its measured run times, and (once created) its session on
 * the main thread.
 */
export class InlineModel {
  readonly times = new RunTimes();
  private model: LoadedModel | undefined;
  private loading: Promise<void> | undefined;
  private failed = false;
  /** Inline runs started and not finished (the shutdown sequence waits for none). */
  running = 0;
  /** Inline runs so far (for tests and status). */
  runs = 0;
  private readonly ref: ModelRef;

  constructor(
    readonly spec: ModelSpec,
    readonly mode: ExecutionMode,
    private readonly observer?: InferenceObserver,
    private readonly onError?: (error: unknown) => void,
  ) {
    this.ref = { model: spec.model, version: spec.version };
  }

  /** The main-thread session is there. */
  get ready(): boolean {
    return this.model !== undefined;
  }

  /**
   * Whether this request runs inline now: the session is ready and the mode says so (auto: its
   * size class is measured under the bound). In auto mode, the first qualifying measurement starts
   * creating the session (in the background; requests go to the workers meanwhile).
   */
  accepts(elements: number): boolean {
    if (this.mode === 'workers') return false;
    if (this.model === undefined) return false;
    return this.mode === 'inline' || this.times.within(elements);
  }

  /** A worker's execution of this model: its input elements and compute time (ms). */
  measured(elements: number, ms: number): void {
    this.times.add(elements, ms);
    if (this.mode === 'auto' && this.model === undefined && this.loading === undefined && !this.failed && this.times.anyWithin) {
      void this.load();
    }
  }

  /**
   * Creates the main-thread session from the bytes the workers loaded (one ORT thread: the main
   * thread runs it, no pool of its own). A failure leaves the model on the workers, logged once.
   */
  load(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const runtime = runtimeDefinition(this.spec.runtime);
        const side = await runtime.worker();
        this.model = await side.load({ ...this.spec, options: runtime.mainThreadOptions?.(this.spec.options) ?? this.spec.options });
      } catch (error) {
        this.failed = true;
        this.onError?.(error);
        if (this.mode === 'inline') throw error;
      }
    })();
    return this.loading;
  }

  /** Runs a request on the main thread; statistics and metrics see an execution like any other. */
  async run(inputs: Tensor[], outputs: string[], elements: number, options: RequestOptions | undefined): Promise<Tensor[]> {
    const model = this.model!;
    if (options?.deadline !== undefined && options.deadline <= performance.now()) {
      throw deadlineExceeded(
        options.modelTimeoutMs !== undefined
          ? `model ${this.spec.label} did not answer within its request_timeout of ${options.modelTimeoutMs / 1000} s`
          : `the request's deadline passed before model ${this.spec.label} could run it`,
      );
    }
    this.running++;
    this.runs++;
    this.observer?.dispatched(this.ref, 0);
    // onnxruntime-node runs the session in a setImmediate callback, queued as run() is called:
    // one queued just before it fires just before it, so the time measured is the run's own, not
    // the wait for the event loop's check phase (which, under load, is the time every other
    // request of this turn takes, and would make the model look slow).
    const clock = { started: performance.now() };
    setImmediate(markStart, clock);
    try {
      const result = await model.run(inputs, outputs, { parameters: options?.parameters });
      const ms = performance.now() - clock.started;
      this.times.add(elements, ms);
      const timing: ExecutionTiming = { computeInputNs: 0, computeInferNs: ms * 1e6, computeOutputNs: 0 };
      const trace = options?.trace;
      if (trace !== undefined) {
        trace.queueNs = 0;
        trace.execution = timing;
      }
      const rows = batchRows(inputs);
      this.observer?.execution(this.ref, rows > 0 ? rows : 1, timing);
      return result;
    } finally {
      this.running--;
    }
  }

  /** Releases the main-thread session (the caller waits for `running` to reach 0 first). */
  async dispose(): Promise<void> {
    this.failed = true; // no new session from later measurements
    await this.loading?.catch(() => undefined);
    const model = this.model;
    this.model = undefined;
    await model?.dispose();
  }
}

function markStart(clock: { started: number }): void {
  clock.started = performance.now();
}
