import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DeletionHold,
  type HeldRemovals,
  type HoldClock,
  holdsRemovals,
  listedBy,
  realClock,
} from './deletion-hold.js';

describe('holdsRemovals: one list removing too many mirrors at once', () => {
  it.each([
    // mirrored, removed, held
    [0, 0, false],
    [1, 1, false], // the only mirror of one: not a mass deletion
    [2, 1, false],
    [2, 2, true], // all of them, at least 2
    [3, 1, false],
    [3, 2, true], // more than half
    [4, 2, false], // exactly half is not more than half
    [4, 3, true],
    [10, 5, false],
    [10, 6, true],
    [10, 10, true],
    [1000, 499, false],
    [1000, 501, true],
  ])('%i mirrored, %i removed: held %s', (mirrored, removed, held) => {
    expect(holdsRemovals(mirrored, removed)).toBe(held);
  });
});

describe('listedBy', () => {
  it('differs when a selector does, not for the rest of the Link', () => {
    const base = {
      selector: { matchLabels: { a: '1' } },
      federatedServiceSelector: null,
      remoteDiscoverySelector: null,
    };
    expect(listedBy(base)).toBe(listedBy({ ...base }));
    expect(listedBy(base)).not.toBe(listedBy({ ...base, selector: { matchLabels: { a: '2' } } }));
  });
});

/** A clock the test moves. */
function manualClock() {
  let t = 1_000;
  let timers: { at: number; fn: () => void }[] = [];
  const clock: HoldClock & { advance(ms: number): void } = {
    now: () => t,
    after(ms, fn) {
      const timer = { at: t + ms, fn };
      timers.push(timer);
      return () => {
        timers = timers.filter((x) => x !== timer);
      };
    },
    advance(ms) {
      t += ms;
      const due = timers.filter((x) => x.at <= t);
      timers = timers.filter((x) => x.at > t);
      for (const x of due) x.fn();
    },
  };
  return clock;
}

const SETTLE_MS = 10;

function holdWith(graceMs = 100) {
  const clock = manualClock();
  const changes: (HeldRemovals | undefined)[] = [];
  const released: string[][] = [];
  const settled: string[][] = [];
  const hold = new DeletionHold(
    graceMs,
    clock,
    {
      changed: (held) => changes.push(held),
      released: (keys) => released.push(keys),
      settled: (keys) => settled.push(keys),
    },
    SETTLE_MS,
  );
  return { hold, clock, changes, released, settled };
}

