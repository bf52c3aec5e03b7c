/**
 * A keyed, de-duplicated work queue (client-go's workqueue, house style 2): keys in, the handler
 * re-reads the caches. A key added while it is being processed runs again afterwards, never twice
 * at once. Failures are retried with capped exponential backoff until they succeed. A terminal
 * IsthmusError (a 403, a 422) is reported and retried only slowly (`terminalRetryMs`): retrying
 * soon cannot fix it, but what can (a Role re-applied, a webhook fixed) sends the controller no
 * event, and client-go's queues requeue every error too.
 */
import { isIsthmusError } from '../errors.js';

export interface QueueBackoff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_QUEUE_BACKOFF: QueueBackoff = { baseMs: 100, maxMs: 30_000 };

/**
 * The retry of a terminal failure: often enough that a fixed permission heals within minutes, and
 * that the sync-error alerts (rate over 5 minutes, for 15) see a failure that persists.
 */
export const TERMINAL_RETRY_MS = 120_000;

/**
 * How long the mirror controller's stop waits for handlers in flight. Its remote calls are ended
 * at once (the remote client closed), so what could still run is a local write; a stop must end
 * well inside the process's stop deadline (20 s), of which releasing the Lease may take 10.
 */
export const STOP_GRACE_MS = 5_000;

/** Delay before retry number `failures` (1-based): base·2^(n-1), capped. */
export function backoffDelay(failures: number, policy: QueueBackoff = DEFAULT_QUEUE_BACKOFF): number {
  return Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failures - 1));
}

export interface WorkQueueOptions {
  handler: (key: string) => Promise<void>;
  concurrency?: number;
  backoff?: QueueBackoff;
  onError?: (key: string, err: unknown, failures: number) => void;
  /** Delay before a terminal failure is tried again (default TERMINAL_RETRY_MS). */
  terminalRetryMs?: number;
}

export class WorkQueue {
  private readonly pending = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Keys whose timer is the slow retry of a terminal failure. */
  private readonly slow = new Set<string>();
  private readonly idleWaiters: (() => void)[] = [];
  private running = 0;
  private stopped = false;
  private readonly opts: Required<WorkQueueOptions>;

  constructor(opts: WorkQueueOptions) {
    this.opts = {
      concurrency: 1,
      backoff: DEFAULT_QUEUE_BACKOFF,
      onError: () => {},
      terminalRetryMs: TERMINAL_RETRY_MS,
      ...opts,
    };
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    const timer = this.timers.get(key);
    if (timer) {
      // A fresh event supersedes a scheduled retry; the failure count is kept for the backoff.
      clearTimeout(timer);
      this.timers.delete(key);
      this.slow.delete(key);
    }
    this.pending.add(key);
    this.pump();
  }

  /**
   * Keys queued, in flight or waiting for a retry, but not those waiting for the slow retry of a
   * terminal failure: the queue has done what it can with them until then.
   */
  get length(): number {
    const retrying = [...this.timers.keys()].filter((k) => !this.slow.has(k));
    return new Set([...this.pending, ...this.active, ...retrying]).size;
  }

  /** Resolves when nothing is queued or in flight (scheduled retries do not count). */
  idle(): Promise<void> {
    if (this.pending.size === 0 && this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops taking work and cancels retries; resolves once in-flight handlers have returned, or when
   * `graceMs` has passed (then true: some are still running). A bound is for callers that must
   * finish by a deadline (a controller's shutdown) whatever a handler waits on; without one, a
   * caller can rely on no handler running after it resolves.
   */
  async stop(opts: { graceMs?: number } = {}): Promise<boolean> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.slow.clear();
    this.pending.clear();
    this.dirty.clear();
    if (opts.graceMs === undefined) {
      await this.idle();
      return false;
    }
    let timer: NodeJS.Timeout | undefined;
    const overdue = new Promise<true>((resolve) => {
      timer = setTimeout(() => resolve(true), opts.graceMs);
    });
    const abandoned = await Promise.race([this.idle().then(() => false), overdue]);
    clearTimeout(timer);
    return abandoned;
  }

  private pump(): void {
    while (!this.stopped && this.running < this.opts.concurrency) {
      const key = this.pending.values().next().value;
      if (key === undefined) break;
      this.pending.delete(key);
      this.active.add(key);
      this.running++;
      void this.process(key);
    }
    this.maybeIdle();
  }

  private async process(key: string): Promise<void> {
    try {
      await this.opts.handler(key);
      this.failures.delete(key);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      this.opts.onError(key, err, n);
      if (!isIsthmusError(err) || !err.terminal) this.scheduleRetry(key, backoffDelay(n, this.opts.backoff));
      else {
        this.scheduleRetry(key, this.opts.terminalRetryMs);
        this.slow.add(key);
      }
    } finally {
      this.active.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }

  private scheduleRetry(key: string, delayMs: number): void {
    if (this.stopped || this.timers.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.slow.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, timer);
  }

  private maybeIdle(): void {
    if (this.pending.size > 0 || this.active.size > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
