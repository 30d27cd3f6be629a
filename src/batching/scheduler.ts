// The per-model scheduler: one per model load, for every model (batching or not). It decides when
// each request runs, and with which others.
//
// Queue policy (every model):
// - At most `slots` executions of the model run at once; other requests wait in this queue, ordered
//   by priority level (1 is the highest; a request without one gets the default level), then arrival.
// - A full queue (max_queue_size) refuses at once (QUEUE_FULL: 503/UNAVAILABLE); a request that
//   waited past its timeout (the `timeout` request parameter in µs, else the model's queue_timeout)
//   leaves with QUEUE_TIMEOUT (503/UNAVAILABLE "timed out in queue"); one whose absolute deadline
//   (the client's, from the request context) passes leaves with DEADLINE_EXCEEDED, and one found
//   expired at dispatch is dropped, not run; a request whose client went away leaves without
//   running (CANCELLED). Once dispatched, an execution always runs to the end (stopping a worker
//   mid-run is not safe), but a request whose deadline passes while it runs is answered
//   DEADLINE_EXCEEDED at its deadline; the rest of its batch keeps its answers.
//
// Batching (max_batch_size > 1):
// - No idle wait. When a slot is free, whatever is queued goes at once (up to max_batch_size rows).
//   A lone request never waits for company.
// - When a slot frees, the queue head and the queued requests compatible with it (same input names,
//   datatypes and dims but dim 0), in queue order, are merged up to max_batch_size rows. Shapes are
//   never mixed.
// - max_batch_time bounds the wait for a slot: a request queued longer is dispatched even though no
//   slot is free (it then waits in a worker's queue instead of this one).
// - A request with more rows than max_batch_size, none, or whose inputs disagree on dim 0, runs alone.
// - preferred_batch_size (Triton's): when the merged group's rows are not a preferred size, it is
//   cut back to the largest preferred size that a prefix of it (in queue order) adds up to; the
//   rest stays queued, first in line. If no prefix adds up to one, the whole group goes. It never
//   makes a request wait when a slot is free.
//
// Data structures (a queue of 250k requests must cost no more per request than a queue of 2):
// - One FIFO per priority level in use, as intrusive doubly linked lists: the oldest request of the
//   highest level is the first level's head (O(1)); the oldest request overall is the oldest of the
//   level heads (O(levels in use)); insertion appends (O(1)); a cancelled or timed-out request
//   unlinks itself (O(1)).
// - Per batch signature, the same structure again (each queued request is linked into both), so a
//   dispatch walks only requests compatible with the head, in queue order, never the other shapes.
//   The walk stops when the batch is full (each member adds at least one row, so at most
//   max_batch_size members) or after LOOKAHEAD compatible requests that did not fit the rows left:
//   the work per dispatch is O(max_batch_size + LOOKAHEAD + levels), whatever the queue length.
// - Expiries (timeouts, deadlines) in indexed binary min-heaps, one for queued requests and one for
//   running requests with a deadline: requests carry their own timeout or deadline, so they do not
//   expire in arrival order. Insertion and removal are O(log n), the earliest is at the top.
// - Two timers per scheduler at most, never one per request: one for max_batch_time (armed for the
//   oldest request) and one for the earliest expiry of either heap. When the request a timer was
//   armed for leaves, the timer is left to fire early: it finds nothing due and re-arms for the new
//   earliest. (Every request has a deadline by default, the model's request_timeout of 60 s: a timer
//   per request cost more than the whole scheduler.)
//
// Statistics: each request's time queued and each execution's compute times (see core/statistics)
// are measured here and reported to the observer.
import {
  cancelled as cancelledError,
  deadlineExceeded as deadlineError,
  queueFull as queueFullError,
  queueTimeout as queueTimeoutError,
  type TesseraError,
} from '../core/errors.js';
import type { ModelIdentity, QueuePolicy, RequestOptions, RunClock, RunFn } from '../core/scheduling.js';
import type { ExecutionTiming, InferenceObserver, ModelRef, RequestTrace } from '../core/statistics.js';
import type { Tensor } from '../core/tensor.js';
import type { Parameters } from '../core/types.js';
import { epochMs } from '../workers/messages.js';
import { batchRows, batchSignature, mergeInputs, splitOutputs } from './merge.js';

