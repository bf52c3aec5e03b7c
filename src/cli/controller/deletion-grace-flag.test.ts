import { describe, expect, it } from 'vitest';
import { parseDeletionGrace } from './deletion-grace-flag.js';

describe('--mirror-deletion-grace', () => {
  it.each([
    ['2m', 120_000],
    ['90s', 90_000],
    ['1m30s', 90_000],
    ['0', 0],
    ['0s', 0],
    ['720h', 30 * 86_400_000], // beyond setTimeout's range: realClock chains its timers
    ['8760h', 365 * 86_400_000],
  ])('%s is %i ms', (text, ms) => {
    expect(parseDeletionGrace(text)).toBe(ms);
  });

  it.each(['', '-1m', 'soon', '2'])('refuses %j', (text) => {
    expect(() => parseDeletionGrace(text)).toThrow(/--mirror-deletion-grace must be a duration/);
  });

  it.each(['8761h', '99999999999999h'])('refuses %j: longer than a year', (text) => {
    expect(() => parseDeletionGrace(text)).toThrow(
      /--mirror-deletion-grace must be at most 8760h \(a year\)/,
    );
  });
});
