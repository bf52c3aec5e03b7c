import { describe, expect, it } from 'vitest';
import { runPool } from './pool.js';

describe('runPool', () => {
  it('runs every index once with at most `concurrency` in flight', async () => {
    let inFlight = 0;
    let most = 0;
    const seen: number[] = [];
    await runPool(20, 3, async (i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await Promise.resolve();
      seen.push(i);
      inFlight--;
    });
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(most).toBe(3);
  });

  it('rejects with the first failure and starts nothing after it', async () => {
    const started: number[] = [];
    await expect(
      runPool(10, 1, async (i) => {
        started.push(i);
        if (i === 2) throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(started).toEqual([0, 1, 2]);
  });
});