/**
 * Compatible requests that did not fit the rows left in a batch, after which a dispatch stops
 * looking for smaller ones further back: they go in the next batch instead.
 */
export const LOOKAHEAD = 64;

/** Executions kept in `history`. */
const HISTORY_LIMIT = 1000;

/** setTimeout's longest delay; a longer one would fire at once (Node clamps it to 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A request as an execution sees it. */
interface Member {
  inputs: Tensor[];
  outputs: string[];
  /** Rows along dim 0, or -1 when the inputs disagree or have none. */
  rows: number;
  trace: RequestTrace | undefined;
  parameters: Parameters | undefined;
}

/** One execution, as kept in `history`. */
export interface BatchRecord {
  requests: number;
  /** Rows of the execution (a request without a consistent dim 0 counts as one). */
  rows: number;
}

/** A place in a FIFO: intrusive links, so leaving is O(1). */
interface Link {
  prev: Link | undefined;
  next: Link | undefined;
  fifo: Fifo | undefined;
  readonly request: Queued;
}

/** A request's place among the queued requests of its batch signature. */
class BatchLink implements Link {
  prev: Link | undefined = undefined;
  next: Link | undefined = undefined;
  fifo: Fifo | undefined = undefined;
  constructor(readonly request: Queued) {}
}

/** The requests of one priority level, oldest first. */
class Fifo {
  head: Link | undefined = undefined;
  tail: Link | undefined = undefined;
  size = 0;
  constructor(readonly level: number) {}

  push(link: Link): void {
    link.fifo = this;
    link.prev = this.tail;
    link.next = undefined;
    if (this.tail === undefined) this.head = link;
    else this.tail.next = link;
    this.tail = link;
    this.size++;
  }

  remove(link: Link): void {
    if (link.prev === undefined) this.head = link.next;
    else link.prev.next = link.next;
    if (link.next === undefined) this.tail = link.prev;
    else link.next.prev = link.prev;
    link.prev = link.next = link.fifo = undefined;
    this.size--;
  }
}

/** FIFOs per priority level; `levels` holds the non-empty ones, highest priority (1) first. */
class PriorityFifo {
  readonly levels: Fifo[] = [];
  private readonly byLevel = new Map<number, Fifo>();
  size = 0;

  push(level: number, link: Link): void {
    let fifo = this.byLevel.get(level);
    if (fifo === undefined) {
      fifo = new Fifo(level);
      this.byLevel.set(level, fifo);
      let at = this.levels.length;
      while (at > 0 && this.levels[at - 1].level > level) at--;
      this.levels.splice(at, 0, fifo);
    }
    fifo.push(link);
    this.size++;
  }

  remove(link: Link): void {
    const fifo = link.fifo!;
    fifo.remove(link);
    this.size--;
    if (fifo.size === 0) {
      this.byLevel.delete(fifo.level);
      this.levels.splice(this.levels.indexOf(fifo), 1);
    }
  }

  /** The oldest request of the highest level. */
  first(): Queued | undefined {
    return this.levels[0]?.head?.request;
  }

  /** The oldest request of any level (the oldest of the level heads). */
  oldest(): Queued | undefined {
    let oldest: Queued | undefined;
    for (const fifo of this.levels) {
      const q = fifo.head!.request;
      if (oldest === undefined || q.queuedAt < oldest.queuedAt) oldest = q;
    }
    return oldest;
  }
}

/** Queued requests by expiry, earliest on top; each knows its index, so any can leave in O(log n). */
class ExpiryHeap {
  private readonly items: Queued[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): Queued | undefined {
    return this.items[0];
  }

  push(q: Queued): void {
    q.heapIndex = this.items.length;
    this.items.push(q);
    this.up(q.heapIndex);
  }

  remove(q: Queued): void {
    const i = q.heapIndex;
    const last = this.items.pop()!;
    q.heapIndex = -1;
    if (last === q) return;
    this.items[i] = last;
    last.heapIndex = i;
    this.down(i);
    this.up(last.heapIndex);
  }

