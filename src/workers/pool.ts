// The worker pool: piscina threads running the models, through their runtimes (the main thread
// runs a model itself only in the inline execution mode, batching/inline.ts).
//
// piscina keeps what it is good at: starting the threads (resource limits, nice value, exec
// flags), noticing one that died and starting its replacement, and destroying them all. It is not
// the hand-off: each worker gets its own channel (a MessagePort) in its first and only piscina task,
// and every request after that (load, infer, unload, ...) is posted on the channel the moment it is
// dispatched and answered on it. piscina's task-per-call hand-off sent a worker its next task only
// after the main thread had received the last one's answer (one task in flight per thread), so
// worker and main thread took turns: measured on the 2-core reference machine, the worker sat idle
// 36-47 % of the time under load (issue #13). On the channel the next request already waits in the
// worker's queue when a run ends.
//
// Placement is ours: every request goes to the worker with the fewest requests in flight among those
// holding the model. That lets a model load be sent to every worker, and replacement workers be
// warmed with every loaded model.
//
// A load runs the runtime's prepare step in one worker first (e.g. reading the ONNX bytes into
// shared memory); the spec then carries those bytes, so every worker, and any replacement for a
// worker that dies, loads the model from memory.
//
// A worker blocked by user code (a custom runtime's synchronous infinite loop) past an execution's
// deadline is terminated and replaced. A worker inside a native runtime call (an onnxruntime run)
// is never terminated: that aborts the whole process. Each worker counts its native calls in a
// shared status word the pool reads without asking it.
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { Piscina } from 'piscina';
import type { ModelSpec } from '../core/backend.js';
import type { RunClock } from '../core/scheduling.js';
import { TesseraError, internal, shuttingDown } from '../core/errors.js';
import { transferables, type Tensor } from '../core/tensor.js';
import type { Parameters } from '../core/types.js';
import { runtimeDefinition } from '../runtimes/registry.js';
import { availableCpus } from './cpus.js';
import {
  STATUS,
  type ChannelReply,
  type HelloResult,
  type HelloTask,
  type InferResult,
  type LoadResult,
  type PrepareResult,
  type WorkerError,
  type WorkerTask,
} from './messages.js';

// Compiled (dist/, `npm run build`): the worker is plain JavaScript beside this file. From the
// TypeScript sources (tsx, tests): a shim that compiles the TypeScript worker on load.
const WORKER_ENTRY = import.meta.url.endsWith('.js') ? new URL('./worker.js', import.meta.url) : new URL('./worker-entry.mjs', import.meta.url);

/**
 * How long past an execution's deadline a worker may stay silent before it counts as blocked. The
 * worker answers a terminable runtime's hung run at the deadline itself when its event loop is free.
 */
export const BLOCKED_GRACE_MS = 1000;

/**
 * Worker count when parallel_workers is not set: one core (of those the container's CPU quota
 * allows, cpus.ts) is left to the HTTP/gRPC thread, the rest run workers (each with cores / workers
 * ORT threads). On the 2-core reference machine 1 worker (2 ORT threads) was 15-18 % faster than
 * 2 for iris at 16 connections, equal at 64, and equal for the compute-bound mlp (npm run bench;
 * README).
 */
export function defaultWorkerCount(): number {
  return Math.max(1, availableCpus() - 1);
}

type PiscinaWorker = { id: number; currentUsage: number; terminating: boolean; destroyed: boolean };
type Target = { worker: number };

/** A worker's channel: requests posted, replies awaited by id. */
interface Channel {
  port: MessagePort;
  next: number;
  pending: Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>;
  /** The error the worker thread reported before it exited (out of memory, say). */
  error: Error | undefined;
}

export interface PoolOptions {
  workers: number;
  logger: Logger;
  /** V8 heap limit of each worker in MiB: a worker over it dies and is replaced. */
  maxHeapMb?: number;
  /** Added to the workers' nice value so the front-end thread wins the CPU when it needs it. */
  niceIncrement?: number;
  /**
   * Called when a model load has no worker left that holds it: its workers died and no replacement
   * could load it again (a custom runtime whose module is gone, say). The model can no longer
   * serve; the caller marks it UNAVAILABLE with `reason`, so readiness reflects what serves.
   */
  onModelLost?: (key: string, reason: string) => void;
}

