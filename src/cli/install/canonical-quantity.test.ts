import { describe, expect, it } from 'vitest';
import { compareQuantities } from '../../kube/quantity.js';
import { canonicalQuantity } from './canonical-quantity.js';

/** Inputs and what kube-apiserver stores for them (resource.MustParse(x).String()). */
const KUBE_OUTPUTS: [string, string][] = [
  // DecimalSI
  ['0.5', '500m'],
  ['1000m', '1'],
  ['1500m', '1500m'],
  ['1.5', '1500m'],
  ['100m', '100m'],
  ['0.1', '100m'],
  ['2', '2'],
  ['2000M', '2G'],
  ['1000', '1k'],
  ['1200', '1200'],
  ['1500k', '1500k'],
  ['128974848', '128974848'],
  ['129e6', '129e6'],
  ['129M', '129M'],
  ['0.0001', '100u'],
  ['+3', '3'],
  ['1.', '1'],
  ['.5', '500m'],
  // BinarySI
  ['1024Mi', '1Gi'],
  ['1536Mi', '1536Mi'],
  ['1.5Gi', '1536Mi'],
  ['2048Ki', '2Mi'],
  ['128Mi', '128Mi'],
  ['0.5Ki', '512'],
  ['1Ki', '1Ki'],
  ['1025Ki', '1025Ki'],
  ['0.5Mi', '512Ki'],
  ['1.1Ki', '1126400m'],
  ['0.1Gi', '107374182400m'],
  // DecimalExponent
  ['1e3', '1e3'],
  ['1E3', '1e3'],
  ['1.5e3', '1500'],
  ['12e6', '12e6'],
  ['1e-3', '1e-3'],
  ['10e2', '1e3'],
  // zero, in any family
  ['0', '0'],
  ['0Mi', '0'],
  ['0.0m', '0'],
  ['0e5', '0'],
];

describe('canonicalQuantity', () => {
  it.each(KUBE_OUTPUTS)('%s is stored as %s', (input, stored) => {
    expect(canonicalQuantity(input)).toBe(stored);
    expect(compareQuantities(input, stored)).toBe(0);
  });

  it('rounds up what is finer than nano, as ParseQuantity does', () => {
    expect(canonicalQuantity('0.0000000001')).toBe('1n');
    expect(canonicalQuantity('1.0000000001')).toBe('1000000001n');
  });

  it('is stable: a canonical quantity is its own canonical form', () => {
    for (const [, stored] of KUBE_OUTPUTS) expect(canonicalQuantity(stored)).toBe(stored);
  });
});