  private up(i: number): void {
    const items = this.items;
    const q = items[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent].expiresAt <= q.expiresAt) break;
      items[i] = items[parent];
      items[i].heapIndex = i;
      i = parent;
    }
    items[i] = q;
    q.heapIndex = i;
  }

  private down(i: number): void {
    const items = this.items;
    const q = items[i];
    const n = items.length;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && items[child + 1].expiresAt < items[child].expiresAt) child++;
      if (items[child].expiresAt >= q.expiresAt) break;
      items[i] = items[child];
      items[i].heapIndex = i;
      i = child;
    }
    items[i] = q;
    q.heapIndex = i;
  }
}

/**
 * A request from submission to answer: queued (it is its own link in the queue of every request:
 * fewer objects per request), then running. Only a request that has to queue fills in the queue
 * fields; one dispatched at once (the fast path) needs none of them.
 */
class Queued implements Member, Link {
  prev: Link | undefined = undefined;
  next: Link | undefined = undefined;
  fifo: Fifo | undefined = undefined;
  readonly request: Queued = this;
  /** Its place among the queued requests of its signature; undefined when it runs alone. */
  batchLink: BatchLink | undefined = undefined;
  /** Batch signature (see merge.ts); undefined when it runs alone. */
  signature: string | undefined = undefined;
  priority = 0;
  queuedAt = 0;
  /** Position in the expiry heap it is in (queued or running); -1 when in none. */
  heapIndex = -1;
  /** performance.now() ms when it must leave (queued: the earlier of timeout and deadline; running: the deadline); Infinity for never. */
  expiresAt = Infinity;
  /** Whether `expiresAt` is the request's deadline (rather than the queue timeout). */
  byDeadline = false;
  /** The queue timeout that applies, in ms (for the message). */
  timeoutMs = 0;
  queued = false;
  /** Answered (by its execution, or by its deadline while running). */
  settled = false;
  signal: AbortSignal | undefined = undefined;
  onAbort: (() => void) | undefined = undefined;
  resolve: (outputs: Tensor[]) => void = noop;
  reject: (error: unknown) => void = noop;

  constructor(
    readonly inputs: Tensor[],
    readonly outputs: string[],
    readonly rows: number,
    readonly trace: RequestTrace | undefined,
    readonly parameters: Parameters | undefined,
    /** The request's deadline (performance.now() ms); Infinity for none. */
    readonly deadline: number,
    /** The model's request_timeout in ms when it is the deadline; undefined when the client's is. */
    readonly modelTimeoutMs: number | undefined,
  ) {}
}

const noop = (): void => undefined;

export class ModelScheduler {
  /** Every waiting request, by priority level then arrival. */
  private readonly queue = new PriorityFifo();
  /** The waiting requests that may share a batch, per batch signature. */
  private readonly bySignature = new Map<string, PriorityFifo>();
  /** Queued requests with a timeout or deadline. */
  private readonly expiries = new ExpiryHeap();
  /** Dispatched requests with a deadline, not answered yet. */
  private readonly runningDeadlines = new ExpiryHeap();
  private inflight = 0;
  /** Rows of the queued requests (a request without a consistent dim 0 counts one). */
  private queuedRows = 0;
  private batchTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  /** When the expiry timer is armed for (performance.now() ms). */
  private expiryTimerAt = Infinity;
  private readonly recent: BatchRecord[] = [];
  private recentNext = 0;
  private readonly ref: ModelRef;
  /** Set by close(): the error every queued and later request gets. */
  private closedWith: (() => TesseraError) | undefined;

  constructor(
    readonly identity: ModelIdentity,
    private readonly policy: QueuePolicy,
    private readonly run: RunFn,
    private readonly observer?: InferenceObserver,
  ) {
    this.ref = { model: identity.model, version: identity.version };
  }

  /** Requests waiting in the queue. */
  get queued(): number {
    return this.queue.size;
  }

