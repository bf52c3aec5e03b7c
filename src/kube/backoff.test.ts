import { describe, expect, it } from 'vitest';
import { Backoff, backoffCeiling } from './backoff.js';

describe('backoff', () => {
  it.each([
    [0, 100],
    [1, 200],
    [3, 800],
    [5, 1000],
    [500, 1000],
  ])('ceiling of attempt %i is %i', (attempt, ceiling) => {
    expect(backoffCeiling({ initialMs: 100, maxMs: 1000 }, attempt)).toBe(ceiling);
  });

  it('draws full jitter below the ceiling and restarts after reset', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0.999);
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([99, 199, 399, 799, 999]);
    b.reset();
    expect(b.next()).toBe(99);
  });

  it('can draw zero (full jitter, not equal jitter)', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0);
    expect(b.next()).toBe(0);
    expect(b.attempts).toBe(1);
  });
});
