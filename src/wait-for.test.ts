import { describe, expect, it } from 'vitest';
import { isIsthmusError } from './errors.js';
import { waitFor } from './wait-for.js';

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let n = 0;
    await expect(waitFor('n to reach 3', () => (++n >= 3 ? n : 0), { intervalMs: 1 })).resolves.toBe(3);
  });

  it('times out naming what it waited for and the last error', async () => {
    const err = await waitFor(
      'the moon',
      () => {
        throw new Error('not yet');
      },
      { timeoutMs: 30, intervalMs: 5 },
    ).catch((e: unknown) => e);
    expect(isIsthmusError(err, 'WAIT_TIMEOUT')).toBe(true);
    expect(String(err)).toMatch(/timed out after 30 ms waiting for the moon: not yet/);
  });

  it('ends at its deadline when a check never settles, saying what it waited for', async () => {
    let checks = 0;
    const never = new Promise<boolean>(() => {});
    const started = Date.now();
    const err = await waitFor(
      'the hung check',
      () => {
        checks++;
        return never;
      },
      { timeoutMs: 100, intervalMs: 5 },
    ).catch((e: unknown) => e);
    expect(isIsthmusError(err, 'WAIT_TIMEOUT')).toBe(true);
    expect(String(err)).toMatch(
      /timed out after 100 ms waiting for the hung check \(its check in flight had not settled after \d+ ms\)$/,
    );
    expect(checks).toBe(1);
    // Hang guard, not a speed claim: without the race this wait would never end at all.
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('names the error of the check before one that hung, and ignores a late rejection', async () => {
    let checks = 0;
    let rejectLate: (err: Error) => void = () => {};
    const err = await waitFor(
      'the flaky check',
      () => {
        if (++checks === 1) return Promise.reject(new Error('refused'));
        return new Promise<boolean>((_, reject) => {
          rejectLate = reject;
        });
      },
      { timeoutMs: 80, intervalMs: 5 },
    ).catch((e: unknown) => e);
    expect(String(err)).toMatch(
      /waiting for the flaky check: refused \(its check in flight had not settled after \d+ ms\)$/,
    );
    // The abandoned check failing afterwards is not an unhandled rejection (vitest would report one).
    rejectLate(new Error('too late'));
    await new Promise((r) => setImmediate(r));
  });

  it('still returns a slow check that settles in time', async () => {
    const value = await waitFor(
      'a slow yes',
      () => new Promise<string>((r) => setTimeout(() => r('yes'), 30)),
      {
        timeoutMs: 5_000,
      },
    );
    expect(value).toBe('yes');
  });
});