describe('DeletionHold', () => {
  it('holds a list that removes too many, and releases them when the grace ends, not before', () => {
    const { hold, clock, released } = holdWith();
    expect(hold.consider(3, ['ns/a', 'ns/b'])).toBe(true);
    expect(hold.holds('ns/a')).toBe(true);
    expect(hold.current()).toEqual({ count: 2, until: 1_100 });
    clock.advance(99);
    expect(released).toEqual([]);
    clock.advance(1);
    expect(released).toEqual([['ns/a', 'ns/b']]);
    expect(hold.holds('ns/a')).toBe(false);
    expect(hold.current()).toBeUndefined();
  });

  it('does not hold a list that removes few', () => {
    const { hold, changes } = holdWith();
    expect(hold.consider(4, ['ns/a', 'ns/b'])).toBe(false);
    expect(hold.holds('ns/a')).toBe(false);
    expect(changes).toEqual([]);
  });

  it('a further shrink during a hold merges into it: the new key gets a grace of its own, the held keep theirs', () => {
    const { hold, clock, released } = holdWith();
    hold.consider(3, ['ns/a', 'ns/b']);
    clock.advance(50);
    // One removal alone would not be held: during a hold it is, never deleted early.
    expect(hold.consider(10, ['ns/a', 'ns/c'])).toBe(true);
    expect(hold.current()).toEqual({ count: 3, until: 1_150 });
    clock.advance(50);
    expect(released).toEqual([['ns/a', 'ns/b']]);
    expect(hold.holds('ns/a')).toBe(false);
    expect(hold.current()).toEqual({ count: 1, until: 1_150 });
    clock.advance(50);
    expect(released).toEqual([['ns/a', 'ns/b'], ['ns/c']]);
    expect(hold.current()).toBeUndefined();
  });

  it('a reconnect lacking the held keys again (its first list) does not push their end', () => {
    const { hold, clock, released } = holdWith();
    hold.consider(2, ['ns/a', 'ns/b']);
    for (let i = 0; i < 9; i++) {
      clock.advance(10);
      expect(hold.consider(2, ['ns/a', 'ns/b'])).toBe(true);
      expect(hold.current()).toEqual({ count: 2, until: 1_100 });
    }
    clock.advance(10);
    expect(released).toEqual([['ns/a', 'ns/b']]);
  });

  it('ends at once when the last held Service is listed again, releasing nothing', () => {
    const { hold, clock, changes, released } = holdWith();
    hold.consider(2, ['ns/a', 'ns/b']);
    hold.back('ns/a');
    expect(hold.current()).toEqual({ count: 1, until: 1_100 });
    hold.back('ns/b');
    expect(hold.current()).toBeUndefined();
    expect(changes.at(-1)).toBeUndefined();
    clock.advance(1_000);
    expect(released).toEqual([]);
  });

  it.each<[string, number, string[][]]>([
    // mirrored, one informer's re-list after another: judged together, not each alone
    [
      '2 exported + 2 remote-discovery, each re-list lacking its 2 (exactly half each)',
      4,
      [
        ['ns/a', 'ns/b'],
        ['ns/c', 'ns/d'],
      ],
    ],
    ['1 exported + 1 remote-discovery, each re-list lacking its one', 2, [['ns/a'], ['ns/b']]],
    ['3 watches lacking 1 of 3 each', 3, [['ns/a'], ['ns/b'], ['ns/c']]],
  ])('re-lists of one connection are judged together: %s', (_, mirrored, batches) => {
    const { hold, clock, released, settled } = holdWith();
    for (const keys of batches) {
      expect(hold.inferred(mirrored, keys)).toBe(true);
      for (const key of keys) expect(hold.holds(key)).toBe(true);
      clock.advance(SETTLE_MS - 1);
    }
    const all = batches.flat();
    expect(hold.current()).toEqual({ count: all.length, until: expect.any(Number) });
    clock.advance(100);
    expect(settled).toEqual([]);
    expect(released.flat().sort()).toEqual(all);
  });

  it("a re-list's few removals wait for the other watches' re-lists, then are made", () => {
    const { hold, clock, changes, released, settled } = holdWith();
    expect(hold.inferred(4, ['ns/a'])).toBe(true);
    expect(hold.holds('ns/a')).toBe(true);
    expect(hold.current()).toBeUndefined(); // not a hold (no status, no Event): a short wait
    expect(hold.inferred(4, ['ns/b'])).toBe(true); // 2 of 4: still not more than half
    clock.advance(SETTLE_MS);
    expect(settled).toEqual([['ns/a', 'ns/b']]);
    expect(hold.holds('ns/a')).toBe(false);
    // The next re-list is judged afresh.
    expect(hold.inferred(2, ['ns/c'])).toBe(true);
    clock.advance(SETTLE_MS);
    expect(settled).toEqual([['ns/a', 'ns/b'], ['ns/c']]);
    expect(changes).toEqual([]);
    expect(released).toEqual([]);
  });

  it('a key waiting for the other re-lists and listed by one of them is no removal', () => {
    const { hold, clock, settled } = holdWith();
    hold.inferred(2, ['ns/a']);
    hold.back('ns/a');
    expect(hold.holds('ns/a')).toBe(false);
    hold.inferred(2, ['ns/b']);
    clock.advance(SETTLE_MS);
    expect(settled).toEqual([['ns/b']]);
  });

  it('a grace of 0 holds nothing', () => {
    const { hold } = holdWith(0);
    expect(hold.consider(2, ['ns/a', 'ns/b'])).toBe(false);
    expect(hold.inferred(2, ['ns/a'])).toBe(false);
  });

  it('clear() drops the hold without releasing it', () => {
    const { hold, clock, released } = holdWith();
    hold.consider(2, ['ns/a', 'ns/b']);
    expect(hold.clear()).toEqual(['ns/a', 'ns/b']);
    clock.advance(1_000);
    expect(released).toEqual([]);
  });
});

describe('realClock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("waits a delay beyond setTimeout's range (~24.8 days) in full", () => {
    vi.useFakeTimers();
    const day = 86_400_000;
    const fn = vi.fn();
    realClock.after(30 * day, fn);
    vi.advanceTimersByTime(29 * day);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(day);
    expect(fn).toHaveBeenCalledOnce();
  });

  it('cancels', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    realClock.after(100, fn)();
    vi.advanceTimersByTime(1_000);
    expect(fn).not.toHaveBeenCalled();
  });
});
