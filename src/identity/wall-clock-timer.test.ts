import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_WAIT_STEP_MS, WallClockTimer } from './wall-clock-timer.js';

describe('WallClockTimer', () => {
  let wall = 0;
  beforeEach(() => {
    vi.useFakeTimers();
    wall = 0;
  });
  afterEach(() => vi.useRealTimers());

  it('fires when the wall clock says so, though the monotonic timers stood still in a suspend', () => {
    const fired = vi.fn();
    new WallClockTimer(() => wall).arm(10 * 60_000, fired);
    // The machine sleeps for an hour: the wall clock moves, the timers do not.
    wall += 60 * 60_000;
    vi.advanceTimersByTime(MAX_WAIT_STEP_MS - 1);
    expect(fired).not.toHaveBeenCalled();
    // At the next step it finds itself overdue and fires at once (a timer's least delay, 1 ms).
    vi.advanceTimersByTime(2);
    expect(fired).toHaveBeenCalledOnce();
  });

  it('fires a long wait at its due time when nothing sleeps, and a re-arm or cancel replaces it', () => {
    const timer = new WallClockTimer(() => wall);
    const first = vi.fn();
    const second = vi.fn();
    timer.arm(3 * MAX_WAIT_STEP_MS + 5, first);
    for (let i = 0; i < 3; i++) {
      wall += MAX_WAIT_STEP_MS;
      vi.advanceTimersByTime(MAX_WAIT_STEP_MS);
    }
    expect(first).not.toHaveBeenCalled();
    timer.arm(10, second);
    wall += 10;
    vi.advanceTimersByTime(10);
    expect(first).not.toHaveBeenCalled();
    expect(second).toHaveBeenCalledOnce();
    timer.arm(10, first);
    timer.cancel();
    vi.advanceTimersByTime(MAX_WAIT_STEP_MS);
    expect(first).not.toHaveBeenCalled();
  });
});
