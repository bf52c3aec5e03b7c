import { describe, expect, it } from 'vitest';
import { leftAfterWaitMs } from './call-deadline.js';

describe('leftAfterWaitMs', () => {
  it.each([
    // [ms left at the call's arrival, its wait for a slot, what is left for the review]
    [10_000, undefined, 10_000], // took a slot at once
    [10_000, 0, 10_000],
    [10_000, 1_500, 8_500],
    [Number.POSITIVE_INFINITY, 2_000, Number.POSITIVE_INFINITY], // no deadline
    [1_000, 1_500, -500], // the wait outlasted the deadline: reviewBudgetMs makes it 0
  ])('%d ms left, waited %s ms → %d ms', (left, waited, after) => {
    expect(leftAfterWaitMs(left, waited)).toBe(after);
  });
});
