import { describe, expect, it } from 'vitest';
import { metricSum, percentile, writesByResource } from './observe.js';

describe('percentile (nearest rank)', () => {
  it.each([
    [[5], 50, 5],
    [[1, 2, 3, 4], 50, 2],
    [[4, 3, 2, 1], 99, 4],
    [Array.from({ length: 100 }, (_, i) => i + 1), 99, 99],
    [Array.from({ length: 50 }, (_, i) => i + 1), 99, 50],
  ])('%j p%i = %i', (samples, p, want) => expect(percentile(samples, p)).toBe(want));

  it('is NaN without samples', () => expect(percentile([], 50)).toBeNaN());
});

describe('metricSum', () => {
  const text = [
    '# HELP isthmus_mirrored_services Remote services currently mirrored',
    'isthmus_mirrored_services{target_cluster_name="west"} 5000',
    'isthmus_mirrored_services{target_cluster_name="north"} 4999',
    'isthmus_mirrored_services_other 7',
  ].join('\n');
  it('sums the samples whose labels match', () => {
    expect(metricSum(text, 'isthmus_mirrored_services', { target_cluster_name: 'west' })).toBe(5000);
    expect(metricSum(text, 'isthmus_mirrored_services')).toBe(9999);
    expect(metricSum(text, 'absent')).toBe(0);
  });
});

describe('writesByResource', () => {
  it('counts write verbs of one server since the first snapshot, failures apart', () => {
    const before = { '127.0.0.1:1 create services': 10 };
    const after = {
      '127.0.0.1:1 create services': 15,
      '127.0.0.1:1 get services': 99,
      '127.0.0.1:1 patch links/status': 2,
      '127.0.0.1:1 update endpointslices 409': 1,
      '127.0.0.1:2 create services': 3,
    };
    expect(writesByResource(before, after, '127.0.0.1:1')).toEqual({
      'create services': 5,
      'patch links/status': 2,
      'update endpointslices 409': 1,
    });
  });
});
