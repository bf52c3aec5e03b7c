import { describe, expect, it } from 'vitest';
import { compareQuantities, parseQuantity } from './quantity.js';

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

describe('compareQuantities', () => {
  // Exact, as resource.Quantity.Cmp: floating point would call 0.3 and 300m unequal.
  it.each([
    ['300m', '0.3', 0],
    ['0.3', '300m', 0],
    ['128Mi', '134217728', 0],
    ['1Gi', '512Mi', 1],
    ['512Mi', '1G', -1],
    ['1e3', '1k', 0],
    ['100m', '0.1', 0],
    ['1Ei', '1E', 1],
    ['-1', '0', -1],
  ])('%s vs %s → %d', (a, b, sign) => {
    expect(compareQuantities(a, b)).toBe(sign);
  });

  it('is null when either side is not a quantity', () => {
    expect(compareQuantities('1x', '1')).toBeNull();
    expect(compareQuantities('1', '')).toBeNull();
  });
});
