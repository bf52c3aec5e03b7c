import { describe, expect, it } from 'vitest';
import { MIN_DELAY_MS, DEFAULT_ROTATION_POLICY as P, renewalDelay, retryDelay } from './rotation-policy.js';

const mid = () => 0.5; // no jitter
const low = () => 0; // -10%
const high = () => 1; // +10%

describe('renewalDelay', () => {
  it.each([
    ['24 h certificate', 0, 86_400_000, mid, 60_480_000],
    ['2 s certificate', 1000, 3000, mid, 1400],
    ['jitter low', 0, 10_000, low, 6300],
    ['jitter high', 0, 10_000, high, 7700],
    ['already expired', 5000, 3000, mid, MIN_DELAY_MS],
  ])('%s', (_what, now, notAfter, random, expected) => {
    expect(renewalDelay(now, notAfter, P, random)).toBe(expected);
  });
});

describe('retryDelay', () => {
  it.each([
    ['first retry', 1, undefined, 1000],
    ['doubles', 3, undefined, 4000],
    ['capped at retryMaxMs', 10, undefined, 30_000],
    ['never past half the remaining lifetime', 10, 10_000, 5000],
    ['expired certificate: plain backoff', 10, -1000, 30_000],
    ['almost expired: floor', 1, 20, MIN_DELAY_MS],
  ])('%s', (_what, attempt, remaining, expected) => {
    expect(retryDelay(attempt, remaining, P, mid)).toBe(expected);
  });
});
