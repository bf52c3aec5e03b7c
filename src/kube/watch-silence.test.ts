import { describe, expect, it } from 'vitest';
import { SILENT_PERIODS, silenceBoundMs, WatchSilence } from './watch-silence.js';

const BASE = 360_000;
const FLOOR = 30_000;

describe('silenceBoundMs', () => {
  it('is the base bound until a bookmark period is known', () => {
    expect(silenceBoundMs(undefined, BASE, FLOOR)).toBe(BASE);
  });

  it("is a few of kube-apiserver's one-minute periods once they are seen", () => {
    expect(silenceBoundMs(60_000, BASE, FLOOR)).toBe(SILENT_PERIODS * 60_000);
  });

  it('never falls under the floor, nor above the base', () => {
    expect(silenceBoundMs(100, BASE, FLOOR)).toBe(FLOOR);
    // A server that bookmarks only just before the end: the one gap is the whole watch.
    expect(silenceBoundMs(298_000, BASE, FLOOR)).toBe(BASE);
  });
});

describe('WatchSilence', () => {
  it('keeps the longest period seen, so one early bookmark does not tighten the bound for good', () => {
    const s = new WatchSilence(BASE, FLOOR, 0);
    s.bookmark(5_000);
    expect(s.bookmarkPeriodMs).toBe(5_000);
    s.bookmark(65_000);
    s.bookmark(70_000);
    expect(s.bookmarkPeriodMs).toBe(60_000);
    expect(s.boundMs).toBe(180_000);
  });

  it('is dead only after a rhythm was seen and nothing came for the bound', () => {
    const s = new WatchSilence(BASE, FLOOR, 0);
    // No bookmark yet: the transport's own timeout is the judge, however long the silence.
    expect(s.dead(BASE + 1)).toBe(false);
    s.bookmark(60_000);
    s.received(60_000);
    expect(s.dead(60_000 + 179_999)).toBe(false);
    expect(s.dead(60_000 + 180_000)).toBe(true);
    // Any bytes (an event) count as life.
    s.received(200_000);
    expect(s.dead(240_001)).toBe(false);
  });

  it('looks again at least every floor, so a bound tightened meanwhile is applied in time', () => {
    const s = new WatchSilence(BASE, FLOOR, 0);
    expect(s.nextCheckMs(0)).toBe(FLOOR);
    s.bookmark(10_000);
    s.received(10_000);
    // Bound 30 s (the floor, over 3 × 10 s), 30 s left.
    expect(s.nextCheckMs(10_000)).toBe(30_000);
    expect(s.nextCheckMs(35_000)).toBe(5_000);
    expect(s.nextCheckMs(50_000)).toBe(1);
  });
});
