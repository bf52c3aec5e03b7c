/**
 * Client-side rate limiting: a token bucket in the "reservation" style of Go's
 * golang.org/x/time/rate (which client-go uses). Each request reserves one token; the bucket may go
 * negative and the caller waits until its token would have accrued. Reservations are therefore
 * served in order without a queue.
 */
export interface RateLimit {
  /** Sustained requests per second; <= 0 disables limiting. */
  qps: number;
  /** Requests allowed in a burst above the sustained rate. */
  burst: number;
}

/** client-go's 5/10 is tuned for many controllers sharing one API server; one mirror per Link needs more. */
export const DEFAULT_RATE_LIMIT: RateLimit = { qps: 50, burst: 100 };

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limit: RateLimit,
    now: number,
  ) {
    this.tokens = Math.max(1, limit.burst);
    this.last = now;
  }

  get enabled(): boolean {
    return this.limit.qps > 0;
  }

  /** Takes one token at time `now` (ms) and returns how long the caller must wait before using it. */
  reserve(now: number): number {
    if (!this.enabled) return 0;
    const burst = Math.max(1, this.limit.burst);
    const elapsed = Math.max(0, now - this.last);
    this.tokens = Math.min(burst, this.tokens + (elapsed * this.limit.qps) / 1000);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.limit.qps);
  }

  /**
   * Gives back a reserved token whose request was never sent (Go's Reservation.Cancel): a caller
   * that stops waiting must not leave its slot booked, or every abandoned wait delays all later
   * requests by 1/qps more.
   */
  cancel(): void {
    if (!this.enabled) return;
    this.tokens = Math.min(Math.max(1, this.limit.burst), this.tokens + 1);
  }
}

/** The I/O half: waits out a reservation; aborting the signal (client closed) ends the wait early. */
export class RateLimiter {
  private readonly bucket: TokenBucket;
  /** Total time callers spent waiting, for benchmarks and metrics. */
  waitedMs = 0;

  constructor(limit: RateLimit = DEFAULT_RATE_LIMIT) {
    this.bucket = new TokenBucket(limit, Date.now());
  }

  async acquire(signal?: AbortSignal): Promise<void> {
    const delay = this.bucket.reserve(Date.now());
    if (delay <= 0) return;
    this.waitedMs += delay;
    try {
      await abortableDelay(delay, signal);
    } catch (err) {
      this.bucket.cancel();
      throw err;
    }
  }
}

/** setTimeout that clears itself when the signal aborts, so a closed client leaves no timers behind. */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
