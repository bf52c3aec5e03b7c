import { describe, expect, it } from 'vitest';
import { FAILOVER_PRIMARY_ANNOTATION, FAILOVER_RESTORE_AFTER_ANNOTATION } from '../kube/keys.js';
import type { TrafficSplit, TrafficSplitBackend } from '../kube/types.js';
import { parseSplit, writtenWeights } from './parse-split.js';

function split(backends: TrafficSplitBackend[], annotations: Record<string, string> = {}, apex = 'podinfo') {
  return {
    metadata: { namespace: 'test', name: 'podinfo', annotations },
    spec: { service: apex, backends },
  } satisfies TrafficSplit;
}

const three: TrafficSplitBackend[] = [
  { service: 'podinfo', weight: 1 },
  { service: 'podinfo-west', weight: 0 },
  { service: 'podinfo-north', weight: 0 },
];

describe('parseSplit', () => {
  it('reads apex, backends, and takes the first backend as primary when not annotated', () => {
    expect(parseSplit(split(three))).toEqual({
      ok: true,
      split: {
        namespace: 'test',
        name: 'podinfo',
        apex: 'podinfo',
        backends: [
          { service: 'podinfo', weight: 1 },
          { service: 'podinfo-west', weight: 0 },
          { service: 'podinfo-north', weight: 0 },
        ],
        primary: 'podinfo',
        restoreAfterMs: 0,
      },
    });
  });

  it.each([
    ['500m', 0.5],
    ['1', 1],
    ['1k', 1000],
    [50, 50],
  ])('reads the v1alpha1 quantity weight %j as %d', (weight, value) => {
    const result = parseSplit(split([{ service: 'podinfo', weight }]));
    expect(result.ok && result.split.backends[0]?.weight).toBe(value);
  });

  it('honours the primary and restore-after annotations', () => {
    const result = parseSplit(
      split(three, {
        [FAILOVER_PRIMARY_ANNOTATION]: 'podinfo-west',
        [FAILOVER_RESTORE_AFTER_ANNOTATION]: '30s',
      }),
    );
    expect(result.ok && [result.split.primary, result.split.restoreAfterMs]).toEqual([
      'podinfo-west',
      30_000,
    ]);
  });

  it('ignores a restore-after that is no duration rather than refusing the split: it fails over, without hysteresis', () => {
    const result = parseSplit(split(three, { [FAILOVER_RESTORE_AFTER_ANNOTATION]: 'soon' }));
    expect(result.ok && [result.split.restoreAfterMs, result.split.restoreAfterInvalid]).toEqual([0, 'soon']);
  });

  it.each<[string, TrafficSplit, string]>([
    ['an empty backend list', split([]), 'NoBackends'],
    ['a non-numeric weight', split([{ service: 'podinfo', weight: 'heavy' }]), 'InvalidWeight'],
    ['a negative weight', split([{ service: 'podinfo', weight: -1 }]), 'InvalidWeight'],
    ['a duplicated backend', split([...three, { service: 'podinfo', weight: 1 }]), 'DuplicateBackend'],
    [
      'a primary that is not a backend',
      split(three, { [FAILOVER_PRIMARY_ANNOTATION]: 'nope' }),
      'UnknownPrimary',
    ],
    ['an empty apex', split(three, {}, ''), 'InvalidSplit'],
    ['a backend without a name', split([{ service: '', weight: 1 }]), 'InvalidSplit'],
  ])('rejects %s', (_what, input, reason) => {
    const result = parseSplit(input);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe(reason);
      expect(result.message).not.toBe('');
    }
  });
});

describe('writtenWeights: where an Invalid split still sends traffic (isthmus_failover_active reads it)', () => {
  it.each<[string, TrafficSplit, string, number[]]>([
    ['valid: the first backend is the primary', split(three), 'podinfo', [1, 0, 0]],
    [
      'a primary annotation naming no backend: the first',
      split(three, { [FAILOVER_PRIMARY_ANNOTATION]: 'nope' }),
      'podinfo',
      [1, 0, 0],
    ],
    [
      'a weight that is no number counts 0',
      split([
        { service: 'podinfo', weight: 'heavy' },
        { service: 'podinfo-west', weight: '500m' },
      ]),
      'podinfo',
      [0, 0.5],
    ],
    ['no backends', split([]), '', []],
  ])('%s', (_name, input, primary, weights) => {
    const written = writtenWeights(input);
    expect([written.primary, written.backends.map((b) => b.weight)]).toEqual([primary, weights]);
  });
});