/** How long close() waits for a task that is not inside a native call (a hung custom runtime) before terminating its worker. */
const HUNG_TASK_MS = 1000;

export class WorkerPool {
  readonly size: number;
  private readonly piscina: Piscina;
  private readonly logger: Logger;
  /** Tasks in flight per live worker id. */
  private readonly inflightByWorker = new Map<number, number>();
  /** Per worker: ms with at least one task in flight (closed periods), and when the open one began. */
  private readonly busy = new Map<number, { ms: number; since: number }>();
  /** Models loaded through the pool, to warm replacement workers. */
  private readonly loaded = new Map<string, ModelSpec>();
  /** The workers holding each model load (its instances). */
  private readonly holders = new Map<string, Set<number>>();
  /** Requests in flight per model load, so a retired load is unloaded only once they finish. */
  private readonly usage = new Map<string, number>();
  private readonly retiring = new Map<string, () => void>();
  /** Each live worker's shared status words (see STATUS). */
  private readonly status = new Map<number, Int32Array>();
  /** Workers the pool terminated, with why (their tasks' errors say it). */
  private readonly replaced = new Map<number, string>();
  /** Each live worker's channel. */
  private readonly channels = new Map<number, Channel>();
  private readonly ready: Promise<void>;
  private closed = false;
  private readonly onModelLost: PoolOptions['onModelLost'];