  /** Executions in flight (dispatched, not finished). */
  get running(): number {
    return this.inflight;
  }

  /** The most recent executions (up to 1000), oldest first: for statistics and tests. */
  get history(): BatchRecord[] {
    if (this.recent.length < HISTORY_LIMIT) return this.recent.slice();
    return [...this.recent.slice(this.recentNext), ...this.recent.slice(0, this.recentNext)];
  }

  /** Schedules one request; resolves with its outputs (those named in `outputs`, in that order). */
  submit(inputs: Tensor[], outputs: string[], options: RequestOptions = {}): Promise<Tensor[]> {
    const policy = this.policy;
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith());
    const deadline = options.deadline ?? Infinity;
    const rows = batchRows(inputs);
    const q = new Queued(inputs, outputs, rows, options.trace, options.parameters, deadline, options.modelTimeoutMs);
    // Fast path: nothing waiting and a slot free means this request is dispatched alone at once: no
    // signal, no queue entry, no timer (its deadline, if any, joins the running heap).
    if (this.queue.size === 0 && this.inflight < policy.slots) {
      if (deadline <= performance.now()) return Promise.reject(this.deadlineError(q, false));
      if (q.trace !== undefined) q.trace.queueNs = 0;
      const answer = new Promise<Tensor[]>((resolve, reject) => {
        q.resolve = resolve;
        q.reject = reject;
      });
      this.launch([q]);
      return answer;
    }
    const signal = options.cancellation?.();
    if (signal?.aborted) return Promise.reject(clientGone());
    const now = performance.now();
    if (deadline <= now) return Promise.reject(this.deadlineError(q, false));
    if (policy.maxQueueSize > 0 && this.queue.size >= policy.maxQueueSize && this.inflight >= policy.slots) {
      return Promise.reject(queueFull(this.identity.label, policy.maxQueueSize));
    }
    // Rows 1..max_batch_size may merge; other requests run alone (a 0-row request adds nothing).
    const signature = policy.maxBatchSize > 1 && rows >= 1 && rows <= policy.maxBatchSize ? batchSignature(inputs) : undefined;
    const priority = priorityLevel(options.priority, policy);
    const timeoutMs = options.timeoutMs ?? policy.queueTimeoutMs;
    let expiresAt = timeoutMs > 0 ? now + timeoutMs : Infinity;
    let byDeadline = false;
    if (deadline < expiresAt) {
      expiresAt = deadline;
      byDeadline = true;
    }
    return new Promise((resolve, reject) => {
      q.resolve = resolve;
      q.reject = reject;
      q.signature = signature;
      q.priority = priority;
      q.queuedAt = now;
      q.expiresAt = expiresAt;
      q.byDeadline = byDeadline;
      q.timeoutMs = timeoutMs;
      q.signal = signal;
      q.queued = true;
      this.queue.push(priority, q);
      this.queuedRows += rows > 0 ? rows : 1;
      if (signature !== undefined) {
        q.batchLink = new BatchLink(q);
        let same = this.bySignature.get(signature);
        if (same === undefined) {
          same = new PriorityFifo();
          this.bySignature.set(signature, same);
        }
        same.push(priority, q.batchLink);
      }
      if (expiresAt !== Infinity) this.expiries.push(q);
      if (signal !== undefined) {
        q.onAbort = () => {
          if (!q.queued) return; // already dispatched: it runs to the end
          this.leave(q);
          q.reject(clientGone());
          this.armTimers();
        };
        signal.addEventListener('abort', q.onAbort, { once: true });
      }
      this.pump();
    });
  }

  /**
   * Refuses every queued request, and every later one, with `error` (the server stopping: what
   * could not start within the shutdown grace). Executions already dispatched run to the end.
   */
  close(error: () => TesseraError): void {
    this.closedWith = error;
    for (let q = this.queue.first(); q !== undefined; q = this.queue.first()) {
      this.leave(q);
      q.reject(error());
    }
    this.armTimers();
  }

  /** Dispatches while slots are free (or a spare slot and half a batch waits), then arms the timers for what stays queued. */
  private pump(): void {
    const { slots, spareSlots = 0, maxBatchSize } = this.policy;
    for (;;) {
      if (this.queue.size === 0) break;
      if (this.inflight >= slots && (this.inflight >= slots + spareSlots || 2 * this.queuedRows < maxBatchSize)) break;
      this.dispatch(performance.now());
    }
    this.armTimers();
  }

  /**
   * Dispatches one execution: the head of the queue and the compatible requests behind it (see the
   * bound at the top of the file). Requests found expired are dropped on the way, never run.
   */
  private dispatch(now: number): void {
    let head = this.queue.first();
    while (head !== undefined && head.expiresAt <= now) {
      this.expire(head);
      head = this.queue.first();
    }
    if (head === undefined) return;
    const max = this.policy.maxBatchSize;
    const picked: Queued[] = [head];
    let expired: Queued[] | undefined;
    let rows = head.rows;
    if (head.signature !== undefined && rows < max) {
      // Walk the head's signature queue in queue order. Its levels are all at or below the head's
      // (higher levels are empty), and the head is its first entry.
      let skipped = 0;
      walk: for (const fifo of this.bySignature.get(head.signature)!.levels) {
        for (let link = fifo.head; link !== undefined; link = link.next) {
          const q = link.request;
          if (q === head) continue;
          if (q.expiresAt <= now) {
            (expired ??= []).push(q); // dropped below, after the walk (removal would break it)
          } else if (rows + q.rows <= max) {
            picked.push(q);
            rows += q.rows;
            if (rows === max) break walk;
          } else if (++skipped >= LOOKAHEAD) {
            break walk;
          }
        }
      }
    }
    if (expired !== undefined) for (const q of expired) this.expire(q);
    const count = this.preferredCount(picked);
    const group = count === picked.length ? picked : picked.slice(0, count);
    for (const q of group) {
      this.leave(q);
      if (q.trace !== undefined) q.trace.queueNs = (now - q.queuedAt) * 1e6;
    }
    this.launch(group);
  }

  /**
   * Runs a group (dispatched now) and answers each of its requests, unless its deadline answered
   * it first. Requests with a deadline wait for it in the running heap meanwhile.
   */
  private launch(group: Queued[]): void {
    let armed = false;
    for (const q of group) {
      if (q.deadline === Infinity) continue;
      q.expiresAt = q.deadline;
      this.runningDeadlines.push(q);
      armed = true;
    }
    if (armed) this.armExpiryTimer();
    // Once answered, the group's deadlines leave the running heap, and the timer armed for them is
    // re-armed for what is left, or cleared: a timer left pending (the default request_timeout:
    // 60 s) would hold this scheduler, and through it the model load's spec and artifact bytes,
    // that long after a rolling reload or unload dropped it.
    this.execute(group).then(
      (results) => {
        for (let i = 0; i < group.length; i++) {
          const q = group[i];
          if (q.settled) continue;
          this.finish(q);
          q.resolve(results[i]);
        }
        if (armed) this.armExpiryTimer();
      },
      (error: unknown) => {
        for (const q of group) {
          if (q.settled) continue;
          this.finish(q);
          q.reject(error);
        }
        if (armed) this.armExpiryTimer();
      },
    );
  }

  /** A running request is answered: it leaves the running heap. */
  private finish(q: Queued): void {
    q.settled = true;
    if (q.heapIndex >= 0) this.runningDeadlines.remove(q);
  }

  /** DEADLINE_EXCEEDED for a request, with the message naming whose deadline passed and where. */
  private deadlineError(q: Queued, running: boolean): TesseraError {
    const label = this.identity.label;
    if (q.modelTimeoutMs !== undefined) return deadlineError(`model ${label} did not answer within its request_timeout of ${q.modelTimeoutMs / 1000} s`);
    return running ? deadlineError(`the request's deadline passed before model ${label} answered`) : deadlineExceeded(label);
  }

  /**
   * How many of the picked requests (in queue order) to run: all of them, unless their rows are
   * not a preferred batch size and a shorter prefix adds up to one exactly (the largest such prefix).
   */
  private preferredCount(picked: readonly Queued[]): number {
    const preferred = this.policy.preferredBatchSizes;
    if (preferred.length === 0 || picked.length < 2) return picked.length;
    let sum = 0;
    let keep = picked.length;
    for (let i = 0; i < picked.length; i++) {
      sum += picked[i].rows;
      if (preferred.includes(sum)) keep = i + 1;
    }
    return keep; // the whole group when its total is preferred, or when no prefix is
  }

  /** Takes a request out of every queue structure; it no longer counts as queued. */
  private leave(q: Queued): void {
    q.queued = false;
    this.queue.remove(q);
    this.queuedRows -= q.rows > 0 ? q.rows : 1;
    if (q.batchLink !== undefined) {
      const same = this.bySignature.get(q.signature!)!;
      same.remove(q.batchLink);
      if (same.size === 0) this.bySignature.delete(q.signature!);
    }
    if (q.heapIndex >= 0) this.expiries.remove(q);
    if (q.onAbort !== undefined) q.signal!.removeEventListener('abort', q.onAbort);
  }

  /** A request whose timeout or deadline passed leaves, never to run. */
  private expire(q: Queued): void {
    this.leave(q);
    q.reject(q.byDeadline ? this.deadlineError(q, false) : timedOutInQueue(this.identity.label, q.timeoutMs));
  }

  private armTimers(): void {
    this.armBatchTimer();
    this.armExpiryTimer();
    this.holdProcess();
  }

  /** While batching requests wait for a slot, wake up when the oldest has waited max_batch_time. */
  private armBatchTimer(): void {
    const { maxBatchSize, maxBatchTimeMs } = this.policy;
    if (maxBatchSize <= 1 || maxBatchTimeMs <= 0) return;
    if (this.queue.size === 0) {
      if (this.batchTimer !== undefined) clearTimeout(this.batchTimer);
      this.batchTimer = undefined;
      return;
    }
    // Armed for an older request than any queued now (new arrivals are younger): it fires in time.
    if (this.batchTimer !== undefined) return;
    const due = this.queue.oldest()!.queuedAt + maxBatchTimeMs;
    this.batchTimer = setTimeout(this.onBatchTimer, timerDelay(due));
  }

  private readonly onBatchTimer = (): void => {
    this.batchTimer = undefined;
    const now = performance.now();
    const wait = this.policy.maxBatchTimeMs;
    // Dispatch from the head (priority order) until no request has waited max_batch_time.
    for (let oldest = this.queue.oldest(); oldest !== undefined && now - oldest.queuedAt >= wait; oldest = this.queue.oldest()) {
      this.dispatch(now);
    }
    this.pump();
  };

  /** Wakes up when the earliest timeout or deadline of a queued request passes. */
  private armExpiryTimer(): void {
    const queued = this.expiries.peek();
    const running = this.runningDeadlines.peek();
    const earliest = queued === undefined || (running !== undefined && running.expiresAt < queued.expiresAt) ? running : queued;
    if (earliest === undefined) {
      if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
      this.expiryTimer = undefined;
      this.expiryTimerAt = Infinity;
      return;
    }
    // Armed for the same time or earlier: it fires in time (early ones re-arm).
    if (this.expiryTimer !== undefined && this.expiryTimerAt <= earliest.expiresAt) return;
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimerAt = earliest.expiresAt;
    this.expiryTimer = setTimeout(this.onExpiryTimer, timerDelay(earliest.expiresAt));
    this.holdProcess();
  }

  /**
   * The expiry timer keeps the process alive only while requests are queued. Running requests
   * are held by what runs them (a worker's channel, an inline run); the default 60 s deadline of
   * the last one answered must not hold a finished process (a CLI run, a closed server) that long.
   */
  private holdProcess(): void {
    const timer = this.expiryTimer;
    if (timer === undefined) return;
    if (this.queue.size > 0) timer.ref();
    else timer.unref();
  }

  private readonly onExpiryTimer = (): void => {
    this.expiryTimer = undefined;
    this.expiryTimerAt = Infinity;
    const now = performance.now();
    for (let q = this.expiries.peek(); q !== undefined && q.expiresAt <= now; q = this.expiries.peek()) this.expire(q);
    // Running past their deadline: answered now; their execution ends on its own.
    for (let q = this.runningDeadlines.peek(); q !== undefined && q.expiresAt <= now; q = this.runningDeadlines.peek()) {
      this.finish(q);
      q.reject(this.deadlineError(q, true));
    }
    this.armTimers();
  };

  /** Runs one execution for a group of requests and returns each request's outputs. */
  private async execute(group: Member[]): Promise<Tensor[][]> {
    this.inflight++;
    this.observer?.dispatched(this.ref, this.queue.size);
    const dispatchedAt = epochMs();
    const clock: RunClock = { startedAt: dispatchedAt, endedAt: dispatchedAt };
    try {
      this.remember(group);
      let results: Tensor[][];
      if (group.length === 1) {
        results = [await this.run(group[0].inputs, group[0].outputs, clock, group[0].parameters)];
      } else {
        // Every output any request asked for, computed once; each request then gets its own.
        const union = [...new Set(group.flatMap((p) => p.outputs))];
        const outputs = await this.run(mergeInputs(group.map((p) => p.inputs)), union, clock);
        const split = splitOutputs(outputs, group.map((p) => p.rows), this.identity.label);
        results = group.map((p, i) => p.outputs.map((name) => split[i][union.indexOf(name)]));
      }
      this.record(group, dispatchedAt, clock);
      return results;
    } finally {
      this.inflight--;
      queueMicrotask(() => this.pump());
    }
  }

  private remember(group: readonly Member[]): void {
    const record: BatchRecord = { requests: group.length, rows: executionRows(group) };
    if (this.recent.length < HISTORY_LIMIT) this.recent.push(record);
    else this.recent[this.recentNext] = record;
    this.recentNext = (this.recentNext + 1) % HISTORY_LIMIT;
  }

  /** Reports a finished execution: its rows and compute times. */
  private record(group: readonly Member[], dispatchedAt: number, clock: RunClock): void {
    if (this.observer === undefined) return;
    const doneAt = epochMs();
    const ns = (ms: number): number => Math.max(0, ms) * 1e6;
    const timing: ExecutionTiming = {
      computeInputNs: ns(clock.startedAt - dispatchedAt),
      computeInferNs: ns(clock.endedAt - clock.startedAt),
      computeOutputNs: ns(doneAt - clock.endedAt),
    };
    for (const p of group) if (p.trace !== undefined) p.trace.execution = timing;
    this.observer.execution(this.ref, executionRows(group), timing);
  }
}

