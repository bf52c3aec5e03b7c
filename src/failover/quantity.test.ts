import { describe, expect, it } from 'vitest';
import { parseDurationMs } from './duration.js';
import { parseQuantity } from './quantity.js';

describe('parseQuantity', () => {
  it.each([
    ['1', 1],
    ['500m', 0.5],
    ['1k', 1000],
    ['1Ki', 1024],
    ['2.5', 2.5],
    ['1e3', 1000],
    ['0', 0],
    ['+3', 3],
  ])('%s → %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value);
  });

  it.each(['', 'abc', '1x', 'k', '1 k', '1..2', 'NaN'])('%j is not a quantity', (text) => {
    expect(parseQuantity(text)).toBeNull();
  });
});

describe('parseDurationMs', () => {
  it.each([
    ['30s', 30_000],
    ['1m30s', 90_000],
    ['500ms', 500],
    ['1.5s', 1500],
    ['0', 0],
    ['2h', 7_200_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', '30', 's', '-1s', '1d', '30s ago'])('%j is not a duration', (text) => {
    expect(parseDurationMs(text)).toBeNull();
  });
});
