import { describe, expect, it } from 'vitest';
import { medianRun, type WrkResult } from './wrk.js';

const run = (requestsPerSec: number, socketErrors = 0, non2xx = 0): WrkResult => ({
  requests: requestsPerSec * 5,
  requestsPerSec,
  socketErrors,
  non2xx,
});

describe('medianRun', () => {
  it('takes the round with the median rate (the lower middle for an even count)', () => {
    expect(medianRun([run(300), run(100), run(200)]).requestsPerSec).toBe(200);
    expect(medianRun([run(400), run(100), run(300), run(200)]).requestsPerSec).toBe(200);
  });

  it("keeps every round's errors, so one failed round still marks the path", () => {
    const m = medianRun([run(300, 2), run(100), run(200, 0, 5)]);
    expect(m).toEqual({ requests: 1000, requestsPerSec: 200, socketErrors: 2, non2xx: 5 });
  });

  it('refuses an empty list', () => {
    expect(() => medianRun([])).toThrow(/no runs/);
  });
});