  constructor(options: PoolOptions) {
    this.size = options.workers;
    this.logger = options.logger;
    this.onModelLost = options.onModelLost;
    let markReady: () => void;
    this.ready = new Promise((resolve) => (markReady = resolve));
    this.piscina = new Piscina({
      filename: WORKER_ENTRY.href,
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: Infinity,
      // The worker's event loop must stay free for its channel: piscina's default parks an idle
      // worker in Atomics.wait, where no message on another port is ever read.
      atomics: 'disabled',
      niceIncrement: options.niceIncrement ?? 0,
      execArgv: workerExecArgv(process.execArgv),
      ...(options.maxHeapMb !== undefined ? { resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb } } : {}),
      loadBalancer: (task, workers) => route((task as unknown as Record<symbol, Target | null>)[Piscina.queueOptionsSymbol], workers),
    });
    this.piscina.on('workerCreate', (worker: PiscinaWorker) => {
      this.inflightByWorker.set(worker.id, 0);
      this.open(worker.id);
      if (this.inflightByWorker.size >= this.size) markReady();
      this.warm(worker.id); // a replacement gets every loaded model; a first worker has none yet
    });
    this.piscina.on('workerDestroy', () => {
      // A dead worker's threadId already reads -1, so forget whichever tracked id has no live thread.
      const live = new Set(this.piscina.threads.map((w) => w.threadId));
      for (const id of [...this.inflightByWorker.keys()]) {
        if (live.has(id)) continue;
        this.inflightByWorker.delete(id);
        this.busy.delete(id);
        this.status.delete(id);
        for (const set of this.holders.values()) set.delete(id);
        if (!this.closed) this.logger.warn({ worker: id }, 'inference worker exited; a replacement is starting');
      }
    });
    // piscina reports a worker error with no piscina task attached (all of ours are on the
    // channels) as an 'error' event; the channel of that worker fails its requests with it.
    this.piscina.on('error', (error: unknown) => this.logger.error({ err: error }, 'inference worker failed'));
  }

  /**
   * Opens a new worker's channel: the requests posted on it wait in the port until the worker,
   * given the other end in its `hello` task, reads them. The worker's exit fails what it held.
   */
  private open(id: number): void {
    const { port1, port2 } = new MessageChannel();
    const channel: Channel = { port: port1, next: 0, pending: new Map(), error: undefined };
    this.channels.set(id, channel);
    port1.on('message', (reply: ChannelReply) => {
      const waiting = channel.pending.get(reply.id);
      if (waiting === undefined) return;
      channel.pending.delete(reply.id);
      if (reply.error !== undefined) waiting.reject(reply.error);
      else waiting.resolve(reply.result);
    });
    const thread: Worker | undefined = this.piscina.threads.find((w) => w.threadId === id);
    // The thread's own events: its error (out of memory, say) comes before its exit, after which
    // nothing it held will be answered.
    thread?.on('error', (error: Error) => (channel.error ??= error));
    thread?.once('exit', (code: number) => {
      this.channels.delete(id);
      port1.close();
      const why = channel.error ?? new Error(`worker exited with code ${code}`);
      for (const waiting of channel.pending.values()) waiting.reject(why);
      channel.pending.clear();
    });
    const hello: HelloTask = { op: 'hello', port: port2, worker: id };
    const routed = Object.assign(hello, { [Piscina.queueOptionsSymbol]: { worker: id } });
    (this.piscina.run(routed, { transferList: [port2] as never }) as Promise<HelloResult>).then(
      (answer) => {
        this.status.set(id, answer.status);
        if (this.closed) Atomics.store(answer.status, STATUS.SHUTDOWN, 1);
      },
      (error: unknown) => this.logger.warn({ err: error, worker: id }, 'a new inference worker did not answer'),
    );
    // Without its thread's events (gone before its channel opened), the channel's close is the end:
    // whatever waits on it is not answered. (With them, the exit above answers, with the reason.)
    if (thread === undefined) {
      port1.once('close', () => {
        for (const waiting of channel.pending.values()) waiting.reject(new Error(`the channel of worker ${id} closed`));
        channel.pending.clear();
      });
    }
  }

  /** Resolves once every worker thread has started. */
  started(): Promise<void> {
    return this.ready;
  }

  /** Requests in flight over every worker (read on every dispatch by the metrics: no list made). */
  inflight(): number {
    let n = 0;
    for (const v of this.inflightByWorker.values()) n += v;
    return n;
  }

  /** The live workers' ids, tasks in flight and seconds busy since they started (status, metrics). */
  workers(): { id: number; inflight: number; busySeconds: number }[] {
    const now = performance.now();
    return [...this.inflightByWorker].map(([id, inflight]) => {
      const b = this.busy.get(id);
      const ms = b === undefined ? 0 : b.ms + (inflight > 0 ? now - b.since : 0);
      return { id, inflight, busySeconds: ms / 1000 };
    });
  }

  /**
   * Terminates a worker and lets piscina start its replacement, which loads every model it held
   * from memory; the tasks it held fail with `reason`. Refused (false) while the worker is inside a
   * native runtime call, or before it has shared its status: terminating it then could abort the
   * whole process. The handshake on the status words keeps a native call from starting meanwhile.
   */
  replaceWorker(id: number, reason: string): boolean {
    const thread = this.piscina.threads.find((w) => w.threadId === id);
    const status = this.status.get(id);
    if (thread === undefined || status === undefined) return false;
    Atomics.store(status, STATUS.CLOSING, 1);
    if (Atomics.load(status, STATUS.NATIVE) > 0) {
      Atomics.store(status, STATUS.CLOSING, 0);
      return false;
    }
    this.replaced.set(id, reason);
    void thread.terminate();
    return true;
  }

  /**
   * Loads a model on its workers: the runtime's prepare step in one of them first (its artifact
   * then rides in the spec), then the load in each. Resolves with the metadata and the slowest
   * load time, or rejects with the load error; on failure the model is unloaded where it loaded.
   */
  async load(spec: ModelSpec): Promise<LoadResult> {
    await this.ready;
    const ids = this.placement(spec.instances ?? this.size);
    this.holders.set(spec.key, new Set(ids)); // at once: loads placed meanwhile count these instances
    if (spec.artifact === undefined) {
      try {
        const prepared = await this.dispatch<PrepareResult>(ids[0], { op: 'prepare', spec });
        if (prepared.artifact !== undefined) spec.artifact = prepared.artifact;
      } catch (error) {
        this.holders.delete(spec.key);
        throw error;
      }
    }
    this.loaded.set(spec.key, spec); // before dispatch: a worker replaced meanwhile gets it too
    const results = await Promise.allSettled(ids.map((id) => this.dispatch<LoadResult>(id, { op: 'load', spec })));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) {
      await this.unload(spec.key);
      throw failure.reason;
    }
    const loads = results as PromiseFulfilledResult<LoadResult>[];
    return { metadata: loads[0].value.metadata, loadMs: Math.max(...loads.map((r) => r.value.loadMs)) };
  }

  async unload(key: string): Promise<void> {
    this.loaded.delete(key);
    this.holders.delete(key);
    await Promise.allSettled([...this.inflightByWorker.keys()].map((id) => this.dispatch(id, { op: 'unload', key })));
  }

  /** Unloads a model load once no request is using it (a rolling reload or an unload). */
  retire(key: string): Promise<void> {
    if ((this.usage.get(key) ?? 0) === 0) return this.unload(key);
    return new Promise((resolve) => this.retiring.set(key, () => void this.unload(key).then(resolve)));
  }

  /**
   * Runs a model on the least-loaded worker holding it; input buffers are moved, not copied.
   * `clock`, when given, receives when the worker ran the model; `parameters` are the request's
   * (for runtimes that read them, when the execution holds one request).
   */
  async infer(spec: ModelSpec, inputs: Tensor[], outputs: string[], clock?: RunClock, parameters?: Parameters): Promise<Tensor[]> {
    const id = this.leastLoaded(spec.key);
    this.ensureHeld(id, spec);
    const deadline = spec.timeoutMs > 0 ? Date.now() + spec.timeoutMs : undefined;
    const task: WorkerTask = { op: 'infer', key: spec.key, inputs, outputs };
    if (parameters !== undefined) task.parameters = parameters;
    if (deadline !== undefined) task.deadline = deadline;
    this.usage.set(spec.key, (this.usage.get(spec.key) ?? 0) + 1);
    const running = this.dispatch<InferResult | WorkerError>(id, task, transferables(inputs));
    const watchdog = deadline !== undefined && runtimeDefinition(spec.runtime).terminable ? this.watch(id, spec, running, deadline) : undefined;
    try {
      const result = await running;
      if ('error' in result) throw new TesseraError(result.error.code, result.error.message);
      if (clock !== undefined) {
        clock.startedAt = result.startedAt;
        clock.endedAt = result.endedAt;
      }
      return result.outputs;
    } catch (error) {
      if (error instanceof TesseraError) throw error;
      if (this.closed) throw shuttingDown('the server is shutting down: the request could not run before its shutdown grace ended', error);
      const replaced = this.replaced.get(id);
      if (replaced !== undefined) throw internal(`inference failed: worker ${id} was replaced: ${replaced}`, error);
      const message = error instanceof Error ? error.message : String(error);
      throw internal(`inference failed: ${message}`, error);
    } finally {
      if (watchdog !== undefined) clearTimeout(watchdog.timer);
      const left = (this.usage.get(spec.key) ?? 1) - 1;
      if (left > 0) this.usage.set(spec.key, left);
      else {
        this.usage.delete(spec.key);
        const retire = this.retiring.get(spec.key);
        this.retiring.delete(spec.key);
        retire?.();
      }
    }
  }

  /** Sends a model's load to a worker that does not hold it yet (its infer tasks then follow it). */
  private ensureHeld(id: number, spec: ModelSpec): void {
    let holders = this.holders.get(spec.key);
    if (holders === undefined) this.holders.set(spec.key, (holders = new Set()));
    if (holders.has(id)) return;
    holders.add(id);
    const set = holders;
    this.dispatch(id, { op: 'load', spec }).catch(() => set.delete(id));
  }

  /**
   * Watches an execution of a terminable runtime: still unanswered BLOCKED_GRACE_MS past its
   * deadline (which the worker itself answers when its event loop is free), its worker is blocked
   * and is replaced, unless it is inside a native call (then it is checked again later).
   */
  private watch(id: number, spec: ModelSpec, running: Promise<unknown>, deadline: number): { timer: NodeJS.Timeout } {
    const watchdog = { timer: undefined as unknown as NodeJS.Timeout };
    const check = (): void => {
      if (!this.inflightByWorker.has(id)) return; // gone already
      const reason = `model ${spec.label} blocked it past its request_timeout of ${spec.timeoutMs / 1000} s`;
      if (this.replaceWorker(id, reason)) {
        this.logger.error({ worker: id, model: spec.model, version: spec.version || undefined }, `inference worker ${id} is blocked: ${reason}; replacing it`);
      } else {
        watchdog.timer = setTimeout(check, BLOCKED_GRACE_MS); // inside a native call: look again later
      }
    };
    watchdog.timer = setTimeout(check, Math.max(0, deadline - Date.now()) + BLOCKED_GRACE_MS);
    running.catch(() => undefined);
    return watchdog;
  }

  /**
   * Stops the workers, never one inside a native call. Terminating a worker inside onnxruntime's
   * run aborts the whole process (the binding throws a C++ exception while the thread is torn
   * down), so: tasks a worker has not started yet refuse at once (SHUTTING_DOWN, 503) instead of
   * running; running ones finish, however long they take; a task outside any native call that
   * has not ended HUNG_TASK_MS later (a hung custom runtime) is terminated with its worker. Then
   * every worker is told, through the status handshake, that no native call may start, and the
   * pool is destroyed once none is running.
   */
  async close(): Promise<void> {
    this.stopStarting();
    const sleep = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 10));
    let idleSince: number | undefined;
    while ([...this.inflightByWorker.values()].some((n) => n > 0)) {
      if (!this.inNativeCall()) {
        idleSince ??= performance.now();
        if (performance.now() - idleSince >= HUNG_TASK_MS) break;
      } else {
        idleSince = undefined;
      }
      await sleep();
    }
    for (const status of this.status.values()) Atomics.store(status, STATUS.CLOSING, 1);
    while (this.inNativeCall()) await sleep(); // started before the handshake: it ends
    await this.piscina.destroy();
    for (const channel of this.channels.values()) channel.port.close();
    this.channels.clear();
  }

  /**
   * From now on an infer task a worker has not started yet refuses at once (SHUTTING_DOWN, 503)
   * instead of running; running ones finish. The shutdown sequence calls this when its grace is over.
   */
  stopStarting(): void {
    this.closed = true;
    for (const status of this.status.values()) Atomics.store(status, STATUS.SHUTDOWN, 1);
  }

  /** Whether any worker is inside a native runtime call (read from the shared status words). */
  inNativeCall(): boolean {
    for (const status of this.status.values()) if (Atomics.load(status, STATUS.NATIVE) > 0) return true;
    return false;
  }

  /** The workers that hold a model load (its instances), for status and tests. */
  instancesOf(key: string): number[] {
    return [...(this.holders.get(key) ?? [])];
  }

  /** The model loads each worker's thread really holds, asked of the workers themselves. */
  async workerModels(): Promise<Map<number, string[]>> {
    const ids = [...this.inflightByWorker.keys()];
    const answers = await Promise.all(ids.map((id) => this.dispatch<{ models: string[]; thread: number }>(id, { op: 'status' })));
    // Each channel is its own worker's: an answer from another thread is a wiring fault.
    for (let i = 0; i < ids.length; i++) {
      if (answers[i].thread !== ids[i]) throw new Error(`the channel of worker ${ids[i]} is answered by worker ${answers[i].thread}`);
    }
    return new Map(ids.map((id, i) => [id, answers[i].models]));
  }

  /** The `count` workers holding the fewest model instances: memory spreads over the pool. */
  private placement(count: number): number[] {
    const held = new Map<number, number>([...this.inflightByWorker.keys()].map((id) => [id, 0]));
    for (const set of this.holders.values()) for (const id of set) held.set(id, (held.get(id) ?? 0) + 1);
    return [...held.entries()]
      .sort((a, b) => a[1] - b[1] || a[0] - b[0])
      .slice(0, count)
      .map(([id]) => id);
  }

  /**
   * The worker with the fewest tasks in flight among those holding the model. If none of its
   * holders is alive (they died and their replacements are still warming), any worker: it loads
   * the model on first use.
   */
  private leastLoaded(key: string): number {
    const holders = this.holders.get(key);
    let best = -1;
    let bestLoad = Infinity;
    for (const [id, load] of this.inflightByWorker) {
      if (holders !== undefined && holders.size > 0 && !holders.has(id)) continue;
      if (load < bestLoad) {
        best = id;
        bestLoad = load;
      }
    }
    return best;
  }

  /** Posts a request on a worker's channel; resolves with its answer (or rejects with its error). */
  private async dispatch<R>(worker: number, task: WorkerTask, transferList?: ArrayBuffer[]): Promise<R> {
    const channel = this.channels.get(worker);
    const before = this.inflightByWorker.get(worker);
    // Gone (its exit seen, or its destroy: an 'error' comes before the exit): not brought back.
    if (channel === undefined || before === undefined) throw new Error(`worker ${worker} has exited`);
    this.inflightByWorker.set(worker, before + 1);
    if (before === 0) {
      const b = this.busy.get(worker);
      if (b === undefined) this.busy.set(worker, { ms: 0, since: performance.now() });
      else b.since = performance.now();
    }
    try {
      const id = ++channel.next;
      const answer = new Promise<unknown>((resolve, reject) => channel.pending.set(id, { resolve, reject }));
      try {
        channel.port.postMessage({ id, task }, transferList);
      } catch (error) {
        // Not sent (a buffer that cannot be moved): nothing will answer it.
        channel.pending.delete(id);
        throw error;
      }
      return (await answer) as R;
    } finally {
      const n = this.inflightByWorker.get(worker);
      if (n !== undefined) {
        this.inflightByWorker.set(worker, n - 1);
        const b = this.busy.get(worker);
        if (n === 1 && b !== undefined) b.ms += performance.now() - b.since;
      }
    }
  }

  /** Gives a new worker every model that lost an instance with the worker it replaces. */
  private warm(worker: number): void {
    for (const spec of this.loaded.values()) {
      const holders = this.holders.get(spec.key);
      if (holders === undefined || holders.size >= (spec.instances ?? this.size)) continue;
      holders.add(worker);
      this.dispatch(worker, { op: 'load', spec }).catch((error: unknown) => {
        holders.delete(worker);
        this.logger.warn({ err: error, model: spec.key, worker }, 'warming a replacement worker failed');
        if (holders.size === 0 && this.loaded.get(spec.key) === spec && !this.closed) {
          const message = error instanceof Error ? error.message : String(error);
          this.onModelLost?.(spec.key, `its worker was replaced and no worker could load it again: ${message}`);
        }
      });
    }
  }
}

/**
 * Node flags for workers: the parent's, less module loaders (a test runner's TypeScript hooks, say),
 * which would cost every worker memory and start-up time; the worker shim brings its own.
 */
export function workerExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (/^--(import|loader|experimental-loader|require)$/.test(a) || a === '-r') {
      i++; // the flag's value is the next argument
      continue;
    }
    if (/^--(import|loader|experimental-loader|require)=/.test(a)) continue;
    out.push(a);
  }
  return out;
}

/**
 * piscina load balancer: only the worker the task names (the one task piscina runs, `hello`, hands
 * that worker its own channel). Not among `workers` yet — piscina announces a replacement worker
 * (workerCreate) before it lists it as ready — the task waits in piscina's queue until it is.
 */
function route<W extends PiscinaWorker>(options: Target | null | undefined, workers: W[]): W | null {
  if (options == null) return null;
  for (const w of workers) {
    if (w.id === options.worker && !w.terminating && !w.destroyed) return w;
  }
  return null;
}
