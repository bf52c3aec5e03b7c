/**
 * Exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS Architecture Blog,
 * 2015): the delay is uniform in [0, min(max, initial * 2^attempt)). Full jitter spreads the
 * reconnects of many informers after an API server restart instead of synchronising them.
 */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

/** client-go's reflector starts at 800 ms and caps at 30 s; we start lower because lists are cheap here. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 30_000 };

/** The ceiling of the n-th delay (n from 0), before jitter. */
export function backoffCeiling(policy: BackoffPolicy, attempt: number): number {
  // 2^30 already exceeds any sane max; capping the exponent avoids Infinity.
  return Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
}

export class Backoff {
  private attempt = 0;

  constructor(
    private readonly policy: BackoffPolicy = DEFAULT_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  /** The next delay; each call doubles the ceiling up to the max. */
  next(): number {
    const ceiling = backoffCeiling(this.policy, this.attempt);
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** After a success the next failure starts again from the initial delay. */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
