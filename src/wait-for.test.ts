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
});