/**
 * A request's level: its priority when it names one (1 .. priority_levels), else the model's
 * default level; absent or 0 means the default, and a default of 0 the lowest level (as settings).
 */
function priorityLevel(requested: number | undefined, policy: QueuePolicy): number {
  const levels = Math.max(1, Math.floor(policy.priorityLevels));
  let level = requested !== undefined && requested >= 1 ? requested : policy.defaultPriority;
  if (!(level >= 1)) level = levels;
  return Math.min(Math.floor(level), levels);
}

/** Rows of an execution (dim 0); a request without a consistent one counts as one row. */
function executionRows(group: readonly Member[]): number {
  let rows = 0;
  for (const p of group) rows += p.rows > 0 ? p.rows : 1;
  return rows;
}

/** Milliseconds from now until `at` (performance.now() ms), whole and within setTimeout's range. */
function timerDelay(at: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(at - performance.now())));
}

// The scheduler's refusals, one constructor each, from the error catalogue (the code decides the
// status on every surface and the statistics' failure reason).
const queueFull = (label: string, max: number): TesseraError => queueFullError(`the queue of model ${label} is full (max_queue_size ${max})`);
const timedOutInQueue = (label: string, ms: number): TesseraError => queueTimeoutError(`request timed out in queue after ${ms} ms (model ${label})`);
const deadlineExceeded = (label: string): TesseraError => deadlineError(`the request's deadline passed before model ${label} could run it`);
const clientGone = (): TesseraError => cancelledError('the client went away');
