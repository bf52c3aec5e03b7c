import { describe, expect, it } from 'vitest';
import { chooseCounts } from './choose-counts.js';

const variable = (service: string, weight: number, available: number) => ({
  service,
  weight,
  available,
  fixed: false,
});
const fixed = (service: string, weight: number, available: number) => ({
  service,
  weight,
  available,
  fixed: true,
});

describe('chooseCounts', () => {
  it.each([
    // name, candidates, endpoints per backend, max error
    ['two equal backups, one gateway each', [variable('w', 1, 1), variable('n', 1, 1)], [1, 1], 0],
    ['two equal backups, two gateways each', [variable('w', 1, 2), variable('n', 1, 2)], [2, 2], 0],
    ['backup weight 0 gets nothing', [variable('w', 1, 2), variable('n', 0, 2)], [2, 0], 0],
    [
      '50/50 with a selector-managed primary of 2 pods and 1 gateway',
      [fixed('p', 50, 2), variable('w', 50, 1)],
      [2, 1],
      1 / 6,
    ],
    ['50/50 with a selector-managed primary of 1 pod', [fixed('p', 50, 1), variable('w', 50, 1)], [1, 1], 0],
    [
      '50/50 with an Isthmus-managed primary of 3 pods',
      [variable('p', 50, 3), variable('w', 50, 1)],
      [1, 1],
      0,
    ],
    ['75/25 with 3 pods and 1 gateway', [variable('p', 75, 3), variable('w', 25, 1)], [3, 1], 0],
    [
      'weight on a backend with no endpoint goes to the others',
      [variable('p', 50, 0), variable('w', 50, 1)],
      [0, 1],
      0,
    ],
    [
      'a dead primary that is fixed adds nothing',
      [fixed('p', 0, 0), variable('w', 1, 1), variable('n', 1, 1)],
      [0, 1, 1],
      0,
    ],
    [
      '99/1 drops the tiny share rather than give it a third',
      [variable('p', 99, 2), variable('w', 1, 1)],
      [2, 0],
      0.01,
    ],
  ])('%s', (_name, candidates, endpoints, maxError) => {
    const choice = chooseCounts(candidates);
    expect(choice.shares.map((s) => s.endpoints)).toEqual(endpoints);
    expect(choice.maxError).toBeCloseTo(maxError as number, 6);
  });

  it('reports desired and achieved shares', () => {
    const choice = chooseCounts([fixed('p', 1, 2), variable('w', 1, 1)]);
    expect(choice.shares).toEqual([
      { service: 'p', desired: 0.5, endpoints: 2, achieved: 2 / 3 },
      { service: 'w', desired: 0.5, endpoints: 1, achieved: 1 / 3 },
    ]);
  });

  it('with nothing available reports an empty choice', () => {
    const choice = chooseCounts([variable('w', 1, 0), variable('n', 1, 0)]);
    expect(choice.shares.map((s) => s.endpoints)).toEqual([0, 0]);
    expect(choice.maxError).toBe(0);
  });
});
