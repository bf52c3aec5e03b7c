import { describe, expect, it } from 'vitest';
import { abortableDelay, RateLimiter, TokenBucket } from './rate-limiter.js';

describe('TokenBucket', () => {
  it('lets a burst through, then spaces requests at 1/qps', () => {
    const b = new TokenBucket({ qps: 10, burst: 3 }, 0);
    expect([b.reserve(0), b.reserve(0), b.reserve(0)]).toEqual([0, 0, 0]);
    expect(b.reserve(0)).toBe(100);
    expect(b.reserve(0)).toBe(200);
  });

  it('refills with time up to the burst', () => {
    const b = new TokenBucket({ qps: 10, burst: 2 }, 0);
    b.reserve(0);
    b.reserve(0);
    expect(b.reserve(100)).toBe(0);
    expect(b.reserve(10_000)).toBe(0);
    expect(b.reserve(10_000)).toBe(0);
    expect(b.reserve(10_000)).toBe(100);
  });

  it('is off when qps <= 0', () => {
    const b = new TokenBucket({ qps: 0, burst: 0 }, 0);
    for (let i = 0; i < 1000; i++) expect(b.reserve(0)).toBe(0);
  });
});

describe('RateLimiter', () => {
  it('delays the request beyond the burst by about 1/qps', async () => {
    const limiter = new RateLimiter({ qps: 50, burst: 1 });
    const start = performance.now();
    await limiter.acquire();
    await limiter.acquire();
    expect(performance.now() - start).toBeGreaterThanOrEqual(15);
    expect(limiter.waitedMs).toBeGreaterThan(0);
  });

  it('a wait given up (aborted) returns its token: abandoned requests leave no debt behind', async () => {
    const limiter = new RateLimiter({ qps: 10, burst: 1 });
    await limiter.acquire();
    // 30 callers queue (3 s of the limiter's time), then give up: an informer stopped, a deadline.
    const ac = new AbortController();
    const abandoned = Array.from({ length: 30 }, () => limiter.acquire(ac.signal).catch(() => 'aborted'));
    ac.abort(new Error('gave up'));
    expect(await Promise.all(abandoned)).toEqual(Array(30).fill('aborted'));
    const booked = limiter.waitedMs;
    await limiter.acquire();
    // The wait it was given: one token's time at most (100 ms), not the 3 s the abandoned
    // reservations had booked (read off the limiter, not the wall clock a loaded machine stretches).
    expect(limiter.waitedMs - booked).toBeLessThanOrEqual(100);
  });

  it('abort ends a wait and clears its timer', async () => {
    const ac = new AbortController();
    const wait = abortableDelay(60_000, ac.signal);
    ac.abort(new Error('closed'));
    await expect(wait).rejects.toThrow('closed');
  });
});
